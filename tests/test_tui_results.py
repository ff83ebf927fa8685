"""The Results screen over a fixed synthetic run set (our layout and MLGym's): the score table with best / last,
baseline and infeasible cells, AUP per model, the problems list, the two performance-profile charts, the jump from
a score into that run's replay, the `R` key from the task browser, scores within a budget with score-over-time
curves per run (human runs marked), and 120x40 snapshots.

Update the snapshot after an intended change: uv run pytest tests/test_tui_results.py --snapshot-update
"""

from __future__ import annotations

import time
from pathlib import Path

from test_budgets import MIN, agent_run, human_run, slow_run
from test_evaluation_runs import IN_PROCESS_REASON, mlgym_run, our_run, trust_runs

from mlgym_tui.evaluation import aggregate, collect_runs
from mlgym_tui.evaluation.budgets import Budget, aggregate_within, read_timelines
from mlgym_tui.tui.app import MLGymApp
from mlgym_tui.tui.screens.results import ResultsScreen

SIZE = (120, 40)


def write_runs(root: Path) -> dict[str, Path]:
    """Three tasks, two models, one unreadable run. Deterministic names and values."""
    runs = {
        "alpha-3sat": our_run(root, "m-alpha", "3SATTime", [{"Time": 9.0}, {"Time": 7.0}], {"Time": 16.0},
                              stamp="20250101-100000"),
        "beta-3sat": our_run(root, "m-beta", "3SATTime", [{"Time": 20.0}], {"Time": 16.0}, stamp="20250101-100100"),
        "alpha-bos-1": our_run(root, "m-alpha", "battleOfSexes", [{"Score": 1.2}, {"Score": 1.1}], {"Score": 1.0},
                               stamp="20250101-100200"),
        "alpha-bos-2": our_run(root, "m-alpha", "battleOfSexes", [{"Score": 0.9}], {"Score": 1.0},
                               stamp="20250101-100300"),
        "beta-bos": our_run(root, "m-beta", "battleOfSexes", [{"Score": 1.3}], {"Score": 1.0}, stamp="20250101-100400"),
        "alpha-blotto": our_run(root, "m-alpha", "blotto", [{"Score": 0.1}], {"Score": -0.25}, stamp="20250101-100500"),
        "beta-blotto": our_run(root, "m-beta", "blotto", [{"Score": 0.2}], {"Score": -0.25}, stamp="20250101-100600"),
    }
    broken = mlgym_run(root / "published", "metagen-gamma", "blotto", [{"Score": 0.4}], {"Score": -0.25})
    (broken / "results.json").write_text("{not json")
    runs["broken"] = broken
    return runs


async def until(pilot, predicate, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)


def cell_text(screen: ResultsScreen, task: str, model: str) -> str:
    return str(screen.query_one("#results-table").get_cell(task, model))


def cell_style(screen: ResultsScreen, task: str, model: str) -> str:
    value = screen.query_one("#results-table").get_cell(task, model)
    return " ".join(str(span.style) for span in value.spans) + " " + str(value.style)


def painted(widget) -> str:
    """The characters a widget paints at its current size."""
    from textual.geometry import Region

    width, height = widget.size
    return "\n".join(strip.text for strip in widget.render_lines(Region(0, 0, width, height)))


async def move_to(pilot, screen: ResultsScreen, task: str, model: str) -> None:
    grid = screen.query_one("#results-table")
    grid.move_cursor(row=grid.get_row_index(task), column=grid.get_column_index(model))
    grid.focus()
    await pilot.pause()


