"""Export to chat-jsonl, ATIF and mini-swe-agent, import of ATIF and mini-swe-agent: round trips through real
recorded runs, the formats' required fields (from Harbor's ATIF models and mini-swe-agent's serializer, restated
here), malformed files, and secrets that never leave."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from mlgym_tui.cli import main
from mlgym_tui.stream.events import EpisodeEnded, EpisodeStarted, StepRecorded, ValidationScored
from mlgym_tui.trajectory import Recorder, load_run
from mlgym_tui.trajectory.formats import FormatProblem, export_run, import_trajectory, read_trajectory

FIXTURES = Path(__file__).parent / "fixtures"
TASK = "battleOfSexes"
API_KEY = "sk-test-4f9a8b7c6d5e4f3a2b1c0d9e"  # in the run's config under api_key
ENV_TOKEN = "hf_QwErTy123456UiOpAsDfGh"  # an environment variable a command printed
OTHER_KEY = "ghp_abcdefghijklmnopqrstuvwxyz0123456789"  # a key shape printed by a command, known to nobody


def started() -> EpisodeStarted:
    return EpisodeStarted(
        t=1_700_000_000.0, run_id="run-x", task_id=TASK, agent="default", model="gpt-4o", mode="confirm",
        engine="docker", max_steps=50, cost_limit=3.0, baseline={"Score": 1.02},
        metrics=[{"name": "Score", "direction": "max", "primary": True}],
    )


def agent_step(n: int, action: str, observation: str, exit_code: int | None = 0) -> StepRecorded:
    thought = f"Step {n}: I run {action.split()[0]}."
    return StepRecorded(
        t=1_700_000_000.0 + 10 * n + 2, step=n, author="agent", action=action, observation=observation,
        thought=thought, response=f"{thought}\n```\n{action}\n```", state={"working_dir": "/home/agent/workspace"},
        exit_code=exit_code, started_at=1_700_000_000.0 + 10 * n, duration=2.0, tokens_in=1000 + n, tokens_out=50,
        cost=0.01,
    )


STEPS = [
    agent_step(1, "ls -a", "evaluate.py\nstrategy.py\n"),
    agent_step(2, "cat strategy.py", "def row_strategy(history):\n    return 0\n"),
    StepRecorded(t=1_700_000_032.0, step=3, author="human", action="env | grep TOKEN",
                 observation=f"HF_TOKEN={ENV_TOKEN}\n", state={}, exit_code=0, started_at=1_700_000_031.0,
                 duration=1.0),
    agent_step(4, "python -c 'import sys; sys.exit(1)'", "", exit_code=1),
    agent_step(5, "validate", "Evaluation Score: {'Score': 1.2}\n"),
    agent_step(6, "submit", "submitted\n"),
]


def history() -> list[dict]:
    """The agent's history as the LLM policy keeps it: the person's step reaches it inside a user message."""
    items = [{"role": "system", "content": "You are an autonomous researcher.", "agent": "primary"},
             {"role": "user", "content": f"Task: {TASK}. Solve it.", "agent": "primary"}]
    for step in STEPS:
        if step.author == "human":
            items.append({"role": "user", "content": f"A human operator ran:\n{step.action}\n{step.observation}",
                          "agent": "primary"})
            continue
        items.append({"role": "assistant", "content": step.response, "agent": "primary", "thought": step.thought,
                      "action": step.action})
        items.append({"role": "user", "content": step.observation or "(no output)", "agent": "primary"})
    return items


@pytest.fixture
def recorded_run(tmp_path) -> Path:
    """A run recorded by the Recorder, then given a leaked key in config.yaml and in an observation, as a run
    recorded elsewhere (or by an older version) might hold."""
    run_dir = tmp_path / "runs" / "20231114-221320__gpt-4o__battleOfSexes__default"
    recorder = Recorder(run_dir, TASK, {"model": {"name": "gpt-4o", "api_key": API_KEY}},
                        traj_in_background=False, sync_in_background=False, environ={})
    recorder(started())
    for step in STEPS:
        recorder(step)
        if step.action == "validate":
            recorder(ValidationScored(t=step.t, step=5, metrics={"Score": 1.2}, baseline={"Score": 1.02}))
    recorder.set_history(history())
    recorder(ValidationScored(t=1_700_000_062.0, step=6, metrics={"Score": 1.25}, baseline={"Score": 1.02},
                              submission="/home/agent/workspace/strategy.py", final=True))
    recorder(EpisodeEnded(t=1_700_000_063.0, exit_status="submitted", submission="/home/agent/workspace/strategy.py",
                          score=[{"Score": 1.2}, {"Score": 1.25}],
                          model_stats={"total_cost": 0.05, "tokens_sent": 5015, "tokens_received": 250,
                                       "api_calls": 5}))
    recorder.close()
    (run_dir / "config.yaml").write_text(f"model:\n  name: gpt-4o\n  api_key: {API_KEY}\n")
    events = (run_dir / "events.jsonl").read_text()
    leaked = events.replace("evaluate.py\\nstrategy.py", f"evaluate.py\\nstrategy.py\\nkey={API_KEY} {OTHER_KEY}")
    assert leaked != events
    (run_dir / "events.jsonl").write_text(leaked)
    return run_dir


def same_steps(run) -> list[tuple]:
    return [(s.step, s.author, s.action, s.observation, s.exit_code) for s in run.steps]


def expected_steps(run_dir: Path) -> list[tuple]:
    """The recorded steps with the leaked secrets as an export leaves them."""
    def scrubbed(text: str) -> str:
        return text.replace(f"key={API_KEY} {OTHER_KEY}", "key=*** ***").replace(ENV_TOKEN, "***")

    return [(s.step, s.author, s.action, scrubbed(s.observation), s.exit_code) for s in load_run(run_dir).steps]


def assert_no_secret(text: str) -> None:
    for secret in (API_KEY, ENV_TOKEN, OTHER_KEY):
        assert secret not in text


# -- ATIF ---------------------------------------------------------------------------------------------------------

ATIF_ROOT = {"schema_version", "session_id", "agent", "steps", "notes", "final_metrics", "continued_trajectory_ref",
             "extra"}
ATIF_AGENT = {"name", "version", "model_name", "tool_definitions", "extra"}
ATIF_STEP = {"step_id", "timestamp", "source", "model_name", "reasoning_effort", "message", "reasoning_content",
             "tool_calls", "observation", "metrics", "is_copied_context", "extra"}
ATIF_AGENT_ONLY = {"model_name", "reasoning_effort", "reasoning_content", "tool_calls", "metrics"}
ATIF_METRICS = {"prompt_tokens", "completion_tokens", "cached_tokens", "cost_usd", "prompt_token_ids",
                "completion_token_ids", "logprobs", "extra"}
ATIF_FINAL = {"total_prompt_tokens", "total_completion_tokens", "total_cached_tokens", "total_cost_usd",
              "total_steps", "extra"}


def check_atif(document: dict) -> None:
    """ATIF's rules as Harbor's models enforce them: required fields, no unknown keys, step ids 1..n, agent-only
    fields on agent steps only, results pointing at their own step's tool calls, ISO timestamps."""
    from datetime import datetime

    assert set(document) <= ATIF_ROOT and {"schema_version", "session_id", "agent", "steps"} <= set(document)
    assert document["schema_version"] in {f"ATIF-v1.{n}" for n in range(7)}
    assert isinstance(document["session_id"], str)
    agent = document["agent"]
    assert set(agent) <= ATIF_AGENT and isinstance(agent["name"], str) and isinstance(agent["version"], str)
    assert document["steps"], "ATIF needs at least one step"
    assert set(document.get("final_metrics", {})) <= ATIF_FINAL
    for position, step in enumerate(document["steps"], start=1):
        assert set(step) <= ATIF_STEP
        assert step["step_id"] == position
        assert step["source"] in ("system", "user", "agent")
        assert isinstance(step["message"], str)
        if step["source"] != "agent":
            assert not (ATIF_AGENT_ONLY & set(step)), step
        if "timestamp" in step:
            datetime.fromisoformat(step["timestamp"].replace("Z", "+00:00"))
        assert set(step.get("metrics", {})) <= ATIF_METRICS
        call_ids = set()
        for call in step.get("tool_calls", []):
            assert set(call) == {"tool_call_id", "function_name", "arguments"} and isinstance(call["arguments"], dict)
            call_ids.add(call["tool_call_id"])
        for result in step.get("observation", {"results": []})["results"]:
            assert set(result) <= {"source_call_id", "content", "subagent_trajectory_ref"}
            assert result.get("source_call_id") is None or result["source_call_id"] in call_ids


