"""The headless `mlgym-tui run` / `replay` as real subprocesses: SIGKILL recovery, confirm and human modes
from stdin, exit codes."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml
from episode_helpers import agent, answer
from model_server import scripted_server  # noqa: F401

from mlgym_tui.trajectory import load_run

REPO = Path(__file__).resolve().parents[1]


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "mlgym_tui.cli", *args]


def agent_file(server, tmp_path, max_steps=10) -> Path:
    path = tmp_path / "scripted.yaml"
    path.write_text(yaml.safe_dump(agent(server, max_steps=max_steps).model_dump(mode="json")))
    return path


def only_run_dir(runs: Path) -> Path:
    dirs = [p for p in runs.iterdir() if p.is_dir()]
    assert len(dirs) == 1, dirs
    return dirs[0]


def test_sigkill_mid_episode_loses_at_most_the_step_in_flight(scripted_server, engine, tmp_path):
    scripted_server.set_script([answer("echo first-step"), answer("echo second-step"), answer("sleep 600")])
    runs = tmp_path / "runs"
    proc = subprocess.Popen(
        cli("run", "--task", "battleOfSexes", "--agent", str(agent_file(scripted_server, tmp_path)),
            "--engine", engine.name, "--runs-dir", str(runs)),
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stdout.read()
            files = list(runs.glob("*/events.jsonl"))
            lines = files[0].read_text().splitlines() if files else []
            if any(json.loads(x).get("type") == "command_started" and json.loads(x).get("action") == "sleep 600"
                   for x in lines if x.strip()):
                break
            assert time.monotonic() < deadline, "the run never reached `sleep 600`"
            time.sleep(0.1)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    run = load_run(only_run_dir(runs))
    assert [s.action for s in run.steps] == ["echo first-step", "echo second-step"]
    assert run.ended is None and any("not ended" in w for w in run.warnings)
    traj = (only_run_dir(runs) / "battleOfSexes.traj").read_text()
    assert "second-step" in traj
    assert engine.cleanup()  # the killed run's container was left behind; cleanup finds it (owner is dead)


def test_confirm_mode_from_stdin_edit_then_approve(scripted_server, engine, tmp_path):
    scripted_server.set_script([answer("echo from-model"), answer("submit")])
    runs = tmp_path / "runs"
    result = subprocess.run(
        cli("run", "--task", "battleOfSexes", "--agent", str(agent_file(scripted_server, tmp_path)),
            "--engine", engine.name, "--runs-dir", str(runs), "--mode", "confirm"),
        cwd=REPO, input="e\necho typed-edit\na\n", capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "proposed (step 1)" in result.stdout and "echo from-model" in result.stdout
    run = load_run(only_run_dir(runs))
    assert [(s.action, s.edited_from) for s in run.steps] == [("echo typed-edit", "echo from-model"), ("submit", None)]
    assert run.ended.exit_status == "submitted"


def test_human_agent_from_stdin_and_replay_listing(engine, tmp_path):
    runs = tmp_path / "runs"
    result = subprocess.run(
        cli("run", "--task", "battleOfSexes", "--agent", "human", "--engine", engine.name, "--runs-dir", str(runs)),
        cwd=REPO, input="echo hello-from-person\nsubmit\n", capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    run_dir = only_run_dir(runs)
    run = load_run(run_dir)
    assert [(s.author, s.action) for s in run.steps] == [("human", "echo hello-from-person"), ("human", "submit")]
    listing = subprocess.run(cli("replay", str(run_dir)), cwd=REPO, capture_output=True, text=True, timeout=60)
    assert listing.returncode == 0
    assert "1 [human] echo hello-from-person" in listing.stdout and "exit status: submitted" in listing.stdout


def test_human_stdin_closed_without_submit_fails(engine, tmp_path):
    runs = tmp_path / "runs"
    result = subprocess.run(
        cli("run", "--task", "battleOfSexes", "--agent", "human", "--engine", engine.name, "--runs-dir", str(runs)),
        cwd=REPO, input="echo only\n", capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 1
    assert load_run(only_run_dir(runs)).ended.exit_status == "early_exit"


def test_bad_input_is_one_line_and_exit_code_2(tmp_path):
    result = subprocess.run(cli("run", "--task", "noSuchTask", "--runs-dir", str(tmp_path)), cwd=REPO,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "unknown task 'noSuchTask'" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    result = subprocess.run(cli("fork", str(tmp_path / "missing"), "--step", "1"), cwd=REPO,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "no such file or directory" in result.stderr
