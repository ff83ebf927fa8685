"""Compare two recorded runs: their steps aligned side by side (a table of pairs, the cards of the pair under the
cursor), both score curves on one chart, and the difference between their workspaces (enter on a file shows its
diff). Opened by `mlgym-tui compare A B --tui` and from the results screen (`c` on two runs)."""

from __future__ import annotations

from pathlib import Path

from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from mlgym_tui.stream.model import StepView
from mlgym_tui.tui.actions import bindings_for
from mlgym_tui.tui.widgets.compare_chart import CompareChart
from mlgym_tui.tui.widgets.step_card import StepCard

KIND_MARK = {"same": Text("=", style="dim"), "changed": Text("~", style="bold yellow"),
             "only-a": Text("<", style="bold cyan"), "only-b": Text(">", style="bold magenta")}
FILE_STATUS = {"only-a": ("only in A", "cyan"), "only-b": ("only in B", "magenta"), "differ": ("differs", "yellow")}


class CompareScreen(Screen):
    BINDINGS = bindings_for("compare")
    DEFAULT_CSS = """
    #compare-header { height: auto; padding: 0 1; }
    #compare-body { height: 1fr; }
    #compare-left { width: 2fr; }
    #compare-right { width: 1fr; }
    #compare-steps { height: 1fr; border: round $primary 50%; }
    #compare-steps:focus, #compare-files:focus { border: round $accent; }
    #compare-cards { height: 1fr; }
    #compare-cards VerticalScroll { width: 1fr; border: round $primary 30%; }
    .card-gap { color: $text-muted; padding: 1 2; }
    CompareChart { height: 1fr; border: round $accent 40%; }
    #compare-files { height: auto; max-height: 12; border: round $primary 50%; }
    #compare-diff-scroll { height: 1fr; border: round $primary 30%; }
    """

    def __init__(self, path_a: Path | str | None = None, path_b: Path | str | None = None, *, how: str = "index",
                 step_a: int | None = None, step_b: int | None = None, comparison=None) -> None:
        """Either two run paths (read on a worker thread) or a Comparison already made (the CLI's)."""
        super().__init__()
        self.paths = (Path(path_a), Path(path_b)) if path_a is not None and path_b is not None else None
        self.how, self.steps_at = how, (step_a, step_b)
        self.comparison = comparison
        self.diff_text = ""  # the diff shown, as text (what a test or a reader copies)

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False, icon="◆")
        yield Static("reading both runs…", id="compare-header")
        with Horizontal(id="compare-body"):
            with Vertical(id="compare-left"):
                yield DataTable(id="compare-steps", cursor_type="row", zebra_stripes=True)
                with Horizontal(id="compare-cards"):
                    for side in ("a", "b"):
                        with VerticalScroll(id=f"card-{side}-scroll"):
                            yield Static("", id=f"card-{side}-gap", classes="card-gap")
                            card = StepCard(StepView(step=0), _empty_model(), 0)
                            card.id = f"card-{side}"
                            yield card
            with Vertical(id="compare-right"):
                yield CompareChart(id="compare-chart")
                yield DataTable(id="compare-files", cursor_type="row")
                with VerticalScroll(id="compare-diff-scroll"):
                    yield Static("", id="compare-diff")
        yield Footer()

    def on_mount(self) -> None:
        self.title = "compare runs"
        self.query_one("#compare-steps").border_title = "steps"
        self.query_one("#compare-files").border_title = "workspace"
        self.query_one("#compare-diff-scroll").border_title = "diff (enter on a file)"
        for side in ("a", "b"):
            self.query_one(f"#card-{side}", StepCard).display = False
        if self.comparison is not None:
            self.show(self.comparison)
        elif self.paths is not None:
            self.run_worker(self.load, name="compare-load", group="compare", thread=True, exclusive=True)
        self.query_one("#compare-steps", DataTable).focus()

    # ---------------------------------------------------------------- data

    def load(self) -> None:
        """Worker thread: read and compare both runs (blocking file reads)."""
        from mlgym_tui.trajectory.compare import compare_runs
        from mlgym_tui.trajectory.errors import TrajectoryError

        try:
            comparison = compare_runs(*self.paths, how=self.how, step_a=self.steps_at[0], step_b=self.steps_at[1])
        except TrajectoryError as exc:
            self.app.call_from_thread(self.failed, str(exc))
            return
        self.app.call_from_thread(self.show, comparison)

    def failed(self, message: str) -> None:
        self.query_one("#compare-header", Static).update(Text(message, style="bold red"))
        self.notify(message, title="compare", severity="error", timeout=8)

    def show(self, comparison) -> None:
        self.comparison = comparison
        a, b = comparison.a, comparison.b
        self.sub_title = f"A {a.path.name}  vs  B {b.path.name}"
        for note in comparison.notes:
            self.notify(note, title="compare", severity="warning", timeout=6)
        self.show_header()
        self.show_steps()
        self.query_one("#compare-chart", CompareChart).plot_pair(comparison.scores_a, comparison.scores_b)
        self.show_files()

    def show_header(self) -> None:
        from mlgym_tui.trajectory.compare import header_rows

        table = Table(show_edge=False, box=None, padding=(0, 1), expand=True)
        table.add_column("", style="bold", no_wrap=True)
        table.add_column("A", style="cyan", overflow="ellipsis", no_wrap=True, ratio=1)
        table.add_column("B", style="magenta", overflow="ellipsis", no_wrap=True, ratio=1)
        for what, x, y in header_rows(self.comparison):
            if what != "run":
                table.add_row(what, x, y)
        self.query_one("#compare-header", Static).update(table)

    def show_steps(self) -> None:
        comparison = self.comparison
        grid = self.query_one("#compare-steps", DataTable)
        grid.clear(columns=True)
        for side in ("A", "B"):
            for name in ("step", "by", "action", "exit", "score"):
                grid.add_column(side if name == "step" else name, key=f"{side}-{name}")
            if side == "A":
                grid.add_column("", key="mark")
        for index, row in enumerate(comparison.rows):
            grid.add_row(*_cells(row.a, comparison.a), KIND_MARK[row.kind], *_cells(row.b, comparison.b),
                         key=str(index))
        counts = {kind: sum(1 for r in comparison.rows if r.kind == kind) for kind in KIND_MARK}
        grid.border_title = (f"steps by {'step number' if comparison.align == 'index' else 'matching actions'}: "
                             f"{counts['same']} same, {counts['changed']} differ, {counts['only-a']} only A, "
                             f"{counts['only-b']} only B")
        if comparison.rows:
            grid.move_cursor(row=0)
            self.show_cards(0)

    def show_cards(self, index: int) -> None:
        comparison = self.comparison
        if comparison is None or not 0 <= index < len(comparison.rows):
            return
        row = comparison.rows[index]
        for side, step, run in (("a", row.a, comparison.a), ("b", row.b, comparison.b)):
            card = self.query_one(f"#card-{side}", StepCard)
            gap = self.query_one(f"#card-{side}-gap", Static)
            scroll = self.query_one(f"#card-{side}-scroll", VerticalScroll)
            scroll.border_title = f"{side.upper()}: {run.model.agent} / {run.model.model}"
            if step is None:
                card.display = False
                gap.display = True
                gap.update(f"{side.upper()} has no step here")
            else:
                gap.display = False
                card.model = run.model
                card.point(step, index)
                card.display = True
            scroll.scroll_home(animate=False)

    def show_files(self) -> None:
        diff = self.comparison.workspace
        grid = self.query_one("#compare-files", DataTable)
        grid.clear(columns=True)
        for name in ("path", "status", "A", "B"):
            grid.add_column(name, key=name)
        if diff.step_a is None:
            grid.border_title = "workspace: not recorded"
            self.set_diff(Text("\n".join(diff.notes), style="yellow"), "\n".join(diff.notes))
            return
        for item in diff.files:
            if item.kind == "same" or any(e is not None and e.kind == "dir" for e in (item.a, item.b)):
                continue
            label, style = FILE_STATUS[item.kind]
            grid.add_row(item.path, Text(label, style=style), _size(item.a), _size(item.b), key=item.path)
        grid.border_title = f"workspace: A step {diff.step_a} vs B step {diff.step_b}: {diff.summary()}"
        notes = "\n".join(diff.notes)
        self.set_diff(Text(notes or "enter on a file shows its diff (A's version to B's)", style="dim"), notes)

    def set_diff(self, renderable, text: str) -> None:
        self.diff_text = text
        self.query_one("#compare-diff", Static).update(renderable)

    # ---------------------------------------------------------------- events and actions

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "compare-steps" and event.row_key.value is not None:
            self.show_cards(int(event.row_key.value))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id == "compare-files" and self.comparison is not None:
            event.stop()
            path = event.row_key.value
            text = self.comparison.file_diff(path)
            shown = Syntax(text, "diff", theme="ansi_dark", background_color="default", word_wrap=True) \
                if text.startswith("---") else Text(text)
            self.set_diff(shown, text)
            self.query_one("#compare-diff-scroll").border_title = f"diff: {path}"

    def action_toggle_align(self) -> None:
        if self.comparison is None:
            return
        self.comparison.realigned("actions" if self.comparison.align == "index" else "index")
        self.show_steps()

    def action_workspace_here(self) -> None:
        """The workspaces as they were after the steps of the row under the cursor."""
        if self.comparison is None or not self.comparison.rows:
            return
        rows = self.comparison.rows[: self.query_one("#compare-steps", DataTable).cursor_row + 1]
        # a side with no step on this row: as it was after its last step above (before any: its first state)
        step_a = next((r.a.step for r in reversed(rows) if r.a is not None), 0)
        step_b = next((r.b.step for r in reversed(rows) if r.b is not None), 0)
        self.comparison.with_workspace_at(step_a, step_b)
        self.show_files()

    def action_workspace_final(self) -> None:
        if self.comparison is not None:
            self.comparison.with_workspace_at(None, None)
            self.show_files()

    def action_back(self) -> None:
        if len(self.app.screen_stack) > 2:
            self.app.pop_screen()
        else:
            self.app.exit()


ACTION_WIDTH = 20


def _cells(step, side) -> tuple:
    """A side of an aligned row, narrow enough for both sides in one table: the validation as its primary score
    (✓ when it was the submission)."""
    from mlgym_tui.trajectory.compare import number, step_cells

    cells = step_cells(step, ACTION_WIDTH)
    if step is None or not step.validation:
        return cells
    value = step.validation.get(side.model.primary_metric or "")
    score = number(value) if isinstance(value, (int, float)) else "scored"
    return (*cells[:4], f"{score}{' ✓' if step.final else ''}")


def _empty_model():
    from mlgym_tui.stream.model import EpisodeModel

    return EpisodeModel()


def _size(entry) -> str:
    if entry is None:
        return "-"
    if entry.kind == "link":
        return f"-> {entry.target}"
    return f"{entry.size} B"