def test_atif_export_follows_the_schema_and_imports_back_to_the_same_run(recorded_run, tmp_path):
    exported = export_run(recorded_run, "atif", environ={"HF_TOKEN": ENV_TOKEN})
    assert_no_secret(exported.text)
    document = json.loads(exported.text)
    check_atif(document)
    assert [s["source"] for s in document["steps"]] == ["system", "user", "agent", "agent", "user", "agent",
                                                         "agent", "agent"]
    person = document["steps"][4]
    assert person["message"] == "env | grep TOKEN" and person["observation"]["results"][0]["content"].startswith(
        "HF_TOKEN=***")
    first = document["steps"][2]
    assert first["tool_calls"][0]["arguments"] == {"command": "ls -a"}
    assert first["metrics"] == {"prompt_tokens": 1001, "completion_tokens": 50, "cost_usd": 0.01}
    assert first["timestamp"] == "2023-11-14T22:13:30Z"
    assert document["final_metrics"]["total_steps"] == len(document["steps"])

    path = tmp_path / "run.atif.json"
    path.write_text(exported.text)
    run_dir, imported = import_trajectory(path, tmp_path / "imported")
    replayed = load_run(run_dir)
    assert same_steps(replayed) == expected_steps(recorded_run)
    assert [s.thought for s in replayed.steps] == [s.thought for s in load_run(recorded_run).steps]
    assert [(v.step, v.metrics) for v in replayed.validations] == [(5, {"Score": 1.2}), (6, {"Score": 1.25})]
    assert replayed.ended.exit_status == "submitted" and replayed.meta.agent == "default"
    assert replayed.warnings == []
    assert (run_dir / f"{TASK}.traj").exists() and json.loads((run_dir / "results.json").read_text())["agent"]


