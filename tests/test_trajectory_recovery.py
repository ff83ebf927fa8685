"""Reading what crashes and truncation leave behind, MLGym's own .traj files, and rejecting non-trajectories."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from mlgym_tui.stream.events import EpisodeEnded, EpisodeStarted, StepRecorded, ValidationScored
from mlgym_tui.trajectory import NOT_ENDED_WARNING, Recorder, TrajectoryError, load_run

FIXTURE = Path(__file__).parent / "fixtures" / "mlgym_sample.traj"
TASK = "rlMountainCarContinuous"


def record_run(run_dir: Path, steps: int, ended: bool = True) -> Path:
    recorder = Recorder(run_dir, TASK, {})
    recorder(EpisodeStarted(run_id="r", task_id=TASK, agent="default", model="m", mode="auto", engine="local",
                            max_steps=100, cost_limit=1.0))
    for n in range(1, steps + 1):
        recorder(StepRecorded(step=n, author="agent", action=f"cat log_{n}.txt", observation=f"line é {n}\n" * 20))
    if ended:
        recorder(EpisodeEnded(exit_status="submitted"))
    recorder.close()
    return run_dir


RECORDING_CHILD = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from mlgym_tui.stream.events import EpisodeStarted, StepRecorded
    from mlgym_tui.trajectory import Recorder

    recorder = Recorder(Path(sys.argv[1]), "{task}", {{"model": "m"}})
    recorder(EpisodeStarted(run_id="r", task_id="{task}", agent="a", model="m", mode="auto", engine="local",
                            max_steps=10**6, cost_limit=1.0))
    n = 0
    while True:
        n += 1
        recorder(StepRecorded(step=n, author="agent", action=f"echo {{n}}", observation="x" * 20000))
        print(n, flush=True)
    """
).format(task=TASK)


