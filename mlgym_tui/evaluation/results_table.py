"""The aggregated results: what the CLI prints and exports and the TUI's Results screen shows."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlgym_tui.config.directions import MetricDirection
from mlgym_tui.evaluation.profiles import Profile
from mlgym_tui.evaluation.run_summary import IN_PROCESS, ISOLATED, UNISOLATED, RunSummary

BASELINE = "baseline"
KINDS = ("best", "last")

# The mark after a score whose run was not scored in isolation, and what it means (the legend's line).
TRUST_MARKS = {IN_PROCESS: "†", UNISOLATED: "‡"}
TRUST_MEANINGS = {
    IN_PROCESS: "evaluate.py ran the agent's code in its own process",
    UNISOLATED: "scored by the local runtime, with no container",
}
UNKNOWN_TRUST_MARK = "?"  # a label written by a newer version


def trust_mark(trust: str) -> str:
    """The label's mark; none for isolated scores nor when no label was recorded."""
    if not trust or trust == ISOLATED:
        return ""
    return TRUST_MARKS.get(trust, UNKNOWN_TRUST_MARK)


@dataclass(frozen=True)
class Entry:
    """One method on one task for one kind (best or last attempt)."""

    value: float | None
    run_path: Path | None  # the run that achieved `value`; None for the baseline or when missing
    feasible: bool
    ratio: float  # the performance ratio used in the profile (penalised when infeasible)
    trust: str = ""  # the trust label of the run that achieved `value`; "" for the baseline or when not recorded


@dataclass
class Cell:
    task_id: str
    model: str
    best: Entry
    last: Entry
    runs: list[Path] = field(default_factory=list)  # every scored run of this model on this task


@dataclass(frozen=True)
class Problem:
    path: Path
    message: str
    counted: bool = False  # True: the run's scores are in the table all the same (a warning, not an exclusion)

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


@dataclass
class ModelStats:
    runs: int = 0
    exit_statuses: dict[str, int] = field(default_factory=dict)
    cost: float = 0.0
    steps: int = 0
    wall_time: float = 0.0
    trust: dict[str, int] = field(default_factory=dict)  # runs per trust label; runs without one are not counted
    # Runs that are not the agent's (failure_kinds.py), per kind; they are in none of the counts above.
    apart: dict[str, int] = field(default_factory=dict)

    def trust_counts(self) -> str:
        """Runs per label, most first (e.g. `isolated 3, in-process 1`); `-` when no run recorded one."""
        return ", ".join(f"{k} {v}" for k, v in sorted(self.trust.items(), key=lambda kv: (-kv[1], kv[0]))) or "-"

    def apart_counts(self) -> str:
        """Runs counted apart per kind (e.g. `configuration 2, infrastructure 1`); `-` when none."""
        return ", ".join(f"{k} {v}" for k, v in sorted(self.apart.items())) or "-"


@dataclass
class ResultsTable:
    tasks: list[str]
    models: list[str]  # compared methods, "baseline" last when compared
    directions: dict[str, MetricDirection]
    cells: dict[tuple[str, str], Cell]  # (task_id, model)
    profiles: dict[str, Profile]  # "best" / "last"
    aup: dict[str, dict[str, float]]  # model -> {"best": x, "last": y}, 3 decimals
    tau_max: float
    model_stats: dict[str, ModelStats]
    runs: list[RunSummary]  # every run found, problems included
    problems: list[Problem]
    notes: list[Problem] = field(default_factory=list)  # scored runs whose scores are not isolated, and why
    budget: str = ""  # the budget the scores are within (evaluation/budgets.py), e.g. "30m of active time"; "" none

    def trust_legend(self) -> list[str]:
        """One line per mark that appears next to a score, e.g. "† in-process: evaluate.py ran ..."."""
        labels = sorted({e.trust for c in self.cells.values() for e in (c.best, c.last) if trust_mark(e.trust)})
        return [f"{trust_mark(label)} {label}: {TRUST_MEANINGS.get(label, 'a trust label this version does not know')}"
                for label in labels]

    @property
    def not_the_agents(self) -> list[RunSummary]:
        """Runs that ended for a configuration or infrastructure reason (or a stopped batch): never scored."""
        return [r for r in self.runs if r.failure]

    def cell(self, task_id: str, model: str) -> Cell | None:
        return self.cells.get((task_id, model))

    def problem_of(self, path: Path) -> str | None:
        """Why the run at path is left out of the scores; None if it counts (perhaps with a warning)."""
        return next((p.message for p in self.problems if p.path == path and not p.counted), None)

    @property
    def left_out(self) -> list[Problem]:
        return [p for p in self.problems if not p.counted]

    @property
    def counted_with_warning(self) -> list[Problem]:
        return [p for p in self.problems if p.counted]

    def to_dict(self) -> dict[str, Any]:
        problem_by_path = {p.path: p.message for p in self.problems if not p.counted}
        warning_by_path = {p.path: p.message for p in self.problems if p.counted}

        def entry(e: Entry) -> dict[str, Any]:
            return {"value": e.value, "feasible": e.feasible, "ratio": e.ratio,
                    "run": str(e.run_path) if e.run_path else None, "trust": e.trust or None}

        return {
            "tasks": [{"task_id": t, "metric": self.directions[t][0], "direction": self.directions[t][1]}
                      for t in self.tasks],
            "models": self.models,
            "scores": [{"task_id": c.task_id, "model": c.model, "best": entry(c.best), "last": entry(c.last),
                        "runs": [str(p) for p in c.runs]} for c in self.cells.values()],
            "aup": self.aup,
            "profiles": {k: {"tau": p.tau, "rho": p.rho} for k, p in self.profiles.items()},
            "tau_max": self.tau_max,
            "model_stats": {m: vars(s) for m, s in self.model_stats.items()},
            "runs": [{"path": str(r.path), "layout": r.layout, "task_id": r.task_id, "model": r.model,
                      "agent": r.agent, "exit_status": r.exit_status, "cost": r.cost, "steps": r.steps,
                      "wall_time": r.wall_time, "finished": r.finished, "problem": problem_by_path.get(r.path),
                      "warning": warning_by_path.get(r.path),
                      "trust": r.trust or None, "trust_reason": r.trust_reason or None,
                      "failure": r.failure, "failure_reason": r.failure_reason or None} for r in self.runs],
            "problems": [{"path": str(p.path), "message": p.message, "counted": p.counted} for p in self.problems],
            "notes": [{"path": str(p.path), "message": p.message} for p in self.notes],
            "budget": self.budget or None,
        }
