import asyncio

import pytest

from mlgym_tui.agents.factory import PolicyConfigError, create_policy
from mlgym_tui.agents.llm_policy import LLMPolicy
from mlgym_tui.agents.scripted_policy import HumanPolicy, ScriptedPolicy, ScriptedStep, ScriptExhausted
from mlgym_tui.config.agent import load_agent_config


def make(name, **kw):
    return create_policy(load_agent_config(name), command_docs="", task_description="t", emit=lambda e: None, **kw)


async def test_baseline_runs_its_commands_then_stops():
    policy = make("baseline")
    assert isinstance(policy, ScriptedPolicy)
    actions = []
    for step in (1, 2):
        proposal = await policy.propose(step, "", {})
        assert proposal.author == "baseline"
        actions.append(proposal.action)
        policy.record_step(proposal.action, f"out {step}", "baseline")
    assert actions == ["validate", "submit"]
    with pytest.raises(ScriptExhausted, match="no more actions after 2 steps"):
        await policy.propose(3, "", {})
    assert [e["action"] for e in policy.history if e["role"] == "assistant"] == actions
    assert policy.model_stats["api_calls"] == 0


async def test_replay_needs_steps_and_keeps_thoughts():
    with pytest.raises(PolicyConfigError, match="needs a trajectory"):
        make("replay")
    policy = make("replay", replay_steps=[ScriptedStep("ls", thought="look")])
    policy.step_delay_s = 0
    proposal = await policy.propose(1, "", {})
    assert (proposal.action, proposal.thought, proposal.author) == ("ls", "look", "replay")


async def test_human_policy_waits_for_a_submitted_action():
    policy = make("human")
    assert isinstance(policy, HumanPolicy)
    waiting = asyncio.create_task(policy.propose(1, "", {}))
    await asyncio.sleep(0.01)
    assert not waiting.done()
    policy.submit("nvidia-smi")
    proposal = await asyncio.wait_for(waiting, 1)
    assert (proposal.action, proposal.author) == ("nvidia-smi", "human")
    policy.record_step("nvidia-smi", "GPU", "human")
    assert policy.history[0]["agent"] == "human"


def test_llm_config_gives_the_llm_policy():
    assert isinstance(make("default"), LLMPolicy)
