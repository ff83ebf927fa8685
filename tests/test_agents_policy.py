import json

import pytest
from agents_helpers import scripted_config
from model_server import context_length_exceeded, rate_limited, scripted_server, server_error  # noqa: F401

from mlgym_tui.agents.errors import ContextWindowExceeded, CostLimitExceeded, FormatLimitExceeded, ModelAPIError
from mlgym_tui.agents.llm_policy import LLMPolicy
from mlgym_tui.stream import events

STATE = {"open_file": "n/a", "working_dir": "/home/agent/workspace"}
DOCS = "open <path>: opens a file\nedit <start>:<end>: replaces lines"
TASK = "Improve the accuracy of the classifier in train.py."


def answer(action: str, thought: str = "Next I run a command.") -> str:
    return f"{thought}\n```\n{action}\n```"


def make_policy(server, **model):
    emitted: list[events.Event] = []
    policy = LLMPolicy(scripted_config(server.api_base, **model), DOCS, TASK, emitted.append)
    return policy, emitted


def of_type(emitted, cls):
    return [e for e in emitted if isinstance(e, cls)]


async def test_first_proposal_renders_system_and_task_and_streams_events(scripted_server):
    scripted_server.set_script([answer("ls -la", "Look around first.")])
    policy, emitted = make_policy(scripted_server, cost={"input_per_1k": 1.0, "output_per_1k": 2.0})
    proposal = await policy.propose(1, "", STATE)
    assert (proposal.thought, proposal.action, proposal.step) == ("Look around first.", "ls -la", 1)
    messages = scripted_server.requests[0].messages
    assert messages[0]["role"] == "system" and DOCS in messages[0]["content"]
    assert messages[1]["role"] == "user" and TASK in messages[1]["content"]
    assert [type(e) for e in (emitted[0], emitted[-1])] == [events.ModelQueryStarted, events.ModelResponse]
    assert "".join(t.text for t in of_type(emitted, events.Token)) == proposal.response
    response = of_type(emitted, events.ModelResponse)[0]
    assert response.tokens_in == proposal.tokens_in > 0 and response.tokens_out == proposal.tokens_out > 0
    expected_cost = proposal.tokens_in * 0.001 + proposal.tokens_out * 0.002
    assert proposal.cost == pytest.approx(expected_cost) and policy.model_stats["total_cost"] == pytest.approx(expected_cost)
    assert policy.model_stats["api_calls"] == 1


async def test_observations_with_braces_reach_the_next_prompt_verbatim(scripted_server):
    scripted_server.set_script([answer("cat cfg.json"), answer("validate")])
    policy, _ = make_policy(scripted_server)
    await policy.propose(1, "", STATE)
    observation = '{"lr": 0.1, "layers": {1, 2}} {observation} {current_step}'
    policy.record_step("cat cfg.json", observation, "agent")
    await policy.propose(2, "", {**STATE, "open_file": "/home/agent/workspace/cfg.json"})
    last = scripted_server.requests[1].messages[-1]["content"]
    assert last.startswith(observation + "\n(Current Step: 1, Remaining Steps: 49)")
    assert "(Open file: /home/agent/workspace/cfg.json)" in last
    entries = policy.history
    assert [e["role"] for e in entries] == ["system", "user", "assistant", "user"]
    assert entries[2]["action"] == "cat cfg.json" and entries[2]["thought"] == "Next I run a command."


async def test_unrecorded_proposal_is_taken_as_run_with_the_given_observation(scripted_server):
    scripted_server.set_script([answer("ls"), answer("pwd")])
    policy, _ = make_policy(scripted_server)
    await policy.propose(1, "", STATE)
    await policy.propose(2, "train.py\nevaluate.py", STATE)
    assert scripted_server.requests[1].messages[-1]["content"].startswith("train.py\nevaluate.py\n(Current Step: 1")
    assert policy.history[2]["action"] == "ls"


async def test_empty_output_uses_the_no_output_template(scripted_server):
    scripted_server.set_script([answer("touch a"), answer("ls")])
    policy, _ = make_policy(scripted_server)
    await policy.propose(1, "", STATE)
    policy.record_step("touch a", "", "agent")
    await policy.propose(2, "", STATE)
    assert "did not produce any output" in scripted_server.requests[1].messages[-1]["content"]


async def test_human_steps_edits_and_messages_are_marked_in_history_and_prompt(scripted_server):
    scripted_server.set_script([answer("rm -rf data"), answer("python train.py")])
    policy, _ = make_policy(scripted_server)
    await policy.propose(1, "", STATE)
    policy.record_step("rm -rf data/tmp", "removed", "agent")  # a person edited the command before it ran
    policy.record_step("nvidia-smi", "GPU 0: idle", "human")  # and then injected one of their own
    policy.add_user_message("Please try a smaller learning rate.")
    await policy.propose(2, "", STATE)
    prompt = scripted_server.requests[1].messages[-1]["content"]
    assert "changed your command before it ran" in prompt and "rm -rf data/tmp" in prompt
    assert "A human operator ran this command in your shell:\n```\nnvidia-smi\n```\nIts output:\nGPU 0: idle" in prompt
    assert "Message from the human operator: Please try a smaller learning rate." in prompt
    assert prompt.index("removed") < prompt.index("nvidia-smi") < prompt.index("smaller learning rate")
    assistant = [e for e in policy.history if e["role"] == "assistant"]
    assert assistant[0]["action"] == "rm -rf data/tmp"  # what really ran, not what was proposed


