"""mlgym-tui compare and the Compare screen over two synthetic recorded runs (events.jsonl with steps, validations
and WorkspaceSnapshot events, blobs in each run's BlobStore): alignment by step number and by actions, the score
series, the workspace diff, the CLI's text and the screen driven by a pilot."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from mlgym_tui.cli import main
from mlgym_tui.stream import events as ev
from mlgym_tui.trajectory.compare import (
    align,
    compare_runs,
    header_rows,
    normalize_action,
    read_side,
    score_rows,
)
from mlgym_tui.trajectory.workspace_store import BlobStore

T0 = 1_700_000_000.0
TRAIN_V1 = "lr = 0.1\nepochs = 3\n"
TRAIN_A = "lr = 0.01\nepochs = 3\n"
TRAIN_B = "lr = 0.1\nepochs = 10\n"
METRICS = [{"name": "Score", "direction": "maximize", "primary": True}]


def _file(run_dir: Path, path: str, text: str) -> dict:
    data = text.encode()
    sha = BlobStore(run_dir).put(data)
    assert sha == hashlib.sha256(data).hexdigest()
    return {"path": path, "kind": "file", "mode": 0o644, "size": len(data), "sha256": sha, "stored": True}


def write_run(folder: Path, name: str, agent: str, steps: list[tuple], task: str = "battleOfSexes",
              who: str = "") -> Path:
    """steps: (action, author, exit code, score or None, changed {path: text}, deleted [paths]) per step."""
    run_dir = folder / name
    run_dir.mkdir(parents=True)
    t = T0
    out: list[ev.Event] = [
        ev.EpisodeStarted(t=t, run_id=name, task_id=task, agent=agent, model="gpt-4o" if agent != "human" else "human",
                          mode="auto", engine="docker", max_steps=20, cost_limit=2.0, baseline={"Score": 1.0},
                          metrics=METRICS, who=who),
        ev.WorkspaceSnapshot(t=t, step=0, changed=[_file(run_dir, "train.py", TRAIN_V1),
                                                   _file(run_dir, "data.csv", "x,y\n1,2\n"),
                                                   _file(run_dir, "notes.txt", "todo\n")], files=3),
    ]
    for number, (action, author, code, score, changed, deleted) in enumerate(steps, start=1):
        t += 10
        out.append(ev.StepRecorded(t=t, step=number, author=author, action=action, observation=f"out {number}",
                                   thought=f"thinking about step {number}", exit_code=code, duration=1.5,
                                   cost=0.01 if author == "agent" else 0.0))
        if score is not None:
            out.append(ev.ValidationScored(t=t, step=number, metrics={"Score": score}, baseline={"Score": 1.0},
                                           final=action == "submit"))
        if changed or deleted:
            out.append(ev.WorkspaceSnapshot(t=t, step=number, changed=[_file(run_dir, p, x) for p, x in changed.items()],
                                            deleted=list(deleted), files=3))
    out.append(ev.EpisodeEnded(t=t + 1, exit_status="submitted", wall_s=t + 1 - T0, active_s=t - T0))
    (run_dir / "events.jsonl").write_text("".join(json.dumps(e.to_dict()) + "\n" for e in out), encoding="utf-8")
    scores = [{"Score": step[3]} for step in steps if step[3] is not None]
    (run_dir / "results.json").write_text(json.dumps({"agent": scores, "baseline": {"Score": 1.0}}))
    return run_dir


def run_a(folder: Path) -> Path:
    return write_run(folder, "2026-01-01T00-00-00__gpt-4o__battleOfSexes__default", "default", [
        ("ls", "agent", 0, None, {}, []),
        ("sed -i s/0.1/0.01/ train.py", "agent", 0, None, {"train.py": TRAIN_A}, []),
        ("validate", "agent", 0, 1.2, {}, []),
        ("echo a > only_a.txt", "agent", 0, None, {"only_a.txt": "a\n"}, []),
        ("submit", "agent", 0, 1.5, {}, []),
    ])


def run_b(folder: Path) -> Path:
    return write_run(folder, "2026-01-02T00-00-00__human__battleOfSexes__human", "human", [
        ("ls", "human", 0, None, {}, []),
        ("cat train.py", "human", 0, None, {}, []),
        ("sed -i  s/0.1/0.01/   train.py", "human", 0, None, {"train.py": TRAIN_B}, []),
        ("validate", "human", 0, 0.9, {}, []),
        ("rm notes.txt; echo b > only_b.txt", "human", 1, None, {"only_b.txt": "b\n"}, ["notes.txt"]),
        ("submit", "human", 0, 1.1, {}, []),
    ], who="ada")


@pytest.fixture
def runs(tmp_path):
    return run_a(tmp_path), run_b(tmp_path)


def _pairs(rows):
    return [(r.a.step if r.a else None, r.b.step if r.b else None, r.kind) for r in rows]


def test_alignment_by_index_and_by_actions(runs):
    a, b = read_side(runs[0]), read_side(runs[1])
    assert _pairs(align(a.steps, b.steps, "index")) == [
        (1, 1, "same"), (2, 2, "changed"), (3, 3, "changed"), (4, 4, "changed"), (5, 5, "changed"),
        (None, 6, "only-b")]
    assert normalize_action("  sed -i  s/0.1/0.01/   train.py ") == "sed -i s/0.1/0.01/ train.py"
    assert _pairs(align(a.steps, b.steps, "actions")) == [
        (1, 1, "same"), (None, 2, "only-b"), (2, 3, "same"), (3, 4, "same"), (4, 5, "changed"), (5, 6, "same")]
    with pytest.raises(ValueError, match="unknown alignment"):
        align(a.steps, b.steps, "sideways")


def test_scores_header_and_workspace_diff(runs):
    comparison = compare_runs(*runs, how="actions")
    assert comparison.scores_a.points == [(3, 1.2), (5, 1.5)]
    assert comparison.scores_b.points == [(4, 0.9), (6, 1.1)]
    assert comparison.scores_b.best_so_far() == [(4, 0.9), (6, 1.1)]
    assert score_rows(comparison.scores_a, comparison.scores_b) == [
        (3, 1.2, None), (4, None, 0.9), (5, 1.5, None), (6, None, 1.1)]
    header = {what: (x, y) for what, x, y in header_rows(comparison)}
    assert header["best score"] == ("1.5 (beats baseline 1)", "1.1 (beats baseline 1)")
    assert header["agent / model"] == ("default / gpt-4o", "human (ada) / human")
    assert header["steps"] == ("5", "6") and header["exit status"] == ("submitted", "submitted")
    assert comparison.notes == []

    diff = comparison.workspace
    assert (diff.step_a, diff.step_b) == (4, 5)  # each run's last snapshot
    kinds = {f.path: f.kind for f in diff.files}
    assert kinds == {"data.csv": "same", "notes.txt": "only-a", "only_a.txt": "only-a", "only_b.txt": "only-b",
                     "train.py": "differ"}
    text = comparison.file_diff("train.py")
    assert "-lr = 0.01" in text and "+lr = 0.1" in text and "+epochs = 10" in text and "A step 4" in text
    assert comparison.file_diff("data.csv") == "data.csv: unchanged"

    # chosen steps: A before its edit against B after its edit
    comparison.with_workspace_at(1, 3)
    assert {f.path: f.kind for f in comparison.workspace.files}["train.py"] == "differ"
    assert "only_a.txt" not in {f.path for f in comparison.workspace.files}
    assert "+epochs = 10" in comparison.file_diff("train.py") and "-lr = 0.1" not in comparison.file_diff("train.py")


def test_runs_without_snapshots_or_steps_and_of_other_tasks(tmp_path):
    plain = write_run(tmp_path, "plain", "default", [("ls", "agent", 0, 0.5, {}, [])], task="blotto")
    lines = [line for line in (plain / "events.jsonl").read_text().splitlines() if "workspace_snapshot" not in line]
    (plain / "events.jsonl").write_text("\n".join(lines) + "\n")
    empty = write_run(tmp_path, "empty", "default", [])
    comparison = compare_runs(plain, empty)
    assert any("different tasks (blotto and battleOfSexes)" in n for n in comparison.notes)
    assert any("has no steps" in n for n in comparison.notes)
    assert comparison.workspace.step_a is None and "no workspace snapshots in A" in comparison.workspace.notes[0]
    assert _pairs(comparison.rows) == [(1, None, "only-a")]


def test_cli_prints_header_steps_scores_and_diffs(runs, capsys):
    assert main(["compare", str(runs[0]), str(runs[1]), "--align", "actions", "--diff", "train.py"]) == 0
    out = capsys.readouterr().out
    for wanted in ("human (ada) / human", "default / gpt-4o", "1.5 (beats baseline 1)",
                   "steps aligned by matching actions: 4 same (=), 1 different (~), 0 only in A (<), 1 only in B (>)",
                   "cat train.py", "best score so far, by step", "scores over steps (Score)",
                   "A after step 4 vs B after step 5: 1 differ, 2 only in A, 1 only in B, 1 same",
                   "only_b.txt", "+epochs = 10"):
        assert wanted in out, wanted
    assert "data.csv" not in out  # same files are counted, not listed

    assert main(["compare", str(runs[0]), str(runs[1]), "--full", "--step-a", "0", "--step-b", "0"]) == 0
    out = capsys.readouterr().out
    assert "A after step 0 vs B after step 0: 0 differ, 0 only in A, 0 only in B, 3 same" in out

    assert main(["compare", str(runs[0]), str(runs[1]) + "-missing"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no such file or directory" in err

    assert main(["compare", str(runs[0]), str(runs[1]), "--diff", "nope.py"]) == 1
    assert "--diff nope.py: in neither workspace" in capsys.readouterr().out


async def test_compare_screen(runs, tmp_path):
    from textual.widgets import DataTable, Static

    from mlgym_tui.tui.app import MLGymApp
    from mlgym_tui.tui.screens.compare import CompareScreen
    from mlgym_tui.tui.widgets.step_card import StepCard

    # as `compare --tui` opens it: with the comparison the command made
    app = MLGymApp(deterministic=True, start_screen=CompareScreen(comparison=compare_runs(*runs)))
    async with app.run_test(size=(160, 48)) as pilot:
        screen = app.screen
        await pilot.pause()
        steps = screen.query_one("#compare-steps", DataTable)
        assert steps.row_count == 6
        card_a, card_b = screen.query_one("#card-a", StepCard), screen.query_one("#card-b", StepCard)
        assert card_a.step_view.step == 1 and card_b.step_view.step == 1
        await pilot.press("down", "down")
        assert card_a.step_view.step == 3 and card_b.step_view.step == 3
        await pilot.press("i")  # align by actions
        assert screen.comparison.align == "actions"
        await pilot.press("home", "down")
        assert screen.query_one("#card-a-gap", Static).display and card_b.step_view.step == 2
        files = screen.query_one("#compare-files", DataTable)
        assert files.row_count == 4  # differing and one-sided files
        await pilot.press("w")  # A after step 1 (its last above the gap), B after step 2: both still as given
        assert (screen.comparison.workspace.step_a, screen.comparison.workspace.step_b) == (1, 2)
        assert files.row_count == 0
        await pilot.press("W")
        assert files.row_count == 4
        files.focus()
        await pilot.pause()
        row = [str(files.get_row_at(i)[0]) for i in range(files.row_count)].index("train.py")
        files.move_cursor(row=row)
        await pilot.press("enter")
        await pilot.pause()
        assert "+epochs = 10" in screen.diff_text


async def test_results_screen_c_on_two_runs_opens_the_compare(runs, tmp_path):
    from mlgym_tui.tui.app import MLGymApp
    from mlgym_tui.tui.screens.compare import CompareScreen
    from mlgym_tui.tui.screens.results import ResultsScreen

    app = MLGymApp(deterministic=True, runs_dir=tmp_path, start_screen=ResultsScreen([tmp_path]))
    async with app.run_test(size=(160, 48)) as pilot:
        results = app.screen
        while results.table is None:
            await pilot.pause(0.02)
        grid = results.query_one("#results-table")
        grid.focus()
        for model in ("gpt-4o", "human"):
            grid.move_cursor(row=grid.get_row_index("battleOfSexes"), column=grid.get_column_index(model))
            await pilot.press("c")
        assert isinstance(app.screen, CompareScreen)
        while app.screen.comparison is None:
            await pilot.pause(0.02)
        assert [p.name for p in app.screen.paths] == [runs[0].name, runs[1].name]
        assert app.screen.query_one("#compare-steps").row_count == 6
        await pilot.press("escape")
        assert app.screen is results and results.compare_mark is None
