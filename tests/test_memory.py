"""MLGym's memory module: memory_write / memory_read over a JSON file in MLGym's shape, the records and key words
shown to the agent after each step, an agent config for it, and memory commands explained in replay."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlgym_tui.agents.templates import render_template
from mlgym_tui.config.agent import AgentConfigError, load_agent_config
from mlgym_tui.environment.environment import MLGymEnvironment
from mlgym_tui.tasks.registry import load_registry
from mlgym_tui.tui.widgets.step_card import memory_note

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def memory_task(tmp_path):
    """quickGame with a memory_path whose file MLGym wrote (model embeddings of another length)."""
    seed = tmp_path / "memory.json"
    seed.write_text(json.dumps({"texts": ["ResNet with dropout 0.5 reached 93.5% test accuracy"],
                                "embeddings": [[0.1, 0.2, 0.3]], "tags": ["93.5% test accuracy"]}))
    task = load_registry([REPO / "tests/fixtures/tasks/quickGame.yaml"], tasks_root=REPO).get("quickGame")
    return task.model_copy(update={"memory_path": str(seed)})


async def test_memory_commands_keep_and_find_findings(engine, memory_task):
    env = MLGymEnvironment(memory_task, engine, memory=True)
    await env.reset()
    try:
        assert 'memory_write "<content>"' in env.command_docs and 'memory_read "<query>"' in env.command_docs
        assert env.state()["memory_records_num"] == "1"  # the task's memory file starts the agent's memory
        assert env.state()["memory_records_tags"] == "93.5% test accuracy"
        wrote = await env.step('memory_write "learning rate 3e-4 with cosine decay gave validation accuracy 0.91"')
        assert wrote.observation.strip() == "Content and tags saved successfully to memory."
        assert wrote.state["memory_records_num"] == "2" and " | " in wrote.state["memory_records_tags"]
        found = await env.step('memory_read "which learning rate gave the best validation accuracy"')
        lines = found.observation.strip().splitlines()
        assert lines[:2] == ["Query: which learning rate gave the best validation accuracy", "Top Matches:"]
        assert lines[2].startswith("  Match 1: learning rate 3e-4 with cosine decay") and "similarity score" in lines[2]
        assert lines[3].startswith("  Match 2: ResNet with dropout 0.5")
        data = json.loads((await env.step("cat ~/memory.json")).observation)
        assert set(data) == {"texts", "embeddings", "tags"} and len(data["texts"]) == 2
        assert (await env.step('memory_write ""')).exit_code == 1
    finally:
        await env.close()


async def test_memory_is_the_agent_configs_choice(engine, memory_task):
    env = MLGymEnvironment(memory_task, engine)  # every MLGym task names a memory_path; the agent config decides
    assert "memory_write" not in env.command_docs and "memory_records_num" not in env.state()
    assert load_agent_config("default_memory").memory and not load_agent_config("default").memory


def test_the_memory_agent_config_extends_the_default_and_shows_memory_each_step(tmp_path):
    config = load_agent_config("default_memory")
    default = load_agent_config("default")
    assert config.model == default.model and config.templates.system == default.templates.system
    shown = render_template(config.templates.next_step, {
        "observation": "ok", "current_step": 3, "remaining_steps": 47, "open_file": "n/a", "working_dir": "/w",
        "memory_records_num": "2", "memory_records_tags": "accuracy with resnet | lr 3e-4 gave"})
    assert "(Memory records number: 2)\n(Memory key words: accuracy with resnet | lr 3e-4 gave)" in shown
    own = tmp_path / "loop.yaml"
    own.write_text("extends: loop\n")
    with pytest.raises(AgentConfigError, match="extends must name another agent config"):
        load_agent_config(own)


def test_memory_commands_are_explained_in_the_transcript():
    assert "persistent memory" in memory_note('memory_write "lr 3e-4 works"').plain
    assert "two records most similar" in memory_note('memory_read "accuracy"').plain
    assert memory_note("ls -la") is None and memory_note("") is None