def test_sigkill_mid_episode_loses_at_most_the_step_in_flight(tmp_path):
    child = subprocess.Popen([sys.executable, "-c", RECORDING_CHILD, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    last_reported = 0
    try:
        deadline = time.monotonic() + 60
        traj_path = tmp_path / f"{TASK}.traj"
        # The .traj is rewritten on a thread, after events.jsonl is synced: in a loop this tight its first version
        # may come some dozens of steps in. Kill once it exists, wherever its writer then is.
        while (last_reported < 40 or not traj_path.exists()) and time.monotonic() < deadline:
            line = child.stdout.readline()
            if not line:
                break
            last_reported = int(line)
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    assert last_reported >= 40, "the recording child did not get going"

    run = load_run(tmp_path)
    numbers = [s.step for s in run.steps]
    assert numbers == list(range(1, len(numbers) + 1))
    # Every step the child finished recording (it printed after the recorder returned) is there.
    assert len(numbers) >= last_reported
    assert run.ended is None and NOT_ENDED_WARNING in run.warnings
    assert all(s.observation == "x" * 20000 for s in run.steps)

    # The atomically replaced .traj is complete JSON on its own, whatever moment the kill hit; being rewritten in
    # the background it may lag behind events.jsonl, never run ahead of it.
    traj = json.loads((tmp_path / f"{TASK}.traj").read_text())
    assert [e["step"] for e in traj["trajectory"]] == numbers[: len(traj["trajectory"])]


def test_truncated_events_jsonl_drops_only_the_broken_tail(tmp_path):
    run_dir = record_run(tmp_path / "run", steps=5)
    events_path = run_dir / "events.jsonl"
    data = events_path.read_bytes()
    last_line_start = data.rstrip(b"\n").rfind(b"\n") + 1
    events_path.write_bytes(data[: last_line_start + 20])

    run = load_run(run_dir)
    assert [s.step for s in run.steps] == [1, 2, 3, 4, 5]
    assert run.ended is None
    assert "events.jsonl: last line truncated (20 bytes), 1 partial event dropped" in run.warnings
    assert NOT_ENDED_WARNING in run.warnings


def test_events_jsonl_cut_anywhere_yields_a_prefix(tmp_path):
    full = load_run(record_run(tmp_path / "run", steps=6)).events
    data = (tmp_path / "run" / "events.jsonl").read_bytes()
    newlines = [i for i, byte in enumerate(data) if byte == ord("\n")]
    # Cuts inside lines, and exactly before a newline (a complete event whose newline never got written).
    cuts = list(range(newlines[0] + 1, len(data), 97)) + newlines
    for cut in cuts:
        partial = tmp_path / "cut.jsonl"
        partial.write_bytes(data[:cut])
        run = load_run(partial)
        complete_lines = data[:cut].count(b"\n") + (1 if cut in newlines else 0)
        assert run.events == full[:complete_lines], cut


def test_events_jsonl_cut_inside_its_first_line_is_an_error_not_an_empty_run(tmp_path):
    data = (record_run(tmp_path / "run", steps=1) / "events.jsonl").read_bytes()
    (tmp_path / "events.jsonl").write_bytes(data[:30])
    with pytest.raises(TrajectoryError, match="no event could be read"):
        load_run(tmp_path / "events.jsonl")


def test_garbage_line_in_the_middle_is_skipped_with_a_warning(tmp_path):
    run_dir = record_run(tmp_path / "run", steps=3)
    lines = (run_dir / "events.jsonl").read_bytes().split(b"\n")
    lines.insert(2, b'{"type": "step", "step": 9, "acti')
    (run_dir / "events.jsonl").write_bytes(b"\n".join(lines))
    run = load_run(run_dir)
    assert [s.step for s in run.steps] == [1, 2, 3]
    assert any(w.startswith("events.jsonl line 3: not valid JSON") for w in run.warnings)


def test_truncated_traj_recovers_the_complete_steps_before_the_cut(tmp_path):
    run_dir = record_run(tmp_path / "run", steps=8)
    data = (run_dir / f"{TASK}.traj").read_bytes()
    # Our .traj has one step per line: the k-th step ends with the k-th line of the trajectory list.
    marker = b'"trajectory": [\n'
    start = data.index(marker) + len(marker)
    step_ends = []
    pos = start
    for _ in range(8):
        pos = data.index(b"\n", pos) + 1
        step_ends.append(pos - 2 if data[pos - 2 : pos - 1] == b"," else pos - 1)
    cut_file = tmp_path / f"{TASK}.traj"
    for k in range(8):
        for cut in (step_ends[k], step_ends[k] + 1, step_ends[k] - 5):
            cut_file.write_bytes(data[:cut])
            run = load_run(cut_file)
            expected = k + 1 if cut > step_ends[k] - 1 else k
            assert [s.step for s in run.steps] == list(range(1, expected + 1)), cut
            assert any("truncated" in w for w in run.warnings)
            assert run.meta.task_id == TASK and run.meta.model == "m"


def test_truncated_mlgym_traj_with_indentation_recovers_steps(tmp_path):
    text = FIXTURE.read_text()
    cut = text.index('"action": "validate"')
    truncated = tmp_path / "battleOfSexes.traj"
    truncated.write_text(text[:cut])
    run = load_run(truncated)
    assert [s.action.split()[0] for s in run.steps] == ["ls", "open", "edit"]
    assert run.ended is None
    assert any('truncated inside "trajectory"' in w and "recovered 3 complete step(s)" in w for w in run.warnings)


def test_mlgym_traj_fixture_loads_as_an_event_stream(tmp_path):
    run = load_run(FIXTURE)
    assert [s.step for s in run.steps] == [1, 2, 3, 4, 5]
    assert all(s.author == "agent" for s in run.steps)
    assert run.steps[2].action.startswith("edit 7:10\n") and run.steps[2].action.endswith("end_of_edit")
    assert run.steps[2].state == {"open_file": "/home/agent/workspace/strategy.py", "working_dir": "/home/agent/workspace"}
    assert run.steps[3].duration == pytest.approx(6.2304)
    assert [(v.step, v.metrics["Score"], v.final) for v in run.validations] == [
        (4, pytest.approx(1.44108, abs=1e-5), False), (5, pytest.approx(1.43982, abs=1e-5), True)
    ]
    assert run.ended is not None and run.ended.exit_status == "submitted"
    assert run.ended.model_stats["api_calls"] == 5
    assert [type(e) for e in run.events] == [EpisodeStarted] + [StepRecorded] * 4 + [ValidationScored, StepRecorded,
                                                                                       ValidationScored, EpisodeEnded]
    assert run.meta.agent == "primary_0" and run.warnings == []


def test_mlgym_run_directory_gives_model_task_and_baseline(tmp_path):
    run_dir = tmp_path / "gpt4o__battleOfSexes__better_thought_action_parser_with_insert__t-0.00__p-0.95__c-4.00__install-0_run_0"
    run_dir.mkdir()
    (run_dir / "battleOfSexes.traj").write_text(FIXTURE.read_text())
    (run_dir / "results.json").write_text(json.dumps({"agent": [{"Score": 1.44}], "baseline": {"Score": 1.02}}))
    run = load_run(run_dir)
    assert (run.meta.model, run.meta.task_id) == ("gpt4o", "battleOfSexes")
    assert run.meta.baseline == {"Score": 1.02}
    assert run.validations[0].baseline == {"Score": 1.02}


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("notes.traj", "just some notes\n", "not a trajectory"),
        ("list.traj", "[1, 2, 3]", "not a trajectory"),
        ("other.traj", '{"name": "a config", "steps": 3}', 'no "trajectory" list'),
        ("empty.traj", "", "file is empty"),
        ("events.jsonl", "hello\nworld\n", "no event could be read"),
    ],
)
def test_non_trajectories_give_a_one_line_error_naming_the_file(tmp_path, name, content, expected):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(TrajectoryError) as caught:
        load_run(path)
    message = str(caught.value)
    assert str(path) in message and expected in message and "\n" not in message


def test_directory_without_a_run_is_rejected(tmp_path):
    with pytest.raises(TrajectoryError, match="no events.jsonl or .traj file"):
        load_run(tmp_path)
    with pytest.raises(TrajectoryError, match="no such file"):
        load_run(tmp_path / "missing")


def test_unreadable_events_jsonl_falls_back_to_the_traj(tmp_path):
    run_dir = record_run(tmp_path / "run", steps=4)
    (run_dir / "events.jsonl").write_bytes(b"")
    run = load_run(run_dir)
    assert run.source_format == "traj" and [s.step for s in run.steps] == [1, 2, 3, 4]
    assert "events file is empty" in run.warnings[0] and f"read {TASK}.traj instead" in run.warnings[0]