# -- mini-swe-agent -------------------------------------------------------------------------------------------------

MINI_INFO = {"model_stats", "config", "mini_version", "exit_status", "submission"}
MINI_CONFIG = {"agent", "agent_type", "model", "model_type", "environment", "environment_type"}


def check_mini(document: dict) -> None:
    """mini-swe-agent's serialized trajectory: info (model_stats {instance_cost, api_calls}, config, mini_version,
    exit_status, submission), messages ({role, content, extra?}, ending with an exit message), trajectory_format."""
    assert document["trajectory_format"] in ("mini-swe-agent-1", "mini-swe-agent-1.1")
    info = document["info"]
    assert MINI_INFO <= set(info) and MINI_CONFIG <= set(info["config"])
    assert set(info["model_stats"]) >= {"instance_cost", "api_calls"}
    messages = document["messages"]
    assert messages[0]["role"] == "system" and messages[1]["role"] == "user"
    assert messages[-1]["role"] == "exit" and {"exit_status", "submission"} <= set(messages[-1]["extra"])
    for message in messages:
        assert message["role"] in ("system", "user", "assistant", "tool", "exit")
        assert isinstance(message["content"], str)
        if message["role"] == "assistant":
            assert [set(a) for a in message["extra"]["actions"]] == [{"command"}]


