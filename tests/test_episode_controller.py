"""Every Controller operation, driven headlessly against a real container and the scripted model server."""

import asyncio

import pytest
from episode_helpers import Collector, agent, answer, runtime, until
from model_server import bad_request, scripted_server  # noqa: F401

from mlgym_tui.stream import events as ev
from mlgym_tui.episode.controller import ControllerError
from mlgym_tui.episode.session import start_episode

TASK = "battleOfSexes"


async def episode(server, engine, tmp_path, mode="auto", max_steps=10, **model):
    c = await start_episode(TASK, agent(server, max_steps=max_steps, **model), engine=engine, runtime=runtime(),
                            runs_dir=tmp_path, mode=mode)
    seen = Collector()
    c.subscribe(seen)
    return c, seen


def actions(seen):
    return [(s.author, s.action) for s in seen.of(ev.StepRecorded)]


async def test_pause_step_once_resume(scripted_server, engine, tmp_path):
    scripted_server.set_script([answer("echo one"), answer("echo two"), answer("submit")])
    c, seen = await episode(scripted_server, engine, tmp_path)
    c.pause()
    c.start()
    await until(lambda: c.awaiting == "paused", what="paused at the first boundary")
    await asyncio.sleep(0.3)
    assert c.step == 0 and scripted_server.requests == []  # paused: not even a model call
    c.step_once()
    await until(lambda: c.step == 1 and c.awaiting == "paused", what="one step then paused")
    await asyncio.sleep(0.3)
    assert c.step == 1 and len(scripted_server.requests) == 1 and c.paused
    c.resume()
    assert await c.wait() == "submitted"
    assert actions(seen) == [("agent", "echo one"), ("agent", "echo two"), ("agent", "submit")]
    assert len(seen.of(ev.Paused)) >= 1 and len(seen.of(ev.Resumed)) == 1


async def test_confirm_approve_reject_edit_and_message(scripted_server, engine, tmp_path):
    scripted_server.set_script(
        [answer("echo first"), answer("echo second"), answer("echo third"), answer("submit")]
    )
    c, seen = await episode(scripted_server, engine, tmp_path, mode="confirm")
    with pytest.raises(ControllerError, match="nothing to approve"):
        c.approve()
    c.start()
    await until(lambda: c.awaiting == "approval", what="first proposal")
    assert c.pending.action == "echo first" and c.step == 0
    c.approve()
    await until(lambda: c.awaiting == "approval" and c.pending.action == "echo second", what="second proposal")
    assert c.step == 1
    c.reject("use a different word")
    await until(lambda: c.awaiting == "approval" and c.pending.action == "echo third", what="third proposal")
    assert c.step == 1  # the rejected action never ran
    third_prompt = scripted_server.requests[2].prompt_text
    assert "use a different word" in third_prompt and "echo second" in third_prompt
    c.approve_edited("echo edited-by-person")
    await until(lambda: c.awaiting == "approval" and c.pending.action == "submit", what="submit proposal")
    c.message("remember the deadline xyz-42")
    await until(lambda: c.step == 2)
    # the message reaches the model only with its next request: add one more exchange to see it
    c.reject()
    scripted_server.extend_script([answer("submit")])
    await until(lambda: c.awaiting == "approval" and len(scripted_server.requests) == 5)
    assert "remember the deadline xyz-42" in scripted_server.requests[4].prompt_text
    assert "edited-by-person" in scripted_server.requests[3].prompt_text
    c.approve()
    assert await c.wait() == "submitted"

    steps = seen.of(ev.StepRecorded)
    assert [s.action for s in steps] == ["echo first", "echo edited-by-person", "submit"]
    assert steps[1].edited_from == "echo third" and steps[1].observation.strip() == "edited-by-person"
    assert [r.action for r in seen.of(ev.ActionRejected)] == ["echo second", "submit"]
    assert seen.of(ev.ActionRejected)[0].comment == "use a different word"
    assert [e.original for e in seen.of(ev.ActionEdited)] == ["echo third"]
    assert len(seen.of(ev.ActionApproved)) == 2 and len(seen.of(ev.MessageToAgent)) == 1


async def test_human_mode_then_hand_back(scripted_server, engine, tmp_path):
    scripted_server.set_script([answer("echo agent-now"), answer("submit")])
    c, seen = await episode(scripted_server, engine, tmp_path, mode="human")
    c.start()
    await until(lambda: c.awaiting == "human", what="waiting for the person")
    c.submit_human_action("echo typed-by-human")
    await until(lambda: c.step == 1 and c.awaiting == "human")
    assert scripted_server.requests == []  # the agent was not asked
    c.hand_back()
    await until(lambda: c.mode == "auto", what="the hand-back applied by the runner")
    assert await c.wait() == "submitted"
    assert actions(seen) == [("human", "echo typed-by-human"), ("agent", "echo agent-now"), ("agent", "submit")]
    assert "typed-by-human" in scripted_server.requests[0].prompt_text
    assert [m.mode for m in seen.of(ev.ModeChanged)] == ["auto"]


