"""Where an episode's control endpoint is: `control.json` in its run directory names the Unix socket (in the run
directory when the path fits a socket address, else in a private folder under the temp dir) and, with `--listen`,
the TCP address; the TCP token sits beside it in `control.token` (0600), never in events or trajectories."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

ENDPOINT_FILE = "control.json"
TOKEN_FILE = "control.token"
SOCKET_FILE = "control.sock"
MAX_SOCKET_PATH = 100  # sun_path holds 108 bytes on Linux (104 on macOS), with its terminating NUL


class EndpointError(Exception):
    """No endpoint to attach to; the message says why and what to do instead."""


@dataclass
class Endpoint:
    run_dir: str
    pid: int
    host: str
    socket: str | None = None
    listen: str | None = None  # HOST:PORT when the episode also listens on TCP
    version: int = 1

    def alive(self) -> bool:
        """The process that serves this endpoint still runs (on another host: unknown, assumed so)."""
        return self.host != socket.gethostname() or pid_alive(self.pid)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def socket_path_for(run_dir: Path) -> Path:
    path = Path(run_dir).resolve() / SOCKET_FILE
    if len(os.fsencode(path)) <= MAX_SOCKET_PATH:
        return path
    private = Path(tempfile.gettempdir()) / f"mlgym-tui-{os.getuid()}"
    private.mkdir(mode=0o700, exist_ok=True)
    os.chmod(private, 0o700)
    digest = hashlib.sha256(os.fsencode(path)).hexdigest()[:20]
    return private / f"{digest}.sock"


def write_endpoint(endpoint: Endpoint) -> None:
    path = Path(endpoint.run_dir) / ENDPOINT_FILE
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(asdict(endpoint), indent=1), encoding="utf-8")
    os.replace(tmp, path)


def write_token(run_dir: Path, token: str) -> Path:
    path = Path(run_dir) / TOKEN_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(token + "\n")
    os.chmod(path, 0o600)
    return path


def read_token(run_dir: Path) -> str | None:
    try:
        return (Path(run_dir) / TOKEN_FILE).read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def remove_endpoint(run_dir: Path, socket_path: Path | None) -> None:
    for path in (Path(run_dir) / ENDPOINT_FILE, Path(run_dir) / TOKEN_FILE, socket_path):
        if path is not None:
            try:
                path.unlink()
            except OSError:
                pass


def read_endpoint(run_dir: Path) -> Endpoint:
    run_dir = Path(run_dir)
    path = run_dir / ENDPOINT_FILE
    if not path.exists():
        if (run_dir / "events.jsonl").exists():
            raise EndpointError(f"{run_dir}: this run is not running (no {ENDPOINT_FILE}); "
                                f"open it with: mlgym-tui replay {run_dir}")
        raise EndpointError(f"{run_dir}: not a run directory (no events.jsonl); give a run directory or HOST:PORT")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Endpoint(**{k: data[k] for k in ("run_dir", "pid", "host", "socket", "listen", "version")})
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise EndpointError(f"{path}: unreadable ({exc}); the episode may still be starting, try again") from None


def endpoint_dirs(runs_dir: Path, depth: int = 4) -> list[Path]:
    """Folders under runs_dir (itself included) holding control.json. The walk never looks inside a run folder (one
    holding events.jsonl: below it are submissions, never runs), so hundreds of runs are read in milliseconds;
    batches nest their runs three folders down."""
    found: list[Path] = []
    stack = [(str(runs_dir), 0)]
    while stack:
        path, level = stack.pop()
        try:
            with os.scandir(path) as listing:
                entries = list(listing)
        except OSError:
            continue
        names = {entry.name for entry in entries}
        if ENDPOINT_FILE in names:
            found.append(Path(path))
        if "events.jsonl" in names or level >= depth:
            continue
        stack.extend((entry.path, level + 1) for entry in entries if entry.is_dir(follow_symlinks=False))
    return found


def running_endpoints(runs_dir: Path) -> list[Endpoint]:
    """Endpoints of the episodes running under runs_dir, newest first."""
    found: list[tuple[float, Endpoint]] = []
    for run_dir in endpoint_dirs(Path(runs_dir)):
        try:
            endpoint = read_endpoint(run_dir)
            mtime = (run_dir / ENDPOINT_FILE).stat().st_mtime
        except (EndpointError, OSError):
            continue
        if endpoint.alive():
            found.append((mtime, endpoint))
    return [endpoint for _, endpoint in sorted(found, key=lambda item: -item[0])]


def parse_listen(text: str) -> tuple[str, int]:
    """HOST:PORT (IPv6 in brackets) for --listen; ValueError names the expected form."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise ValueError(f"--listen {text!r}: expected HOST:PORT, e.g. 127.0.0.1:7700 (port 0 picks a free one)")
    number = int(port)
    if not 0 <= number <= 65535:
        raise ValueError(f"--listen {text!r}: port {number} is out of range (0-65535)")
    return host.strip("[]"), number


def is_loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