def test_mini_swe_agent_export_follows_the_format_and_imports_back(recorded_run, tmp_path):
    exported = export_run(recorded_run, "mini-swe-agent", environ={"HF_TOKEN": ENV_TOKEN})
    assert_no_secret(exported.text)
    document = json.loads(exported.text)
    check_mini(document)
    roles = [m["role"] for m in document["messages"]]
    assert roles == ["system", "user"] + ["assistant", "user"] * 2 + ["user", "user"] + ["assistant", "user"] * 3 \
        + ["exit"]
    person = document["messages"][6]
    assert person["extra"]["actions"] == [{"command": "env | grep TOKEN"}]  # as human mode writes it
    assert document["messages"][9]["content"].startswith("<returncode>1</returncode>")
    assert document["info"]["exit_status"] == "submitted"
    assert document["info"]["config"]["mlgym_tui"]["model"]["api_key"] == "***"

    path = tmp_path / "run.traj.json"
    path.write_text(exported.text)
    run_dir, _ = import_trajectory(path, tmp_path / "imported", "mini-swe-agent")
    replayed = load_run(run_dir)
    assert same_steps(replayed) == expected_steps(recorded_run)
    assert [(v.step, v.metrics) for v in replayed.validations] == [(5, {"Score": 1.2}), (6, {"Score": 1.25})]
    assert replayed.ended.exit_status == "submitted" and replayed.warnings == []


def test_mini_swe_agent_v1_and_tool_call_trajectories_import(tmp_path):
    """Trajectories as mini-swe-agent writes them: v1 (```bash blocks, observations only in the text, a format
    error) and v2 with tool calls (role "tool" answers by tool_call_id), each ending with its exit message."""
    v1 = {"info": {"exit_status": "Submitted", "submission": "diff --git a b", "mini_version": "1.9.0",
                   "model_stats": {"instance_cost": 0.2, "api_calls": 3},
                   "config": {"model": {"model_name": "claude-sonnet"}}},
          "trajectory_format": "mini-swe-agent-1",
          "messages": [
              {"role": "system", "content": "You are a helpful assistant."},
              {"role": "user", "content": "Please solve this issue: fix it"},
              {"role": "assistant", "content": "THOUGHT: look around.\n\n```bash\nls\n```"},
              {"role": "user", "content": "<returncode>0</returncode>\n<output>\nREADME.md\n</output>"},
              {"role": "assistant", "content": "two\n```bash\nls\n```\n```bash\npwd\n```"},
              {"role": "user", "content": "Please always provide EXACTLY ONE action in triple backticks."},
              {"role": "assistant", "content": "THOUGHT: done.\n\n```bash\necho COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT\n```"},
              {"role": "user", "content": "<returncode>2</returncode>\n<output>\nboom\n</output>"},
          ]}
    path = tmp_path / "issue-1.traj.json"
    path.write_text(json.dumps(v1))
    run = read_trajectory(path)
    assert [(s.author, s.action, s.observation, s.exit_code) for s in run.steps] == [
        ("agent", "ls", "README.md\n", 0), ("agent", "echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT", "boom\n", 2)]
    assert run.steps[0].thought == "look around." and run.meta.model == "claude-sonnet"
    assert run.ended.exit_status == "Submitted" and run.notes  # the format error is named

    v2 = {"info": {"exit_status": "Submitted", "submission": "", "mini_version": "2.4.6",
                   "model_stats": {"instance_cost": 0.0, "api_calls": 1}, "config": {}},
          "trajectory_format": "mini-swe-agent-1.1",
          "messages": [
              {"role": "system", "content": "sys"}, {"role": "user", "content": "task"},
              {"role": "assistant", "content": "", "tool_calls": [
                  {"id": "c1", "type": "function", "function": {"name": "bash", "arguments": '{"command": "ls"}'}},
                  {"id": "c2", "type": "function", "function": {"name": "bash", "arguments": '{"command": "pwd"}'}}],
               "extra": {"actions": [{"command": "ls", "tool_call_id": "c1"}, {"command": "pwd", "tool_call_id": "c2"}],
                         "cost": 0.0, "timestamp": 1_700_000_000.0}},
              {"role": "tool", "tool_call_id": "c2", "content": "x", "extra": {"raw_output": "/repo\n", "returncode": 0}},
              {"role": "tool", "tool_call_id": "c1", "content": "x", "extra": {"raw_output": "a.py\n", "returncode": 0}},
              {"role": "user", "content": "User command: \n```bash\ngit status\n```",
               "extra": {"actions": [{"command": "git status"}]}},
              {"role": "user", "content": "x", "extra": {"raw_output": "clean\n", "returncode": 0}},
              {"role": "exit", "content": "", "extra": {"exit_status": "Submitted", "submission": ""}},
          ]}
    path = tmp_path / "issue-2.traj.json"
    path.write_text(json.dumps(v2))
    run_dir, run = import_trajectory(path, tmp_path / "runs", task_id=TASK)
    assert [(s.author, s.action, s.observation) for s in load_run(run_dir).steps] == [
        ("agent", "ls", "a.py\n"), ("agent", "pwd", "/repo\n"), ("human", "git status", "clean\n")]
    assert load_run(run_dir).meta.task_id == TASK