async def test_inject_while_paused_is_a_human_step_the_agent_sees_then_stop(scripted_server, engine, tmp_path):
    scripted_server.set_script([answer("echo agent-step")])
    c, seen = await episode(scripted_server, engine, tmp_path)
    c.pause()
    c.start()
    await until(lambda: c.awaiting == "paused")
    c.inject("echo injected-output-77")
    await until(lambda: c.step == 1 and c.awaiting == "paused", what="the injected step")
    c.step_once()
    await until(lambda: c.step == 2 and c.awaiting == "paused", what="the agent's step")
    assert "injected-output-77" in scripted_server.requests[0].prompt_text
    c.stop()
    assert await c.wait() == "early_exit"
    assert actions(seen) == [("human", "echo injected-output-77"), ("agent", "echo agent-step")]
    assert seen.of(ev.EpisodeEnded)[0].exit_status == "early_exit"


async def test_a_take_over_during_a_model_call_discards_it_and_the_agent_asks_again(scripted_server, engine, tmp_path):
    """The stale answer (made before the person's step) never runs; the next request shows the person's step."""
    # The stale answer is taken from the script when its request arrives, then held back for a second.
    scripted_server.set_script([{"reply": answer("echo stale"), "delay": 1.0}, answer("echo fresh"), answer("submit")])
    c, seen = await episode(scripted_server, engine, tmp_path)
    c.start()
    await until(lambda: len(scripted_server.requests) == 1, what="the model call to reach the server")
    c.take_over()
    await until(lambda: c.awaiting == "human", what="the take-over")
    assert c.pending is None and [e.action for e in seen.of(ev.ProposalDiscarded)] == [""]
    c.inject("echo mine")
    await until(lambda: c.step == 1, what="the person's step")
    c.hand_back()
    assert await c.wait() == "submitted"
    assert actions(seen) == [("human", "echo mine"), ("agent", "echo fresh"), ("agent", "submit")]
    assert "echo stale" not in [p.action for p in seen.of(ev.ActionProposed)]
    second = scripted_server.requests[-2].body["messages"]
    roles = [m["role"] for m in second]
    assert roles == ["system", "user"], "the cancelled prompt was taken back: one prompt, then the person's step"
    assert "A human operator ran" in second[-1]["content"] and "mine" in second[-1]["content"]


async def test_interrupt_a_long_command_and_the_shell_survives(scripted_server, engine, tmp_path):
    scripted_server.set_script([answer("sleep 600"), answer("echo still-alive"), answer("submit")])
    c, seen = await episode(scripted_server, engine, tmp_path)
    c.start()
    await until(lambda: c.running_command == "sleep 600", what="sleep to start")
    await asyncio.sleep(0.3)
    c.interrupt()
    await until(lambda: c.step >= 1, timeout=15, what="the interrupted step")
    assert await asyncio.wait_for(c.wait(), 30) == "submitted"
    finished = seen.of(ev.CommandFinished)[0]
    assert finished.interrupted and finished.duration < 15
    steps = seen.of(ev.StepRecorded)
    assert steps[1].observation.strip() == "still-alive"


async def test_limit_change_triggers_max_steps_autosubmission(scripted_server, engine, tmp_path):
    scripted_server.set_script([answer("echo one"), answer("echo two")])
    c, seen = await episode(scripted_server, engine, tmp_path, max_steps=5)
    with pytest.raises(ControllerError, match="unknown limit"):
        c.set_limit("max_stepz", 3)
    c.pause()
    c.start()
    c.step_once()
    await until(lambda: c.step == 1 and c.awaiting == "paused")
    c.set_limit("max_steps", 1)
    c.resume()
    status = await c.wait()
    assert status == "autosubmission (max_steps)" and c.succeeded
    assert [(e.name, e.value) for e in seen.of(ev.LimitChanged)] == [("max_steps", 1.0)]
    assert len(scripted_server.requests) == 1
    final = seen.of(ev.ValidationScored)[-1]
    assert final.final and "Score" in final.metrics
    # After the end every control is refused with one clear line, and nothing reaches the closed recorder.
    for call in (lambda: c.message("hi"), lambda: c.inject("ls"), lambda: c.set_mode("human"), c.pause,
                 lambda: c.set_limit("max_steps", 9)):
        with pytest.raises(ControllerError, match="the episode has ended"):
            call()


async def test_format_errors_end_with_exit_format_and_api_errors_with_exit_api(scripted_server, engine, tmp_path):
    scripted_server.set_script(["no code block here", "still none"])
    c, seen = await episode(scripted_server, engine, tmp_path)
    c.policy.config.parser.max_format_retries = 1
    status = await c.run()
    assert "exit_format" in status
    assert any(e.fatal and "exit_format" in e.message for e in seen.of(ev.ErrorEvent))


async def test_model_api_error_is_exit_api(scripted_server, engine, tmp_path):
    scripted_server.set_script([bad_request("model does not exist")])
    c, seen = await episode(scripted_server, engine, tmp_path)
    status = await c.run()
    assert "exit_api" in status
    assert any("exit_api" in e.message for e in seen.of(ev.ErrorEvent))
