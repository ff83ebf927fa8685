"""Playing a run's interactive-terminal recording (`terminal-N.cast`) in the replay's shell pane.

`c` opens the recording that holds the cursor's step (for a human-terminal step: from a moment before that command
began; otherwise the first recording made after the cursor's step, from its start) and plays it at recorded speed,
long pauses cut to two seconds; `C` cycles the speed (1x, 2x, 4x, 8x); `c` again closes it. Moving the cursor to
another command of the same recording while it plays jumps the playback there. The cast goes into a
virtual terminal like the live shell's, so its escape sequences never reach the real terminal.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import pyte
from rich.text import Text
from textual.widget import Widget

from mlgym_tui.trajectory.cast import Cast, CastError, CastPlayback, read_cast, terminal_casts
from mlgym_tui.tui.terminal import VirtualTerminal

SPEEDS = (1.0, 2.0, 4.0, 8.0)
LEAD_S = 0.3  # start a step's playback this long before its command began, so its prompt line shows
TICK_S = 0.05


@dataclass(frozen=True)
class Choice:
    """Which recording to play and from where (seconds into it)."""

    path: Path
    offset: float
    why: str


def run_folder(path: Path | None) -> Path | None:
    if path is None:
        return None
    return path if path.is_dir() else path.parent


def choose(run_dir: Path | None, author: str | None, started_at: float | None, casts: dict[Path, Cast]) -> Choice | str:
    """The recording for the cursor's step, or what to tell the user when there is none. `casts` maps the run's
    recordings (read) to their contents."""
    if run_dir is None or not casts:
        return "no terminal recording in this run (the f6 terminal was not used)"
    paths = list(casts)
    if author == "human-terminal" and started_at:
        for path in paths:
            if casts[path].covers(started_at):
                return Choice(path, max(0.0, casts[path].offset_of(started_at) - LEAD_S), "at the cursor's command")
    if started_at:
        later = [p for p in paths if casts[p].timestamp + casts[p].duration >= started_at]
        if later:
            return Choice(later[0], 0.0, "the next terminal session")
    return Choice(paths[0], 0.0, "the first terminal session")


def read_run_casts(run_dir: Path) -> tuple[dict[Path, Cast], list[str]]:
    """Every terminal recording of a run that can be read (on a thread: files), and what could not be."""
    casts: dict[Path, Cast] = {}
    problems: list[str] = []
    for path in terminal_casts(run_dir):
        try:
            casts[path] = read_cast(path)
        except CastError as exc:
            problems.append(str(exc))
    return casts, problems


class CastPlayer(Widget):
    """A cast played into a virtual terminal; mounted in the replay's shell pane in place of the shell view."""

    DEFAULT_CSS = """
    CastPlayer { height: 1fr; background: $background; }
    """

    def __init__(self, cast: Cast, name: str, offset: float = 0.0, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.cast = cast
        self.cast_name = name
        self.speed_index = 0
        self._last = time.monotonic()
        self.playback: CastPlayback | None = None
        self.seek(offset)

    def seek(self, offset: float) -> None:
        """Show the recording as it was `offset` seconds in, and play on from there (a seek backwards replays the
        recording from its start into a fresh screen, instantly)."""
        if self.playback is None or offset < self.playback.position:
            self.terminal = VirtualTerminal(self.cast.width, self.cast.height)
            self.terminal.screen.reset_mode(pyte.modes.LNM)  # recorded from a pty: \r\n as sent
            self.playback = CastPlayback(self.cast, speed=self.speed)
        self._apply(self.playback.seek(offset))

    def on_mount(self) -> None:
        self._last = time.monotonic()
        self.set_interval(TICK_S, self._tick, name="cast-playback")

    @property
    def speed(self) -> float:
        return SPEEDS[self.speed_index]

    def cycle_speed(self) -> float:
        self.speed_index = (self.speed_index + 1) % len(SPEEDS)
        self.playback.speed = self.speed
        return self.speed

    def caption(self) -> str:
        state = "ended" if self.playback.done else f"{self.speed:g}x"
        return (f"terminal recording {self.cast_name}  {self.playback.position:.1f}s / {self.cast.duration:.1f}s  "
                f"{state}  (C: speed, c: close)")

    def _tick(self) -> None:
        now = time.monotonic()
        elapsed, self._last = now - self._last, now
        if self.playback.done:
            return
        self._apply(self.playback.advance(elapsed))

    def _apply(self, events: list[tuple[float, str, str]]) -> None:
        for _, code, data in events:
            if code == "o":
                self.terminal.feed(data)
            elif code == "r":
                columns, _, lines = data.partition("x")
                if columns.isdigit() and lines.isdigit():
                    self.terminal.resize(int(columns), int(lines))
        if events:
            self.refresh()
        parent = self.parent
        if parent is not None and hasattr(parent, "set_title"):
            parent.set_title(self.caption())

    def render(self) -> Text:
        return self.terminal.render()

    def plain(self) -> str:
        return self.terminal.plain()
