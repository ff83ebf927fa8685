"""Where a replay stands in its run: the cursor card, the author filter and the search, with no UI.

Cards are 1-based positions in `ReplayIndex.cards` (0: no step). Every move answers the card to go to, or None
when there is none, and leaves the cursor itself to `go` (the screen's single place that moves it), so the same
moves serve keys, clicks and tests; `note` then says what a person should be told (nothing found, a search that
wrapped around). `project` writes the run as it was at the cursor into an EpisodeModel.
"""

from __future__ import annotations

from typing import NamedTuple

from mlgym_tui.stream.model import EpisodeModel
from mlgym_tui.stream.replay_index import SCALARS, STATIC, ReplayIndex, next_in

AUTHORS = (None, "agent", "human", "human-terminal", "replay")  # the author filter's cycle (None: every author)
KINDS = ("failure", "validation", "human")  # the marked cards one can jump between


class Note(NamedTuple):
    text: str
    severity: str = "information"  # as Textual's notify takes it


class ReplayCursor:
    def __init__(self, index: ReplayIndex | None = None) -> None:
        self.index = index
        self.card = 0
        self.author_filter: str | None = None
        self.query = ""
        self.matches: list[int] = []  # cards matching the query, ascending
        self._searched = 0  # cards the current search has looked at (follow mode adds more)
        self.note: Note | None = None  # what the last jump, search or match has to say

    @property
    def total(self) -> int:
        return self.index.total if self.index is not None else 0

    def visible(self, card: int) -> bool:
        return self.author_filter is None or self.index.cards[card - 1].author == self.author_filter

    def go(self, card: int) -> int:
        """Put the cursor on `card`, kept within the run; the card it landed on."""
        self.card = max(min(card, self.total), 1 if self.total else 0)
        return self.card

    # ---------------------------------------------------------------- moves (each: the target card or None)

    def step(self, delta: int) -> int | None:
        card = self.card + delta
        while 1 <= card <= self.total and not self.visible(card):
            card += delta
        return card if 1 <= card <= self.total else None

    def first(self) -> int | None:
        return next((c for c in range(1, self.total + 1) if self.visible(c)), None)

    def last(self) -> int | None:
        return next((c for c in range(self.total, 0, -1) if self.visible(c)), None)

    def card_of_step(self, number: int) -> int | None:
        """The card of a step as numbered in the recording."""
        return next((i + 1 for i, s in enumerate(self.index.cards) if s.step == number), None) if self.index else None

    def card_of_text(self, text: str) -> int | None:
        """The card of a step number a person typed."""
        try:
            number = int(text.strip())
        except ValueError:
            return self.told(f"not a step number: {text.strip()!r}", "error")
        card = self.card_of_step(number)
        if card is None:
            cards = self.index.cards if self.index is not None else []
            return self.told(f"no step {number} (the run has steps {cards[0].step if cards else 0}"
                             f"..{cards[-1].step if cards else 0})", "warning")
        self.note = None
        return card

    def told(self, text: str, severity: str = "information") -> None:
        self.note = Note(text, severity)
        return None

    def jump(self, kind: str, direction: int) -> int | None:
        """The next (1) or previous (-1) failure, validation or human step the filter shows."""
        if self.index is None:
            return None
        cards = {"failure": self.index.failures, "validation": self.index.validations,
                 "human": self.index.humans}[kind]
        card = next_in(cards, self.card, direction, self.visible)
        self.note = None if card is not None else Note(f"no {'later' if direction > 0 else 'earlier'} {kind} step")
        return card

    def cycle_author(self) -> str | None:
        """Filter by the next author present in the run (then none again); a cursor the filter hides moves to the
        nearest shown card, later first. The new filter."""
        if self.index is None:
            return self.author_filter
        present = {s.author for s in self.index.cards}
        choices = [a for a in AUTHORS if a is None or a in present]
        self.author_filter = choices[(choices.index(self.author_filter) + 1) % len(choices)] \
            if self.author_filter in choices else None
        if self.author_filter is not None and self.card and not self.visible(self.card):
            after = next((c for c in range(self.card, self.total + 1) if self.visible(c)), None)
            before = next((c for c in range(self.card, 0, -1) if self.visible(c)), None)
            self.card = after or before or self.card
        return self.author_filter

    # ---------------------------------------------------------------- search

    def search(self, query: str) -> int | None:
        """Search thoughts, actions and observations; the first match from the cursor on (wrapping to the first)
        that the filter shows, or None (no match at all when `matches` is empty)."""
        self.query, self.note = query, None
        self.matches = self.index.search(query) if self.index is not None and query else []
        self._searched = self.total
        if not query:
            return None
        if not self.matches:
            return self.told(f"no step matches {query!r}", "warning")
        card = next_in(self.matches, self.card - 1, 1, self.visible) or next_in(self.matches, 0, 1, self.visible)
        return card or self.told(f"{len(self.matches)} match(es), none by {self.author_filter}", "warning")

    def next_match(self, direction: int) -> int | None:
        """The next or previous match the filter shows, wrapping around the run (and saying so). Cards added since
        the search (follow mode) are searched first."""
        if self.index is not None and self.total > self._searched and self.query:
            self.matches += self.index.search(self.query, start=self._searched)
            self._searched = self.total
        self.note = None
        card = next_in(self.matches, self.card, direction, self.visible)
        if card is not None:
            return card
        card = next_in(self.matches, 0 if direction > 0 else self.total + 1, direction, self.visible)
        if card is None:
            return self.told(f"no step matches {self.query!r}", "warning")
        self.note = Note("search wrapped around")
        return card

    def clear_search(self) -> None:
        self.query, self.matches, self._searched = "", [], 0

    def match_position(self) -> int | None:
        """1-based position of the cursor among the matches, None when it is on none."""
        return self.matches.index(self.card) + 1 if self.card in self.matches else None

    def highlight(self) -> str:
        """The text to highlight in the cursor's card: the query, when the card matches it."""
        return self.query if self.card in self.matches else ""

    # ---------------------------------------------------------------- the run at the cursor

    def project(self, model: EpisodeModel) -> None:
        """Make `model` show the run as it was at the cursor: the first `card` cards (those the filter shows), the
        figures, validations, errors and messages of that moment, and the elapsed time as it was then."""
        index, c = self.index, self.card
        if index is None:
            return
        snap = index.snapshot(c)
        fold = index.fold
        for name in STATIC:
            setattr(model, name, getattr(fold, name))
        for name in SCALARS:
            setattr(model, name, getattr(snap, name))
        cards = index.cards[:c]
        model.steps = cards if self.author_filter is None else [s for s in cards if s.author == self.author_filter]
        model.validations = fold.validations[:snap.n_validations]
        model.errors = fold.errors[:snap.n_errors]
        model.messages = fold.messages[:snap.n_messages]
        model.live = None
        model.ended_at = snap.ended_at or snap.last_event_t
