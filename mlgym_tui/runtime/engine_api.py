"""Docker and Podman, both through the Docker Engine API (Podman's compatible socket)."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import os
import socket
import tarfile
import time
import uuid
from pathlib import Path

import docker
import docker.errors
import requests.exceptions

from mlgym_tui.config.runtime import ShellLimits
from mlgym_tui.runtime.base import (
    AGENT_UID, AGENT_USER, LABEL, WORKSPACE, ByteStream, Container, ContainerSpec, Engine, EngineInfo, ExecResult, InteractiveTerminal,
    PathStat,
)
from mlgym_tui.runtime.errors import ContainerGone, CopyFailed, EngineUnavailable, ImageMissing, RuntimeProblem, TooLarge
from mlgym_tui.runtime.shell import ShellSession, ShellTransport

_TRANSPORT_ERRORS = (requests.exceptions.ConnectionError, requests.exceptions.Timeout, ConnectionError, OSError)


def _memory_bytes(text: str) -> int:
    units = {"k": 1024, "m": 1024**2, "g": 1024**3}
    text = text.strip().lower().rstrip("b")
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


class ApiEngine(Engine):
    """An engine reached through the Docker Engine API at `host` (a unix:// or tcp:// URL)."""

    def __init__(self, name: str, host: str, timeout: float = 60.0) -> None:
        self.name = name
        self.host = host
        try:
            self.client = docker.DockerClient(base_url=host, timeout=timeout)
            self._version = self.client.version()
        except (docker.errors.DockerException, *_TRANSPORT_ERRORS) as exc:
            raise EngineUnavailable(
                f"{name} is not reachable at {host} ({_short(exc)})",
                "start it (see `mlgym-tui doctor`) or choose another with --engine",
            ) from None

    def info(self) -> EngineInfo:
        return EngineInfo(self.name, self._version.get("Version", "?"), self.host, True)

    def gpu_support(self) -> str:
        """One line: which GPUs this engine can pass into containers, or what to install for it."""
        if self.name == "podman":
            devices = cdi_gpu_devices()
            if devices:
                return "CDI " + ", ".join(devices)
            return ("none: no CDI spec for nvidia.com/gpu (on a GPU host: "
                    "nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml)")
        try:
            runtimes = self.client.info().get("Runtimes") or {}
        except (docker.errors.APIError, *_TRANSPORT_ERRORS):
            return "unknown: the engine did not answer"
        if "nvidia" in runtimes:
            return "nvidia runtime: --gpus passes NVIDIA GPUs"
        return ("none: no nvidia runtime (on a GPU host: install nvidia-container-toolkit, then "
                "nvidia-ctk runtime configure --runtime=docker and restart dockerd)")

    def image_exists(self, image: str) -> bool:
        try:
            self.client.images.get(image)
            return True
        except docker.errors.ImageNotFound:
            return False

    def create_options(self, spec: ContainerSpec) -> dict:
        """What `containers.create` gets for spec: one place, so tests can check what the engine receives."""
        labels = {LABEL: "1", f"{LABEL}.pid": str(os.getpid()), f"{LABEL}.host": socket.gethostname(), **spec.labels}
        options = dict(
            image=spec.image,
            command=["sleep", "infinity"],
            name=spec.name or f"mlgym-{uuid.uuid4().hex[:10]}",
            user=spec.user,
            working_dir=WORKSPACE,
            environment=spec.env,
            labels=labels,
            network_mode="bridge" if spec.network else "none",
            mem_limit=_memory_bytes(spec.memory),
            memswap_limit=_memory_bytes(spec.memory),
            nano_cpus=int(spec.cpus * 1e9),
            pids_limit=spec.pids,
            # Reap orphans of background jobs, so they do not use up the pid limit. (no-new-privileges
            # is not set: it would strip root's capabilities from our out-of-band execs; the image has
            # no setuid programs instead.)
            init=True,
        )
        if spec.gpus is not None:
            options["device_requests"] = [docker.types.DeviceRequest(
                count=spec.gpus.count if not spec.gpus.ids else 0, device_ids=spec.gpus.ids or None,
                capabilities=[["gpu"]])]
        return options

    def libpod_spec(self, spec: ContainerSpec) -> dict:
        """Podman's own create request for a container with GPUs. Its Docker-compatible API accepts DeviceRequests
        and silently ignores them (and takes CDI names in Devices for file paths); only the libpod API passes CDI
        devices (`nvidia-ctk cdi generate` names them nvidia.com/gpu=0, =1, =all)."""
        options = self.create_options(spec)
        gpus = spec.gpus
        ids = gpus.ids or (["all"] if gpus.count < 0 else [str(i) for i in range(gpus.count)])
        memory = options["mem_limit"]
        return {
            "name": options["name"], "image": options["image"], "command": options["command"],
            "user": options["user"], "work_dir": options["working_dir"], "env": options["environment"],
            "labels": options["labels"], "init": True,
            "netns": {"nsmode": "bridge" if spec.network else "none"},
            "resource_limits": {"memory": {"limit": memory, "swap": memory},
                                "cpu": {"quota": int(spec.cpus * 100_000), "period": 100_000},
                                "pids": {"limit": spec.pids}},
            "devices": [{"path": f"nvidia.com/gpu={i}"} for i in ids],
        }

    def _create(self, spec: ContainerSpec):
        if spec.gpus is None or self.name != "podman":
            return self.client.containers.create(**self.create_options(spec))
        api = self.client.api
        response = api.post(f"{api.base_url}/v4.0.0/libpod/containers/create", json=self.libpod_spec(spec))
        if response.status_code >= 400:
            try:
                message = response.json().get("message", response.text)
            except ValueError:
                message = response.text
            raise docker.errors.APIError(message.strip()[:300], response=response)
        return self.client.containers.get(response.json()["Id"])

    def start(self, spec: ContainerSpec) -> "ApiContainer":
        if not self.image_exists(spec.image):
            raise ImageMissing(f"image {spec.image} is not in {self.name}", f"run: mlgym-tui image build --engine {self.name}")
        container = None
        try:
            container = self._create(spec)
            container.start()
        except docker.errors.ImageNotFound:
            raise ImageMissing(f"image {spec.image} is not in {self.name}", f"run: mlgym-tui image build --engine {self.name}") from None
        except (docker.errors.APIError, *_TRANSPORT_ERRORS) as exc:
            if container is not None:  # created but would not start (e.g. no GPU driver): leave nothing behind
                try:
                    container.remove(force=True)
                except (docker.errors.APIError, *_TRANSPORT_ERRORS):
                    pass
            hint = "see `mlgym-tui doctor` (it lists the GPUs each engine can pass)" if spec.gpus else "see `mlgym-tui doctor`"
            reason = getattr(exc, "explanation", None) or _short(exc)  # the engine's own words, not the URL
            raise RuntimeProblem(f"{self.name} could not start a container: {str(reason).strip()[:300]}", hint) from None
        return ApiContainer(self, container)

    def _labelled(self) -> list:
        # The SDK lists, then inspects each container: one removed in between (an evaluation container, another
        # process's clean-up) fails the whole listing with "no such container"; list again.
        for attempt in range(5):
            try:
                return self.client.containers.list(all=True, filters={"label": LABEL})
            except (docker.errors.NotFound, docker.errors.APIError) as exc:
                if attempt == 4 or "no such container" not in str(exc).lower():
                    raise
        return []

    def leftovers(self) -> list[str]:
        return [c.name for c in self._labelled() if not _owner_alive(c.labels)]

    def cleanup(self) -> list[str]:
        removed = []
        for c in self._labelled():
            if not _owner_alive(c.labels):
                try:
                    c.remove(force=True)
                    removed.append(c.name)
                except docker.errors.NotFound:
                    pass
        return removed

    def remove_orphans(self) -> list[str]:
        removed = []
        for c in self._labelled():
            if _orphaned(c.labels):
                try:
                    c.remove(force=True)
                    removed.append(c.name)
                except docker.errors.APIError:  # gone already, or being removed by another clean-up
                    pass
        return removed

    def close(self) -> None:
        self.client.close()


CDI_SPEC_DIRS = ("/etc/cdi", "/var/run/cdi")


def cdi_gpu_devices() -> list[str]:
    """Fully qualified CDI names of the NVIDIA GPUs described on this host (what Podman can pass)."""
    import yaml

    folders = os.environ.get("MLGYM_CDI_SPEC_DIRS", os.pathsep.join(CDI_SPEC_DIRS)).split(os.pathsep)
    names: list[str] = []
    for folder in folders:
        for path in sorted(Path(folder).glob("*")) if Path(folder).is_dir() else []:
            if path.suffix not in (".yaml", ".yml", ".json"):
                continue
            try:
                spec = yaml.safe_load(path.read_text())  # JSON is YAML too
            except (OSError, yaml.YAMLError):
                continue
            if not isinstance(spec, dict) or spec.get("kind") != "nvidia.com/gpu":
                continue
            names += [f"nvidia.com/gpu={d['name']}" for d in spec.get("devices") or []
                      if isinstance(d, dict) and "name" in d]
    return names


def _owner_alive(labels: dict[str, str]) -> bool:
    """A container belongs to a live run when its owner process on this host still exists."""
    if labels.get(f"{LABEL}.host") != socket.gethostname():
        return True  # another machine's; not ours to judge
    pid = labels.get(f"{LABEL}.pid", "")
    if not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def _orphaned(labels: dict[str, str]) -> bool:
    """Started by a process of this host that no longer exists (a container without an owner pid is left to
    `doctor --cleanup`: start-up removes only what it can prove is orphaned)."""
    if labels.get(f"{LABEL}.host") != socket.gethostname() or not labels.get(f"{LABEL}.pid", "").isdigit():
        return False
    return not _owner_alive(labels)


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]


