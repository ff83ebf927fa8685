"""Results across runs: scores per task and model (best / last attempt, baseline, infeasible marked), within a
budget of active time or steps when one is given, score-over-time curves of the task under the cursor (human runs
marked), performance profiles, AUP per model and the runs that could not be scored. Enter on a score opens the run
that achieved it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from mlgym_tui.evaluation.results_table import trust_mark
from mlgym_tui.tui.actions import bindings_for
from mlgym_tui.tui.widgets.profile_chart import ProfileChart
from mlgym_tui.tui.widgets.score_curves_chart import HUMAN_MARK, ScoreCurvesChart

INFEASIBLE = "*"
TRUST_STYLE = "yellow"
LEGEND = (f"cells: best / last attempt; {INFEASIBLE} red = infeasible (invalid or worse than the baseline); "
          f"enter/o opens the best run, l the last attempt's; {HUMAN_MARK} marks a human run")


def _value(entry: Any) -> Text:
    if entry is None or entry.value is None:
        return Text("-", style="dim")
    text = f"{entry.value:.4g}"
    value = Text(text + INFEASIBLE, style="bold red") if not entry.feasible else Text(text)
    if mark := trust_mark(entry.trust):
        value.append(mark, style=TRUST_STYLE)
    return value


def _relative(path: Path, roots: list[Path]) -> str:
    for root in roots:
        try:
            return str(path.relative_to(root))
        except ValueError:
            continue
    return str(path)


class ResultsScreen(Screen):
    BINDINGS = bindings_for("results")
    DEFAULT_CSS = """
    #results-body { height: 1fr; }
    #results-left { width: 3fr; }
    #results-right { width: 2fr; }
    #results-table { height: auto; max-height: 60%; border: round $primary 50%; }
    #results-table:focus { border: round $accent; }
    #aup-table { height: auto; max-height: 10; border: round $primary 30%; }
    #problems-scroll { height: 1fr; border: round $error 40%; }
    #problems { padding: 0 1; }
    ProfileChart { height: 1fr; border: round $accent 40%; }
    ScoreCurvesChart { height: 2fr; border: round $accent 40%; }
    #results-left #problems-scroll { height: 1fr; }
    #results-legend { height: auto; color: $text-muted; padding: 0 1; }
    """

    def __init__(self, dirs: list[Path | str] | None = None, *, table: Any = None, models: list[str] | None = None,
                 directions: dict | None = None, budget: Any = None, timelines: dict | None = None) -> None:
        """`budget` (evaluation.budgets.Budget) limits the scores; `timelines` (read_timelines) saves reading
        events.jsonl again for the curves when the caller already did."""
        super().__init__()
        self.dirs = [Path(d) for d in (dirs or [])]
        self.table = table
        self.models = models
        self.directions = directions
        self.budget = budget
        self.timelines = timelines
        self.curves: dict[str, list] | None = None  # task -> ScoreCurve list, once the timelines are read
        self.curves_task: str | None = None  # the task whose curves are drawn
        self.loaded = table is not None
        self.load_error: str | None = None
        self.compare_mark: Path | None = None  # the run `c` marked; a second `c` compares it with another

    # ---------------------------------------------------------------- layout

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False, icon="◆")
        with Horizontal(id="results-body"):
            with Vertical(id="results-left"):
                yield DataTable(id="results-table", cursor_type="cell", zebra_stripes=True)
                yield Static(LEGEND, id="results-legend")
                yield DataTable(id="aup-table", cursor_type="none", show_cursor=False)
                yield ScoreCurvesChart(id="score-curves")
                with VerticalScroll(id="problems-scroll"):
                    yield Static("", id="problems")
            with Vertical(id="results-right"):
                yield ProfileChart(id="profile-best")
                yield ProfileChart(id="profile-last")
        yield Footer()

    def on_mount(self) -> None:
        self.title = "MLGym results"
        self.query_one("#problems-scroll").border_title = "problems"
        self.query_one("#aup-table").border_title = "AUP per model"
        self.query_one("#results-table").border_title = "scores"
        if self.table is not None:
            self.show_table(self.table)
            if self.timelines is not None:
                self.set_curves(self.timelines)
            else:
                self.run_worker(self.load_timelines, name="results-curves", group="results", thread=True)
        else:
            self.action_reload()
        self.query_one("#results-table", DataTable).focus()

    # ---------------------------------------------------------------- data

    def action_reload(self) -> None:
        if not self.dirs:
            self.dirs = [Path(self.app.runs_dir())] if hasattr(self.app, "runs_dir") else [Path("runs")]
        self.sub_title = "reading runs…"
        self.run_worker(self.load, name="results-load", group="results", thread=True, exclusive=True)

    def load(self) -> None:
        """Worker thread: discover, read and aggregate the runs."""
        from mlgym_tui.evaluation import collect_runs
        from mlgym_tui.evaluation.budgets import Budget, aggregate_within, read_timelines

        budget = self.budget or Budget()
        timelines = None
        try:
            existing = [d for d in self.dirs if d.is_dir()]
            runs = collect_runs(existing) if existing else []
            # Reading every events.jsonl in full takes a while: before the table only when the budget needs it.
            timelines = read_timelines(runs) if budget else None
            table = aggregate_within(runs, budget, timelines, models=self.models, directions=self.directions)
            error = None
        except (ValueError, OSError) as exc:
            table, error = None, str(exc)
        self.app.call_from_thread(self.set_table, table, error, timelines)
        if table is not None and timelines is None:
            self.app.call_from_thread(self.set_curves, read_timelines(table.runs))

    def load_timelines(self) -> None:
        """Worker thread: the timelines of a table built before the screen (for the curves only)."""
        from mlgym_tui.evaluation.budgets import read_timelines

        self.app.call_from_thread(self.set_curves, read_timelines(self.table.runs))

    def set_table(self, table: Any, error: str | None, timelines: dict | None = None) -> None:
        self.loaded = True
        self.load_error = error
        if error:
            self.notify(error, title="results", severity="error", timeout=8)
        if table is not None:
            self.table = table
            self.show_table(table)
            if timelines is not None:
                self.set_curves(timelines)
        else:
            self.sub_title = "no results"

    def set_curves(self, timelines: dict) -> None:
        from mlgym_tui.evaluation.curves import score_curves

        self.timelines = timelines
        self.curves = score_curves(self.table, timelines) if self.table is not None else {}
        tasks = self.table.tasks if self.table is not None else []
        self.show_curves(self.curves_task if self.curves_task in tasks else (tasks[0] if tasks else None))

    def show_curves(self, task: str | None) -> None:
        """The curves of `task`'s runs, the baseline and the budget line (when the budget is one of time)."""
        from mlgym_tui.evaluation.budgets import format_duration

        self.curves_task = task
        chart = self.query_one("#score-curves", ScoreCurvesChart)
        table = self.table
        if table is None or task not in table.directions or self.curves is None:
            chart.plot_curves(None, "", [], None, None)
            return
        from mlgym_tui.evaluation import BASELINE

        metric = table.directions[task][0]
        baseline_cell = table.cell(task, BASELINE)
        baseline = baseline_cell.best.value if baseline_cell else None
        budget_s = self.budget.seconds if self.budget else None
        chart.plot_curves(task, metric, self.curves.get(task, []), baseline, budget_s)
        humans = sum(1 for c in self.curves.get(task, []) if c.human)
        chart.border_title = (f"score over time: {len(self.curves.get(task, []))} runs, {humans} human"
                              + (f", budget {format_duration(budget_s)}" if budget_s is not None else ""))

    def show_table(self, table: Any) -> None:
        from mlgym_tui.evaluation import BASELINE

        scored = sum(1 for r in table.runs if not table.problem_of(r.path) and not r.problem)
        self.sub_title = (f"{len(table.runs)} runs ({scored} scored), {len(table.tasks)} tasks, "
                          f"{len([m for m in table.models if m != BASELINE])} models"
                          + (f", within {table.budget}" if table.budget else ""))
        grid = self.query_one("#results-table", DataTable)
        grid.border_title = f"scores within {table.budget}" if table.budget else "scores"
        grid.clear(columns=True)
        grid.add_column("task", key="task")
        grid.add_column("metric", key="metric")
        for model in table.models:
            grid.add_column(model, key=model)
        for task in table.tasks:
            metric, direction = table.directions[task]
            row: list[Any] = [task, f"{metric} ({'max' if direction == 'maximize' else 'min'})"]
            for model in table.models:
                cell = table.cell(task, model)
                if cell is None:
                    row.append(Text("-", style="dim"))
                elif model == BASELINE:
                    row.append(_value(cell.best))
                else:
                    row.append(Text.assemble(_value(cell.best), " / ", _value(cell.last)))
            grid.add_row(*row, key=task)
        if table.tasks and len(table.models):
            grid.move_cursor(row=0, column=2)
        legend = Text(LEGEND)
        for line in table.trust_legend():  # only when a shown score carries a mark: older runs look as before
            legend.append("\n" + line, style=TRUST_STYLE)
        self.query_one("#results-legend", Static).update(legend)

        aup = self.query_one("#aup-table", DataTable)
        aup.clear(columns=True)
        # a trust column only when some run recorded its trust label; without any it would be all "-"
        with_trust = any(s.trust for s in table.model_stats.values())
        names = ("model", "AUP best", "AUP last", "runs", "exit statuses", "cost") + (("trust",) if with_trust else ())
        for name in names:
            aup.add_column(name, key=name)
        for model in table.models:
            score = table.aup.get(model, {})
            stats = table.model_stats.get(model)
            exits = ", ".join(f"{k} {v}" for k, v in sorted(stats.exit_statuses.items())) if stats else ""
            row = [model, f"{score.get('best', 0):.3f}", f"{score.get('last', 0):.3f}",
                   str(stats.runs) if stats else "-", exits, f"{stats.cost:.2f}" if stats else "-"]
            if with_trust:
                row.append(stats.trust_counts() if stats else "-")
            aup.add_row(*row, key=model)

        problems, notes = table.problems, table.notes
        box = self.query_one("#problems-scroll")
        box.border_title = f"problems: {len(problems)}" + (f", not isolated: {len(notes)}" if notes else "")
        lines = Text()
        for problem in problems:
            lines.append(_relative(problem.path, self.dirs), style="bold")
            # A counted run's problem is a warning: its scores are in the table.
            lines.append(f"\n  {'counted: ' if problem.counted else ''}{problem.message}\n")
        if not problems:
            lines.append("every run found was scored", style="dim")
        for note in notes:  # scored, but the agent's code could have influenced the score
            lines.append("\n" + _relative(note.path, self.dirs), style=f"bold {TRUST_STYLE}")
            lines.append(f"\n  {note.message}")
        self.query_one("#problems", Static).update(lines)

        self.query_one("#profile-best", ProfileChart).plot_profile("best", table.profiles.get("best"), table.aup)
        self.query_one("#profile-last", ProfileChart).plot_profile("last", table.profiles.get("last"), table.aup)

    # ---------------------------------------------------------------- jumps

    def selected(self) -> tuple[str, str] | None:
        grid = self.query_one("#results-table", DataTable)
        if self.table is None or not grid.row_count:
            return None
        try:
            row_key, column_key = grid.coordinate_to_cell_key(grid.cursor_coordinate)
        except Exception:  # noqa: BLE001 - no cell under the cursor
            return None
        task, model = row_key.value, column_key.value
        if model in ("task", "metric"):
            return None
        return task, model

    def run_path(self, kind: str) -> Path | None:
        picked = self.selected()
        if picked is None:
            self.notify("move the cursor onto a model's score", severity="warning", timeout=3)
            return None
        cell = self.table.cell(*picked)
        entry = getattr(cell, kind, None) if cell else None
        if entry is None or entry.run_path is None:
            what = "the baseline has no run to open" if picked[1] == "baseline" else f"no scored run for {picked[1]}"
            self.notify(f"{picked[0]}: {what}", severity="warning", timeout=4)
            return None
        return Path(entry.run_path)

    def on_data_table_cell_highlighted(self, event: DataTable.CellHighlighted) -> None:
        if event.data_table.id == "results-table" and self.curves is not None:
            task = event.cell_key.row_key.value
            if task != self.curves_task:
                self.show_curves(task)

    def on_data_table_cell_selected(self, event: DataTable.CellSelected) -> None:
        if event.data_table.id == "results-table":
            event.stop()
            self.action_open_best()

    def action_open_best(self) -> None:
        if (path := self.run_path("best")) is not None:
            self.open_run(path)

    def action_open_last(self) -> None:
        if (path := self.run_path("last")) is not None:
            self.open_run(path)

    def action_mark_compare(self) -> None:
        """First `c`: mark the best run of the cell under the cursor; second `c` on another: compare the two."""
        if (path := self.run_path("best")) is None:
            return
        if self.compare_mark is None or self.compare_mark == path:
            self.compare_mark = None if self.compare_mark == path else path
            text = f"marked {path.name} for compare; c on another cell compares" if self.compare_mark else \
                "compare mark cleared"
            self.notify(text, title="compare", timeout=4)
            return
        from mlgym_tui.tui.screens.compare import CompareScreen

        marked, self.compare_mark = self.compare_mark, None
        self.app.push_screen(CompareScreen(marked, path))

    def open_run(self, path: Path) -> None:
        """The replay screen when the app has one; otherwise the episode screen fed the recorded events."""
        try:
            from mlgym_tui.tui.replay.screen import ReplayScreen
        except ImportError:
            ReplayScreen = None  # noqa: N806
        if ReplayScreen is not None:
            self.app.push_screen(ReplayScreen(path))
            return
        from mlgym_tui.trajectory.errors import TrajectoryError
        from mlgym_tui.trajectory.load import load_run
        from mlgym_tui.tui.screens.episode import EpisodeScreen

        try:
            run = load_run(path)
        except TrajectoryError as exc:
            self.notify(str(exc), severity="error", timeout=8)
            return
        self.app.push_screen(EpisodeScreen(events=run.events))

    def action_back(self) -> None:
        if len(self.app.screen_stack) > 2:
            self.app.pop_screen()
