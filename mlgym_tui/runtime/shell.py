"""One long-lived bash per episode, driven through a terminal.

Each command travels as a quoted string that bash evals in its own process (so cwd and environment
persist), with stdin from /dev/null (a command cannot swallow what we send next), followed by a
marker line that reports the exit code and the working directory. The terminal gives every command
its own process group, so Ctrl-C reaches the command and not the shell.
"""

from __future__ import annotations

import abc
import asyncio
import codecs
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from mlgym_tui.config.runtime import ShellLimits
from mlgym_tui.runtime.errors import ShellDied
from mlgym_tui.runtime.text import bash_quote_chunks, decode, strip_escapes

Subscriber = Callable[[str], None]


class ShellTransport(abc.ABC):
    """A byte pipe to a bash running on a terminal, plus an out-of-band way to kill its children."""

    @abc.abstractmethod
    async def read(self) -> bytes:
        """Next bytes from the terminal; b"" once it has closed."""

    @abc.abstractmethod
    async def write(self, data: bytes) -> None: ...

    @abc.abstractmethod
    async def kill_foreground(self, shell_pid: int) -> None:
        """SIGKILL the terminal's foreground process group unless it is the shell itself."""

    @abc.abstractmethod
    async def close(self) -> None: ...


@dataclass
class CommandResult:
    command: str
    output: str  # for the model: escapes stripped, head and tail kept
    exit_code: int | None
    duration: float
    cwd: str = ""
    open_file: str = ""
    timed_out: bool = False
    interrupted: bool = False
    truncated_bytes: int = 0
    total_bytes: int = 0
    note: str = ""  # what happened, e.g. "timed out after 30 s: interrupted (SIGINT)"

    @property
    def observation(self) -> str:
        return f"{self.output}\n{self.note}".strip("\n") if self.note else self.output


class OutputCapture:
    """Keeps the first and last bytes of a command's output, so a flood costs bounded memory."""

    def __init__(self, head: int, tail: int) -> None:
        self.head_limit, self.tail_limit = head, tail
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0

    def add(self, data: bytes) -> None:
        self.total += len(data)
        room = self.head_limit - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if data:
            self.tail += data
            if len(self.tail) > 2 * self.tail_limit:
                del self.tail[: len(self.tail) - self.tail_limit]

    @property
    def cut(self) -> int:
        return max(0, self.total - len(self.head) - min(len(self.tail), self.tail_limit))

    def text(self) -> str:
        tail = bytes(self.tail[-self.tail_limit :]) if self.tail else b""
        if not self.cut:
            return strip_escapes(decode(bytes(self.head) + tail))
        return (
            strip_escapes(decode(bytes(self.head)))
            + f"\n[... {self.cut:,} bytes of output cut ...]\n"
            + strip_escapes(decode(tail))
        )


@dataclass
class _Pending:
    command: str
    capture: OutputCapture
    done: asyncio.Future
    started: float = field(default_factory=time.monotonic)
    last_output: float = field(default_factory=time.monotonic)