async def test_rejected_proposal_is_reported_as_not_run(scripted_server):
    scripted_server.set_script([answer("rm -rf /"), answer("ls")])
    policy, _ = make_policy(scripted_server)
    await policy.propose(1, "", STATE)
    policy.discard_proposal("Do not delete things.")
    await policy.propose(1, "", STATE)
    prompt = scripted_server.requests[1].messages[-1]["content"]
    assert "Your previous command was not run" in prompt and "Do not delete things." in prompt
    assert policy.pending is not None and policy.pending.action == "ls"


async def test_format_error_reprompts_then_succeeds(scripted_server):
    scripted_server.set_script(["I forgot the block.", answer("ls")])
    policy, emitted = make_policy(scripted_server)
    proposal = await policy.propose(1, "", STATE)
    assert proposal.action == "ls" and proposal.format_errors == 1
    errors = of_type(emitted, events.FormatError)
    assert len(errors) == 1 and errors[0].attempt == 1 and errors[0].content == "I forgot the block."
    reprompt = scripted_server.requests[1].messages
    assert reprompt[-2] == {"role": "assistant", "content": "I forgot the block."}
    assert reprompt[-1]["content"].startswith("Your answer could not be used: no command found")
    assert policy.model_stats["api_calls"] == 2
    # the malformed exchange is not kept once a good answer came
    assert not any("I forgot the block." in e["content"] for e in policy.history)


async def test_four_malformed_answers_raise_format_limit(scripted_server):
    scripted_server.set_script(["no block"] * 3 + [answer("a") + "\n" + answer("b")])
    policy, emitted = make_policy(scripted_server)
    with pytest.raises(FormatLimitExceeded, match="4 malformed answers"):
        await policy.propose(1, "", STATE)
    assert [e.attempt for e in of_type(emitted, events.FormatError)] == [1, 2, 3, 4]
    assert len(scripted_server.requests) == 4


async def test_retry_events_and_exhausted_retries(scripted_server):
    scripted_server.set_script([rate_limited(0), answer("ls")])
    policy, emitted = make_policy(scripted_server)
    await policy.propose(1, "", STATE)
    retries = of_type(emitted, events.Retry)
    assert len(retries) == 1 and retries[0].step == 1 and "429" in retries[0].reason

    scripted_server.set_script([server_error(500)] * 3)
    with pytest.raises(ModelAPIError):
        await policy.propose(2, "out", STATE)


async def test_context_window_error_propagates(scripted_server):
    scripted_server.set_script([context_length_exceeded()])
    policy, _ = make_policy(scripted_server)
    with pytest.raises(ContextWindowExceeded):
        await policy.propose(1, "", STATE)


async def test_cost_limit_stops_before_the_next_query(scripted_server):
    usage = {"prompt_tokens": 1000, "completion_tokens": 0}
    scripted_server.set_script([{"reply": answer("ls"), "usage": usage}, {"reply": answer("pwd"), "usage": usage}])
    policy, _ = make_policy(scripted_server, cost={"input_per_1k": 1.0, "output_per_1k": 0.0})
    policy.cost_limit = 1.5
    await policy.propose(1, "", STATE)  # $1.00
    await policy.propose(2, "x", STATE)  # $2.00: the check happens before a query, not after
    with pytest.raises(CostLimitExceeded, match=r"reached the cost limit \$1.50"):
        await policy.propose(3, "y", STATE)
    assert len(scripted_server.requests) == 2


async def test_history_processor_shortens_old_observations_in_prompts(scripted_server):
    scripted_server.set_script([answer(f"cmd {i}") for i in range(8)])
    policy, _ = make_policy(scripted_server)
    for step in range(1, 9):
        await policy.propose(step, f"output of step {step - 1}\nsecond line", STATE)
    contents = [m["content"] for m in scripted_server.requests[-1].messages if m["role"] == "user"]
    assert sum(c == "Old output omitted (6 lines)" for c in contents) == 2
    assert contents[-1].startswith("output of step 7")
    assert all(e["content"] != "Old output omitted (6 lines)" for e in policy.history)


async def test_api_key_goes_to_the_server_and_nowhere_else(scripted_server, monkeypatch):
    secret = "sk-test-0123456789abcdef"
    monkeypatch.setenv("SCRIPTED_API_KEY", secret)
    scripted_server.set_script([answer("ls")])
    policy, emitted = make_policy(scripted_server, api_key_env="SCRIPTED_API_KEY")
    proposal = await policy.propose(1, "", STATE)
    assert scripted_server.requests[0].headers["Authorization"] == f"Bearer {secret}"
    saved = json.dumps([policy.history, policy.model_stats, policy.config.redacted(), proposal.__dict__,
                        [e.to_dict() for e in emitted]])
    assert secret not in saved and "SCRIPTED_API_KEY" in saved
