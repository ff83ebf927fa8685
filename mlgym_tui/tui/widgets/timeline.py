"""The replay timeline: one cell per slice of the run, with markers for validations, failures and human steps.

The cursor's cell is drawn reversed; a click jumps to the step under the mouse. The widget holds no run data of
its own beyond the marker sets and the steps' authors the replay screen gives it (`set_marks`); the cursor
(`cursor`, 1-based), the author filter (the steps of other authors dimmed) and the caption are reactives the replay
screen binds to its own.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import events
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget

# highest priority first: what a cell shows when several steps share it
MARKS = (
    ("failure", "✗", "bold red"),
    ("validation", "◆", "bold green"),
    ("human", "H", "bold magenta"),
    ("filtered", "·", "dim"),
)
PLAIN = ("─", "dim")


class Timeline(Widget, can_focus=True):
    @dataclass
    class Jump(Message):
        """The user clicked the timeline: go to this card (1-based)."""

        card: int

    cursor: reactive[int] = reactive(0)
    author_filter: reactive[str | None] = reactive(None)
    caption: reactive[str] = reactive("")

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.total = 0
        self.marks: dict[str, set[int]] = {}
        self.authors: list[str] = []  # each card's author

    def set_marks(self, total: int, marks: dict[str, set[int]], authors: list[str]) -> None:
        self.total, self.marks, self.authors = total, marks, authors
        self.watch_author_filter()

    def watch_author_filter(self) -> None:
        self.marks.pop("filtered", None)
        if self.author_filter is not None:
            self.marks["filtered"] = {i + 1 for i, a in enumerate(self.authors) if a != self.author_filter}
        self.refresh()

    def watch_cursor(self) -> None:
        self.refresh()

    def cells(self, width: int) -> int:
        """Cells in use: one per step while they fit, else the whole width (steps share cells)."""
        return min(width, self.total)

    def cell_of(self, card: int, width: int) -> int:
        if not self.total:
            return 0
        if self.total <= width:
            return card - 1
        return min(width - 1, (card - 1) * width // self.total)

    def card_at(self, x: int, width: int) -> int:
        if not self.total:
            return 0
        card = x + 1 if self.total <= width else -(-x * self.total // width) + 1  # first card in cell x
        return max(1, min(self.total, card))

    def render(self) -> Text:
        width = max(self.size.width, 1)
        cells: list[tuple[str, str] | None] = [None] * width
        rank: list[int] = [len(MARKS)] * width
        for order, (name, glyph, style) in enumerate(MARKS):
            for card in self.marks.get(name, ()):
                if 1 <= card <= self.total:
                    x = self.cell_of(card, width)
                    if order < rank[x]:
                        rank[x], cells[x] = order, (glyph, style)
        line = Text(no_wrap=True, overflow="crop")
        cursor_x = self.cell_of(self.cursor, width) if self.cursor else -1
        run: list[str] = []  # cells of one style go in as one span: a span per cell made this a 5 ms render
        run_style = ""
        for x in range(self.cells(width)):
            glyph, style = cells[x] or PLAIN
            if x == cursor_x:
                style = f"{style} reverse"
            if style != run_style and run:
                line.append("".join(run), run_style)
                run = []
            run_style = style
            run.append(glyph)
        if run:
            line.append("".join(run), run_style)
        caption = Text(no_wrap=True, overflow="ellipsis")
        caption.append(self.caption)
        return Text("\n").join([line, caption])

    def on_click(self, event: events.Click) -> None:
        width = max(self.size.width, 1)
        offset = event.get_content_offset(self)
        if offset is not None and self.total and offset.y == 0 and offset.x < self.cells(width):
            self.post_message(self.Jump(self.card_at(offset.x, width)))
