"""Batch runs against real containers and the real scripted model server: parallel episodes, the batch layout,
resuming (skip finished, redo unfinished), --redo, results aggregation over the batch folder, bad input."""

import asyncio
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import get_engine
from episode_helpers import agent, answer
from model_server import scripted_server  # noqa: F401
from rich.console import Console

from mlgym_tui.batch import BatchRunner, episode_ended, inspect_slot
from mlgym_tui.commands.batch import resolve_tasks
from mlgym_tui.batch.layout import INTERRUPTED_MARKER
from mlgym_tui.config.runtime import RuntimeConfig
from mlgym_tui.evaluation import aggregate, collect_runs

REPO = Path(__file__).resolve().parents[1]
TASKS = ["battleOfSexes", "prisonersDilemma"]
SUBMIT = answer("submit", thought="Submitting the starter strategy.")


def make_runner(server, engine, runs_dir, *, runs=2, parallel=2, redo=False, tasks=TASKS, terminal=False):
    out = io.StringIO()
    runner = BatchRunner(
        resolve_tasks(tasks), agent(server, max_steps=3), runs=runs, parallel=parallel, runs_dir=runs_dir,
        engine=engine, runtime=RuntimeConfig(memory="1g"), redo=redo,
        console=Console(file=out, width=200, highlight=False, force_terminal=terminal),
    )
    return runner, out


def run_dirs(batch_dir: Path) -> dict[str, list[Path]]:
    return {slot.name: sorted(p for p in slot.iterdir() if p.is_dir()) for slot in sorted(batch_dir.iterdir())}


def test_parallel_batch_two_tasks_two_runs(scripted_server, engine, tmp_path):
    # One global queue serves whichever episode asks first, so every reply is valid for any task.
    scripted_server.set_script([SUBMIT] * 4)
    runner, out = make_runner(scripted_server, engine, tmp_path / "runs")
    outcome = asyncio.run(runner.run())
    log = out.getvalue()

    assert outcome.exit_code == 0, log
    assert [(s.task_id, s.run_index, s.status) for s in outcome.slots] == [
        ("battleOfSexes", 1, "submitted"), ("prisonersDilemma", 1, "submitted"),
        ("battleOfSexes", 2, "submitted"), ("prisonersDilemma", 2, "submitted"),
    ]
    assert len(scripted_server.requests) == 4 and scripted_server.remaining == 0
    assert outcome.batch_dir == tmp_path / "runs" / "batch__openai-scripted__scripted"
    dirs = run_dirs(outcome.batch_dir)
    assert sorted(dirs) == ["battleOfSexes__run_1", "battleOfSexes__run_2",
                            "prisonersDilemma__run_1", "prisonersDilemma__run_2"]
    names = set()
    for slot, found in dirs.items():
        assert len(found) == 1, (slot, found)
        run_dir = found[0]
        names.add(run_dir.name)
        task = slot.split("__")[0]
        assert run_dir.name.endswith(f"__openai-scripted__{task}__scripted")
        assert episode_ended(run_dir)["exit_status"] == "submitted"
        results = json.loads((run_dir / "results.json").read_text())
        assert isinstance(results["agent"], list) and "Score" in results["agent"][-1]
        assert results["baseline"] == resolve_tasks([task])[0].baseline
        assert (run_dir / f"{task}.traj").is_file()
        assert inspect_slot(run_dir.parent).finished
    assert len(names) == 4  # each episode its own run directory (and container)
    # parallel: the second episode started before the first one ended
    lines = [x for x in log.splitlines() if x.startswith("[")]
    assert lines.index(next(x for x in lines if "started in" in x and "prisonersDilemma run 1" in x)) < \
        lines.index(next(x for x in lines if "submitted after" in x))

    runs = collect_runs([outcome.batch_dir])
    assert len(runs) == 4 and not [r.problem for r in runs if r.problem]
    table = aggregate(runs)
    assert table.tasks == sorted(TASKS) or set(table.tasks) == set(TASKS)
    for task in TASKS:
        cell = table.cell(task, "openai/scripted")
        assert cell is not None and len(cell.runs) == 2, table.cells.keys()
        assert cell.best.value is not None
    assert table.model_stats["openai/scripted"].exit_statuses == {"submitted": 4}


