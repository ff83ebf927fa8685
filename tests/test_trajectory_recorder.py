"""Recorder: the files a run leaves, their MLGym shape after every step, redaction, and reading them back."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
import yaml

from mlgym_tui.stream.events import (
    EpisodeEnded,
    EpisodeStarted,
    ModelResponse,
    OutputChunk,
    StepRecorded,
    Token,
    ValidationScored,
)
from mlgym_tui.trajectory import REDACTED, Recorder, load_run, make_run_dir, redact

TASK = "battleOfSexes"
MLGYM_STEP_KEYS = {"action", "observation", "response", "state", "thought", "execution_time"}
OUR_STEP_KEYS = {"author", "started_at", "exit_code", "tokens_in", "tokens_out", "cost", "edited_from"}


def started() -> EpisodeStarted:
    return EpisodeStarted(
        run_id="run-1", task_id=TASK, agent="default", model="gpt-4o", mode="confirm", engine="local",
        max_steps=50, cost_limit=3.0, baseline={"Score": 1.02},
        metrics=[{"name": "Score", "direction": "max", "primary": True}],
    )


def step(n: int, author: str = "agent", observation: str | None = None) -> StepRecorded:
    return StepRecorded(
        step=n, author=author, action=f"python run.py --seed {n}",
        observation=observation if observation is not None else f"seed {n}: ok\n",
        thought=f"try seed {n}", response=f"try seed {n}\n```\npython run.py --seed {n}\n```",
        state={"open_file": "n/a", "working_dir": "/home/agent/workspace"}, exit_code=0,
        started_at=1_700_000_000.0 + n, duration=0.25, tokens_in=100 + n, tokens_out=10, cost=0.01,
    )


def read_traj(run_dir: Path) -> dict:
    return json.loads((run_dir / f"{TASK}.traj").read_text())


def test_run_dir_name_is_sanitised_and_never_reused(tmp_path):
    now = datetime(2025, 3, 4, 5, 6, 7)
    first = make_run_dir(tmp_path / "runs", "openai/gpt-4o mini", TASK, "default agent", now=now)
    second = make_run_dir(tmp_path / "runs", "openai/gpt-4o mini", TASK, "default agent", now=now)
    assert first.name == "20250304-050607__openai-gpt-4o-mini__battleOfSexes__default-agent"
    assert second.name == first.name + "-2"
    assert first.is_dir() and second.is_dir()


@pytest.mark.parametrize("in_background", [False, True])
def test_traj_is_valid_mlgym_json_after_every_step(tmp_path, in_background):
    recorder = Recorder(tmp_path, TASK, {"model": {"name": "gpt-4o"}}, traj_in_background=in_background)
    recorder(started())
    for n in range(1, 6):
        recorder(step(n, author="human" if n == 3 else "agent"))
        if in_background:
            recorder.flush()
        traj = read_traj(tmp_path)
        assert traj["environment"] == "mlgym_main"
        assert len(traj["trajectory"]) == n
        entry = traj["trajectory"][-1]
        assert MLGYM_STEP_KEYS | OUR_STEP_KEYS <= set(entry)
        assert json.loads(entry["state"]) == {"open_file": "n/a", "working_dir": "/home/agent/workspace"}
        assert entry["action"] == f"python run.py --seed {n}"
        assert set(traj["info"]["model_stats"]) == {"total_cost", "task_cost", "tokens_sent", "tokens_received", "api_calls"}
    assert [e["author"] for e in read_traj(tmp_path)["trajectory"]] == ["agent", "agent", "human", "agent", "agent"]
    recorder.close()


def test_recorder_writes_every_file_and_results_follow_validations(tmp_path):
    recorder = Recorder(tmp_path, TASK, {"agent": "default"})
    recorder(started())
    recorder.flush()  # results.json is rewritten off the caller's thread, like the .traj
    assert json.loads((tmp_path / "results.json").read_text()) == {"agent": [], "baseline": {"Score": 1.02}}
    recorder(step(1))
    recorder(ValidationScored(step=1, metrics={"Score": 1.3}, baseline={"Score": 1.02}))
    recorder.set_history([{"role": "system", "content": "You are a researcher", "agent": "primary_0"}])
    recorder.set_model_stats({"total_cost": 0.5, "tokens_sent": 900, "api_calls": 3})
    recorder(step(2))
    recorder(ValidationScored(step=2, metrics={"Score": 1.5}, baseline={"Score": 1.02}, submission="target.py", final=True))
    recorder(EpisodeEnded(exit_status="submitted", submission="target.py"))
    recorder.close()

    assert sorted(p.name for p in tmp_path.iterdir()) == ["battleOfSexes.traj", "config.yaml", "events.jsonl", "results.json"]
    results = json.loads((tmp_path / "results.json").read_text())
    assert results == {"agent": [{"Score": 1.3}, {"Score": 1.5}], "baseline": {"Score": 1.02}}
    info = read_traj(tmp_path)["info"]
    assert info["exit_status"] == "submitted" and info["submission"] == "target.py"
    assert info["score"] == [{"Score": 1.3}, {"Score": 1.5}]
    assert info["model_stats"]["total_cost"] == 0.5 and info["model_stats"]["api_calls"] == 3
    assert read_traj(tmp_path)["history"][0]["content"] == "You are a researcher"
    lines = (tmp_path / "events.jsonl").read_text().splitlines()
    assert [json.loads(line)["type"] for line in lines] == [
        "episode_started", "step", "validation_scored", "step", "validation_scored", "episode_ended"
    ]


def test_transient_events_stay_out_of_events_jsonl_unless_asked(tmp_path):
    quiet = Recorder(tmp_path / "quiet", TASK, {})
    chatty = Recorder(tmp_path / "chatty", TASK, {}, record_transient=True)
    for recorder in (quiet, chatty):
        recorder(started())
        recorder(Token(step=1, text="hel"))
        recorder(OutputChunk(step=1, data="\x1b[31mred\x1b[0m"))
        recorder(ModelResponse(step=1, content="hello"))
        recorder.close()
    types = lambda d: [json.loads(l)["type"] for l in (d / "events.jsonl").read_text().splitlines()]  # noqa: E731
    assert types(tmp_path / "quiet") == ["episode_started", "model_response"]
    assert types(tmp_path / "chatty") == ["episode_started", "token", "output_chunk", "model_response"]


def test_history_items_are_serialised_once_and_new_ones_appended(tmp_path):
    recorder = Recorder(tmp_path, TASK, {})
    recorder(started())
    history = [{"role": "system", "content": "sys"}]
    recorder.set_history(history)
    history = history + [{"role": "user", "content": "step 1"}]
    recorder.set_history(history)
    # A replaced (not mutated) item must be re-serialised.
    history = [history[0], {"role": "user", "content": "step 1, summarised"}]
    recorder.set_history(history)
    recorder(step(1))
    recorder.close()
    assert [h["content"] for h in read_traj(tmp_path)["history"]] == ["sys", "step 1, summarised"]


def test_our_traj_and_events_round_trip_through_the_reader(tmp_path):
    recorder = Recorder(tmp_path, TASK, {})
    original = [started(), step(1), step(2, author="human"), ValidationScored(step=2, metrics={"Score": 1.4}),
                step(3, author="replay"), EpisodeEnded(exit_status="autosubmission (max_steps)", score=[{"Score": 1.4}])]
    original[2].edited_from = "python run.py"
    for event in original:
        recorder(event)
    recorder.close()

    from_events = load_run(tmp_path)
    from_traj = load_run(tmp_path / f"{TASK}.traj")
    assert from_events.source_format == "events.jsonl" and from_traj.source_format == "traj"
    for run in (from_events, from_traj):
        assert run.steps == [e for e in original if isinstance(e, StepRecorded)]
        assert [(v.step, v.metrics) for v in run.validations] == [(2, {"Score": 1.4})]
        assert run.ended is not None and run.ended.exit_status == "autosubmission (max_steps)"
        assert (run.meta.task_id, run.meta.model, run.meta.mode) == (TASK, "gpt-4o", "confirm")
        assert run.meta.baseline == {"Score": 1.02}
        assert [e.type for e in run.events] == ["episode_started", "step", "step", "validation_scored", "step", "episode_ended"]
        assert run.warnings == []
    assert from_events.events == original


def test_config_yaml_redacts_secret_keys_and_secret_env_values(tmp_path, monkeypatch):
    fake_key = "sk-test-NOT-A-REAL-KEY-4f9a8c7e"
    monkeypatch.setenv("OPENAI_API_KEY", fake_key)
    config = {
        "model": {"name": "gpt-4o", "api_key": "sk-inline-secret-123456", "max_tokens": 4096, "api_base": None},
        "headers": {"Authorization": "Bearer xyz-987654321"},
        "note": f"copied by mistake: {fake_key}",
        "runtime": {"engine": "docker", "password": 1234},
    }
    recorder = Recorder(tmp_path, TASK, config)
    recorder(started())
    # An agent that runs `env` puts the key into an observation: it must not reach the disk either.
    recorder(step(1, observation=f"PATH=/usr/bin\nOPENAI_API_KEY={fake_key}\n"))
    recorder.set_history([{"role": "user", "content": f"OPENAI_API_KEY={fake_key}"}])
    recorder(EpisodeEnded(exit_status="submitted"))
    recorder.close()

    written = yaml.safe_load((tmp_path / "config.yaml").read_text())
    assert written["model"] == {"name": "gpt-4o", "api_key": REDACTED, "max_tokens": 4096, "api_base": None}
    assert written["headers"]["Authorization"] == REDACTED
    assert written["runtime"] == {"engine": "docker", "password": REDACTED}
    assert written["note"] == f"copied by mistake: {REDACTED}"
    for path in tmp_path.iterdir():
        text = path.read_text()
        assert fake_key not in text, path.name
        assert "sk-inline-secret-123456" not in text, path.name
    assert load_run(tmp_path).steps[0].observation == f"PATH=/usr/bin\nOPENAI_API_KEY={REDACTED}\n"


def test_redact_leaves_the_input_untouched_and_makes_paths_plain_text():
    config = {"api_key": "abc", "items": [{"token": "t-1"}], "max_tokens": 10, "workspace": Path("/w/HF_xyz-12345678")}
    redacted = redact(config, environ={"HF_TOKEN": "HF_xyz-12345678"})
    assert redacted == {"api_key": REDACTED, "items": [{"token": REDACTED}], "max_tokens": 10, "workspace": f"/w/{REDACTED}"}
    assert config["api_key"] == "abc" and config["items"] == [{"token": "t-1"}]


def test_rewrite_cap_defers_traj_but_never_events_or_the_end(tmp_path):
    recorder = Recorder(tmp_path, TASK, {}, traj_min_interval_s=3600, traj_in_background=False)
    recorder(started())
    for n in range(1, 4):
        recorder(step(n))
    assert len(read_traj(tmp_path)["trajectory"]) <= 1
    assert len((tmp_path / "events.jsonl").read_text().splitlines()) == 4
    recorder(ValidationScored(step=3, metrics={"Score": 2.0}))
    assert len(read_traj(tmp_path)["trajectory"]) == 3
    recorder(step(4))
    recorder(EpisodeEnded(exit_status="submitted"))
    assert len(read_traj(tmp_path)["trajectory"]) == 4
    recorder.close()


@pytest.mark.parametrize("bad_dir_name", ["plain-folder"])
def test_traj_without_run_dir_name_uses_file_name(tmp_path, bad_dir_name):
    folder = tmp_path / bad_dir_name
    recorder = Recorder(folder, TASK, {})
    recorder(step(1))
    recorder.close()
    (folder / "events.jsonl").unlink()
    run = load_run(folder)
    assert run.meta.task_id == TASK
    assert any("no events.jsonl" in w for w in run.warnings)


def test_background_rewrites_coalesce_and_the_end_is_always_on_disk(tmp_path):
    recorder = Recorder(tmp_path, TASK, {})
    recorder(started())
    recorder.flush()  # the first version exists; from here on the writer thread lags as it may
    for n in range(1, 201):
        recorder(step(n, observation="o" * 5000))
        # Whatever moment the writer thread is at, a reader only ever sees a complete file.
        if n % 50 == 0:
            assert len(read_traj(tmp_path)["trajectory"]) <= n
    recorder(EpisodeEnded(exit_status="submitted"))
    recorder.close()  # what the Controller does (on a worker thread) when the episode ends: the last rewrite lands
    traj = read_traj(tmp_path)
    assert len(traj["trajectory"]) == 200 and traj["info"]["exit_status"] == "submitted"
    recorder.close()


def test_a_failed_background_write_is_reported_at_flush(tmp_path):
    run_dir = tmp_path / "run"
    recorder = Recorder(run_dir, TASK, {})
    recorder(started())
    recorder.flush()
    for path in run_dir.iterdir():
        path.unlink()
    run_dir.rmdir()
    recorder(step(1))
    with pytest.raises(FileNotFoundError):
        recorder.flush()
    recorder.close()  # the error was reported once; closing still releases the file and the thread
