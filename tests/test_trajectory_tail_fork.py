"""Follow mode (EventTail) against a file written by another process, and the fork helpers."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mlgym_tui.stream.events import EpisodeStarted, StepRecorded
from mlgym_tui.trajectory import EventTail, Recorder, TrajectoryError, fork_meta, fork_prefix, load_run

TASK = "imageClassificationCifar10"

# Appends to events.jsonl the way a recorder in another process would; each command is one line on stdin so the
# test decides exactly where the writer stops, including in the middle of a line.
WRITER = textwrap.dedent(
    """
    import sys
    with open(sys.argv[1], "ab", buffering=0) as out:
        for command in sys.stdin:
            out.write(bytes.fromhex(command.strip()))
            print("done", flush=True)
    """
)


def event_line(n: int) -> bytes:
    event = StepRecorded(step=n, author="agent", action=f"python train.py --epochs {n}", observation="acc 0.9 ✓")
    return (json.dumps(event.to_dict(), ensure_ascii=False) + "\n").encode()


def test_event_tail_follows_another_process_including_a_line_written_in_two_halves(tmp_path):
    path = tmp_path / "events.jsonl"
    tail = EventTail(path)
    assert tail.read_new() == []  # not created yet

    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)

    def append(data: bytes) -> None:
        writer.stdin.write(data.hex() + "\n")
        writer.stdin.flush()
        assert writer.stdout.readline().strip() == "done"

    try:
        append(event_line(1) + event_line(2))
        assert [e.step for e in tail.read_new()] == [1, 2]
        assert tail.read_new() == []

        third = event_line(3)
        # Cut inside the multi-byte check mark so the first half is not even valid UTF-8.
        split_at = third.index("✓".encode()) + 1
        append(third[:split_at])
        assert tail.read_new() == []
        append(third[split_at:] + event_line(4)[:10])
        new = tail.read_new()
        assert [(e.step, e.observation) for e in new] == [(3, "acc 0.9 ✓")]
        append(event_line(4)[10:])
        assert [e.step for e in tail.read_new()] == [4]
        assert tail.warnings == []
    finally:
        writer.stdin.close()
        writer.wait(timeout=30)


def test_event_tail_reports_bad_lines_and_restarts_after_truncation(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_bytes(event_line(1) + b"not json\n" + event_line(2))
    tail = EventTail(path)
    assert [e.step for e in tail.read_new()] == [1, 2]
    assert tail.warnings and "line 2: not valid JSON" in tail.warnings[0]
    path.write_bytes(event_line(7))
    assert [e.step for e in tail.read_new()] == [7]
    assert "replaced or truncated" in tail.warnings[-1]


def recorded_parent(run_dir: Path, steps: int) -> Path:
    with Recorder(run_dir, TASK, {}) as recorder:
        recorder(EpisodeStarted(run_id="p", task_id=TASK, agent="default", model="m", mode="auto", engine="local",
                                max_steps=50, cost_limit=1.0, baseline={"accuracy": 0.5},
                                metrics=[{"name": "accuracy", "direction": "max", "primary": True}]))
        for n in range(1, steps + 1):
            recorder(StepRecorded(step=n, author="agent" if n != 2 else "human", action=f"step {n}", observation=""))
    return run_dir


def test_fork_prefix_returns_the_first_n_steps_and_rejects_out_of_range(tmp_path):
    run = load_run(recorded_parent(tmp_path / "parent", steps=5))
    assert [s.action for s in fork_prefix(run, 3)] == ["step 1", "step 2", "step 3"]
    assert fork_prefix(run, 0) == [] and len(fork_prefix(run, 5)) == 5
    for bad in (-1, 6):
        with pytest.raises(TrajectoryError, match=r"cannot fork at step .*the run has 5 step\(s\), choose 0\.\.5"):
            fork_prefix(run, bad)


def test_fork_meta_links_the_new_run_to_its_parent(tmp_path):
    parent = recorded_parent(tmp_path / "parent", steps=4)
    meta = fork_meta(parent, 2)
    assert meta["parent"] == str(parent.resolve()) and meta["fork_step"] == 2
    assert meta["task_id"] == TASK and meta["baseline"] == {"accuracy": 0.5}
    child = EpisodeStarted(run_id="c", agent="default", model="m", mode="auto", engine="local", max_steps=50,
                           cost_limit=1.0, **meta)
    assert (child.parent, child.fork_step) == (str(parent.resolve()), 2)
    with pytest.raises(TrajectoryError, match="cannot fork at step 9"):
        fork_meta(parent, 9)