# -- chat-jsonl -----------------------------------------------------------------------------------------------------


def test_chat_jsonl_has_one_line_per_agent_step_and_a_person_only_as_user(recorded_run):
    exported = export_run(recorded_run, "chat-jsonl", environ={"HF_TOKEN": ENV_TOKEN})
    assert_no_secret(exported.text)
    lines = [json.loads(line) for line in exported.text.splitlines()]
    assert [line["step"] for line in lines] == [1, 2, 4, 5, 6]  # step 3 was the person's
    for line in lines:
        assert {"messages", "run_id", "task_id", "step", "author", "score"} <= set(line)
        assert line["author"] == "agent" and line["task_id"] == TASK and line["score"] == {"Score": 1.25}
        assert line["context"] == "history"
        roles = [m["role"] for m in line["messages"]]
        assert set(roles) <= {"system", "user", "assistant"} and roles[0] == "system" and roles[-1] == "assistant"
        assert all(a != b for a, b in zip(roles[1:], roles[2:]))  # merged: roles alternate after the system prompt
        assert all(isinstance(m["content"], str) for m in line["messages"])
    steps = {s.step: s for s in load_run(recorded_run).steps}
    for line in lines:
        assert line["messages"][-1]["content"] == steps[line["step"]].response
    # The person's command reaches the model as a user message, never as an answer.
    after = lines[2]["messages"]
    assert any("env | grep TOKEN" in m["content"] for m in after if m["role"] == "user")
    assert not any("env | grep TOKEN" in m["content"] for line in lines for m in line["messages"]
                   if m["role"] == "assistant")


def test_chat_jsonl_rebuilds_context_the_history_lacks(tmp_path):
    """MLGym's own sample keeps one answer of five in its history: the rest get their context from the steps."""
    shutil.copy(FIXTURES / "mlgym_sample.traj", tmp_path / "mlgym_sample.traj")
    exported = export_run(tmp_path / "mlgym_sample.traj", "chat-jsonl")
    lines = [json.loads(line) for line in exported.text.splitlines()]
    assert [line["context"] for line in lines] == ["history"] + ["rebuilt"] * 4
    assert any("rebuilt" in warning for warning in exported.warnings)
    last = lines[-1]["messages"]
    assert [m["role"] for m in last][-3:] == ["assistant", "user", "assistant"]
    assert last[0]["role"] == "system" and last[1]["content"].startswith("We're currently solving")


