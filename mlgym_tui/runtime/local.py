"""The local runtime: a scratch directory on the host. No isolation: only when chosen explicitly."""

from __future__ import annotations

import asyncio
import fcntl
import io
import os
import pty
import shutil
import signal
import stat
import struct
import subprocess
import tarfile
import tempfile
import termios
import uuid
from pathlib import Path

from mlgym_tui.config.runtime import ShellLimits
from mlgym_tui.runtime.base import (ByteStream, Container, ContainerSpec, Engine, EngineInfo, ExecResult,
                                    InteractiveTerminal, PathStat)
from mlgym_tui.runtime.errors import CopyFailed, TooLarge
from mlgym_tui.runtime.shell import ShellSession, ShellTransport

UNISOLATED = "local (UNISOLATED: commands run on this machine as you)"


class LocalEngine(Engine):
    name = "local"
    isolated = False

    def info(self) -> EngineInfo:
        return EngineInfo(self.name, "host", UNISOLATED, False)

    def image_exists(self, image: str) -> bool:
        return True

    def start(self, spec: ContainerSpec) -> "LocalContainer":
        return LocalContainer(spec)

    def leftovers(self) -> list[str]:
        return []

    def cleanup(self) -> list[str]:
        return []


class LocalContainer(Container):
    engine_name = "local"

    def __init__(self, spec: ContainerSpec) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="mlgym-local-"))
        self.id = self.name = spec.name or f"local-{uuid.uuid4().hex[:8]}"
        self.env = dict(spec.env)
        self.home = str(self.root / "home/agent")
        self.workspace = str(self.root / "home/agent/workspace")
        self.eval_dir = str(self.root / "opt/mlgym/eval")
        self.tools_dir = str(self.root / "opt/mlgym/tools")
        self.fs_root = str(self.root)
        for folder in (self.workspace, self.eval_dir, self.tools_dir):
            Path(folder).mkdir(parents=True, exist_ok=True)

    async def open_shell(self, limits: ShellLimits | None = None, env: dict[str, str] | None = None) -> ShellSession:
        transport = _PtyTransport.spawn(self)
        session = ShellSession(transport, limits, env)
        await session.start()
        return session

    async def open_terminal(self, columns: int = 80, lines: int = 24) -> InteractiveTerminal:
        return _HostTerminal.spawn(self, columns, lines)

    async def open_stream(self, cmd, user="root", env=None) -> ByteStream:
        # Here as the user running mlgym-tui: the local runtime has no other.
        proc = await asyncio.create_subprocess_exec(
            *cmd, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
            cwd=self.root, env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": self.home, **(env or {})})
        return _ProcessStream(proc)

    def exec(self, cmd, user="root", workdir=None, env=None, timeout=None) -> ExecResult:
        try:
            proc = subprocess.run(
                cmd, cwd=workdir or self.workspace, env={**os.environ, "HOME": self.home, **self.env, **(env or {})},
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout, stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired as exc:
            return ExecResult(137, (exc.stdout or b"").decode(errors="replace"))
        except FileNotFoundError as exc:
            return ExecResult(127, str(exc))
        return ExecResult(proc.returncode, proc.stdout.decode(errors="replace"))

    def copy_in(self, src, dest_dir, owner="agent", mode=None) -> None:
        dest = Path(dest_dir)
        dest.mkdir(parents=True, exist_ok=True)
        if isinstance(src, dict):
            for name, data in src.items():
                target = dest / name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
                if mode is not None:
                    target.chmod(mode)
            return
        src = Path(src)
        if not src.exists():
            raise CopyFailed(f"{src} does not exist", "check the path")
        if src.is_dir():
            shutil.copytree(src, dest / src.name, dirs_exist_ok=True)
        else:
            shutil.copy2(src, dest / src.name)
            if mode is not None:
                (dest / src.name).chmod(mode)

    def copy_out(self, src, dest_dir) -> Path:
        source = Path(src)
        if not source.exists():
            raise CopyFailed(f"{src} does not exist", "check the path")
        dest = Path(dest_dir) / source.name
        Path(dest_dir).mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, dest, dirs_exist_ok=True)
        else:
            shutil.copy2(source, dest)
        return dest

    def stat_path(self, path) -> PathStat | None:
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            return None
        mode = info.st_mode
        kind = ("symlink" if stat.S_ISLNK(mode) else "dir" if stat.S_ISDIR(mode) else "file" if stat.S_ISREG(mode)
                else "fifo" if stat.S_ISFIFO(mode) else "socket" if stat.S_ISSOCK(mode)
                else "device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "other")
        return PathStat(kind, info.st_size, os.readlink(path) if kind == "symlink" else "")

    def read_archive(self, path, max_bytes) -> bytes | None:
        source = Path(path)
        if not os.path.lexists(source):
            return None
        total = 0
        for folder, _, files in os.walk(source) if source.is_dir() and not source.is_symlink() else [(source.parent, [], [source.name])]:
            for name in files:
                full = Path(folder) / name
                if full.is_file() and not full.is_symlink():
                    total += full.stat().st_size
                    if total > max_bytes:
                        raise TooLarge(f"{path} holds more than {max_bytes} bytes")
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            tar.add(source, arcname=source.name)  # links stay links; devices and FIFOs keep their type
        return buffer.getvalue()

    def put_archive(self, dest_dir, data) -> None:
        dest = Path(dest_dir)
        dest.mkdir(parents=True, exist_ok=True)
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            tar.extractall(dest, filter="data")

    def make_read_only(self, paths: list[str]) -> None:
        for path in paths:
            self.check(["chmod", "-R", "a-w", path])

    def is_running(self) -> bool:
        return self.root.exists()

    def remove(self) -> None:
        subprocess.run(["chmod", "-R", "u+w", str(self.root)], check=False)
        shutil.rmtree(self.root, ignore_errors=True)


def _spawn_on_pty(container: "LocalContainer", argv: list[str], columns: int, lines: int) -> tuple[subprocess.Popen, int]:
    """Start argv in the workspace as the session leader of a new pty; returns the process and the master fd."""
    master, slave = pty.openpty()
    _set_size(slave, columns, lines)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LITELLM")}
    env.update(HOME=container.home, TERM="xterm-256color", **container.env)
    proc = subprocess.Popen(
        argv, stdin=slave, stdout=slave, stderr=slave, cwd=container.workspace, env=env, start_new_session=True,
        preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0),
    )
    os.close(slave)
    os.set_blocking(master, False)
    return proc, master


class _ProcessStream(ByteStream):
    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    async def read(self) -> bytes:
        return await self.proc.stdout.read(1 << 20)

    async def write(self, data: bytes) -> None:
        self.proc.stdin.write(data)
        await self.proc.stdin.drain()

    async def close(self) -> None:
        if self.proc.returncode is None:
            self.proc.stdin.close()
            try:
                await asyncio.wait_for(self.proc.wait(), 2.0)
            except asyncio.TimeoutError:
                self.proc.kill()
                await self.proc.wait()


class _PtyReader:
    """Bytes from a pty master, queued by the event loop's reader callback; b"" once it closes."""

    def __init__(self, proc: subprocess.Popen, master: int) -> None:
        self.proc = proc
        self.master = master
        self._queue: asyncio.Queue[bytes] = asyncio.Queue()
        asyncio.get_running_loop().add_reader(master, self._on_readable)

    def _on_readable(self) -> None:
        try:
            data = os.read(self.master, 65536)
        except OSError:
            data = b""
        if not data:
            asyncio.get_running_loop().remove_reader(self.master)
        self._queue.put_nowait(data)


class _PtyTransport(_PtyReader, ShellTransport):
    @classmethod
    def spawn(cls, container: LocalContainer) -> "_PtyTransport":
        return cls(*_spawn_on_pty(container, ["bash", "--noprofile", "--norc", "--noediting", "-i"], 160, 48))

    async def read(self) -> bytes:
        return await self._queue.get()

    async def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                written = os.write(self.master, view)
                view = view[written:]
            except BlockingIOError:
                await asyncio.sleep(0.001)

    async def kill_foreground(self, shell_pid: int, reader_pid: int | None = None) -> None:
        # The shell's pid is our own child's, never one the shell printed: these are processes of this host.
        try:
            group = os.tcgetpgrp(self.master)
        except OSError:
            return
        if group > 0 and group != self.proc.pid:
            try:
                os.killpg(group, signal.SIGKILL)
            except ProcessLookupError:
                pass
        elif reader_pid and reader_pid != self.proc.pid:
            for pid in _reader_and_descendants(self.proc.pid, group, reader_pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass

    async def end_shell(self, shell_pid: int | None, start_time: str | None) -> None:
        if self.proc.poll() is None:  # Popen knows whether its child was reaped, so its pid cannot be another's
            self.proc.kill()

    async def close(self) -> None:
        try:
            asyncio.get_running_loop().remove_reader(self.master)
        except (RuntimeError, ValueError):
            pass
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            os.close(self.master)
        except OSError:
            pass


def _reader_and_descendants(session: int, group: int, reader: int) -> list[int]:
    """`reader` and the processes under it, all within the shell's session; [] unless the reader is in that session
    and in the terminal's foreground group (nothing outside the shell's own session is ever named)."""
    children: dict[int, list[int]] = {}
    found = False
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as handle:
                fields = handle.read().rsplit(b") ", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[3]) != session:
            continue
        pid = int(entry.name)
        children.setdefault(int(fields[1]), []).append(pid)
        found = found or (pid == reader and int(fields[2]) == group)
    if not found:
        return []
    tree, todo = [], [reader]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def _set_size(fd: int, columns: int, lines: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", max(lines, 2), max(columns, 10), 0, 0))


class _HostTerminal(_PtyReader, InteractiveTerminal):
    """A person's `bash -l` on a host pty in the scratch workspace (the local engine has no container)."""

    def __init__(self, proc: subprocess.Popen, master: int) -> None:
        super().__init__(proc, master)
        self._closed = False

    @classmethod
    def spawn(cls, container: LocalContainer, columns: int, lines: int) -> "_HostTerminal":
        return cls(*_spawn_on_pty(container, ["bash", "-l"], columns, lines))

    async def read(self) -> bytes:
        if self._closed:
            return b""
        return await self._queue.get()

    async def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view and not self._closed:
            try:
                view = view[os.write(self.master, view):]
            except BlockingIOError:
                await asyncio.sleep(0.001)
            except OSError:
                return

    async def resize(self, columns: int, lines: int) -> None:
        if not self._closed:
            try:
                _set_size(self.master, columns, lines)
            except OSError:
                pass

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._queue.put_nowait(b"")
        try:
            asyncio.get_running_loop().remove_reader(self.master)
        except (RuntimeError, ValueError):
            pass
        # SIGHUP first: bash passes it on to its jobs; then SIGKILL whatever is left of the shell's group.
        for sig in (signal.SIGHUP, signal.SIGKILL):
            try:
                os.killpg(self.proc.pid, sig)
            except (ProcessLookupError, PermissionError):
                break
            try:
                await asyncio.to_thread(self.proc.wait, 1.0)
                break
            except subprocess.TimeoutExpired:
                continue
        await asyncio.to_thread(self.proc.wait)
        try:
            os.close(self.master)
        except OSError:
            pass
