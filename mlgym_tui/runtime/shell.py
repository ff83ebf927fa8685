"""One long-lived bash per episode, driven through a terminal.

Each command travels as a quoted string that bash evals in its own process (so cwd and environment
persist), with stdin from /dev/null. The eval and the end-of-command marker (exit code, working
directory) share one line, so a program that reads the terminal finds nothing queued to swallow; after
the eval the line undoes what a command can do to the shell's own state (set -e, redirected or closed
output, traps, disabled builtins) before it prints the marker, and saves `export -p` so a fresh shell
can take the environment over. The terminal gives every command its own process group, so Ctrl-C
reaches the command; Ctrl-C aborts the rest of the shell's line, so the marker is sent again after it.

A command that stays silent is checked out of band (`inspect`), beside the wait: a process waiting for
terminal input is stopped with a note, and a shell that has ended or been replaced is reported as ShellDied,
carrying the command's output, for the owner to start a fresh one. The shell's pid is learnt once, at
startup, before any command could print a forged marker; a process is killed only after the transport has
verified it (the terminal's session, or the pid with its start time).
"""

from __future__ import annotations

import abc
import asyncio
import codecs
import secrets
import time
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from mlgym_tui.config.runtime import ShellLimits
from mlgym_tui.runtime.errors import ShellDied
from mlgym_tui.runtime.text import bash_quote, bash_quote_chunks, decode, strip_escapes

Subscriber = Callable[[str], None]
# Runs a shell script out of band (not through the terminal) as the shell's user; returns what it printed.
Inspector = Callable[[str], Awaitable[str]]

STUCK_CHECK_MAX_INTERVAL = 30.0  # a long silent command is checked at most this rarely
TTY_NOTE = ("this command waited for terminal input (a password prompt?) and was stopped: commands here have no "
            "keyboard; use non-interactive flags or pass input through a file or a pipe")
# What a silent shell's processes are doing: "gone", "tty PID NAME" (a process of the terminal's foreground
# group blocked reading the terminal) or "busy". Reading /proc/PID/syscall needs the shell's own user. Errors
# are silenced first: a process that vanishes mid-scan must not add a line the verdict could be mistaken for.
_PROBE = r"""
exec 2>/dev/null
P=$1
[ -r /proc/$P/stat ] || { echo gone; exit 0; }
case $(uname -m) in x86_64) R=0 W="7 23 270 271";; aarch64) R=63 W="72 73";; *) echo busy; exit 0;; esac
read -r s < /proc/$P/stat || { echo gone; exit 0; }; s=${s##*) }; set -- $s; fg=$6
for d in /proc/[0-9]*; do
  read -r s < $d/stat || continue; c=${s#*(}; c=${c%)*}; s=${s##*) }; set -- $s
  [ "$3" = "$fg" ] || continue
  read -r n fd _ < $d/syscall || continue
  if [ "$n" = "$R" ]; then t=$(readlink $d/fd/$((fd)))
  elif [[ " $W " == *" $n "* ]]; then t=$(readlink $d/fd/0)
  else continue; fi
  c=${c//[^A-Za-z0-9._+-]/_}
  case $t in /dev/pts/*|/dev/tty*|/dev/console) echo "tty ${d#/proc/} ${c:-_}"; exit 0;; esac
done
echo busy
"""
# Only a whole last line in this form is a verdict; anything else (a stray line, nothing) counts as busy.
_VERDICT = re.compile(r"(busy|gone|tty (\d+) (\S+))")
# Variables that steer the interactive shell itself rather than the agent's programs: a fresh shell does not take
# them over (an exported TMOUT would end every fresh shell when idle, PROMPT_COMMAND or PS1 would print into the
# output, POSIXLY_CORRECT would refuse the shell's own functions, ...).
SHELL_CONTROL_VARIABLES = ("TMOUT", "PROMPT_COMMAND", "PS0", "PS1", "PS2", "PS4", "BASH_ENV", "ENV", "IGNOREEOF",
                           "HISTFILE", "BASH_XTRACEFD", "POSIXLY_CORRECT", "SHELLOPTS", "BASHOPTS")