class ShellSession:
    """A persistent bash. `run` one command at a time; `interrupt` from anywhere."""

    def __init__(self, transport: ShellTransport, limits: ShellLimits | None = None, env: dict[str, str] | None = None):
        self.transport = transport
        self.limits = limits or ShellLimits()
        self.env = env or {}
        self.nonce = secrets.token_hex(6)
        self.marker = f"\x1eMLGYM{self.nonce}:".encode()
        self.shell_pid: int | None = None
        self.cwd = ""
        self.open_file = ""
        self.alive = False
        self._subscribers: list[Subscriber] = []
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buffer = bytearray()
        self._pending: _Pending | None = None
        self._reader: asyncio.Task | None = None
        self._lock = asyncio.Lock()
        self._interrupt_requested = False

    # -- life cycle ---------------------------------------------------------------------------

    async def start(self, timeout: float = 30.0) -> None:
        self._reader = asyncio.create_task(self._read_loop(), name="shell-reader")
        exports = "".join(f"export {k}={bash_quote_chunks(v, 10**9)[0]}; " for k, v in self.env.items())
        # Echo off (we send quoted commands, the person sees them elsewhere); keep ^C flowing to the
        # foreground job without flushing queued input; silence prompts; refuse `exit`, which would
        # end the episode's shell.
        setup = (
            "stty -echo noflsh cols 160 rows 48 </dev/tty 2>/dev/null; PS1=''; PS2=''; PS0=''; unset PROMPT_COMMAND HISTFILE; "
            "set +H +o history; shopt -u checkwinsize; "
            "exit() { if [ \"$BASHPID\" != \"$$\" ]; then builtin exit \"$@\"; fi; "
            "echo 'exit is disabled: this shell belongs to the episode (use submit to finish)' >&2; return 1; }; "
            "logout() { exit; }; " + exports
        )
        self.alive = True
        result = await self._exchange(setup + "true", "", timeout=timeout, startup=True)
        if result.exit_code is None:
            raise ShellDied("the shell did not start", "check that the image has bash (mlgym-tui doctor)")

    async def close(self) -> None:
        self.alive = False
        if self._reader:
            self._reader.cancel()
        await self.transport.close()

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Raw terminal text (escape sequences intact) as it arrives; returns an unsubscribe function."""
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback) if callback in self._subscribers else None

    # -- commands -----------------------------------------------------------------------------

    async def run(self, command: str, timeout: float | None = None, no_output_timeout: float | None = None) -> CommandResult:
        async with self._lock:
            if not self.alive:
                raise ShellDied("the shell has ended", "start a new session (the container may have stopped)")
            return await self._exchange(
                command,
                command,
                timeout=timeout or self.limits.command_timeout,
                no_output_timeout=no_output_timeout or self.limits.no_output_timeout,
            )

    async def interrupt(self) -> None:
        """Stop the running command the way a timeout does: SIGINT, then SIGKILL."""
        if self._pending is not None:
            self._interrupt_requested = True
            await self.transport.write(b"\x03")

    @property
    def busy(self) -> bool:
        return self._pending is not None

    async def _exchange(
        self,
        script: str,
        command: str,
        timeout: float,
        no_output_timeout: float | None = None,
        startup: bool = False,
    ) -> CommandResult:
        loop = asyncio.get_running_loop()
        pending = _Pending(
            command, OutputCapture(self.limits.output_head_bytes, self.limits.output_tail_bytes), loop.create_future()
        )
        self._pending = pending
        self._interrupt_requested = False
        chunks = bash_quote_chunks(script)
        lines = ["__mlgym_c=" + chunks[0]] + ["__mlgym_c+=" + c for c in chunks[1:]]
        lines.append('eval "$__mlgym_c" </dev/null')
        lines.append(
            # A command may have set `trap '' INT`; undo it so the next one can be interrupted.
            "__mlgym_s=$?; trap - INT TERM; printf '\\036MLGYM%s:%s:%s:%s:%s\\036\\n' "
            f"{self.nonce} \"$__mlgym_s\" \"$$\" \"$PWD\" \"${{CURRENT_FILE:-}}\""
        )
        try:
            await self.transport.write(("\n".join(lines) + "\n").encode())
            note, timed_out, interrupted = await self._wait(pending, timeout, no_output_timeout, startup)
            if self._interrupt_requested and not interrupted:
                # The command died of the first Ctrl-C before the wait loop looked: still an interrupt.
                note, interrupted = "[interrupted by request: stopped with SIGINT; the shell is still usable]", True
        except ShellDied:
            self._pending = None
            raise
        self._pending = None
        if not pending.done.done():
            self.alive = False
            raise ShellDied("the shell stopped answering after a kill", "start a new session")
        exit_code = pending.done.result()
        capture = pending.capture
        if capture.total > self.limits.max_output_bytes and not note:
            note = f"[output exceeded {self.limits.max_output_bytes:,} bytes: the command was stopped]"
        if capture.cut:
            cut_note = f"[output was {capture.total:,} bytes: kept the first and last parts]"
            note = f"{note}\n{cut_note}".strip()
        return CommandResult(
            command=command,
            output="" if startup else capture.text(),
            exit_code=exit_code,
            duration=time.monotonic() - pending.started,
            cwd=self.cwd,
            open_file=self.open_file,
            timed_out=timed_out,
            interrupted=interrupted,
            truncated_bytes=capture.cut,
            total_bytes=capture.total,
            note=note,
        )

    async def _wait(
        self, pending: _Pending, timeout: float, no_output_timeout: float | None, startup: bool
    ) -> tuple[str, bool, bool]:
        """Wait for the marker; on a deadline, an interrupt or a flood, stop the command and say why."""
        deadline = pending.started + timeout
        while not pending.done.done():
            now = time.monotonic()
            wait = deadline - now
            if no_output_timeout:
                wait = min(wait, pending.last_output + no_output_timeout - now)
            wait = max(0.0, min(wait, 0.5))
            await asyncio.wait({pending.done}, timeout=wait)
            if pending.done.done():
                break
            now = time.monotonic()
            reason = None
            if self._interrupt_requested:
                reason, kind = "interrupted by request", "interrupted"
            elif now >= deadline:
                reason, kind = f"timed out after {timeout:g} s", "timeout"
            elif no_output_timeout and now >= pending.last_output + no_output_timeout:
                reason, kind = f"no output for {no_output_timeout:g} s", "timeout"
            elif pending.capture.total > self.limits.max_output_bytes:
                reason, kind = f"output exceeded {self.limits.max_output_bytes:,} bytes", "timeout"
            if reason is None:
                continue
            if startup:
                raise ShellDied("the shell did not answer", "check the engine and the image (mlgym-tui doctor)")
            how = await self._stop_running(pending)
            return f"[{reason}: {how}]", kind == "timeout", kind == "interrupted"
        return "", False, False

    async def _stop_running(self, pending: _Pending) -> str:
        await self.transport.write(b"\x03")
        try:
            await asyncio.wait_for(asyncio.shield(pending.done), self.limits.interrupt_grace)
            return "stopped with SIGINT; the shell is still usable"
        except asyncio.TimeoutError:
            pass
        if self.shell_pid is not None:
            await self.transport.kill_foreground(self.shell_pid)
        try:
            await asyncio.wait_for(asyncio.shield(pending.done), self.limits.interrupt_grace)
            return "killed with SIGKILL after SIGINT did not stop it; the shell is still usable"
        except asyncio.TimeoutError:
            self.alive = False
            return "the command could not be stopped; the shell was abandoned"

    # -- reading ------------------------------------------------------------------------------

    async def _read_loop(self) -> None:
        try:
            while True:
                data = await self.transport.read()
                if not data:
                    break
                self._feed(data)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - any transport failure means the shell is gone
            pass
        self.alive = False
        if self._pending and not self._pending.done.done():
            self._pending.done.set_exception(
                ShellDied("the shell ended while a command ran (container stopped or killed?)", "start a new episode")
            )

    def _feed(self, data: bytes) -> None:
        self._buffer += data
        while True:
            index = self._buffer.find(self.marker)
            if index < 0:
                keep = _partial_suffix(self._buffer, self.marker)
                self._emit(bytes(self._buffer[: len(self._buffer) - keep]))
                del self._buffer[: len(self._buffer) - keep]
                return
            end = self._buffer.find(b"\x1e", index + len(self.marker))
            if end < 0:
                self._emit(bytes(self._buffer[:index]))
                del self._buffer[:index]
                return
            self._emit(bytes(self._buffer[:index]))
            fields = decode(bytes(self._buffer[index + len(self.marker) : end])).split(":", 3)
            del self._buffer[: end + 1]
            if self._buffer.startswith(b"\r\n"):
                del self._buffer[:2]
            elif self._buffer.startswith(b"\n"):
                del self._buffer[:1]
            self._finish(fields)

    def _emit(self, data: bytes) -> None:
        if not data:
            return
        if self._pending is not None:
            self._pending.capture.add(data)
            self._pending.last_output = time.monotonic()
        if self._subscribers:
            text = self._decoder.decode(data)
            for callback in list(self._subscribers):
                callback(text)

    def _finish(self, fields: list[str]) -> None:
        status, pid, cwd, open_file = (fields + ["", "", "", ""])[:4]
        self.shell_pid = int(pid) if pid.isdigit() else self.shell_pid
        self.cwd, self.open_file = cwd, open_file
        if self._pending and not self._pending.done.done():
            self._pending.done.set_result(int(status) if status.lstrip("-").isdigit() else None)


def _partial_suffix(buffer: bytearray, marker: bytes) -> int:
    """Length of the longest end of buffer that could be the start of the marker."""
    for size in range(min(len(marker) - 1, len(buffer)), 0, -1):
        if buffer.endswith(marker[:size]):
            return size
    return 0
