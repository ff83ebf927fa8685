"""The replay's transcript: a fixed set of cards that change what they show as the step cursor moves.

Mounting a card widget completes a frame later than the key press that asked for it, and removing one re-lays
the pane out again, so a replay keeps its cards and points them at other steps. A step that some card already
shows keeps that card (a one-step move re-renders a single card). The cards the pane shows (those nearest the
cursor) are filled at once; cards for steps above the pane, out of sight, are filled once the cursor has rested.
The pane is anchored to its end, where the cursor's card is, and marks the cursor's card (and a search match in it).
"""

from __future__ import annotations

from mlgym_tui.stream.model import StepView
from mlgym_tui.tui.widgets.live_card import LiveCard
from mlgym_tui.tui.widgets.step_card import FOLD_LINES, FOLD_TAIL, StepCard
from mlgym_tui.tui.widgets.transcript import Transcript

CARDS = 12  # steps shown at once: enough to scroll back over a few screens; `[` pages further
FILL_AFTER_S = 0.08  # cards out of sight are filled when the cursor has rested this long


def least_height(step: StepView) -> int:
    """Rows a card takes at least (lines before wrapping, plus its margin): a lower bound, so a pane that these
    say is full really is."""
    rows = 2  # header and margin
    if step.thought.strip():
        rows += step.thought.count("\n") + 1
    if step.action:
        rows += step.action.count("\n") + 1
    if step.edited_from is not None or step.rejected is not None or step.validation is not None:
        rows += 1
    if step.observation:
        rows += min(step.observation.count("\n") + 1, FOLD_LINES + FOLD_TAIL + 1)
    return rows


class ReplayTranscript(Transcript):
    def __init__(self, model, *, id: str | None = None) -> None:
        super().__init__(model, id=id)
        self.pool: list[StepCard] = []  # every card ever mounted here, in the order they stand in the pane
        self._fill_timer = None
        self.highlighted: StepCard | None = None  # the cursor's card

    def on_mount(self) -> None:
        self.anchor()

    def window(self) -> range:
        total = len(self.model.steps)
        end = total if self.window_end is None else min(self.window_end, total)
        return range(max(0, end - CARDS), end)

    def card_showing(self, step: StepView) -> StepCard | None:
        return next((c for c in self.pool if c.display and c.step_view is step), None)

    def sync(self, everything: bool = False) -> None:
        """Point the cards at the window's steps: those in sight now, the rest when the cursor rests (or now, with
        `everything`). A one-step move re-points one card; no move shows or hides one (that restyles the pane)."""
        steps = self.model.steps
        window = self.window()
        wanted = [(i, steps[i]) for i in window]
        shown = {id(c.step_view): c for c in self.pool if c.display}
        slots: list[StepCard | None] = []  # the window's cards, in order; None where no card shows the step yet
        for i, step in wanted:
            card = shown.pop(id(step), None)
            if card is not None:
                card.index = i
                if card.rendered_revision != step.revision:
                    card.rerender()  # follow mode: a validation reached a card already shown
            slots.append(card)
        free = [c for c in self.pool if c not in slots]
        empty = [k for k, card in enumerate(slots) if card is None]
        first_in_sight = len(wanted) - (len(wanted) if everything else self.cards_in_sight(wanted))
        later = [k for k in empty if k < first_in_sight]
        if len(later) <= 1:  # a one-step move: the card that left the window takes the step entering it
            later = []
        fresh: list[StepCard] = []
        for k in empty:
            if k in later:
                continue
            i, step = wanted[k]
            if free:
                card = free.pop()
                card.point(step, i)
            else:
                card = StepCard(step, self.model, i)
                fresh.append(card)
            slots[k] = card
        placed = [card for card in slots if card is not None]
        # Cards left over wait above the pane, out of sight, for the steps still to fill (showing what they showed
        # a moment ago); with nothing left to fill they are hidden.
        waiting, hidden = (free, []) if later else ([], free)
        for card in hidden:
            card.display = False
        for card in placed:
            card.display = True
        self.arrange_cards(hidden + waiting + placed, fresh)
        self.update_notes(window)
        self.query_one(LiveCard).show(None)
        if self.window_end is None:
            self.scroll_end(animate=False, immediate=True)  # back to the anchor, should the user have scrolled
        if self._fill_timer is not None:
            self._fill_timer.stop()
            self._fill_timer = None
        if later:
            self._fill_timer = self.set_timer(FILL_AFTER_S, lambda: self.sync(everything=True), name="replay-fill")

    def mark_cursor(self, step: StepView | None, search: str = "") -> None:
        """Mark the card showing `step` as the cursor's, highlight `search` in it (unfolding the observation when the
        match is there) and clear both from the card marked before."""
        card = self.card_showing(step) if step is not None else None
        previous = self.highlighted
        if previous is not None and previous is not card:
            previous.remove_class("-cursor")
            if previous.search:
                previous.search = ""
                previous.rerender()
        self.highlighted = card
        if card is None:
            return
        card.add_class("-cursor")
        if card.search != search:
            card.search = search  # highlighted, and a match the fold would hide is shown with its neighbours
            card.rerender()
        self.call_after_refresh(self.show_top_of_tall_card, card)

    def show_top_of_tall_card(self, card: StepCard) -> None:
        """The pane stays at its end, where the cursor's card is; a card taller than the pane is shown from its top
        instead (its header: step, author, exit code)."""
        if card is self.highlighted and card.outer_size.height > self.scrollable_content_region.height:
            self.scroll_to_widget(card, animate=False, top=True)

    def cards_in_sight(self, wanted: list[tuple[int, StepView]]) -> int:
        """How many of the last steps it takes to fill the pane, by each card's least height."""
        rows = self.scrollable_content_region.height or self.app.size.height
        count = 0
        for _, step in reversed(wanted):
            count += 1
            rows -= least_height(step)
            if rows <= 0:
                break
        return count

    def arrange_cards(self, order: list[StepCard], fresh: list[StepCard]) -> None:
        """Stand the cards in `order` just above the live card, mounting the fresh ones in their places (existing
        cards move only when their order changed)."""
        existing = [c for c in order if c not in fresh]
        live = self.query_one(LiveCard)
        if [c for c in self.children if isinstance(c, StepCard)] != existing:
            for card in existing:
                self.move_child(card, before=live)
        for position, card in enumerate(order):
            if card in fresh:
                after = next((c for c in order[position + 1:] if c not in fresh), None)
                self.mount(card, before=after if after is not None else live)
        self.pool = order
