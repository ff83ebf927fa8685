"""Rich tables for the terminal: scores per task and method, AUP, run statistics, problems."""

from __future__ import annotations

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from mlgym_tui.evaluation.results_table import BASELINE, Entry, ResultsTable


def _fmt(entry: Entry) -> Text:
    if entry.value is None:
        return Text("-", style="dim")
    return Text(f"{entry.value:.4g}", style="" if entry.feasible else "red")


def scores_table(table: ResultsTable) -> Table:
    grid = Table(title="Scores (best / last attempt; red = infeasible)", show_lines=False)
    grid.add_column("task")
    grid.add_column("metric")
    for model in table.models:
        grid.add_column(model, justify="right")
    for task in table.tasks:
        metric, direction = table.directions[task]
        row: list[Text | str] = [task, f"{metric} ({'max' if direction == 'maximize' else 'min'})"]
        for model in table.models:
            cell = table.cell(task, model)
            if model == BASELINE:
                row.append(_fmt(cell.best))
            else:
                row.append(Text.assemble(_fmt(cell.best), " / ", _fmt(cell.last)))
        grid.add_row(*row)
    return grid


def aup_table(table: ResultsTable) -> Table:
    grid = Table(title=f"AUP (tau_max = {table.tau_max:g})")
    for name in ("model", "best", "last"):
        grid.add_column(name, justify="left" if name == "model" else "right")
    for model, values in table.aup.items():
        grid.add_row(model, f"{values['best']:.3f}", f"{values['last']:.3f}")
    return grid


def stats_table(table: ResultsTable) -> Table:
    grid = Table(title="Runs")
    for name in ("model", "runs", "exit statuses", "cost", "steps/run", "wall/run"):
        grid.add_column(name, justify="left" if name in ("model", "exit statuses") else "right")
    for model, s in table.model_stats.items():
        statuses = ", ".join(f"{k} {v}" for k, v in sorted(s.exit_statuses.items(), key=lambda kv: -kv[1]))
        per = max(s.runs, 1)
        grid.add_row(model, str(s.runs), statuses, f"{s.cost:.2f}", f"{s.steps / per:.1f}",
                     f"{s.wall_time / per:.0f}s")
    return grid


def print_report(table: ResultsTable, console: Console | None = None) -> None:
    console = console or Console()
    console.print(Group(scores_table(table), aup_table(table), stats_table(table)))
    if table.problems:
        console.print(Text(f"{len(table.problems)} run(s) left out:", style="bold yellow"))
        for problem in table.problems:
            console.print(Text(f"  {problem}"), soft_wrap=True)