class ApiContainer(Container):
    def __init__(self, engine: ApiEngine, container) -> None:
        self.engine = engine
        self.api = engine.client.api
        self.container = container
        self.id = container.id
        self.name = container.name
        self.engine_name = engine.name

    async def open_shell(self, limits: ShellLimits | None = None, env: dict[str, str] | None = None) -> ShellSession:
        transport = await asyncio.to_thread(_ExecTransport.open, self)
        session = ShellSession(transport, limits, env)
        await session.start()
        return session

    async def open_terminal(self, columns: int = 80, lines: int = 24) -> InteractiveTerminal:
        return await asyncio.to_thread(_ExecTerminal.open, self, columns, lines)

    async def open_stream(self, cmd, user="root", env=None) -> ByteStream:
        return await asyncio.to_thread(_ExecStream.open, self, cmd, user, env or {})

    def exec(self, cmd, user="root", workdir=None, env=None, timeout=None) -> ExecResult:
        if timeout:
            cmd = ["timeout", "-s", "KILL", str(int(max(1, timeout))), *cmd]
        try:
            exec_id = self.api.exec_create(self.id, cmd, user=user, workdir=workdir, environment=env)["Id"]
            output = self.api.exec_start(exec_id, demux=False)
            code = self.api.exec_inspect(exec_id).get("ExitCode")
        except docker.errors.NotFound:
            raise ContainerGone(f"container {self.name} is gone", "start a new episode") from None
        except docker.errors.APIError as exc:
            if "not running" in str(exc).lower() or exc.status_code == 409:
                raise ContainerGone(f"container {self.name} is not running", "start a new episode") from None
            raise RuntimeProblem(f"{self.engine_name} exec failed: {_short(exc)}") from None
        except _TRANSPORT_ERRORS as exc:
            raise ContainerGone(f"lost the connection to {self.engine_name} ({_short(exc)})", "check `mlgym-tui doctor`") from None
        return ExecResult(code if code is not None else -1, (output or b"").decode("utf-8", errors="replace"))

    def copy_in(self, src, dest_dir, owner=AGENT_USER, mode=None) -> None:
        uid = AGENT_UID if owner == AGENT_USER else 0
        archive = _tar_of(src, uid, mode)
        self.check(["mkdir", "-p", dest_dir])
        if owner == AGENT_USER:
            self.check(["chown", f"{AGENT_UID}:{AGENT_UID}", dest_dir])
        self.put_archive(dest_dir, archive)
        # Engines differ in whether they keep the archive's owners; make it explicit.
        names = [f"{dest_dir.rstrip('/')}/{n}" for n in _top_names(src)]
        self.check(["chown", "-R", f"{uid}:{uid}", *names])

    def copy_out(self, src, dest_dir) -> Path:
        dest_dir = Path(dest_dir)
        dest_dir.mkdir(parents=True, exist_ok=True)
        try:
            stream, _ = self.api.get_archive(self.id, src)
            data = b"".join(stream)
        except docker.errors.NotFound:
            raise CopyFailed(f"{src} does not exist in {self.name}", "check the path") from None
        except (docker.errors.APIError, *_TRANSPORT_ERRORS) as exc:
            raise CopyFailed(f"copy out of {self.name}:{src} failed ({_short(exc)})", "check that the container is running") from None
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            tar.extractall(dest_dir, filter="data")
        return dest_dir / Path(src).name

    def stat_path(self, path) -> PathStat | None:
        # The SDK has no call for the archive API's HEAD; `_url` is its own helper for building engine URLs.
        try:
            response = self.api.head(self.api._url("/containers/{0}/archive", self.id), params={"path": path})
        except _TRANSPORT_ERRORS as exc:
            raise CopyFailed(f"stat of {path} in {self.name} failed ({_short(exc)})", "check that the container exists") from None
        header = response.headers.get("X-Docker-Container-Path-Stat")
        if not header:
            if response.status_code == 404:
                return None
            raise CopyFailed(f"stat of {path} in {self.name} failed (HTTP {response.status_code})")
        return _path_stat(json.loads(base64.b64decode(header)))

    def read_archive(self, path, max_bytes) -> bytes | None:
        try:
            stream, stat = self.api.get_archive(self.id, path, chunk_size=1 << 20)
        except docker.errors.NotFound:
            return None
        except (docker.errors.APIError, *_TRANSPORT_ERRORS) as exc:
            raise CopyFailed(f"reading {path} out of {self.name} failed ({_short(exc)})", "check that the container exists") from None
        kind = _path_stat(stat or {}).kind
        if kind not in ("file", "dir"):
            # Podman's archive follows a link at the path itself; the stat of the same request says it did.
            _close_stream(stream)
            raise CopyFailed(f"{path} is a {kind}, not a regular file", "write a regular file")
        if (stat or {}).get("size", 0) > max_bytes and kind == "file":
            _close_stream(stream)
            raise TooLarge(f"{path} is {stat['size']} bytes, over the limit of {max_bytes}")
        chunks, total = [], 0
        budget = max_bytes + 1024 * 1024  # tar headers and padding on top of the content
        try:
            for chunk in stream:
                total += len(chunk)
                if total > budget:
                    _close_stream(stream)
                    raise TooLarge(f"{path} holds more than {max_bytes} bytes")
                chunks.append(chunk)
        except _TRANSPORT_ERRORS as exc:
            raise CopyFailed(f"reading {path} out of {self.name} broke off ({_short(exc)})") from None
        return b"".join(chunks)

    def put_archive(self, dest_dir, data) -> None:
        try:
            ok = self.api.put_archive(self.id, dest_dir, data)
        except (docker.errors.APIError, *_TRANSPORT_ERRORS) as exc:
            raise CopyFailed(f"copy into {self.name}:{dest_dir} failed ({_short(exc)})", "check that the container is running") from None
        if not ok:
            raise CopyFailed(f"copy into {self.name}:{dest_dir} was refused", "check that the directory exists")

    def is_running(self) -> bool:
        try:
            self.container.reload()
            return self.container.status == "running"
        except (docker.errors.NotFound, *_TRANSPORT_ERRORS):
            return False

    def remove(self) -> None:
        try:
            self.container.remove(force=True)
        except (docker.errors.NotFound, docker.errors.APIError, *_TRANSPORT_ERRORS):
            pass


