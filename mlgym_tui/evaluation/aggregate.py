"""From run summaries to a ResultsTable: best-of-K per model and task, baseline, profiles and AUP."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from pathlib import Path
from typing import Iterable, Mapping

from mlgym_tui.config.directions import MetricDirection, resolve_direction
from mlgym_tui.evaluation.discovery import find_runs
from mlgym_tui.evaluation.profiles import TaskRatios, aup, profile, task_ratios, tau_grid, tau_max_for
from mlgym_tui.evaluation.results_table import (
    BASELINE, KINDS, Cell, Entry, ModelStats, Problem, ResultsTable,
)
from mlgym_tui.evaluation.run_reader import read_run
from mlgym_tui.evaluation.run_summary import RunSummary
from mlgym_tui.evaluation.scoring import Attempt, best_of, metric_value, run_best_and_last


def collect_runs(paths: Iterable[str | Path]) -> list[RunSummary]:
    """Every run directory under `paths`, read cheaply; unreadable runs carry a one-line `problem`.

    A path that is not a directory raises ValueError (the caller named it, so it is a usage error).
    """
    found, errors = find_runs(list(paths))
    if errors:
        raise ValueError(errors[0])
    return [read_run(f) for f in found]


def _task_directions(runs: list[RunSummary], overrides: Mapping[str, MetricDirection] | None):
    declared: dict[str, Counter] = defaultdict(Counter)
    for run in runs:
        if run.declared_metric:
            declared[run.task_id][run.declared_metric] += 1
    directions: dict[str, MetricDirection] = {}
    for task in {r.task_id for r in runs}:
        # The most common declaration; ties go to the alphabetically first, so results are stable.
        common = sorted(declared[task].items(), key=lambda kv: (-kv[1], kv[0]))
        found = resolve_direction(task, common[0][0] if common else None, overrides)
        if found:
            directions[task] = found
    return directions


def _baseline_value(runs: list[RunSummary], metric: str) -> float | None:
    # Stochastic baselines (game-theory tasks) differ slightly per run; the median is a stable pick.
    values = [v for r in runs if (v := metric_value(r.baseline, metric)) is not None]
    return statistics.median(values) if values else None


def aggregate(
    runs: list[RunSummary],
    models: list[str] | None = None,
    directions: Mapping[str, MetricDirection] | None = None,
    include_baseline: bool = True,
) -> ResultsTable:
    """Aggregate runs. `models` picks the compared methods (labels); by default every model found. The baseline
    is compared as one more method, as MLGym's tables always do, unless `include_baseline` is False.
    `directions` maps task_id -> (metric, "maximize"|"minimize") for tasks outside MLGym's table (it also
    overrides the table).

    Runs that are not the agent's (`RunSummary.failure`: a configuration or infrastructure failure) are counted
    apart, in `ModelStats.apart`: never scored, and in none of the other counts."""
    agents = [r for r in runs if not r.failure]
    problems = [Problem(r.path, r.problem) for r in agents if r.problem]
    problems += [Problem(r.path, r.warning, counted=True) for r in agents if r.warning and not r.problem]
    usable = [r for r in agents if not r.problem]
    task_dirs = _task_directions(usable, directions)

    scored: list[RunSummary] = []
    for run in usable:
        # These problems depend on the directions given, so they live in the table, not on the run.
        problem = None
        if run.task_id not in task_dirs:
            problem = (f"task {run.task_id!r} has no known metric direction; "
                       f"pass --direction {run.task_id}=METRIC:max (or :min)")
        else:
            metric = task_dirs[run.task_id][0]
            if run.scores and all(metric_value(e, metric) is None for e in run.scores):
                keys = sorted({k for e in run.scores for k in e})
                problem = (f"results.json has metrics {keys}, not {metric!r} that task {run.task_id} is ranked by; "
                           f"pass --direction {run.task_id}=METRIC:max|min if it should use another")
        if problem:
            problems.append(Problem(run.path, problem))
        else:
            scored.append(run)

    found_models = sorted({r.model for r in scored})
    compared = [m for m in (models or found_models) if m != BASELINE]
    if include_baseline:
        compared.append(BASELINE)
    agent_models = [m for m in compared if m != BASELINE]
    tasks = sorted({r.task_id for r in scored if r.model in agent_models} or {r.task_id for r in scored})

    by_task_model: dict[tuple[str, str], list[RunSummary]] = defaultdict(list)
    for run in scored:
        by_task_model[(run.task_id, run.model)].append(run)

    trust_of = {r.path: r.trust for r in scored}
    cells: dict[tuple[str, str], Cell] = {}
    per_kind: dict[str, list[TaskRatios]] = {k: [] for k in KINDS}
    for task in tasks:
        metric, direction = task_dirs[task]
        baseline = _baseline_value([r for r in scored if r.task_id == task], metric)
        picks: dict[str, dict[str, Attempt | None]] = {k: {} for k in KINDS}
        for model in compared:
            if model == BASELINE:
                for kind in KINDS:
                    picks[kind][model] = Attempt(baseline, None) if baseline is not None else None
                continue
            attempts: dict[str, list[Attempt]] = {k: [] for k in KINDS}
            for run in by_task_model.get((task, model), []):
                best, last = run_best_and_last(run.scores, metric, direction)
                for kind, value in (("best", best), ("last", last)):
                    if value is not None:
                        attempts[kind].append(Attempt(value, run.path))
            for kind in KINDS:
                picks[kind][model] = best_of(attempts[kind], direction)
        ratios = {}
        for kind in KINDS:
            values = {m: (a.value if a else None) for m, a in picks[kind].items()}
            ratios[kind] = task_ratios(values, baseline, direction)
            per_kind[kind].append(ratios[kind])
        for model in compared:
            entries = {}
            for kind in KINDS:
                a = picks[kind][model]
                entries[kind] = Entry(value=a.value if a else None, run_path=a.run_path if a else None,
                                      feasible=ratios[kind].feasible[model], ratio=ratios[kind].ratios[model],
                                      trust=trust_of.get(a.run_path, "") if a else "")
            cells[(task, model)] = Cell(task, model, entries["best"], entries["last"],
                                        [r.path for r in by_task_model.get((task, model), [])])

    # Runs behind the table's scores that the agent's code could have influenced: say so, with the reason.
    shown = {path for cell in cells.values() for path in cell.runs}
    notes = [Problem(r.path, f"{r.trust} scores: {r.trust_reason or 'no reason recorded'}")
             for r in scored if r.path in shown and r.less_trusted()]

    tau_max = tau_max_for([t.cap for kind in KINDS for t in per_kind[kind]])
    tau = tau_grid(tau_max)
    profiles = {kind: profile(per_kind[kind], compared, tau) for kind in KINDS}
    aups = {m: {kind: round(aup(tau, profiles[kind].rho[m]), 3) for kind in KINDS} for m in compared}

    stats: dict[str, ModelStats] = {}
    for run in runs:
        if not run.model:
            continue
        s = stats.setdefault(run.model, ModelStats())
        if run.failure:
            s.apart[run.failure] = s.apart.get(run.failure, 0) + 1
            continue
        s.runs += 1
        status = run.exit_status or ("running" if not run.finished else "unreadable")
        s.exit_statuses[status] = s.exit_statuses.get(status, 0) + 1
        s.cost += run.cost or 0.0
        s.steps += run.steps or 0
        s.wall_time += run.wall_time or 0.0
        if run.trust:
            s.trust[run.trust] = s.trust.get(run.trust, 0) + 1

    return ResultsTable(
        tasks=tasks, models=compared, directions={t: task_dirs[t] for t in tasks}, cells=cells,
        profiles=profiles, aup=aups, tau_max=tau_max, model_stats=dict(sorted(stats.items())),
        runs=runs, problems=problems, notes=notes,
    )
