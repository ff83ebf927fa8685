"""One line: mode (AUTO, CONFIRM, HUMAN, PAUSED), the time left of a timed session, who holds control when attached
viewers steer ("you" for this viewer), engine and container, task, model, and a spinner while busy (showing
"loading the model library" while a model call waits for litellm's import)."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
LOADING_LIBRARY = "loading the model library"


def format_left(seconds: float) -> str:
    """Time left as a clock: 1:05:09, 9:58, 0:07 (never negative)."""
    total = max(0, int(seconds + 0.999))  # 0:00 only when the time is really up
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class StatusBar(Widget):
    mode: reactive[str] = reactive("auto")
    paused: reactive[bool] = reactive(False)
    busy: reactive[str] = reactive("")  # what is in flight ("model", "command", "starting"), empty when idle
    detail: reactive[str] = reactive("")
    time_left: reactive[str] = reactive("")  # a timed session's remaining time ("" when untimed)
    control: reactive[str] = reactive("")  # who holds control ("you", "user@host", "nobody"); "" when not shown
    frame: reactive[int] = reactive(0)

    def on_mount(self) -> None:
        self._spin = self.set_interval(0.1, self._tick, pause=True, name="status-spinner")

    def _tick(self) -> None:
        self.frame = (self.frame + 1) % len(SPINNER)

    def watch_busy(self, busy: str) -> None:
        if not hasattr(self, "_spin"):
            return
        if busy and not getattr(self.app, "deterministic", False):
            self._spin.resume()
        else:
            self._spin.pause()

    def watch_mode(self) -> None:
        self._restyle()

    def watch_paused(self) -> None:
        self._restyle()

    def _restyle(self) -> None:
        for name in ("auto", "confirm", "human", "paused"):
            self.set_class(self.mode_label().lower() == name, f"-{name}")

    def mode_label(self) -> str:
        return "PAUSED" if self.paused else self.mode.upper()

    def render(self) -> Text:
        label = self.mode_label()
        text = Text()
        text.append(f" {label} ", style="bold reverse")
        if self.time_left:
            short = self.has_class("-time-short")
            text.append(f" ⏱ {self.time_left} left ", style="bold reverse red" if short else "bold")
        if self.control:
            text.append(f" control: {self.control} ", style="bold reverse" if self.control == "you" else "bold")
        if self.busy:
            text.append(f" {SPINNER[self.frame]} {self.busy}", style="bold")
        text.append("  " + self.detail)
        return text