async def test_results_screen_from_browser_table_aup_problems_charts_and_jumps(tmp_path):
    runs = write_runs(tmp_path)
    app = MLGymApp(deterministic=True, runs_dir=tmp_path, tasks={})
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("R")  # from the task browser
        await until(pilot, lambda: isinstance(app.screen, ResultsScreen) and app.screen.table is not None,
                    "the results to load")
        screen = app.screen
        table = screen.table
        grid = screen.query_one("#results-table")
        assert grid.row_count == 3 and [c.label.plain for c in grid.columns.values()] == [
            "task", "metric", "m-alpha", "m-beta", "baseline"]
        # best / last per model; the baseline alone
        assert cell_text(screen, "3SATTime", "m-alpha") == "7 / 7"
        assert cell_text(screen, "battleOfSexes", "m-alpha") == "1.2 / 1.1"
        assert cell_text(screen, "3SATTime", "baseline") == "16"
        assert cell_text(screen, "3SATTime", "metric") == "Time (min)"
        # worse than the baseline on a minimised metric: infeasible, marked and red
        assert cell_text(screen, "3SATTime", "m-beta") == "20* / 20*"
        assert "red" in cell_style(screen, "3SATTime", "m-beta")
        assert "red" not in cell_style(screen, "3SATTime", "m-alpha")
        # AUP per model, from the aggregation, with run counts
        aup = screen.query_one("#aup-table")
        assert aup.row_count == 3
        assert aup.get_row("m-alpha")[1] == f"{table.aup['m-alpha']['best']:.3f}"
        assert aup.get_row("m-beta")[3] == "3"
        # the unreadable run is listed with its path relative to the folder and why
        problems = str(screen.query_one("#problems").render())
        assert screen.query_one("#problems-scroll").border_title == "problems: 1"
        assert str(runs["broken"].relative_to(tmp_path)) in problems and "results.json" in problems
        # both profile charts drew one line per compared method, labelled with its AUP
        best, last = painted(screen.query_one("#profile-best")), painted(screen.query_one("#profile-last"))
        assert "performance profile: best attempt" in best and "performance profile: last attempt" in last
        for model in ("m-alpha", "m-beta", "baseline"):
            assert f"{model} (AUP {table.aup[model]['best']:.3f})" in best
            assert f"{model} (AUP {table.aup[model]['last']:.3f})" in last
        assert any(ch in best for ch in "⠁⠂⠄⡀⠈⠐⠠⢀⣀⠉")  # braille dots: the lines themselves

        # enter on a score opens the run that achieved it, in the replay screen
        from mlgym_tui.tui.replay.screen import ReplayScreen

        await move_to(pilot, screen, "battleOfSexes", "m-alpha")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ReplayScreen), "the replay screen")
        assert app.screen.path == runs["alpha-bos-1"]
        await until(pilot, lambda: app.screen.loaded, "the replay to load")
        assert "battleOfSexes" in painted(app.screen.query_one("#status-bar"))
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is screen, "back on the results")
        # l: the run of the best *last* attempt (1.1 in run 1 beats 0.9 in run 2)
        await move_to(pilot, screen, "blotto", "m-beta")
        await pilot.press("l")
        await until(pilot, lambda: isinstance(app.screen, ReplayScreen), "the replay screen")
        assert app.screen.path == runs["beta-blotto"]
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is screen, "back on the results")
        # the baseline has no run: a warning, no screen
        await move_to(pilot, screen, "blotto", "baseline")
        await pilot.press("enter")
        await pilot.pause(0.1)
        assert app.screen is screen
        assert any("baseline has no run" in n.message for n in app._notifications)
        # escape goes back to the browser
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, ResultsScreen), "back to the browser")


async def test_results_screen_without_runs_and_reload(tmp_path):
    app = MLGymApp(deterministic=True, start_screen=ResultsScreen([tmp_path]))
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        await until(pilot, lambda: screen.loaded, "the (empty) results")
        assert screen.query_one("#results-table").row_count == 0
        assert "0 runs" in screen.sub_title
        write_runs(tmp_path)
        await pilot.press("f5")
        await until(pilot, lambda: screen.query_one("#results-table").row_count == 3, "the reloaded runs")
        assert "8 runs (7 scored), 3 tasks, 2 models" == screen.sub_title


