"""Past runs per task, for the task browser (read with evaluation.collect_runs; no widgets here)."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the evaluation package is imported when runs are read, off the start-up path
    from mlgym_tui.evaluation import RunSummary

_STAMP = re.compile(r"^(\d{4})-?(\d{2})-?(\d{2})[T_-]?(\d{2})-?:?(\d{2})")


@dataclass
class RunRow:
    date: str
    who: str  # "agent" | "human"
    agent: str
    model: str
    exit_status: str
    best: float | None
    baseline: float | None
    beats: bool | None
    path: Path
    trust: str = ""  # the run's trust label; "" when not recorded


def run_date(path: Path) -> str:
    match = _STAMP.match(path.name)
    if match:
        y, mo, d, h, mi = match.groups()
        return f"{y}-{mo}-{d} {h}:{mi}"
    try:
        return datetime.fromtimestamp(path.stat().st_mtime).strftime("%Y-%m-%d %H:%M")
    except OSError:
        return "?"


def best_score(run: "RunSummary", metric: str | None, direction: str) -> float | None:
    values = [s[metric] for s in run.scores if metric and isinstance(s.get(metric), (int, float))]
    if not values:
        return None
    return max(values) if direction == "maximize" else min(values)


def index_runs(runs_dir: Path) -> dict[str, list["RunSummary"]]:
    if not runs_dir.is_dir():
        return {}
    from mlgym_tui.evaluation import collect_runs

    by_task: dict[str, list] = defaultdict(list)
    try:
        runs = collect_runs([runs_dir])
    except ValueError:
        return {}
    for run in runs:
        by_task[run.task_id].append(run)
    return dict(by_task)


def rows_for(runs: list, metric: str | None, direction: str, baseline: dict) -> list[RunRow]:
    rows = []
    for run in runs:
        best = best_score(run, metric, direction)
        base = (run.baseline or {}).get(metric) if metric else None
        if not isinstance(base, (int, float)):
            base = baseline.get(metric) if metric else None
        beats = None
        if best is not None and base is not None:
            beats = best >= base if direction == "maximize" else best <= base
        who = "human" if run.agent == "human" or run.model == "human" else "agent"
        status = run.exit_status or ("running" if not run.finished else "?")
        if run.problem:
            status = f"problem: {run.problem[:40]}"
        rows.append(RunRow(run_date(run.path), who, run.agent, run.model, status, best, base, beats, run.path,
                           run.trust))
    rows.sort(key=lambda r: r.date, reverse=True)
    return rows
