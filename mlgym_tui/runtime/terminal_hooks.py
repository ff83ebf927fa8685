"""Shell integration for a person's interactive terminal (f6): which command lines ran, with what exit code, cwd and
output, reported by the shell itself out of band.

`setup_line` is typed into the person's `bash -l` when the terminal opens. It installs a PS0 hook (expanded after a
line is read, before it runs) that reports the line as history recorded it, and a PROMPT_COMMAND hook that reports
the exit code and working directory before the next prompt. Both travel as a private OSC escape sequence

    ESC ] 6973 ; <nonce> ; <kind> ; <fields> BEL

kinds: R (hooks installed), C (a command line begins: the line), D (it ended: exit code ; cwd). Fields are
percent-escaped so they hold no BEL, ESC, CR or LF. The nonce is random per terminal and lives only in the shell's
function bodies (never exported), so a program's output cannot forge a report: a sequence with another nonce is
passed through as ordinary output. `HookStream` takes the raw byte stream apart: display bytes (markers removed)
for the screen and the recording, and the commands that began and finished.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote

from mlgym_tui.runtime.shell import OutputCapture

OSC_NUMBER = b"6973"
MARK = b"\x1b]" + OSC_NUMBER + b";"
END = b"\x07"
MAX_REPORT = 64 * 1024  # a longer "report" is not one of ours: its bytes are shown as they came
HELD_BEFORE_READY = 256 * 1024  # what the shell prints before the hooks are in (the setup line's echo): dropped


def new_nonce() -> str:
    return secrets.token_hex(16)


def setup_line(nonce: str) -> bytes:
    """The line that installs the hooks, followed by Enter. It keeps itself out of the history, and makes every
    line reach the history (PS0 reads the line from there), so HISTCONTROL/HISTIGNORE are cleared."""
    if not nonce.isalnum():
        raise ValueError("the nonce must be letters and digits")
    osc = f"\\033]{OSC_NUMBER.decode()};{nonce};"
    script = (
        " HISTCONTROL=; HISTIGNORE=; "
        "__mlgym_esc(){ REPLY=${1//'%'/%25}; REPLY=${REPLY//$'\\a'/%07}; REPLY=${REPLY//$'\\e'/%1B}; "
        "REPLY=${REPLY//$'\\n'/%0A}; REPLY=${REPLY//$'\\r'/%0D}; }; "
        "__mlgym_began(){ local c; c=$(HISTTIMEFORMAT= builtin history 1); c=${c#\"${c%%[![:space:]]*}\"}; "
        f"c=${{c#*[0-9][ *] }}; __mlgym_esc \"$c\"; builtin printf '{osc}C;%s\\007' \"$REPLY\"; }}; "
        f"__mlgym_ended(){{ local e=$?; __mlgym_esc \"$PWD\"; builtin printf '{osc}D;%s;%s\\007' \"$e\" \"$REPLY\"; "
        "return $e; }; "
        "PS0='$(__mlgym_began)'; PROMPT_COMMAND=\"__mlgym_ended${PROMPT_COMMAND:+;$PROMPT_COMMAND}\"; "
        f"builtin history -d -1 2>/dev/null; builtin printf '{osc}R\\007'"
    )
    return script.encode() + b"\r"


@dataclass(frozen=True)
class CommandBegan:
    command: str
    started_at: float  # time.time()


@dataclass(frozen=True)
class CommandRan:
    """A command line that ran in the terminal; exit_code is None when the terminal closed before it ended."""

    command: str
    output: str
    exit_code: int | None
    duration: float
    cwd: str
    started_at: float


HookEvent = CommandBegan | CommandRan


class _Running:
    def __init__(self, command: str, started_at: float, head: int, tail: int) -> None:
        self.command = command
        self.started_at = started_at
        self.capture = OutputCapture(head, tail)


class HookStream:
    """Splits a terminal's raw bytes into display bytes and hook reports, incrementally: a report cut between two
    reads is held until its end arrives. Until the shell reports R, what it prints is held back (it is the echo of
    the setup line); `give_up` releases it when the hooks never come."""

    def __init__(self, nonce: str, *, clock: Callable[[], float] = time.time,
                 head_bytes: int = 50_000, tail_bytes: int = 50_000) -> None:
        self._nonce = nonce.encode()
        self._clock = clock
        self._head, self._tail = head_bytes, tail_bytes
        self.ready = False
        self.cwd = ""
        self.forged = 0  # reports with another nonce, passed through as output
        self._pending = b""
        self._held = bytearray()
        self._running: _Running | None = None

    @property
    def running(self) -> str | None:
        return self._running.command if self._running else None

    def feed(self, data: bytes) -> tuple[bytes, list[HookEvent]]:
        buf, self._pending = self._pending + data, b""
        out = bytearray()
        found: list[HookEvent] = []
        pos = 0
        while True:
            start = buf.find(MARK, pos)
            if start < 0:
                keep = _partial_mark(buf, pos)
                self._show(buf[pos:len(buf) - keep], out)
                self._pending = buf[len(buf) - keep:]
                break
            self._show(buf[pos:start], out)
            end = buf.find(END, start + len(MARK))
            if end < 0:
                if len(buf) - start <= MAX_REPORT:
                    self._pending = buf[start:]
                    break
                self._show(buf[start:start + len(MARK)], out)  # not a report of ours: shown as it came
                pos = start + len(MARK)
                continue
            if not self._report(buf[start + len(MARK):end], found):
                self._show(buf[start:end + 1], out)
            pos = end + 1
        return bytes(out), found

    def give_up(self) -> bytes:
        """The hooks have not reported in time: show what was held back and pass everything through from now on
        (reports that still come are taken as usual)."""
        self.ready = True
        held, self._held = bytes(self._held), bytearray()
        return held

    def close(self) -> list[HookEvent]:
        """The terminal ended: a command still running is reported without an exit code."""
        if self._running is None:
            return []
        return [self._finish(None, self.cwd)]

    # ---------------------------------------------------------------- inside

    def _show(self, data: bytes, out: bytearray) -> None:
        if not data:
            return
        if not self.ready:
            room = HELD_BEFORE_READY - len(self._held)
            if room > 0:
                self._held += data[:room]
            return
        out += data
        if self._running is not None:
            self._running.capture.add(data)

    def _report(self, body: bytes, found: list[HookEvent]) -> bool:
        """Act on a report; False when it is not ours (wrong nonce, unknown kind)."""
        nonce, _, rest = body.partition(b";")
        if not hmac.compare_digest(nonce, self._nonce):
            self.forged += 1
            return False
        kind, _, fields = rest.partition(b";")
        if kind == b"R":
            self.ready = True
            self._held = bytearray()
        elif kind == b"C":
            if self._running is not None:  # an end that never came (a nested shell that exec'd): close it
                found.append(self._finish(None, self.cwd))
            command = _field(fields).strip()
            self._running = _Running(command, self._clock(), self._head, self._tail)
            found.append(CommandBegan(command, self._running.started_at))
        elif kind == b"D":
            code, _, cwd = fields.partition(b";")
            self.cwd = _field(cwd)
            if self._running is not None:  # else an empty line or ctrl+c at the prompt: nothing ran
                try:
                    exit_code: int | None = int(code)
                except ValueError:
                    exit_code = None
                found.append(self._finish(exit_code, self.cwd))
        else:
            return False
        return True

    def _finish(self, exit_code: int | None, cwd: str) -> CommandRan:
        running, self._running = self._running, None
        assert running is not None
        return CommandRan(command=running.command, output=running.capture.text().strip("\n"), exit_code=exit_code,
                          duration=max(0.0, self._clock() - running.started_at), cwd=cwd,
                          started_at=running.started_at)


def _field(raw: bytes) -> str:
    return unquote(raw.decode("utf-8", errors="replace"))


def _partial_mark(buf: bytes, pos: int) -> int:
    """How many bytes at the end of buf[pos:] could be the start of a MARK (to hold until more arrives)."""
    for keep in range(min(len(MARK) - 1, len(buf) - pos), 0, -1):
        if buf.endswith(MARK[:keep]):
            return keep
    return 0
