"""Rich tables for the terminal: scores per task and method, AUP, run statistics, problems."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from mlgym_tui.evaluation.failure_kinds import CONFIGURATION, INFRASTRUCTURE, INTERRUPTED
from mlgym_tui.evaluation.results_table import BASELINE, Entry, ResultsTable, trust_mark
from mlgym_tui.evaluation.timeline import RunTimeline

TRUST_STYLE = "yellow"
# The runs table's columns of runs counted apart (evaluation/failure_kinds.py), one per kind that occurs; those
# runs are in none of its other columns. Short headers: the table must fit 80 columns.
APART_COLUMNS = {CONFIGURATION: "config", INFRASTRUCTURE: "infra", INTERRUPTED: "stopped"}


def _fmt(entry: Entry) -> Text:
    if entry.value is None:
        return Text("-", style="dim")
    text = Text(f"{entry.value:.4g}", style="" if entry.feasible else "red")
    if mark := trust_mark(entry.trust):
        text.append(mark, style=TRUST_STYLE)
    return text


def scores_table(table: ResultsTable) -> Table:
    within = f" within {table.budget}" if table.budget else ""
    grid = Table(title=f"Scores{within} (best / last attempt; red = infeasible)", show_lines=False)
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
    # Only runs recorded with a trust label have one; without any the column would be all "-".
    with_trust = any(s.trust for s in table.model_stats.values())
    apart = [kind for kind in APART_COLUMNS if any(s.apart.get(kind) for s in table.model_stats.values())]
    names = (("model", "runs", "exit statuses", "cost", "steps/run", "wall/run") + (("trust",) if with_trust else ())
             + tuple(APART_COLUMNS[kind] for kind in apart))
    for name in names:
        grid.add_column(name, justify="left" if name in ("model", "exit statuses", "trust") else "right")
    for model, s in table.model_stats.items():
        statuses = ", ".join(f"{k} {v}" for k, v in sorted(s.exit_statuses.items(), key=lambda kv: -kv[1]))
        per = max(s.runs, 1)
        row = [model, str(s.runs), statuses, f"{s.cost:.2f}", f"{s.steps / per:.1f}", f"{s.wall_time / per:.0f}s"]
        grid.add_row(*row, *((s.trust_counts(),) if with_trust else ()), *(str(s.apart.get(kind, 0)) for kind in apart))
    if apart:
        grid.caption = f"{', '.join(APART_COLUMNS[kind] for kind in apart)}: runs not the agent's, in no other column"
    return grid


def clocks_table(table: ResultsTable, timelines: Mapping[Path, RunTimeline | str]) -> Table | None:
    """Per run placed in time: its clocks at the end and how many of its validations the budget admits."""
    from mlgym_tui.evaluation.budgets import format_duration

    timed = [(run, timelines[run.path]) for run in table.runs
             if isinstance(timelines.get(run.path), RunTimeline) and not run.problem]
    if not timed:
        return None
    grid = Table(title="Clocks (active: less pauses, approval waits, rate-limit back-off; person: from first action)")
    for name in ("run", "model", "who", "wall", "active", "person", "validations" + (" in budget" if table.budget else "")):
        grid.add_column(name, justify="left" if name in ("run", "model", "who") else "right")
    for run, timeline in timed:
        person = format_duration(timeline.human_s) if timeline.human_s is not None else "-"
        counted = f"{len(run.scores)} of {len(timeline.validations)}" if table.budget else str(len(timeline.validations))
        who = (f"human: {timeline.who}" if timeline.who else "human") if timeline.human else "agent"
        grid.add_row(run.path.name, run.model, who,
                     format_duration(timeline.wall_s), format_duration(timeline.active_s), person, counted)
    return grid


def print_report(table: ResultsTable, console: Console | None = None,
                 timelines: Mapping[Path, RunTimeline | str] | None = None) -> None:
    """`timelines` (budgets.read_timelines), when read, adds a table of each run's clocks."""
    console = console or Console()
    parts: list = [scores_table(table)]
    if legend := table.trust_legend():  # under the scores, not as a caption: a caption wraps at the table's width
        parts.append(Text("\n".join(legend), style=TRUST_STYLE))
    parts += [aup_table(table), stats_table(table)]
    if timelines and (clocks := clocks_table(table, timelines)) is not None:
        parts.append(clocks)
    console.print(Group(*parts))
    for problems, title in ((table.left_out, "run(s) left out"), (table.counted_with_warning, "run(s) counted with a warning")):
        if problems:
            console.print(Text(f"{len(problems)} {title}:", style="bold yellow"))
            for problem in problems:
                console.print(Text(f"  {problem}"), soft_wrap=True)
    if apart := table.not_the_agents:
        counts: dict[str, int] = {}
        for run in apart:
            counts[run.failure] = counts.get(run.failure, 0) + 1
        per_kind = ", ".join(f"{kind} {n}" for kind, n in sorted(counts.items()))
        console.print(Text(f"{len(apart)} run(s) not the agent's ({per_kind}): never scored, not in the runs "
                           "counts; rerun them", style="bold yellow"))
        for run in apart:
            console.print(Text(f"  {run.path}: {run.failure}: {run.failure_reason}"), soft_wrap=True)
    if table.notes:
        console.print(Text(f"{len(table.notes)} scored run(s) not isolated from the agent's code:",
                           style="bold yellow"))
        for note in table.notes:
            console.print(Text(f"  {note}"), soft_wrap=True)