ENV_FILE_END = "# mlgym-shell-env-end"  # the last line of a complete saved environment


class ShellTransport(abc.ABC):
    """A byte pipe to a bash running on a terminal, plus an out-of-band way to kill its children."""

    @abc.abstractmethod
    async def read(self) -> bytes:
        """Next bytes from the terminal; b"" once it has closed."""

    @abc.abstractmethod
    async def write(self, data: bytes) -> None: ...

    @abc.abstractmethod
    async def kill_foreground(self, shell_pid: int, reader_pid: int | None = None) -> None:
        """SIGKILL the terminal's foreground process group unless it is the shell's own; when it is, SIGKILL
        `reader_pid` (a terminal reader inside `$(...)`, which runs in the shell's group) and its descendants
        instead, if it is in the shell's session and is not the shell."""

    @abc.abstractmethod
    async def end_shell(self, shell_pid: int | None, start_time: str | None) -> None:
        """SIGKILL the shell itself, only once verified to be the one this transport started (same pid, same
        start time), never anything else."""

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
    shell_ended: str = ""  # why the shell ended or was given up during this command ("" while it lives)

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
    seq: int
    capture: OutputCapture
    done: asyncio.Future  # (exit code or None, "ok" | "exited" | "eof")
    started: float = field(default_factory=time.monotonic)
    last_output: float = field(default_factory=time.monotonic)
    output_restored: bool = False  # the command had redirected or closed the shell's output


