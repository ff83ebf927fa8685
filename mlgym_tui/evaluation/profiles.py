"""Performance profiles and AUP (area under the performance profile), as defined by the MLGym paper.

Per task, each compared method m gets a ratio r >= 1 to the best feasible method (best/score when
maximising, score/best when minimising). Infeasible entries (missing, not positive, or worse than a
feasible baseline) get the task's worst feasible ratio x 1.05. rho_m(tau) is the fraction of tasks with
log10(r) <= tau, on 500 evenly spaced tau in [0, tau_max]; AUP is its left Riemann sum.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from mlgym_tui.config.directions import Direction
from mlgym_tui.evaluation.scoring import better

INFEASIBLE_PENALTY = 1.05
GRID_POINTS = 500


@dataclass
class TaskRatios:
    ratios: dict[str, float]  # every compared method, infeasible ones already penalised
    feasible: dict[str, bool]
    cap: int  # ceil(worst feasible ratio x 1.05): bounds this task's ratios


@dataclass
class Profile:
    tau: list[float]  # log10 thresholds
    rho: dict[str, list[float]] = field(default_factory=dict)


def is_feasible(value: float | None, baseline: float | None, direction: Direction) -> bool:
    # Zero counts as infeasible with the negatives: a ratio to or from zero is undefined.
    if value is None or not math.isfinite(value) or value <= 0:
        return False
    baseline_usable = baseline is not None and math.isfinite(baseline) and baseline > 0
    return not (baseline_usable and better(baseline, value, direction))


def task_ratios(values: dict[str, float | None], baseline: float | None, direction: Direction) -> TaskRatios:
    """Ratios of the compared methods on one task. `values` includes the baseline when it is compared."""
    feasible = {m: is_feasible(v, baseline, direction) for m, v in values.items()}
    good = [v for m, v in values.items() if feasible[m]]
    ratios: dict[str, float] = {}
    if good:
        best = max(good) if direction == "maximize" else min(good)
        for m, v in values.items():
            if feasible[m]:
                ratios[m] = best / v if direction == "maximize" else v / best
        worst = max(ratios.values())
    else:
        worst = 1.0  # no method solved the task: all tie at the penalty (our reading; the paper is silent)
    penalty = worst * INFEASIBLE_PENALTY
    for m in values:
        ratios.setdefault(m, penalty)
    return TaskRatios(ratios=ratios, feasible=feasible, cap=math.ceil(penalty))


def tau_max_for(caps: list[int]) -> float:
    largest = max(caps) if caps else 2
    return math.ceil(10 * math.log10(largest)) / 10


def tau_grid(tau_max: float) -> list[float]:
    step = tau_max / (GRID_POINTS - 1)
    return [i * step for i in range(GRID_POINTS)]


def profile(per_task: list[TaskRatios], methods: list[str], tau: list[float]) -> Profile:
    result = Profile(tau=tau)
    n_tasks = len(per_task)
    for m in methods:
        logs = sorted(math.log10(t.ratios[m]) for t in per_task)
        rho, k = [], 0
        for threshold in tau:  # both sorted: one merge pass
            while k < n_tasks and logs[k] <= threshold:
                k += 1
            rho.append(k / n_tasks if n_tasks else 0.0)
        result.rho[m] = rho
    return result


def aup(tau: list[float], rho: list[float]) -> float:
    """Left Riemann sum of rho over the tau grid."""
    return sum(rho[i] * (tau[i + 1] - tau[i]) for i in range(len(tau) - 1))
