"""Re-execution (divergence report), forks, and secrets kept out of run files."""

import os

from episode_helpers import Collector, agent, answer, runtime
from model_server import scripted_server  # noqa: F401

from mlgym_tui.stream import events as ev
from mlgym_tui.episode.reexecute import reexecute
from mlgym_tui.episode.session import start_episode
from mlgym_tui.trajectory import load_run

PARENT = ["echo parent-one", "date +%s%N", "validate", "submit"]


async def parent_run(server, engine, tmp_path):
    server.set_script([answer(a) for a in PARENT])
    c = await start_episode("battleOfSexes", agent(server), engine=engine, runtime=runtime(), runs_dir=tmp_path / "p")
    assert await c.run() == "submitted"
    return c.run_dir


async def test_reexecute_reports_where_observations_diverge_and_fork_continues(scripted_server, engine, tmp_path):
    parent_dir = await parent_run(scripted_server, engine, tmp_path)

    report = await reexecute(parent_dir, engine_name=engine.name, runtime=runtime())
    assert report.steps_run == 4 and report.exit_status == "submitted"
    # `date` differs, validate/submit scores agree within the task's tolerance
    assert [(d.step, d.kind) for d in report.divergences] == [(2, "observation")]
    text = report.render()
    assert "step 2 `date +%s%N`: observation differs (line 1)" in text and "expected:" in text

    before = len(scripted_server.requests)
    scripted_server.set_script([answer("submit", "Continuing the fork.")])
    fork = await start_episode("battleOfSexes", agent(scripted_server), engine=engine, runtime=runtime(),
                               runs_dir=tmp_path / "f", parent=parent_dir, fork_prefix=2)
    seen = Collector()
    fork.subscribe(seen)
    assert await fork.run() == "submitted"
    started = seen.of(ev.EpisodeStarted)[0]
    assert started.parent == str(parent_dir.resolve()) and started.fork_step == 2
    steps = seen.of(ev.StepRecorded)
    assert [(s.author, s.action) for s in steps] == [("replay", "echo parent-one"), ("replay", "date +%s%N"),
                                                     ("agent", "submit")]
    assert [d.step for d in fork.divergences] == [2]
    # the agent continues with the replayed steps in its own history
    first_fork_request = scripted_server.requests[before]
    assert "parent-one" in first_fork_request.prompt_text
    assert first_fork_request.messages[0]["role"] == "system"
    assert first_fork_request.messages[2]["role"] == "assistant"

    loaded = load_run(fork.run_dir)
    assert loaded.meta.parent == str(parent_dir.resolve()) and loaded.meta.fork_step == 2
    parent = load_run(parent_dir)
    assert [s.action for s in loaded.steps[:2]] == [s.action for s in parent.steps[:2]]


async def test_api_key_never_reaches_run_files(scripted_server, engine, tmp_path, monkeypatch):
    secret = "sk-test-FAKE-0123456789abcdefXYZ"
    monkeypatch.setenv("MLGYM_EPISODE_TEST_API_KEY", secret)
    config = agent(scripted_server, api_key_env="MLGYM_EPISODE_TEST_API_KEY")
    # worst case: the model repeats the key, and the agent echoes it into an observation
    scripted_server.set_script([answer(f"echo {secret}", f"My key is {secret}."), answer("submit")])
    c = await start_episode("battleOfSexes", config, engine=engine, runtime=runtime(), runs_dir=tmp_path)
    assert await c.run() == "submitted"
    assert scripted_server.requests[0].headers.get("Authorization") == f"Bearer {secret}"  # the key was used
    files = [p for p in c.run_dir.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"events.jsonl", "battleOfSexes.traj", "results.json", "config.yaml"}
    for path in files:
        assert secret not in path.read_text(errors="replace"), f"{path.name} holds the API key"
    assert "openai/scripted" in (c.run_dir / "config.yaml").read_text()  # the resolved config is there
    assert os.environ["MLGYM_EPISODE_TEST_API_KEY"] == secret