# Go's os.FileMode type bits, as the archive API's stat header carries them.
_GO_MODE_KINDS = ((1 << 27, "symlink"), (1 << 25, "fifo"), (1 << 26, "device"), (1 << 21, "device"),
                  (1 << 24, "socket"), (1 << 19, "other"), (1 << 31, "dir"))


def _path_stat(stat: dict) -> PathStat:
    mode = int(stat.get("mode", 0))
    kind = next((name for bit, name in _GO_MODE_KINDS if mode & bit), "file")
    return PathStat(kind, int(stat.get("size", 0)), stat.get("linkTarget", "") if kind == "symlink" else "")


def _close_stream(stream) -> None:
    close = getattr(stream, "close", None)
    if close is not None:
        try:
            close()
        except Exception:  # noqa: BLE001 - best effort: the response is abandoned either way
            pass


def _top_names(src) -> list[str]:
    if isinstance(src, dict):
        return sorted({name.split("/")[0] for name in src})
    return [Path(src).name]


def _tar_of(src, uid: int, mode: int | None) -> bytes:
    buffer = io.BytesIO()

    def owned(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid = info.gid = uid
        info.uname = info.gname = ""
        if mode is not None and info.isfile():
            info.mode = mode
        return info

    with tarfile.open(fileobj=buffer, mode="w") as tar:
        if isinstance(src, dict):
            for name, data in src.items():
                info = owned(tarfile.TarInfo(name))
                info.size = len(data)
                info.mode = mode if mode is not None else 0o644
                info.mtime = int(time.time())
                tar.addfile(info, io.BytesIO(data))
        else:
            src = Path(src)
            if not src.exists():
                raise CopyFailed(f"{src} does not exist", "check the path")
            tar.add(src, arcname=src.name, filter=owned)
    return buffer.getvalue()


def _attach_exec(container: ApiContainer, cmd: list[str], env: dict[str, str], purpose: str, *, tty: bool = True,
                 user: str = AGENT_USER, workdir: str | None = None):
    """Start `cmd` attached (by default as the agent in the workspace, on a terminal): (exec id, raw socket, SDK
    wrapper)."""
    api = container.api
    try:
        exec_id = api.exec_create(container.id, cmd, stdin=True, tty=tty, user=user,
                                  workdir=workdir or container.workspace, environment=env)["Id"]
        wrapper = api.exec_start(exec_id, socket=True, tty=tty)
    except docker.errors.NotFound:
        raise ContainerGone(f"container {container.name} is gone", "start a new episode") from None
    except (docker.errors.APIError, *_TRANSPORT_ERRORS) as exc:
        raise ContainerGone(f"could not open {purpose} in {container.name} ({_short(exc)})",
                            "check `mlgym-tui doctor`") from None
    sock = getattr(wrapper, "_sock", wrapper)  # the SDK's wrapper owns the socket's lifetime: keep it alive
    sock.setblocking(False)
    return exec_id, sock, wrapper


def _resize_exec(container: ApiContainer, exec_id: str, columns: int, lines: int) -> None:
    try:
        container.api.exec_resize(exec_id, height=max(lines, 2), width=max(columns, 10))
    except Exception:  # noqa: BLE001 - the exec may not be running yet or any more; a size is only a nicety
        pass


# $1 the shell, $2 a terminal reader the stuck check found (or ""). The terminal's foreground group is killed
# unless it is the shell's own; then the reader, when it is in that group and the shell's session, and its
# descendants: a reader inside `$(...)` shares the shell's group. Fields after "(comm) ": $2 ppid, $3 process
# group, $4 session, $6 the terminal's foreground group.
_KILL_FOREGROUND = r"""
exec 2>/dev/null
S=$1 R=$2
read -r s < /proc/$S/stat || exit 0; s=${s##*) }; set -- $s; sid=$4 fg=$6
if [ "$fg" -gt 0 ] && [ "$fg" != "$S" ]; then kill -KILL -- -$fg; exit 0; fi
[ -n "$R" ] && [ "$R" != "$S" ] || exit 0
declare -A kids; found=
for d in /proc/[0-9]*; do
  read -r s < $d/stat || continue; s=${s##*) }; set -- $s
  [ "$4" = "$sid" ] || continue
  kids[$2]+=" ${d#/proc/}"
  [ "${d#/proc/}" = "$R" ] && [ "$3" = "$fg" ] && found=1
done
[ -n "$found" ] || exit 0
all= todo=$R
while [ -n "${todo// }" ]; do set -- $todo; all+=" $1"; todo="${*:2} ${kids[$1]}"; done
kill -KILL $all
"""
# $1 the shell's pid, $2 its start time as it reported at startup. Killed only if that process still is the
# episode's shell: started by the engine (no parent inside the container), leader of its own session, same start.
_END_SHELL = r"""
exec 2>/dev/null
[ "$1" -gt 1 ] || exit 0
read -r s < /proc/$1/stat || exit 0; s=${s##*) }; set -- $1 $2 $s
[ "$4" = 0 ] && [ "$6" = "$1" ] && [ "${22}" = "$2" ] && kill -KILL $1
"""


class _ExecTransport(ShellTransport):
    """The attached stream of an exec with a terminal: bytes both ways over the API socket."""

    def __init__(self, container: ApiContainer, exec_id: str, sock: socket.socket, keep) -> None:
        self.container = container
        self.exec_id = exec_id
        self.sock = sock
        self._keep = keep  # the SDK's wrapper owns the socket's lifetime

    @classmethod
    def open(cls, container: ApiContainer) -> "_ExecTransport":
        exec_id, sock, wrapper = _attach_exec(
            container, ["bash", "--noprofile", "--norc", "--noediting", "-i"],
            {"TERM": "xterm-256color", "HOME": container.home}, "a shell",
        )
        _resize_exec(container, exec_id, 160, 48)
        return cls(container, exec_id, sock, wrapper)

    async def read(self) -> bytes:
        loop = asyncio.get_running_loop()
        try:
            return await loop.sock_recv(self.sock, 65536)
        except (ConnectionError, OSError):
            return b""

    async def write(self, data: bytes) -> None:
        loop = asyncio.get_running_loop()
        try:
            await loop.sock_sendall(self.sock, data)
        except (ConnectionError, OSError) as exc:
            from mlgym_tui.runtime.errors import ShellDied

            raise ShellDied(f"the shell's connection closed ({_short(exc)})", "start a new episode") from None

    async def kill_foreground(self, shell_pid: int, reader_pid: int | None = None) -> None:
        await self._root_script(_KILL_FOREGROUND, shell_pid, reader_pid or "")

    async def end_shell(self, shell_pid: int | None, start_time: str | None) -> None:
        if shell_pid is not None and start_time is not None:
            await self._root_script(_END_SHELL, shell_pid, start_time)

    async def _root_script(self, script: str, *args) -> None:
        try:
            await asyncio.to_thread(self.container.exec, ["bash", "-c", script, "bash", *map(str, args)], "root",
                                    None, None, 10)
        except RuntimeProblem:
            pass

    async def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


class _ExecStream(ByteStream):
    """An exec without a terminal, attached over the API socket. Without a terminal the engine frames what comes
    back: an 8-byte header (stream 1 stdout or 2 stderr, then the payload's length, big-endian) per payload."""

    def __init__(self, exec_id: str, sock: socket.socket, keep) -> None:
        self.exec_id = exec_id
        self.sock = sock
        self._keep = keep  # the SDK's wrapper owns the socket's lifetime
        self._frames = bytearray()
        self._closed = False

    @classmethod
    def open(cls, container: ApiContainer, cmd: list[str], user: str, env: dict[str, str]) -> "_ExecStream":
        return cls(*_attach_exec(container, cmd, env, "a helper", tty=False, user=user, workdir="/"))

    async def read(self) -> bytes:
        loop = asyncio.get_running_loop()
        while not self._closed:
            out = bytearray()
            while len(self._frames) >= 8:
                size = int.from_bytes(self._frames[4:8], "big")
                if len(self._frames) < 8 + size:
                    break
                if self._frames[0] == 1:
                    out += self._frames[8:8 + size]
                del self._frames[:8 + size]
            if out:
                return bytes(out)
            try:
                data = await loop.sock_recv(self.sock, 1 << 20)
            except (ConnectionError, OSError):
                data = b""
            if not data:
                return b""
            self._frames += data
        return b""

    async def write(self, data: bytes) -> None:
        try:
            await asyncio.get_running_loop().sock_sendall(self.sock, data)
        except (ConnectionError, OSError) as exc:
            raise ContainerGone(f"the helper's connection closed ({_short(exc)})", "start a new episode") from None

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self.sock.shutdown(socket.SHUT_WR)  # end of its standard input: the helper finishes
        except OSError:
            pass
        try:
            self.sock.close()
        except OSError:
            pass


class _ExecTerminal(InteractiveTerminal):
    """A person's `bash -l` in the container: an exec with a terminal and stdin, attached over the API socket.

    Every process it starts inherits a unique MLGYM_TERMINAL value, so closing it can end them all (closing the
    socket alone does not stop an exec). The sweep runs as the agent user: root in the container lacks the
    capability to read other users' /proc/<pid>/environ, the agent can read its own."""

    def __init__(self, container: ApiContainer, exec_id: str, tag: str, sock: socket.socket, keep) -> None:
        self.container = container
        self.exec_id = exec_id
        self.tag = tag
        self.sock = sock
        self._keep = keep
        self._closed = False

    @classmethod
    def open(cls, container: ApiContainer, columns: int, lines: int) -> "_ExecTerminal":
        tag = uuid.uuid4().hex
        exec_id, sock, wrapper = _attach_exec(
            container, ["bash", "-l"],
            {"TERM": "xterm-256color", "HOME": container.home, "MLGYM_TERMINAL": tag,
             "COLUMNS": str(columns), "LINES": str(lines)},
            "a terminal",
        )
        _resize_exec(container, exec_id, columns, lines)
        return cls(container, exec_id, tag, sock, wrapper)

    async def read(self) -> bytes:
        if self._closed:
            return b""
        loop = asyncio.get_running_loop()
        try:
            return await loop.sock_recv(self.sock, 65536)
        except (ConnectionError, OSError):
            return b""

    async def write(self, data: bytes) -> None:
        if self._closed:
            return
        loop = asyncio.get_running_loop()
        try:
            await loop.sock_sendall(self.sock, data)
        except (ConnectionError, OSError):
            pass  # the shell is gone; read() reports the end

    async def resize(self, columns: int, lines: int) -> None:
        await asyncio.to_thread(_resize_exec, self.container, self.exec_id, columns, lines)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        script = ('for p in /proc/[0-9]*; do tr "\\0" "\\n" < "$p/environ" 2>/dev/null | grep -qx "MLGYM_TERMINAL=$1" '
                  '&& kill -KILL "${p#/proc/}" 2>/dev/null; done; true')
        try:
            await asyncio.to_thread(self.container.exec, ["sh", "-c", script, "sh", self.tag], AGENT_USER, None, None, 10)
        except RuntimeProblem:
            pass  # the container is gone, and the shell with it
        try:
            self.sock.close()
        except OSError:
            pass