class ShellSession:
    """A persistent bash. `run` one command at a time; `interrupt` from anywhere."""

    def __init__(self, transport: ShellTransport, limits: ShellLimits | None = None, env: dict[str, str] | None = None):
        self.transport = transport
        self.limits = limits or ShellLimits()
        self.env = env or {}
        self.nonce = secrets.token_hex(6)
        self.marker = f"\x1eMLGYM{self.nonce}\x1f".encode()
        # `export -p` after every command, for a fresh shell to take over if this one dies: in /dev/shm (memory,
        # about 50 us) when the shell can write there, else /tmp (about 250 us on an overlay file system).
        self.env_files = (f"/dev/shm/.mlgym-shell-{self.nonce}.env", f"/tmp/.mlgym-shell-{self.nonce}.env")
        self.inspect: Inspector | None = None  # set by the owner to enable the stuck check
        # Learnt at startup, before any command of the agent's could print a forged marker; never updated after.
        self.shell_pid: int | None = None
        self.start_time: str | None = None  # field 22 of /proc/PID/stat: with the pid, names this process only
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
        self._sigint_sent = False
        self._seq = 0

    # -- life cycle ---------------------------------------------------------------------------

    async def start(self, timeout: float = 30.0) -> None:
        self._reader = asyncio.create_task(self._read_loop(), name="shell-reader")
        exports = "".join(f"export {k}={bash_quote_chunks(v, 10**9)[0]}; " for k, v in self.env.items())
        # Echo off (we send quoted commands, the person sees them elsewhere); keep ^C flowing to the
        # foreground job without flushing queued input; silence prompts; refuse `exit`, which would
        # end the episode's shell; remember the terminal's settings for commands that change them; and if
        # the shell ends anyway (set -e, builtin exit), report the exit status before it goes.
        # IGNOREEOF (not exported): a Ctrl-D meant for a terminal reader that has just finished cannot end this
        # shell; `read </dev/tty` still gets end-of-file, and a shell that replaced this one (exec bash) still ends.
        setup = (
            "stty -echo noflsh cols 160 rows 48 </dev/tty 2>/dev/null; PS1=''; PS2=''; PS0=''; unset PROMPT_COMMAND HISTFILE; "
            "IGNOREEOF=1000; "
            "set +H +o history; shopt -u checkwinsize; __mlgym_tty=$(stty -g </dev/tty 2>/dev/null); "
            f"__mlgym_e={self.env_files[0]}; [ -w /dev/shm ] || __mlgym_e={self.env_files[1]}; "
            "exit() { if [ \"$BASHPID\" != \"$$\" ]; then builtin exit \"$@\"; fi; "
            "echo 'exit is disabled: this shell belongs to the episode (use submit to finish)' >&2; return 1; }; "
            "logout() { exit; }; trap " + bash_quote(self._tail("$__mlgym_q", "x")) + " EXIT; " + exports
        )
        self.alive = True
        # The shell's own start time, so that ending it later can never hit another process that got its pid.
        result = await self._exchange(setup + "read -r __mlgym_st </proc/$$/stat 2>/dev/null; "
                                      "\\builtin printf '%s\\n' \"${__mlgym_st##*) }\"", "", timeout=timeout, startup=True)
        if result.exit_code is None:
            raise ShellDied("the shell did not start", "check that the image has bash (mlgym-tui doctor)")
        fields = result.output.strip().split()
        self.start_time = fields[19] if len(fields) > 19 and fields[19].isdigit() else None

    async def close(self) -> None:
        """Remove the shell's saved environment and let it exit when it is idle; then drop the connection."""
        if self.alive and self._pending is None and self._reader is not None and not self._reader.done():
            files = " ".join(f"{f} {f}.l" for f in self.env_files)
            try:
                # Without its EXIT trap, which would save the environment again on the way out.
                await self.transport.write(
                    f"\\builtin trap - EXIT; \\command -p rm -f -- {files} 2>/dev/null; \\builtin exit 0\n".encode())
                await asyncio.wait({self._reader}, timeout=1.0)
            except Exception:  # noqa: BLE001 - the shell is going either way
                pass
        self.alive = False
        if self._reader:
            self._reader.cancel()
        await self.transport.close()

    async def end(self) -> None:
        """Kill the shell itself (it may live on unusable: replaced, or its marker lost), then close."""
        self.alive = False
        try:
            await self.transport.end_shell(self.shell_pid, self.start_time)
        finally:
            await self.close()

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Raw terminal text (escape sequences intact) as it arrives; returns an unsubscribe function."""
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback) if callback in self._subscribers else None

    def take_over(self, old: "ShellSession") -> None:
        """Become the successor of a shell that ended: its subscribers now watch this one."""
        self._subscribers = old._subscribers  # the same list, so unsubscribe functions handed out still work

    def announce(self, text: str) -> None:
        """Show a line of our own in the raw stream (subscribers only; never in a command's output)."""
        for callback in list(self._subscribers):
            callback(f"\r\n[{text}]\r\n")

    # -- commands -----------------------------------------------------------------------------

    async def run(self, command: str, timeout: float | None = None, no_output_timeout: float | None = None) -> CommandResult:
        """Run one command. Raises ShellDied (with the command's result so far) when the shell ended."""
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
            await self._send_sigint(self._pending)

    @property
    def busy(self) -> bool:
        return self._pending is not None

    def _tail(self, seq: str, flags: str = "") -> str:
        """What runs after each command: undo what the command did to the shell's own machinery, keep the
        environment for a successor, then print the marker. Builtins only, so it costs no process."""
        return (
            # $? first; the braces keep `set -x` from tracing our bookkeeping into the command's output.
            "{ __mlgym_s=$?; \\unset -f builtin printf export set trap 2>/dev/null; "
            "\\builtin enable printf export set trap exec; \\builtin set +evx -m; } 2>/dev/null; "
            # A command may have set `trap '' INT`; undo it so the next one can be interrupted.
            f"\\builtin trap - INT TERM DEBUG; __mlgym_f={flags}; "
            # `exec >log 2>&1` or `exec 1>&-` would send the marker away: give the shell its terminal back (plain
            # `exec`: behind `builtin` its redirections would only last for that command).
            "{ [ -t 1 ] && [ -t 2 ]; } || { exec >/dev/tty 2>&1; __mlgym_f+=o; }; "
            # Ends with a known line, so a copy cut short (a full /dev/shm) is not taken for the environment; if
            # the write fails the copy moves to /tmp for good.
            f'{{ \\builtin export -p; \\builtin printf "%s\\n" "{ENV_FILE_END}"; }} >|"$__mlgym_e" 2>/dev/null || '
            f'{{ __mlgym_e={self.env_files[1]}; {{ \\builtin export -p; \\builtin printf "%s\\n" "{ENV_FILE_END}"; }} '
            '>|"$__mlgym_e" 2>/dev/null; }; '
            "\\builtin printf '\\036MLGYM%s\\037%s\\037%s\\037%s\\037%s\\037%s\\037%s\\036\\n' "
            f"{self.nonce} {seq} \"$__mlgym_s\" \"$$\" \"$__mlgym_f\" \"${{CURRENT_FILE:-}}\" \"$PWD\""
        )

    def _script(self, script: str, seq: int, command: str) -> str:
        chunks = bash_quote_chunks(script)
        lines = ["__mlgym_c=" + chunks[0]] + ["__mlgym_c+=" + c for c in chunks[1:]]
        extra = ""
        if "stty" in command:
            # The terminal carries the marker: put back the settings a command changed (rare, so no cost).
            extra += '/bin/stty "$__mlgym_tty" </dev/tty 2>/dev/null; '
        if "ulimit" in command:
            # Hard limits cannot be raised again: a shell left with too few processes, files or memory to start a
            # program is reported (flag f). Read through a file, as a fork may be what no longer works.
            extra += (
                "for __mlgym_l in u n v; do ulimit -S$__mlgym_l >|$__mlgym_e.l; read -r __mlgym_v <$__mlgym_e.l; "
                "case $__mlgym_l$__mlgym_v in u[0-9]|u[0-9][0-9]|n[0-9]|n1[0-5]|v[0-9]|v[0-9][0-9]|v[0-9][0-9][0-9]"
                "|v[0-9][0-9][0-9][0-9]|v[0-9][0-9][0-9][0-9][0-9]) __mlgym_f+=f;; esac; done; "
            )
        tail = self._tail(str(seq))
        if extra:
            tail = tail.replace("{ \\builtin export -p", extra + "{ \\builtin export -p", 1)
        # One line: a program reading the terminal finds no queued input, so it cannot eat the marker.
        lines.append(f'__mlgym_q={seq}; \\eval "$__mlgym_c" </dev/null; {tail}')
        return "\n".join(lines) + "\n"

    async def _exchange(
        self,
        script: str,
        command: str,
        timeout: float,
        no_output_timeout: float | None = None,
        startup: bool = False,
    ) -> CommandResult:
        loop = asyncio.get_running_loop()
        self._seq += 1
        pending = _Pending(
            command, self._seq, OutputCapture(self.limits.output_head_bytes, self.limits.output_tail_bytes),
            loop.create_future()
        )
        self._pending = pending
        self._interrupt_requested = self._sigint_sent = False
        try:
            await self.transport.write(self._script(script, pending.seq, command).encode())
            note, timed_out, interrupted, ended = await self._wait(pending, timeout, no_output_timeout, startup)
            if self._interrupt_requested and not interrupted and not ended:
                # The command died of the first Ctrl-C before the wait loop looked: still an interrupt.
                note, interrupted = "[interrupted by request: stopped with SIGINT; the shell is still usable]", True
        finally:
            self._pending = None
        exit_code, how = pending.done.result() if pending.done.done() else (None, "eof")
        if how == "crippled":
            ended = "the command lowered the shell's limits (ulimit) so far that it can no longer start programs"
        elif how == "exited" and not ended:
            ended = _why_shell_ended(command, exit_code)
        elif how == "eof" and not ended:
            ended = _why_shell_ended(command, None)
        capture = pending.capture
        if pending.output_restored and not startup:
            note = (f"{note}\n[the command redirected or closed the shell's own output (exec >...): it was pointed back "
                    "at the terminal for the next commands]").strip()
        if capture.total > self.limits.max_output_bytes and not note:
            note = f"[output exceeded {self.limits.max_output_bytes:,} bytes: the command was stopped]"
        if capture.cut:
            cut_note = f"[output was {capture.total:,} bytes: kept the first and last parts]"
            note = f"{note}\n{cut_note}".strip()
        result = CommandResult(
            command=command,
            output=capture.text(),  # at startup: the shell's /proc stat line, for start()
            exit_code=exit_code,
            duration=time.monotonic() - pending.started,
            cwd=self.cwd,
            open_file=self.open_file,
            timed_out=timed_out,
            interrupted=interrupted,
            truncated_bytes=capture.cut,
            total_bytes=capture.total,
            note=note,
            shell_ended=ended,
        )
        if ended:
            self.alive = False
            if startup:
                raise ShellDied("the shell did not start", "check the engine and the image (mlgym-tui doctor)")
            raise ShellDied(ended, "a fresh shell is needed", result)
        return result

    async def _wait(
        self, pending: _Pending, timeout: float, no_output_timeout: float | None, startup: bool
    ) -> tuple[str, bool, bool, str]:
        """Wait for the marker; on a deadline, an interrupt, a flood or a wedge, stop the command and say why.
        Returns (note, timed out, interrupted, why the shell ended or "")."""
        deadline = pending.started + timeout
        check_every = self.limits.stuck_check_after
        next_check = 0.0
        # The stuck check runs beside the wait (an exec takes 0.25 s, seconds under load): a command that ends
        # meanwhile is seen at once, and the check's verdict about it is dropped.
        probe: asyncio.Task | None = None
        try:
            while not pending.done.done():
                now = time.monotonic()
                wait = deadline - now
                if no_output_timeout:
                    wait = min(wait, pending.last_output + no_output_timeout - now)
                wait = max(0.0, min(wait, 0.5))
                await asyncio.wait({pending.done, probe} if probe else {pending.done}, timeout=wait,
                                   return_when=asyncio.FIRST_COMPLETED)
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
                elif probe is not None:
                    if probe.done():
                        verdict, probe = probe.result(), None
                        check_every = min(check_every * 2, STUCK_CHECK_MAX_INTERVAL)
                        next_check = time.monotonic() + check_every
                        outcome = await self._act_on(verdict, pending)
                        if outcome is not None:
                            return outcome
                    continue
                elif (self.inspect is not None and not startup and now >= next_check
                      and now - pending.last_output >= self.limits.stuck_check_after):
                    probe = asyncio.create_task(self._probe())
                    continue
                if reason is None:
                    continue
                if startup:
                    raise ShellDied("the shell did not answer", "check the engine and the image (mlgym-tui doctor)")
                how, ended = await self._stop_running(pending)
                return f"[{reason}: {how}]", kind == "timeout", kind == "interrupted", ended
            return "", False, False, ""
        finally:
            if probe is not None:
                probe.cancel()

    async def _probe(self) -> tuple[str, int | None, str]:
        """What the shell's foreground is doing, seen from outside: (busy | gone | tty, reader's pid, its name)."""
        if self.shell_pid is None or self.inspect is None:
            return "busy", None, ""
        try:
            lines = (await self.inspect(f"set -- {self.shell_pid}\n{_PROBE}")).strip().splitlines()
        except Exception:  # noqa: BLE001 - a failed look is no evidence either way; the timeouts still hold
            return "busy", None, ""
        match = _VERDICT.fullmatch(lines[-1].strip()) if lines else None
        if match is None:
            return "busy", None, ""
        if match.group(2) is None:
            return match.group(1), None, ""
        return "tty", int(match.group(2)), match.group(3)

    async def _act_on(self, verdict: tuple[str, int | None, str], pending: _Pending) -> tuple[str, bool, bool, str] | None:
        """Stop a command that waits for the terminal. None: it is working (or has just finished)."""
        kind, reader, name = verdict
        if pending.done.done() or kind == "busy":
            return None
        if kind == "gone":
            return "", False, False, "the shell process is gone (killed?)"
        if reader != self.shell_pid:
            # A program waits for a password or a key: end its process group (or, inside `$(...)`, where it shares
            # the shell's group, the program and its children); the shell's line goes on.
            await self.transport.kill_foreground(self.shell_pid, reader)
            if await self._settles(pending):
                return f"[{TTY_NOTE} (SIGKILL to {name})]", False, False, ""
            return "", False, False, "the shell did not come back after a program waiting for terminal input was killed"
        # The shell itself reads the terminal: a `read` from /dev/tty, or a replaced shell (exec bash) at its
        # prompt. End-of-file ends the read (the line goes on) or that shell (and a fresh one is started). Looked at
        # again right before: a shell back at its own prompt must not get it (IGNOREEOF guards that too).
        if pending.done.done():
            return None
        await self.transport.write(b"\x04")
        if await self._settles(pending):
            exit_code, how = pending.done.result()
            if how == "ok":
                return f"[{TTY_NOTE} (given end-of-file)]", False, False, ""
            return "", False, False, ""
        return "", False, False, "the shell stopped reading its commands (replaced by `exec`, or its marker was lost)"

    async def _settles(self, pending: _Pending) -> bool:
        try:
            await asyncio.wait_for(asyncio.shield(pending.done), self.limits.interrupt_grace)
            return True
        except asyncio.TimeoutError:
            return False

    async def _send_sigint(self, pending: _Pending) -> None:
        """Ctrl-C, then the marker again: a command killed by SIGINT aborts the rest of the shell's line."""
        if self._sigint_sent:
            return
        self._sigint_sent = True
        await self.transport.write(b"\x03" + self._tail(str(pending.seq)).encode() + b"\n")

    async def _stop_running(self, pending: _Pending) -> tuple[str, str]:
        """(what was done, why the shell ended or "")."""
        await self._send_sigint(pending)
        if await self._settles(pending):
            return "stopped with SIGINT; the shell is still usable", ""
        if self.shell_pid is not None:
            await self.transport.kill_foreground(self.shell_pid)
        if await self._settles(pending):
            return "killed with SIGKILL after SIGINT did not stop it; the shell is still usable", ""
        return "the command could not be stopped", "the command could not be stopped, so the shell was given up"

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
        if self._buffer:
            self._emit(bytes(self._buffer))
            self._buffer.clear()
        if self._pending and not self._pending.done.done():
            self._pending.done.set_result((None, "eof"))

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
            fields = decode(bytes(self._buffer[index + len(self.marker) : end])).split("\x1f", 5)
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
        seq, status, pid, flags, open_file, cwd = (fields + [""] * 6)[:6]
        pending = self._pending
        if pending is None or pending.done.done() or seq != str(pending.seq):
            return  # a marker sent again after Ctrl-C, for a command that had already finished
        if self.shell_pid is None and pid.isdigit():
            self.shell_pid = int(pid)  # the startup marker: no command of the agent's has run yet
        self.cwd, self.open_file = cwd, open_file
        code = int(status) if status.lstrip("-").isdigit() else None
        if "f" in flags:
            pending.done.set_result((code, "crippled"))
        else:
            pending.done.set_result((code, "exited" if "x" in flags else "ok"))
        if "o" in flags:
            pending.output_restored = True


def _why_shell_ended(command: str, status: int | None) -> str:
    """A one-line cause for a shell that ended during `command`, from what the command says."""
    code = f" (exit status {status})" if status is not None else ""
    if re.search(r"\bset\s+(-\w*e|-o\s+errexit)", command):
        return f"the shell exited at a failing command because of `set -e`{code}"
    if re.search(r"\bexit\b", command):
        return f"the command exited the shell{code}"
    if re.search(r"\bkill\b", command):
        return "the command killed the shell"
    if re.search(r"\bexec\b", command):
        return f"`exec` replaced or ended the shell{code}"
    if status is not None:
        return f"the shell exited{code}"
    return "the shell ended (killed, or its container stopped?)"


def _partial_suffix(buffer: bytearray, marker: bytes) -> int:
    """Length of the longest end of buffer that could be the start of the marker."""
    for size in range(min(len(marker) - 1, len(buffer)), 0, -1):
        if buffer.endswith(marker[:size]):
            return size
    return 0
