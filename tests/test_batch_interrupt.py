"""Interrupting a batch (`mlgym-tui run --tasks ...` as a real process) and resuming it: SIGINT after the first
run finished stops the running episode at once, keeps the finished run as it is and exits non-zero; the same
command again skips the finished run, redoes the stopped one and completes the rest."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml
from conftest import get_engine
from episode_helpers import agent, answer
from model_server import scripted_server  # noqa: F401

from mlgym_tui.batch import episode_ended, inspect_slot
from mlgym_tui.batch.layout import INTERRUPTED_MARKER

REPO = Path(__file__).resolve().parents[1]
SUBMIT = answer("submit")


def events(run_dir: Path) -> list[dict]:
    path = run_dir / "events.jsonl"
    if not path.exists():
        return []
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def slot_runs(slot: Path) -> list[Path]:
    return sorted(p for p in slot.iterdir() if p.is_dir()) if slot.is_dir() else []


def wait_for(proc, predicate, what: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc.poll() is not None:
            raise AssertionError(f"the batch exited ({proc.returncode}) before {what}:\n{proc.stdout.read()}")
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_sigint_stops_the_batch_keeps_finished_runs_and_a_rerun_completes_it(scripted_server, tmp_path):
    engine = get_engine("podman")
    agent_path = tmp_path / "scripted.yaml"
    agent_path.write_text(yaml.safe_dump(agent(scripted_server, max_steps=3).model_dump(mode="json")))
    runs_dir = tmp_path / "runs"
    command = [sys.executable, "-m", "mlgym_tui.cli", "run", "--tasks", "battleOfSexes,prisonersDilemma",
               "--agent", str(agent_path), "--runs", "2", "--parallel", "1", "--engine", engine.name,
               "--runs-dir", str(runs_dir)]
    batch = runs_dir / "batch__openai-scripted__scripted"
    first_slot, second_slot = batch / "battleOfSexes__run_1", batch / "prisonersDilemma__run_1"

    # Run 1 submits at once; run 2 starts a long command, which is where the interrupt lands.
    scripted_server.set_script([SUBMIT, answer("sleep 120")])
    proc = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_for(proc, lambda: any(episode_ended(p) for p in slot_runs(first_slot)), "the first run finished")
        wait_for(proc, lambda: any(e.get("type") == "command_started" and e.get("action") == "sleep 120"
                                   for p in slot_runs(second_slot) for e in events(p)), "run 2 started its command")
        finished = slot_runs(first_slot)[0]
        finished_files = {p.name: p.read_bytes() for p in finished.iterdir() if p.is_file()}
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=30)
        took = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, output
    assert took < 20, f"the batch took {took:.1f}s to stop"
    assert "SIGINT received: stopping 1 running episode(s)" in output
    assert "re-run the same command" in output

    # The finished run is untouched and still counts as finished.
    assert {p.name: p.read_bytes() for p in finished.iterdir() if p.is_file()} == finished_files
    assert episode_ended(finished)["exit_status"] == "submitted"
    assert inspect_slot(first_slot).finished_run == finished
    # The stopped run ended cleanly (its files are complete) but is marked as not finished.
    stopped = slot_runs(second_slot)[0]
    assert episode_ended(stopped)["exit_status"] == "early_exit"
    assert (stopped / INTERRUPTED_MARKER).exists() and not inspect_slot(second_slot).finished
    # Nothing else was started.
    assert sorted(p.name for p in batch.iterdir()) == ["battleOfSexes__run_1", "prisonersDilemma__run_1"]
    assert len(scripted_server.requests) == 2

    # Resume: the same command skips the finished run and redoes the rest.
    scripted_server.set_script([SUBMIT] * 3)
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 finished run(s) skipped" in result.stdout
    assert f"deleted unfinished run {stopped}" in result.stdout
    assert len(scripted_server.requests) == 5 and scripted_server.remaining == 0
    assert slot_runs(first_slot) == [finished]
    assert {p.name: p.read_bytes() for p in finished.iterdir() if p.is_file()} == finished_files
    slots = sorted(p.name for p in batch.iterdir())
    assert slots == ["battleOfSexes__run_1", "battleOfSexes__run_2", "prisonersDilemma__run_1",
                     "prisonersDilemma__run_2"]
    for name in slots:
        runs = slot_runs(batch / name)
        assert len(runs) == 1 and episode_ended(runs[0])["exit_status"] == "submitted"
        assert not (runs[0] / INTERRUPTED_MARKER).exists()
    assert "AUP" in result.stdout and "prisonersDilemma" in result.stdout  # the closing results table