@pytest.mark.parametrize("fmt", ["atif", "mini-swe-agent"])
def test_mlgym_traj_round_trips(tmp_path, fmt):
    shutil.copy(FIXTURES / "mlgym_sample.traj", tmp_path / "mlgym_sample.traj")
    original = load_run(tmp_path / "mlgym_sample.traj")
    path = tmp_path / "out.json"
    path.write_text(export_run(tmp_path / "mlgym_sample.traj", fmt).text)
    run_dir, _ = import_trajectory(path, tmp_path / "runs")
    replayed = load_run(run_dir)
    assert same_steps(replayed) == same_steps(original)
    assert [v.metrics for v in replayed.validations] == [v.metrics for v in original.validations]
    assert replayed.ended.exit_status == "submitted"


# -- the commands, bad input ------------------------------------------------------------------------------------


def test_export_and_import_commands(recorded_run, tmp_path, capsys):
    assert main(["export", str(recorded_run), "--format", "atif"]) == 0
    written = recorded_run / "trajectory.atif.json"
    assert "wrote" in capsys.readouterr().out and written.exists()
    assert main(["import", str(written), "--runs-dir", str(tmp_path / "imported"), "--task", "blotto"]) == 0
    out = capsys.readouterr().out
    assert "1 by a person" in out and "mlgym-tui replay" in out
    (run_dir,) = (tmp_path / "imported").iterdir()
    assert "__blotto__" in run_dir.name and load_run(run_dir).meta.task_id == "blotto"
    assert main(["export", str(recorded_run), "--format", "chat-jsonl", "-o", "-"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 5


@pytest.mark.parametrize("content, fmt, problem", [
    ("{not json", "auto", "not JSON"),
    ("", "auto", "file is empty"),
    ("[1, 2]", "auto", "neither ATIF nor mini-swe-agent"),
    ('{"hello": 1}', "auto", "neither ATIF nor mini-swe-agent"),
    ('{"schema_version": "ATIF-v1.4", "session_id": "s", "agent": {"name": "a", "version": "1"}, "steps": []}',
     "auto", "steps is not a non-empty list"),
    ('{"schema_version": "ATIF-v1.4", "session_id": "s", "agent": {"name": "a", "version": "1"}, '
     '"steps": [{"step_id": 1, "source": "robot", "message": ""}]}', "auto", "source is 'robot'"),
    ('{"messages": [{"content": "x"}], "info": {}}', "auto", "messages[0] has no role"),
    ('{"messages": [], "info": {}}', "atif", "not an ATIF trajectory"),
])
def test_malformed_files_are_one_line_errors(tmp_path, capsys, content, fmt, problem):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(FormatProblem, match=re.escape(problem)):
        read_trajectory(path, fmt)
    assert main(["import", str(path), "--format", fmt, "--runs-dir", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and problem in err and "expected" in err
    assert not (tmp_path / "runs").exists()


def test_secrets_in_an_imported_file_are_redacted(tmp_path):
    document = {"info": {"exit_status": "Submitted", "submission": "",
                         "config": {"model": {"model_name": "m", "model_kwargs": {"api_key": API_KEY}}}},
                "trajectory_format": "mini-swe-agent-1.1",
                "messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "t"},
                             {"role": "assistant", "content": "```bash\necho $KEY\n```"},
                             {"role": "user", "content": f"<returncode>0</returncode>\n<output>\n{API_KEY}\n"
                                                         f"Authorization: Bearer abcdefghijklmnop1234\n</output>"}]}
    path = tmp_path / "leaky.traj.json"
    path.write_text(json.dumps(document))
    run_dir, _ = import_trajectory(path, tmp_path / "runs")
    for written in run_dir.iterdir():
        text = written.read_text()
        assert API_KEY not in text and "abcdefghijklmnop1234" not in text, written.name
    assert load_run(run_dir).steps[0].observation.startswith("***")