async def test_results_screen_marks_scores_that_are_not_isolated(tmp_path):
    paths = trust_runs(tmp_path)
    app = MLGymApp(deterministic=True, start_screen=ResultsScreen([tmp_path]))
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        await until(pilot, lambda: screen.table is not None, "the results to load")
        await pilot.pause()
        assert cell_text(screen, "3SATTime", "m-inproc") == "8† / 8†"
        assert cell_text(screen, "3SATTime", "m-local") == "10‡ / 10‡"
        assert cell_text(screen, "3SATTime", "m-iso") == "7 / 7" and cell_text(screen, "3SATTime", "m-old") == "11 / 11"
        assert "yellow" in cell_style(screen, "3SATTime", "m-inproc")
        legend = str(screen.query_one("#results-legend").render())
        assert "† in-process: evaluate.py ran the agent's code in its own process" in legend
        assert "‡ unisolated" in legend
        aup = screen.query_one("#aup-table")
        assert aup.get_row("m-inproc")[-1] == "in-process 1" and aup.get_row("m-old")[-1] == "-"
        # the notes under the problems: which runs, and why
        assert screen.query_one("#problems-scroll").border_title == "problems: 0, not isolated: 2"
        problems = str(screen.query_one("#problems").render())
        assert str(paths["in-process"].relative_to(tmp_path)) in problems
        assert f"in-process scores: {IN_PROCESS_REASON}" in problems
        assert str(paths["isolated"].relative_to(tmp_path)) not in problems


def budget_runs(root: Path) -> dict[str, Path]:
    """One task (blotto): a human run, an agent run, and an agent run with nothing scored in the first 30m."""
    return {"human": human_run(root), "agent": agent_run(root), "slow": slow_run(root)}


async def test_results_screen_within_a_budget_draws_score_over_time_with_humans_marked(tmp_path):
    budget_runs(tmp_path)
    app = MLGymApp(deterministic=True, start_screen=ResultsScreen([tmp_path], budget=Budget(seconds=30 * MIN)))
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        await until(pilot, lambda: screen.curves is not None, "the results and their curves")
        await pilot.pause()
        assert cell_text(screen, "blotto", "human") == "0.1 / 0.1"
        assert cell_text(screen, "blotto", "m-agent") == "0.3 / 0.2"
        assert cell_text(screen, "blotto", "m-slow") == "- / -"
        assert screen.sub_title.endswith(", within 30m of active time")
        assert screen.query_one("#results-table").border_title == "scores within 30m of active time"
        chart = screen.query_one("#score-curves")
        assert chart.border_title == "score over time: 3 runs, 1 human, budget 30m"
        text = painted(chart)
        assert "blotto: best Score so far, by active minute" in text
        assert "★ human 20250101-100000" in text and "m-agent 20250101-110000" in text
        assert "★ m-agent" not in text and "baseline" in text
        # the curves themselves: best so far against active time, every validation (the budget is a line)
        curves = {c.model: c for c in screen.curves["blotto"]}
        assert [(t / MIN, v) for t, v in curves["m-agent"].points] == [(10, .3), (20, .3), (80, .6), (150, 1.5)]
        assert curves["human"].human and [v for _, v in curves["human"].points] == [.1, .5, .9]


async def test_the_curves_follow_the_task_under_the_cursor(tmp_path):
    write_runs(tmp_path)
    budget_runs(tmp_path)
    app = MLGymApp(deterministic=True, start_screen=ResultsScreen([tmp_path]))
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        await until(pilot, lambda: screen.curves is not None, "the results and their curves")
        await pilot.pause()
        chart = screen.query_one("#score-curves")
        assert screen.curves_task == "3SATTime" and "3SATTime: best Time so far" in painted(chart)
        assert "within" not in screen.sub_title and "budget" not in chart.border_title
        await move_to(pilot, screen, "blotto", "human")
        assert screen.curves_task == "blotto"
        assert "★ human" in painted(chart) and cell_text(screen, "blotto", "human") == "0.9 / 0.9"


def test_snapshot_results_screen_within_a_budget(snap_compare, tmp_path):
    budget_runs(tmp_path)
    runs = collect_runs([tmp_path])
    timelines = read_timelines(runs)
    budget = Budget(seconds=30 * MIN)
    table = aggregate_within(runs, budget, timelines)
    app = MLGymApp(deterministic=True,
                   start_screen=ResultsScreen([tmp_path], table=table, budget=budget, timelines=timelines))

    async def settle(pilot):
        await pilot.pause()
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=settle)


def test_snapshot_results_screen(snap_compare, tmp_path):
    write_runs(tmp_path)
    runs = collect_runs([tmp_path])
    table = aggregate(runs)
    app = MLGymApp(deterministic=True,
                   start_screen=ResultsScreen([tmp_path], table=table, timelines=read_timelines(runs)))

    async def settle(pilot):
        await pilot.pause()
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=settle)
