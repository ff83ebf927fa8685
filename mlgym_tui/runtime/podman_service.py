"""Podman serves the Docker Engine API only while `podman system service` runs.

When no socket answers, we start the service on a private socket for this process's lifetime.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from mlgym_tui.runtime.errors import EngineUnavailable

_started: list[tuple[subprocess.Popen, Path]] = []


def known_sockets() -> list[str]:
    candidates = []
    for var in ("MLGYM_PODMAN_HOST", "CONTAINER_HOST"):
        if os.environ.get(var):
            candidates.append(os.environ[var])
    if os.geteuid() == 0:
        candidates.append("unix:///run/podman/podman.sock")
    runtime_dir = os.environ.get("XDG_RUNTIME_DIR") or f"/run/user/{os.geteuid()}"
    candidates.append(f"unix://{runtime_dir}/podman/podman.sock")
    return list(dict.fromkeys(candidates))


def start_service(timeout: float = 20.0) -> str:
    """Start `podman system service` on a private socket and return its URL; stopped at exit."""
    podman = shutil.which("podman")
    if podman is None:
        raise EngineUnavailable("podman is not installed", "install it (apt-get install podman runc) or use --engine docker")
    folder = Path(tempfile.mkdtemp(prefix="mlgym-podman-"))
    sock = folder / "podman.sock"
    log = open(folder / "service.log", "wb")
    proc = subprocess.Popen(
        [podman, "system", "service", "--time=0", f"unix://{sock}"],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
    )
    _started.append((proc, folder))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sock.exists():
            return f"unix://{sock}"
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    tail = (folder / "service.log").read_text(errors="replace").strip().splitlines()[-1:] or ["no output"]
    stop_services()
    raise EngineUnavailable(
        f"podman system service did not start ({tail[0][:160]})",
        "on Debian set CONTAINERS_CONF to a containers.conf with runtime runc (see README)",
    )


def stop_services() -> None:
    while _started:
        proc, folder = _started.pop()
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(folder, ignore_errors=True)


atexit.register(stop_services)
