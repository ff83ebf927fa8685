"""Performance profiles and AUP, checked against values worked out by hand.

Set-up used by the hand computation (methods A, B and the baseline; T1 maximised, T2 minimised):
  T1 runs: A [0.7, 0.8, 0.6] and [0.75]; B [0.4]; baseline 0.5
  T2 runs: A [20]; B [6, 5, 5.5]; baseline 10
Best attempt:  T1 A 0.8 (r 1), base 0.5 (r 1.6), B 0.4 < baseline: infeasible -> 1.6 x 1.05 = 1.68, cap 2
               T2 B 5 (r 1), base 10 (r 2), A 20 > baseline: infeasible -> 2.1, cap 3
Last attempt:  T1 A max(0.6, 0.75) = 0.75 (r 1), base r 1.5, B -> 1.575; T2 B 5.5 (r 1), base r 1.818, A -> 1.909
tau_max = ceil(10 log10 3) / 10 = 0.5; tau_i = 0.5 i / 499, so log10(r) = L is reached from i = ceil(998 L).
AUP = (0.5/499) x sum over i < 499 of rho(tau_i). For best, A: L = {0, 0.3222} -> i from {0, 322}
-> (0.5/499)(0.5x499 + 0.5x177) = 0.339; B: {0.2253 -> 225, 0} -> 0.387; baseline: {0.2041 -> 204, 0.3010 -> 301}
-> 0.247. For last: A {0, 0.2808 -> 281} -> 0.359; B {0.1973 -> 197, 0} -> 0.401; baseline
{0.1761 -> 176, 0.2596 -> 260} -> 0.282.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from mlgym_tui.evaluation import BASELINE, RunSummary, aggregate
from mlgym_tui.evaluation.profiles import aup, is_feasible, task_ratios, tau_grid, tau_max_for

DIRECTIONS = {"T1": ("m", "maximize"), "T2": ("m", "minimize")}


def run(model: str, task: str, scores: list[float | None], baseline: float | None, index: int = 0) -> RunSummary:
    return RunSummary(
        path=Path(f"/runs/{model}__{task}__{index}"), layout="mlgym", task_id=task, model=model,
        scores=[{"m": s} if s is not None else {"other": 1.0} for s in scores],
        baseline={"m": baseline} if baseline is not None else {}, exit_status="submitted",
    )


@pytest.fixture
def hand_table():
    runs = [
        run("A", "T1", [0.7, 0.8, 0.6], 0.5, 0), run("A", "T1", [0.75], 0.5, 1), run("B", "T1", [0.4], 0.5),
        run("A", "T2", [20], 10), run("B", "T2", [6, 5, 5.5], 10),
    ]
    return aggregate(runs, directions=DIRECTIONS)


def test_aup_matches_hand_computation(hand_table):
    assert hand_table.tau_max == 0.5
    assert hand_table.models == ["A", "B", BASELINE]
    assert hand_table.aup == {
        "A": {"best": 0.339, "last": 0.359},
        "B": {"best": 0.387, "last": 0.401},
        BASELINE: {"best": 0.247, "last": 0.282},
    }


def test_profiles_step_where_the_hand_computation_says(hand_table):
    best = hand_table.profiles["best"]
    assert len(best.tau) == 500 and best.tau[0] == 0 and best.tau[-1] == pytest.approx(0.5)
    rho_a = best.rho["A"]
    assert rho_a[321] == 0.5 and rho_a[322] == 1.0  # A's infeasible T2 entry (log10 2.1 = 0.3222) counts at i=322
    assert best.rho[BASELINE][0] == 0.0 and best.rho[BASELINE][204] == 0.5 and best.rho[BASELINE][301] == 1.0


def test_best_and_last_pick_values_ratios_and_runs(hand_table):
    a_t1 = hand_table.cell("T1", "A")
    assert (a_t1.best.value, a_t1.last.value) == (0.8, 0.75)
    assert a_t1.best.run_path == Path("/runs/A__T1__0") and a_t1.last.run_path == Path("/runs/A__T1__1")
    b_t1 = hand_table.cell("T1", "B")
    assert not b_t1.best.feasible and b_t1.best.ratio == pytest.approx(1.68)
    b_t2 = hand_table.cell("T2", "B")
    assert (b_t2.best.value, b_t2.last.value) == (5.0, 5.5)
    assert hand_table.cell("T2", BASELINE).best.ratio == pytest.approx(2.0)
    assert hand_table.cell("T2", "A").last.ratio == pytest.approx(1.05 * 10 / 5.5)


def test_first_best_wins_between_runs_of_equal_score():
    runs = [run("A", "T1", [0.9], 0.5, 0), run("A", "T1", [0.9, 0.8], 0.5, 1)]
    cell = aggregate(runs, directions=DIRECTIONS).cell("T1", "A")
    assert cell.best.run_path == Path("/runs/A__T1__0")
    assert cell.last.run_path == Path("/runs/A__T1__0")  # run 1 ends on 0.8


def test_last_is_the_final_entry_even_when_it_lacks_the_metric():
    cell = aggregate([run("A", "T1", [0.9, None], 0.5)], directions=DIRECTIONS).cell("T1", "A")
    assert cell.best.value == 0.9 and cell.last.value is None and not cell.last.feasible


def test_negative_baseline_is_infeasible_and_negative_scores_too():
    # blotto is in MLGym's table (Score, maximise); its baseline really is negative.
    runs = [
        RunSummary(path=Path("/r/a"), layout="mlgym", task_id="blotto", model="A",
                   scores=[{"Score": 0.1}], baseline={"Score": -0.25}, exit_status="submitted"),
        RunSummary(path=Path("/r/b"), layout="mlgym", task_id="blotto", model="B",
                   scores=[{"Score": -0.05}], baseline={"Score": -0.25}, exit_status="submitted"),
    ]
    table = aggregate(runs)
    assert table.cell("blotto", "A").best.feasible and table.cell("blotto", "A").best.ratio == 1.0
    for model in ("B", BASELINE):
        entry = table.cell("blotto", model).best
        assert not entry.feasible and entry.ratio == pytest.approx(1.05)
    assert table.tau_max == 0.4  # cap ceil(1.05) = 2 -> ceil(3.01) / 10
    # A is at r = 1 everywhere: AUP = tau_max. B: log10 1.05 = 0.0212 is reached at i = ceil(0.0212 x 499 / 0.4) = 27,
    # so (0.4 / 499) x 472 = 0.378.
    assert table.aup["A"]["best"] == 0.4 and table.aup["B"]["best"] == 0.378


def test_missing_model_on_a_task_is_infeasible():
    runs = [run("A", "T1", [0.8], 0.5), run("A", "T2", [4], 10), run("B", "T2", [5], 10)]
    table = aggregate(runs, directions=DIRECTIONS)
    missing = table.cell("T1", "B")
    assert missing.best.value is None and not missing.best.feasible
    assert missing.best.ratio == pytest.approx(1.6 * 1.05)  # worst feasible on T1 is the baseline's 0.8/0.5
    assert missing.runs == []


def test_models_option_chooses_the_comparison_set():
    runs = [run("A", "T1", [0.8], 0.5), run("B", "T1", [0.6], 0.5)]
    all_three = aggregate(runs, directions=DIRECTIONS)
    only_b = aggregate(runs, models=["B"], directions=DIRECTIONS)
    assert all_three.cell("T1", "B").best.ratio == pytest.approx(0.8 / 0.6)
    assert only_b.models == ["B", "baseline"] and only_b.cell("T1", "B").best.ratio == 1.0
    assert ("T1", "A") not in only_b.cells and "A" not in only_b.aup
    assert aggregate(runs, models=["B"], directions=DIRECTIONS, include_baseline=False).models == ["B"]


def test_task_with_no_feasible_entry_ties_everyone_at_the_penalty():
    ratios = task_ratios({"A": None, "B": -1.0}, baseline=-3.0, direction="maximize")
    assert ratios.ratios == {"A": 1.05, "B": 1.05} and ratios.cap == 2


def test_feasibility_rules():
    assert is_feasible(0.6, 0.5, "maximize") and not is_feasible(0.4, 0.5, "maximize")
    assert is_feasible(4.0, 5.0, "minimize") and not is_feasible(6.0, 5.0, "minimize")
    assert is_feasible(0.5, 0.5, "maximize")  # equal to the baseline is not worse
    assert not is_feasible(None, 0.5, "maximize") and not is_feasible(0.0, None, "minimize")
    assert is_feasible(2.0, -1.0, "minimize")  # a negative baseline is no yardstick


def test_grid_and_riemann_sum():
    assert tau_max_for([2]) == 0.4 and tau_max_for([3, 11]) == 1.1 and tau_max_for([10]) == 1.0
    tau = tau_grid(1.0)
    assert len(tau) == 500 and tau[-1] == pytest.approx(1.0)
    assert aup(tau, [1.0] * 500) == pytest.approx(1.0)  # left sum ignores the last point
    assert aup(tau, [0.0] * 499 + [1.0]) == 0.0
    assert math.isclose(aup(tau, [0.5] * 500), 0.5)