def test_rerun_skips_finished_redoes_unfinished_and_redo_reruns(scripted_server, tmp_path):
    engine = get_engine("docker")
    runs_dir = tmp_path / "runs"
    scripted_server.set_script([SUBMIT] * 4)
    runner, _ = make_runner(scripted_server, engine, runs_dir, parallel=1)
    first = asyncio.run(runner.run())
    assert first.exit_code == 0 and all(s.status == "submitted" for s in first.slots)
    before = run_dirs(first.batch_dir)
    kept = before["battleOfSexes__run_1"][0]
    kept_events = (kept / "events.jsonl").read_bytes()

    # A run killed mid-episode (no EpisodeEnded) and one the batch stopped itself (marked) are both unfinished.
    torn = before["prisonersDilemma__run_1"][0]
    lines = (torn / "events.jsonl").read_text().splitlines()
    (torn / "events.jsonl").write_text("\n".join(x for x in lines if '"episode_ended"' not in x) + "\n")
    stopped = before["battleOfSexes__run_2"][0]
    (stopped / INTERRUPTED_MARKER).write_text("SIGINT received\n")
    assert not inspect_slot(torn.parent).finished and not inspect_slot(stopped.parent).finished

    scripted_server.set_script([SUBMIT] * 2)
    runner, out = make_runner(scripted_server, engine, runs_dir, parallel=2)
    second = asyncio.run(runner.run())
    log = out.getvalue()
    assert second.exit_code == 0, log
    assert len(scripted_server.requests) == 6  # 4 + only the 2 redone ones
    status = {(s.task_id, s.run_index): s.status for s in second.slots}
    assert status == {("battleOfSexes", 1): "skipped (submitted)", ("prisonersDilemma", 2): "skipped (submitted)",
                      ("prisonersDilemma", 1): "submitted", ("battleOfSexes", 2): "submitted"}
    after = run_dirs(second.batch_dir)
    assert after["battleOfSexes__run_1"] == [kept] and (kept / "events.jsonl").read_bytes() == kept_events
    assert not torn.exists() and not stopped.exists()  # the unfinished ones were deleted, then redone
    assert f"deleted unfinished run {torn}" in log
    assert all(len(v) == 1 and episode_ended(v[0]) for v in after.values())

    # --redo: everything again, the old run directories replaced; on a terminal, as a live table
    scripted_server.set_script([SUBMIT] * 4)
    runner, out = make_runner(scripted_server, engine, runs_dir, parallel=2, redo=True, terminal=True)
    third = asyncio.run(runner.run())
    assert third.exit_code == 0 and all(s.status == "submitted" for s in third.slots)
    live = out.getvalue()
    assert runner.live and "best score" in live and "started in" not in live  # a table, not lines
    assert "prisonersDilemma" in live and "Score 2.60796 (baseline 2.60796)" in live
    redone = run_dirs(third.batch_dir)
    assert all(len(v) == 1 and v[0] not in after[k] for k, v in redone.items())
    assert len(collect_runs([third.batch_dir])) == 4


def cli(*args: str):
    return subprocess.run([sys.executable, "-m", "mlgym_tui.cli", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=60)


@pytest.mark.parametrize("args, message", [
    (["--tasks", "battleOfSexes,noSuchTask"], "unknown task 'noSuchTask'"),
    (["--tasks", "battleOfSexes", "--runs", "0"], "--runs must be at least 1, got 0"),
    (["--tasks", "battleOfSexes", "--parallel", "-1"], "--parallel must be at least 1, got -1"),
    (["--tasks", ","], "--tasks is empty"),
    (["--tasks", "battleOfSexes", "--mode", "confirm"], "batch runs are auto only"),
    (["--tasks", "battleOfSexes", "--task", "blotto"], "either --task (one episode) or --tasks"),
    (["--tasks", "battleOfSexes", "--agent", "human"], "a batch needs an llm, baseline or replay agent"),
    (["--tasks", "battleOfSexes", "--agent", "baseline", "--model", "gpt-4o"], "--model/--api-base need an llm"),
])
def test_bad_batch_input_is_one_line_and_exit_2(args, message, tmp_path):
    result = cli("run", *args, "--runs-dir", str(tmp_path / "runs"), "--engine", "docker")
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert not (tmp_path / "runs").exists()  # nothing started, nothing written
