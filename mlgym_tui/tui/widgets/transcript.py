"""The transcript: one card per step, windowed so thousands of steps never mount thousands of widgets.

At most WINDOW cards are mounted. While following (the default) the window is the tail; `[` and `]`
page the window back and forward through history.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from mlgym_tui.stream.model import EpisodeModel
from mlgym_tui.tui.actions import bindings_for
from mlgym_tui.tui.widgets.live_card import LiveCard
from mlgym_tui.tui.widgets.step_card import StepCard

WINDOW = 40


class Transcript(VerticalScroll, can_focus=True):
    BINDINGS = bindings_for("transcript")

    def __init__(self, model: EpisodeModel, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.model = model
        self.window_end: int | None = None  # None: follow the tail
        self.cards: dict[int, StepCard] = {}  # index in model.steps -> mounted card

    def compose(self) -> ComposeResult:
        yield Static("", id="transcript-earlier", classes="transcript-note")
        yield LiveCard(id="live-card")
        yield Static("", id="transcript-later", classes="transcript-note")

    def window(self) -> range:
        total = len(self.model.steps)
        end = total if self.window_end is None else min(self.window_end, total)
        return range(max(0, end - WINDOW), end)

    def action_earlier(self) -> None:
        start = self.window().start
        if start > 0:
            self.window_end = start
            self.sync()
            self.scroll_home(animate=False)

    def action_later(self) -> None:
        if self.window_end is None:
            return
        end = self.window_end + WINDOW
        self.window_end = None if end >= len(self.model.steps) else end
        self.sync()
        self.scroll_home(animate=False) if self.window_end is not None else self.scroll_end(animate=False)

    def sync(self) -> None:
        """Bring the mounted cards in line with the model: mount new ones, drop those out of the window."""
        follow = self.window_end is None
        at_bottom = self.scroll_y >= self.max_scroll_y - 1
        wanted = self.window()
        for index in list(self.cards):
            if index not in wanted:
                self.cards.pop(index).remove()
        new = [StepCard(self.model.steps[i], self.model, i) for i in wanted if i not in self.cards]
        for card in new:
            self.cards[card.index] = card
        if new:
            before = self.cards.get(new[-1].index + 1)
            self.mount_all(new, before=before if before is not None else self.query_one("#live-card"))
        for card in self.cards.values():
            if card.rendered_revision != card.step_view.revision and card.is_mounted:
                card.rerender()
        self.update_notes(wanted)
        self.query_one(LiveCard).show(self.model.live if follow else None)
        if follow and at_bottom:
            self.call_after_refresh(self.scroll_end, animate=False)

    def update_notes(self, window: range) -> None:
        """The notes above and below the cards: how many steps lie outside the window."""
        earlier, later = window.start, len(self.model.steps) - window.stop
        note = self.query_one("#transcript-earlier", Static)
        note.display = earlier > 0
        note.update(f"… {earlier} earlier steps (press [ to show them)")
        note_later = self.query_one("#transcript-later", Static)
        note_later.display = later > 0
        note_later.update(f"… {later} later steps (press ] to show them)")
