"""Terminal recordings as asciicast v2 (`.cast`, what asciinema writes and plays): newline-delimited JSON, a header
object ({"version": 2, "width", "height", "timestamp", "env", ...}) then one `[seconds, code, data]` array per
event: "o" output, "r" a resize ("COLSxROWS"), "m" a marker (here: a command line began, its text the label).

`CastWriter` appends from a thread of its own, one line per event and flushed per batch, so the caller (the event
loop) never waits on the disk and a crash loses at most the batch in flight. The header's timestamp is the start in
whole seconds and event times count from that very second, so `timestamp + t` is an event's wall-clock time: a
recorded step's `started_at` finds its place in the cast. `read_cast` reads a cast back, tolerating a last line cut
short. `agent_cast` builds a cast of the agent's shell from a run's recorded events.
"""

from __future__ import annotations

import atexit
import json
import queue
import re
import threading
import time
import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlgym_tui.stream import events as ev

TERMINAL_CAST_GLOB = "terminal-*.cast"  # the interactive terminal's recordings in a run directory
AGENT_SHELL_SIZE = (160, 48)  # the agent's shell runs on a terminal of this size (runtime/engine_api.py)


class CastError(ValueError):
    """A file that is not a readable asciicast v2 recording."""


def next_terminal_cast(run_dir: Path) -> Path:
    """A new recording's path in run_dir: terminal-1.cast, terminal-2.cast, ... one per opening of the terminal."""
    taken = {p.name for p in run_dir.glob(TERMINAL_CAST_GLOB)}
    number = 1
    while f"terminal-{number}.cast" in taken:
        number += 1
    return run_dir / f"terminal-{number}.cast"


def header(width: int, height: int, timestamp: int, *, title: str = "", env: dict[str, str] | None = None,
           command: str = "") -> dict[str, Any]:
    head: dict[str, Any] = {"version": 2, "width": int(width), "height": int(height), "timestamp": int(timestamp),
                            "env": dict(env or {"SHELL": "/bin/bash", "TERM": "xterm-256color"})}
    if title:
        head["title"] = title
    if command:
        head["command"] = command
    return head


def _line(item: Any) -> str:
    return json.dumps(item, ensure_ascii=False) + "\n"


_OPEN: "weakref.WeakSet[CastWriter]" = weakref.WeakSet()


@atexit.register
def _close_open_writers() -> None:
    """At exit, the last batch of every recording still open reaches its file."""
    for writer in list(_OPEN):
        writer.close()


class CastWriter:
    """An asciicast v2 file written from a background thread. `output`, `resize` and `marker` only queue."""

    def __init__(self, path: Path, width: int, height: int, *, title: str = "", command: str = "",
                 env: dict[str, str] | None = None, clock=time.time) -> None:
        self.path = Path(path)
        self._clock = clock
        self.timestamp = int(clock())
        self._queue: queue.SimpleQueue[tuple[float, str, str] | None] = queue.SimpleQueue()
        self.error: BaseException | None = None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "w", encoding="utf-8", buffering=1)  # noqa: SIM115 - the thread closes it
        self._file.write(_line(header(width, height, self.timestamp, title=title, command=command, env=env)))
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=f"cast-writer-{self.path.name}",
                                        daemon=True)
        self._thread.start()
        _OPEN.add(self)

    def _now(self) -> float:
        return round(max(0.0, self._clock() - self.timestamp), 6)

    def output(self, data: str) -> None:
        if data and not self._closed:
            self._queue.put((self._now(), "o", data))

    def resize(self, width: int, height: int) -> None:
        if not self._closed:
            self._queue.put((self._now(), "r", f"{int(width)}x{int(height)}"))

    def marker(self, label: str, at: float | None = None) -> None:
        """A marker at `at` (time.time(); default now)."""
        if not self._closed:
            t = self._now() if at is None else round(max(0.0, at - self.timestamp), 6)
            self._queue.put((t, "m", label))

    def close(self, wait: bool = True) -> None:
        """Write what is queued and close the file; with `wait`, block until it is written (off the event loop)."""
        if not self._closed:
            self._closed = True
            self._queue.put(None)
        if wait:
            self._thread.join()
            _OPEN.discard(self)

    def _run(self) -> None:
        try:
            done = False
            last = 0.0
            while not done:
                batch = [self._queue.get()]
                while True:  # everything already queued goes out in one write
                    try:
                        batch.append(self._queue.get_nowait())
                    except queue.Empty:
                        break
                done = None in batch
                lines = []
                for item in batch:
                    if item is not None:
                        t, code, data = item
                        last = max(last, t)  # a marker placed at a command's start never goes back in time
                        lines.append(_line([last, code, data]))
                lines = "".join(lines)
                if lines:
                    self._file.write(lines)
                    self._file.flush()
        except BaseException as exc:  # noqa: BLE001 - kept for the owner to report; the terminal goes on
            self.error = exc
            self._closed = True  # nothing more is queued (it could never be written: memory would only grow)
        finally:
            self._file.close()


@dataclass
class Cast:
    header: dict[str, Any]
    events: list[tuple[float, str, str]] = field(default_factory=list)
    warning: str = ""  # what could not be read (a last line cut short)

    @property
    def width(self) -> int:
        return int(self.header["width"])

    @property
    def height(self) -> int:
        return int(self.header["height"])

    @property
    def timestamp(self) -> float:
        return float(self.header.get("timestamp") or 0)

    @property
    def duration(self) -> float:
        return self.events[-1][0] if self.events else 0.0

    def covers(self, when: float) -> bool:
        """Whether the wall-clock time `when` falls within this recording."""
        return self.timestamp <= when <= self.timestamp + self.duration + 1.0

    def offset_of(self, when: float) -> float:
        return max(0.0, when - self.timestamp)

    def markers(self) -> list[tuple[float, str]]:
        return [(t, data) for t, code, data in self.events if code == "m"]


