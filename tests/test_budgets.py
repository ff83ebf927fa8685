"""Scores within a budget on synthetic runs written by the real Recorder, with known answers: a human run (reads the
task for 10 minutes, clocks not stored as in runs recorded before them) and two agent runs
(clocks stored as the runner stamps them; one waits out a 30-minute rate-limit back-off), at 30m and 2h of active
time and at 20 steps; the `mlgym-tui results --budget` command on them; bad budgets; score-over-time curves."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from test_evaluation_runs import mlgym_run

from mlgym_tui.evaluation import BASELINE, collect_runs
from mlgym_tui.evaluation.budgets import (
    Budget, aggregate_within, format_duration, parse_duration, read_timelines, within_budget,
)
from mlgym_tui.evaluation.curves import score_curves
from mlgym_tui.evaluation.timeline import read_timeline
from mlgym_tui.stream import events as ev
from mlgym_tui.stream.clock import EpisodeClock
from mlgym_tui.trajectory.recorder import Recorder

MIN = 60.0
TASK = "blotto"  # Score, maximised; baseline -0.25
BASELINE_SCORE = {"Score": -0.25}
T0 = 1_700_000_000.0


def started(t: float, agent: str, model: str, mode: str = "auto", who: str = "") -> ev.EpisodeStarted:
    return ev.EpisodeStarted(t=t, run_id="r", task_id=TASK, agent=agent, model=model, mode=mode, engine="docker", who=who,
                             max_steps=100, cost_limit=0.0, baseline=dict(BASELINE_SCORE),
                             metrics=[{"name": "Score", "direction": "maximize", "primary": True}])


def step(t: float, n: int, author: str) -> list[ev.Event]:
    return [ev.CommandStarted(t=t, step=n, action="python train.py", author=author),
            ev.CommandFinished(t=t + 1, step=n, exit_code=0, duration=1.0),
            ev.StepRecorded(t=t + 1, step=n, author=author, action="python train.py", observation="ok",
                            started_at=t, duration=1.0)]


def validation(t: float, n: int, score: float) -> ev.ValidationScored:
    return ev.ValidationScored(t=t, step=n, metrics={"Score": score}, baseline=dict(BASELINE_SCORE))


def stamped(events: list[ev.Event]) -> list[ev.Event]:
    """Clocks on validations and the end, as the runner stamps them (stream/clock.py) while it emits."""
    clock = EpisodeClock()
    for event in events:
        if isinstance(event, (ev.ValidationScored, ev.EpisodeEnded)):
            event.wall_s, event.active_s = clock.wall_s(event.t), clock.active_s(event.t)
        if isinstance(event, ev.EpisodeEnded):
            event.human_s = clock.human_s(event.t)
        clock.observe(event)
    return events


def record(root: Path, name: str, events: list[ev.Event]) -> Path:
    run_dir = root / "runs" / name
    with Recorder(run_dir, TASK, {"agent": {}}, traj_in_background=False, sync_in_background=False) as recorder:
        for event in events:
            recorder(event)
    return run_dir


def human_run(root: Path) -> Path:
    """Active (= wall: nothing stops a person's clock): 20m -> 0.1 (step 3), 40m -> 0.5 (step 6), 75m -> 0.9 (step 9)."""
    events: list[ev.Event] = [started(T0, "human", "none", mode="human", who="ada")]
    events += step(T0 + 10 * MIN, 1, "human")  # ten minutes reading the task first
    events += [validation(T0 + 20 * MIN, 3, 0.1), validation(T0 + 40 * MIN, 6, 0.5)]
    events += step(T0 + 50 * MIN, 9, "human")
    events += [validation(T0 + 75 * MIN, 9, 0.9),
               ev.EpisodeEnded(t=T0 + 90 * MIN, exit_status="submitted", score=[{"Score": s} for s in (.1, .5, .9)])]
    return record(root, "20250101-100000__none__blotto__human", events)  # no stored clocks: an older run


def agent_run(root: Path) -> Path:
    """Active: 10m -> 0.3 (step 10), 20m -> 0.2 (step 20), 80m -> 0.6 (step 40), 150m -> 1.5 (step 60); a
    30-minute rate-limit back-off between 15m and 45m of wall time."""
    events: list[ev.Event] = [started(T0, "default", "m-agent")]
    events += step(T0 + 1 * MIN, 1, "agent")
    events += [validation(T0 + 10 * MIN, 10, 0.3),
               ev.ModelQueryStarted(t=T0 + 15 * MIN, step=11),
               ev.Retry(t=T0 + 15 * MIN, step=11, attempt=1, reason="rate limited", wait_s=30 * MIN),
               ev.ModelResponse(t=T0 + 45 * MIN, step=11, content="x"),
               validation(T0 + 50 * MIN, 20, 0.2), validation(T0 + 110 * MIN, 40, 0.6),
               validation(T0 + 180 * MIN, 60, 1.5),
               ev.EpisodeEnded(t=T0 + 190 * MIN, exit_status="submitted",
                               score=[{"Score": s} for s in (.3, .2, .6, 1.5)])]
    return record(root, "20250101-110000__m-agent__blotto__default", stamped(events))


def slow_run(root: Path) -> Path:
    """Its first validation comes at 45m of active time (step 30): nothing within 30m."""
    events = [started(T0, "default", "m-slow"), *step(T0 + MIN, 1, "agent"), validation(T0 + 45 * MIN, 30, 0.4),
              ev.EpisodeEnded(t=T0 + 60 * MIN, exit_status="submitted", score=[{"Score": 0.4}])]
    return record(root, "20250101-120000__m-slow__blotto__default", stamped(events))


@pytest.fixture
def runs(tmp_path) -> dict[str, Path]:
    return {"human": human_run(tmp_path), "agent": agent_run(tmp_path), "slow": slow_run(tmp_path)}


def scores(table, model: str) -> tuple[float | None, float | None]:
    cell = table.cell(TASK, model)
    return cell.best.value, cell.last.value


def test_durations_are_read_and_written_back():
    assert [parse_duration(t) for t in ("30m", "2h", "90s", "1h30m", "1.5h", " 2H ", "1h0m30s")] == [
        1800, 7200, 90, 5400, 5400, 7200, 3630]
    assert [format_duration(s) for s in (1800, 7200, 90, 5400, 3630)] == ["30m", "2h", "1m30s", "1h30m", "1h30s"]
    for bad in ("", "30", "m", "30x", "1m1h", "-5m", "0m", "thirty minutes"):
        with pytest.raises(ValueError) as caught:
            parse_duration(bad)
        assert "\n" not in str(caught.value) and "30m" in str(caught.value)
    with pytest.raises(ValueError, match="1 or more"):
        Budget(steps=0)
    assert Budget(seconds=1800).label() == "30m of active time" and Budget(steps=1).label() == "1 step"
    assert Budget(seconds=7200, steps=20).label() == "2h of active time and 20 steps" and not Budget()


def test_timelines_use_stored_clocks_and_recompute_them_for_older_runs(runs):
    human = read_timeline(runs["human"])
    assert [(v.step, round(v.active_s / MIN, 6)) for v in human.validations] == [(3, 20), (6, 40), (9, 75)]
    assert [round(v.wall_s / MIN, 6) for v in human.validations] == [20, 40, 75]
    assert human.human and human.steps == human.person_steps == 2
    assert (human.wall_s / MIN, human.active_s / MIN, human.human_s / MIN) == (90, 90, 80)
    agent = read_timeline(runs["agent"])
    assert [round(v.active_s / MIN, 6) for v in agent.validations] == [10, 20, 80, 150]
    assert not agent.human and agent.human_s is None and agent.active_s == 160 * MIN
    # stored clocks are what counts: a stamp the events would not give is read as stored
    lines = (runs["agent"] / "events.jsonl").read_text().replace('"active_s": 600.0', '"active_s": 601.0')
    (runs["agent"] / "events.jsonl").write_text(lines)
    assert read_timeline(runs["agent"]).validations[0].active_s == 601.0


@pytest.mark.parametrize("budget, human, agent, slow", [
    (Budget(seconds=30 * MIN), (0.1, 0.1), (0.3, 0.2), (None, None)),
    (Budget(seconds=2 * 3600), (0.9, 0.9), (0.6, 0.6), (0.4, 0.4)),
    (Budget(steps=20), (0.9, 0.9), (0.3, 0.2), (None, None)),
    (Budget(seconds=30 * MIN, steps=5), (0.1, 0.1), (None, None), (None, None)),
    (Budget(), (0.9, 0.9), (1.5, 1.5), (0.4, 0.4)),
])
def test_each_run_scores_its_validations_within_the_budget(runs, budget, human, agent, slow):
    table = aggregate_within(collect_runs([runs["human"].parent]), budget)
    assert table.models == ["human", "m-agent", "m-slow", BASELINE] and table.budget == budget.label()
    assert (scores(table, "human"), scores(table, "m-agent"), scores(table, "m-slow")) == (human, agent, slow)
    # a run without a validation in the budget has no score: infeasible, penalised like a run that never scored
    if slow == (None, None):
        entry = table.cell(TASK, "m-slow").best
        assert not entry.feasible and entry.ratio == max(table.cell(TASK, m).best.ratio for m in table.models)
    assert not table.problems


def test_a_run_that_cannot_be_placed_in_time_is_left_out_with_the_reason(tmp_path, runs):
    published = mlgym_run(tmp_path / "published", "metagen-gpt4o", TASK, [{"Score": 0.7}], BASELINE_SCORE, steps=4)
    found = collect_runs([tmp_path])
    timed = {r.path: r for r in within_budget(found, Budget(seconds=30 * MIN))}
    assert "MLGym's layout records no time or step per validation" in timed[published].problem
    assert "30m of active time" in timed[published].problem
    # a published run of 4 steps is within a 20-step budget all the same
    assert within_budget(found, Budget(steps=20))[0].problem is None
    assert within_budget(found, Budget(steps=3))[0].problem is not None
    (runs["slow"] / "events.jsonl").write_text('{"type": "episode_started"}\n')  # damaged after it was listed
    timelines = read_timelines(found)
    assert "no readable event" in timelines[runs["slow"]]
    table = aggregate_within(found, Budget(steps=20), timelines)
    assert table.problem_of(runs["slow"]).endswith("compare it without a budget")


def test_score_curves_are_best_so_far_against_active_time(runs):
    found = collect_runs([runs["human"].parent])
    timelines = read_timelines(found)
    curves = {c.model: c for c in score_curves(aggregate_within(found, Budget()), timelines)[TASK]}
    assert [(round(t / MIN, 6), v) for t, v in curves["m-agent"].points] == [(10, 0.3), (20, 0.3), (80, 0.6),
                                                                               (150, 1.5)]
    assert curves["human"].human and not curves["m-agent"].human
    assert curves["m-agent"].best_within(30 * MIN) == 0.3 and curves["m-agent"].best_within(5 * MIN) is None
    assert curves["human"].end_s == 90 * MIN and curves["m-slow"].end_s == 60 * MIN


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mlgym_tui.cli", "results", *args], capture_output=True, text=True,
                          timeout=60, env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"})


def score_row(out: str) -> str:
    return next(line for line in out.splitlines() if line.strip("│ ").startswith(TASK))


def test_results_command_at_two_budgets_and_in_steps(runs):
    root = str(runs["human"].parent)
    at_30m = cli(root, "--budget", "30m")
    assert at_30m.returncode == 0, at_30m.stderr
    assert "Scores within 30m of active time" in at_30m.stdout
    row = score_row(at_30m.stdout).split("│")
    assert [c.strip() for c in row[3:6]] == ["0.1 / 0.1", "0.3 / 0.2", "- / -"]
    at_2h = cli(root, "--budget", "2h")
    assert "Scores within 2h of active time" in at_2h.stdout
    assert [c.strip() for c in score_row(at_2h.stdout).split("│")[3:6]] == ["0.9 / 0.9", "0.6 / 0.6", "0.4 / 0.4"]
    steps = cli(root, "--budget-steps", "20")
    assert "Scores within 20 steps" in steps.stdout
    assert [c.strip() for c in score_row(steps.stdout).split("│")[3:6]] == ["0.9 / 0.9", "0.3 / 0.2", "- / -"]
    # each run's clocks, and how many of its validations the budget admitted
    clocks = {line.split("│")[1].strip(): [c.strip() for c in line.split("│")[2:8]]
              for line in at_30m.stdout.splitlines() if "__blotto__" in line}
    assert clocks == {"20250101-100000__none__blotto__human": ["human", "human: ada", "1h30m", "1h30m", "1h20m", "1 of 3"],
                      "20250101-110000__m-agent__blotto__default": ["m-agent", "agent", "3h10m", "2h40m", "-", "2 of 4"],
                      "20250101-120000__m-slow__blotto__default": ["m-slow", "agent", "1h", "1h", "-", "0 of 1"]}
    plain = cli(root)
    assert "Scores (best / last" in plain.stdout and "within" not in plain.stdout and "Clocks" not in plain.stdout


@pytest.mark.parametrize("args, message", [
    (("--budget", "30"), "budget '30' is not a duration; write it with units, e.g. 30m, 2h, 90s or 1h30m"),
    (("--budget", "soon"), "budget 'soon' is not a duration"),
    (("--budget", "0s"), "budget '0s' is no time at all"),
    (("--budget-steps", "0"), "--budget-steps 0 admits no step; give 1 or more"),
])
def test_a_bad_budget_is_one_line_naming_the_fix(runs, args, message):
    out = cli(str(runs["human"].parent), *args)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.count("\n") == 1 and message in out.stderr and out.stderr.startswith("mlgym-tui results: ")