def read_cast(path: Path) -> Cast:
    """Read an asciicast v2 file; a last line cut short (a crash while writing) is dropped with a warning."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        raise CastError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not lines:
        raise CastError(f"{path} is empty, not an asciicast v2 recording")
    try:
        head = json.loads(lines[0])
    except json.JSONDecodeError:
        raise CastError(f"{path}: the first line is not a JSON header; is it an asciicast v2 (.cast) file?") from None
    if not isinstance(head, dict) or head.get("version") != 2 or "width" not in head or "height" not in head:
        raise CastError(f"{path}: not an asciicast v2 header (need version 2, width and height)")
    cast = Cast(head)
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        try:
            t, code, data = json.loads(line)
            cast.events.append((float(t), str(code), str(data)))
        except (json.JSONDecodeError, ValueError, TypeError):
            if number == len(lines):
                cast.warning = f"the last line ({number}) was cut short and is left out"
                break
            raise CastError(f"{path}: line {number} is not a [time, code, data] event") from None
    return cast


def terminal_casts(run_dir: Path) -> list[Path]:
    """The interactive terminal's recordings in a run directory, in the order they were made."""
    def number(p: Path) -> int:
        digits = p.stem.rpartition("-")[2]
        return int(digits) if digits.isdigit() else 0

    return sorted(Path(run_dir).glob(TERMINAL_CAST_GLOB), key=number)


_BARE_LF = re.compile(r"(?<!\r)\n")


def agent_cast(events: Iterable[ev.Event], *, width: int = AGENT_SHELL_SIZE[0],
               height: int = AGENT_SHELL_SIZE[1], title: str = "") -> list[str]:
    """The agent's shell of a recorded run as asciicast v2 lines: each command shown as a prompt line (and a
    marker) when it started, then its output. events.jsonl keeps no output chunks (they are transient), so a step's
    output is its recorded observation, shown when the step was recorded; chunks, where a stream has them, are
    shown as they came. Steps from the interactive terminal ran elsewhere (they have casts of their own)."""
    events = list(events)
    start = next((e.t for e in events if isinstance(e, ev.EpisodeStarted)), events[0].t if events else time.time())
    timestamp = int(start)
    items: list[tuple[float, str, str]] = []
    started: set[int] = set()
    chunked: set[int] = set()

    def command(t: float, step: int, author: str, action: str) -> None:
        items.append((t, "m", f"step {step}: {action}"[:200]))
        items.append((t, "o", f"\x1b[1m({author}) $ {_crlf(action)}\x1b[0m\r\n"))

    for event in events:
        if isinstance(event, ev.CommandStarted) and event.author != "human-terminal":
            started.add(event.step)
            command(event.t, event.step, event.author, event.action)
        elif isinstance(event, ev.OutputChunk) and event.data:
            chunked.add(event.step)
            items.append((event.t, "o", _crlf(event.data)))
        elif isinstance(event, ev.StepRecorded) and event.author != "human-terminal":
            if event.step not in started:  # a .traj: no command events
                command(event.started_at or event.t - event.duration, event.step, event.author, event.action)
            if event.step not in chunked and event.observation:
                text = event.observation if event.observation.endswith("\n") else event.observation + "\n"
                items.append((event.t, "o", _crlf(text)))
    lines = [_line(header(width, height, timestamp, title=title))]
    last = 0.0
    for t, code, data in items:
        last = round(max(last, t - timestamp), 6)  # times never run backwards in a cast
        lines.append(_line([last, code, data]))
    return lines


def _crlf(text: str) -> str:
    """A bare line feed as a terminal prints it (asciinema players take \\n as a line feed only)."""
    return _BARE_LF.sub("\r\n", text)


class CastPlayback:
    """Where a playback stands in a cast: `seek` to an offset, then `advance` by real seconds at `speed`; pauses
    longer than `idle_limit` (seconds of the recording) are cut short, as asciinema's idle_time_limit does. Both
    answer the events to apply, in order; a seek backwards answers every event from the start (the caller starts
    from a clear screen)."""

    def __init__(self, cast: Cast, speed: float = 1.0, idle_limit: float = 2.0) -> None:
        self.cast = cast
        self.speed = speed
        self.idle_limit = idle_limit
        self.position = 0.0  # seconds into the recording
        self.next = 0  # index of the next event to apply

    @property
    def done(self) -> bool:
        return self.next >= len(self.cast.events)

    def seek(self, offset: float) -> list[tuple[float, str, str]]:
        if offset < self.position:
            self.next = 0
        self.position = max(0.0, offset)
        return self._due()

    def advance(self, seconds: float) -> list[tuple[float, str, str]]:
        if self.done:
            return []
        upcoming = self.cast.events[self.next][0]
        if upcoming - self.position > self.idle_limit:
            self.position = upcoming - self.idle_limit
        self.position += seconds * self.speed
        return self._due()

    def _due(self) -> list[tuple[float, str, str]]:
        events = self.cast.events
        start = self.next
        while self.next < len(events) and events[self.next][0] <= self.position:
            self.next += 1
        return events[start:self.next]
