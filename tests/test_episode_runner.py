"""The episode runner's state machine, without a container: a fake environment and a policy the test answers for.

Every command is sent in every state the runner waits in (model, approval, human, paused, command) and what
follows is checked; then the ends (limits, policy failures, stop, cancellation) and the refusals of a finished
episode. These run in milliseconds, so they say what the loop does; the engine tests say it does it for real.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from mlgym_tui.agents.errors import CostLimitExceeded, FormatLimitExceeded, ModelAPIError
from mlgym_tui.agents.proposal import Proposal
from mlgym_tui.agents.scripted_policy import ScriptedPolicy
from mlgym_tui.environment.environment import StepResult
from mlgym_tui.episode import commands as cmd
from mlgym_tui.episode.controller import Controller, ControllerError
from mlgym_tui.stream import events as ev

STATES = ("model", "approval", "human", "paused", "command")


class FakeShell:
    def __init__(self) -> None:
        self.listeners: list = []

    def subscribe(self, callback):
        self.listeners.append(callback)
        return lambda: self.listeners.remove(callback)


class FakeEnv:
    """Runs actions instantly, except `slow ...`, which runs until released or interrupted."""

    trust, trust_reason = "isolated", ""

    def __init__(self) -> None:
        self.shell = FakeShell()
        self.ran: list[str] = []
        self.scores: list[dict[str, float]] = []
        self.release = asyncio.Event()
        self.interrupts = 0
        self.autosubmitted: list[str] = []
        self.closed = False

    async def reset(self) -> str:
        return "the task"

    def state(self) -> dict[str, Any]:
        return {"open_file": "n/a"}

    async def step(self, action: str, step: int | None = None) -> StepResult:
        self.ran.append(action)
        for listener in self.shell.listeners:
            listener(f"output of {action}\n")
        if action.startswith("slow"):
            await self.release.wait()
            self.release.clear()
            return StepResult("stopped early", exit_code=130, interrupted=self.interrupts > 0)
        if action == "submit":
            self.scores.append({"score": 2.0})
            return StepResult("scored", done=True, metrics={"score": 2.0}, exit_status="submitted",
                              submission="answer.csv")
        if action == "validate":
            self.scores.append({"score": 1.0})
            return StepResult("validated", metrics={"score": 1.0}, submission="answer.csv")
        return StepResult(f"ran {action}", exit_code=0)

    async def autosubmit(self, reason: str, step: int | None = None) -> StepResult:
        self.autosubmitted.append(str(reason))
        return StepResult("auto", done=True, metrics={"score": 0.5}, exit_status=f"autosubmission ({reason})")

    async def interrupt(self) -> None:
        self.interrupts += 1
        self.release.set()

    async def close(self) -> None:
        self.closed = True


class AnsweredPolicy(ScriptedPolicy):
    """A model whose answers the test gives one at a time (`answer`); an exception is raised from propose."""

    def __init__(self) -> None:
        super().__init__([], author="agent")
        self.answers: asyncio.Queue[str | Exception] = asyncio.Queue()
        self.asked = 0
        self.recorded: list[tuple[str, str]] = []
        self.discarded: list[str] = []
        self.messages: list[str] = []

    def answer(self, *actions: str | Exception) -> None:
        for action in actions:
            self.answers.put_nowait(action)

    async def propose(self, step: int, observation: str, state: dict[str, Any]) -> Proposal:
        self.asked += 1
        action = await self.answers.get()
        if isinstance(action, Exception):
            raise action
        return Proposal(thought=f"thinking about {action}", action=action, step=step, author="agent", tokens_in=7)

    def record_step(self, action: str, observation: str, author: str, thought: str = "") -> None:
        self.recorded.append((author, action))
        super().record_step(action, observation, author, thought)

    def discard_proposal(self, comment: str = "") -> None:
        self.discarded.append(comment)

    def add_user_message(self, text: str) -> None:
        self.messages.append(text)


class Harness:
    def __init__(self, mode: str = "auto", max_steps: int = 20, wall_time_s: float | None = None,
                 policy: Any = None) -> None:
        self.env = FakeEnv()
        self.policy = policy or AnsweredPolicy()
        self.c = Controller(env=self.env, policy=self.policy, task_id="fake", agent="test", model="none",
                            engine="local", run_dir=None, mode=mode, max_steps=max_steps, wall_time_s=wall_time_s,
                            baseline={"score": 1.5}, metrics=[{"name": "score", "primary": True}])
        self.events: list[ev.Event] = []
        self.c.subscribe(self.events.append)

    def of(self, cls) -> list:
        return [e for e in self.events if isinstance(e, cls)]

    def steps(self) -> list[tuple[str, str]]:
        return [(s.author, s.action) for s in self.of(ev.StepRecorded)]

    async def until(self, predicate, what: str) -> None:
        for _ in range(500):
            if predicate():
                return
            await asyncio.sleep(0.002)
        raise AssertionError(f"timed out waiting for {what}; state {self.c.state}")

    async def settle(self) -> None:
        """Let the runner apply what was sent and reach its next wait."""
        for _ in range(20):
            await asyncio.sleep(0)
        await self.until(lambda: self.c.state.queued_commands == 0 and (self.c.awaiting or self.c.done),
                         "the runner to settle")

    async def finish(self) -> str:
        self.c.stop()
        return await asyncio.wait_for(self.c.wait(), 5)


async def reach(state: str) -> Harness:
    """A started episode whose runner waits in `state`."""
    h = Harness(mode={"approval": "confirm", "human": "human"}.get(state, "auto"))
    if state == "paused":
        h.c.pause()
    h.c.start()
    if state == "approval":
        h.policy.answer("echo proposed")
    if state == "command":
        h.policy.answer("slow job")
    await h.until(lambda: h.c.awaiting == state, f"awaiting {state}")
    return h


# ==================================================================== every command in every state


@pytest.mark.parametrize("state", STATES)
async def test_approve_edit_reject_need_a_pending_proposal(state):
    h = await reach(state)
    if state != "approval":
        for call in (h.c.approve, lambda: h.c.approve_edited("echo x"), h.c.reject):
            with pytest.raises(ControllerError, match="no proposed action is waiting"):
                call()
        assert h.env.ran == ([] if state != "command" else ["slow job"])
    else:
        assert h.c.pending.action == "echo proposed" and h.c.state.pending.thought == "thinking about echo proposed"
    await h.finish()


async def test_approve_runs_the_proposal_as_is():
    h = await reach("approval")
    h.c.approve()
    await h.until(lambda: h.c.step == 1, "the approved step")
    assert h.env.ran == ["echo proposed"]
    assert [e.by for e in h.of(ev.ActionApproved)] == ["human"]
    step = h.of(ev.StepRecorded)[0]
    assert (step.author, step.action, step.edited_from, step.tokens_in) == ("agent", "echo proposed", None, 7)
    await h.until(lambda: h.c.awaiting == "model", "the next model call")
    await h.finish()


async def test_edit_runs_the_persons_version_and_keeps_the_original():
    h = await reach("approval")
    h.c.approve_edited("echo edited")
    await h.until(lambda: h.c.step == 1, "the edited step")
    assert h.env.ran == ["echo edited"]
    edited = h.of(ev.ActionEdited)[0]
    assert (edited.original, edited.action) == ("echo proposed", "echo edited")
    assert h.of(ev.StepRecorded)[0].edited_from == "echo proposed"
    assert h.policy.recorded == [("agent", "echo edited")]
    with pytest.raises(ControllerError, match="edited action is empty"):
        h.policy.answer("echo next")
        await h.until(lambda: h.c.awaiting == "approval", "the next proposal")
        h.c.approve_edited("  ")
    await h.finish()


async def test_an_edit_identical_to_the_proposal_is_an_approval():
    h = await reach("approval")
    h.c.approve_edited("  echo proposed ")
    await h.until(lambda: h.c.step == 1, "the step")
    assert h.of(ev.ActionEdited) == [] and len(h.of(ev.ActionApproved)) == 1
    await h.finish()


async def test_reject_drops_the_proposal_and_asks_again():
    h = await reach("approval")
    h.c.reject("not that")
    await h.until(lambda: h.c.awaiting == "model", "a new model call")
    assert h.env.ran == [] and h.c.step == 0 and h.c.pending is None
    assert h.policy.discarded == ["not that"] and h.policy.asked == 2
    assert h.of(ev.ActionRejected)[0].comment == "not that"
    await h.finish()


@pytest.mark.parametrize("state", STATES)
async def test_inject_runs_a_persons_command_at_the_next_boundary(state):
    h = await reach(state)
    h.c.inject("echo injected")
    if state == "command":
        await h.settle()
        assert h.env.ran == ["slow job"], "an injected command waits for the running one"
        h.env.release.set()
    await h.until(lambda: ("human", "echo injected") in h.steps(), "the injected step")
    assert h.policy.recorded[-1] == ("human", "echo injected")  # the agent sees it in its history
    await h.settle()
    discarded = [(e.step, e.action) for e in h.of(ev.ProposalDiscarded)]
    if state == "approval":
        # The proposal never saw the person's step: dropped unrun (the agent is told), and asked for again.
        assert h.c.pending is None and discarded == [(1, "echo proposed")] and h.policy.discarded == [""]
        assert h.env.ran == ["echo injected"]
    elif state == "model":
        assert discarded == [(1, "")], "the model call in flight is discarded"
        assert h.policy.asked == 2, "and the agent is asked again, after the person's step"
    else:
        assert discarded == []
    expected = {"model": "model", "approval": "model", "human": "human", "paused": "paused", "command": "model"}
    assert h.c.awaiting == expected[state]
    with pytest.raises(ControllerError, match="the action is empty"):
        h.c.inject(" ")
    await h.finish()


@pytest.mark.parametrize("state", STATES)
async def test_message_reaches_the_agent_in_every_state(state):
    h = await reach(state)
    h.c.message("mind the deadline")
    await h.settle()
    assert h.policy.messages == ["mind the deadline"]
    assert [e.text for e in h.of(ev.MessageToAgent)] == ["mind the deadline"]
    assert h.c.awaiting == state, "a message changes nothing else"
    with pytest.raises(ControllerError, match="the message is empty"):
        h.c.message("")
    await h.finish()


@pytest.mark.parametrize("state", STATES)
async def test_take_over_then_hand_back(state):
    h = await reach(state)
    before = h.c.mode
    h.c.take_over()
    await h.settle()
    if state == "command":
        assert h.c.awaiting == "command"
        h.env.release.set()
    await h.until(lambda: h.c.awaiting in ("human", "paused") and h.c.mode == "human", "the take-over")
    assert [e.mode for e in h.of(ev.ModeChanged)] == ([] if before == "human" else ["human"])
    if state != "human":
        h.c.hand_back()
        await h.settle()
        assert h.c.mode == before
    with pytest.raises(ControllerError, match="unknown mode"):
        h.c.set_mode("turbo")
    await h.finish()


@pytest.mark.parametrize("state", ["model", "approval"])
async def test_handing_back_never_runs_a_proposal_made_before_the_take_over(state):
    h = await reach(state)
    h.c.take_over()
    await h.settle()
    h.policy.answer("echo stale")  # what a cancelled call would have answered: never taken
    assert h.c.awaiting == "human" and h.c.pending is None
    assert [e.action for e in h.of(ev.ProposalDiscarded)] == ["" if state == "model" else "echo proposed"]
    h.c.inject("echo mine")
    await h.until(lambda: h.env.ran == ["echo mine"], "the person's step")
    h.c.hand_back()
    if state == "approval":
        await h.until(lambda: h.c.pending is not None, "the fresh proposal")
        assert h.c.pending.action == "echo stale" and h.c.pending.step == 2, "numbered after the person's step"
        h.c.approve()
    await h.until(lambda: h.c.step == 2, "the agent's step after the hand-back")
    assert h.env.ran == ["echo mine", "echo stale"] and h.policy.asked >= 2, "asked again after the hand-back"
    await h.finish()


async def test_a_terminal_command_becomes_a_step_and_supersedes_the_proposal():
    h = await reach("approval")
    h.c.record_terminal_command(command="cd /tmp && ls", output="a\nb", exit_code=0, duration=0.5, cwd="/tmp",
                                started_at=123.0)
    await h.until(lambda: ("human-terminal", "cd /tmp && ls") in h.steps(), "the terminal step")
    step = h.of(ev.StepRecorded)[0]
    assert (step.step, step.observation, step.exit_code, step.state["working_dir"], step.started_at) == (
        1, "a\nb", 0, "/tmp", 123.0)
    assert h.env.ran == [], "it ran in the terminal already: nothing runs again"
    assert h.policy.recorded == [("human", "cd /tmp && ls")], "the agent sees it as a person's step"
    assert [e.action for e in h.of(ev.ProposalDiscarded)] == ["echo proposed"]
    h.c.record_terminal_command(command="  ", output="", exit_code=0, duration=0.0)  # an empty line: no step
    h.policy.answer("echo after")
    await h.until(lambda: h.c.pending is not None and h.c.pending.action == "echo after", "a fresh proposal")
    assert h.c.pending.step == 2 and len(h.of(ev.StepRecorded)) == 1
    await h.finish()


async def test_messages_reach_the_agent_in_the_order_they_were_sent():
    """A message sent after a person's command waits until that command is in the history."""
    h = await reach("command")
    h.c.message("first")
    h.c.inject("echo second")
    h.c.message("third")
    h.c.record_terminal_command(command="echo fourth", output="fourth", exit_code=0, duration=0.1)
    h.c.message("fifth")
    await h.settle()
    assert h.policy.messages == ["first"], "the rest wait behind the injected command"
    h.env.release.set()
    await h.until(lambda: len(h.policy.messages) == 3, "every message")
    order = []
    for e in h.events:
        if isinstance(e, ev.MessageToAgent):
            order.append(e.text)
        elif isinstance(e, ev.StepRecorded):
            order.append(e.action)
    assert order == ["first", "slow job", "echo second", "third", "echo fourth", "fifth"]
    await h.finish()


async def test_stop_with_autosubmit_scores_the_last_valid_submission():
    h = await reach("model")
    h.c.stop(autosubmit=True)
    assert await asyncio.wait_for(h.c.wait(), 5) == "autosubmission (early_exit)"
    assert h.env.autosubmitted == ["early_exit"]
    assert h.of(ev.ValidationScored)[-1].metrics == {"score": 0.5}


async def test_switching_confirm_to_auto_runs_the_pending_proposal():
    h = await reach("approval")
    h.c.set_mode("auto")
    await h.until(lambda: h.env.ran == ["echo proposed"], "the proposal to run")
    await h.finish()


@pytest.mark.parametrize("state", STATES)
async def test_pause_holds_the_next_step_and_resume_releases_it(state):
    h = await reach(state)
    h.c.pause()
    await h.settle()
    assert h.c.paused and len(h.of(ev.Paused)) == 1
    h.c.pause()  # twice is once
    await h.settle()
    assert len(h.of(ev.Paused)) == 1
    if state == "model":
        h.policy.answer("echo held")
        await h.until(lambda: h.c.pending is not None and h.c.awaiting == "paused", "the answer, held")
        assert h.env.ran == []
    if state == "command":
        h.env.release.set()
        await h.until(lambda: h.c.awaiting == "paused", "paused after the running command")
        assert h.c.step == 1
    if state == "approval":
        h.c.approve()  # a person's approval is a decision to run it, paused or not
        await h.until(lambda: h.env.ran == ["echo proposed"], "the approved step")
    h.c.resume()
    await h.settle()
    assert not h.c.paused and len(h.of(ev.Resumed)) == 1
    if state == "model":
        await h.until(lambda: h.env.ran == ["echo held"], "the held answer")
    await h.finish()


@pytest.mark.parametrize("state", [s for s in STATES if s != "paused"])
async def test_resume_when_not_paused_does_nothing(state):
    h = await reach(state)
    h.c.resume()
    await h.settle()
    assert h.of(ev.Resumed) == [] and not h.c.paused and h.c.awaiting == state
    await h.finish()


@pytest.mark.parametrize("state", STATES)
async def test_step_lets_exactly_one_step_run(state):
    h = await reach(state)
    h.c.step_once()
    await h.settle()
    assert h.c.paused
    if state == "human":
        h.c.inject("echo by-hand")  # a person's steps run whatever the pause
        await h.until(lambda: h.c.step == 1, "the person's step")
    elif state == "approval":
        h.c.approve()
        await h.until(lambda: h.c.step == 1, "the approved step")
    elif state == "command":
        h.env.release.set()
        await h.until(lambda: h.c.step == 1 and h.c.awaiting in ("paused", "model"), "the running step")
    else:
        h.policy.answer("echo one", "echo two")
        await h.until(lambda: h.c.step == 1 and h.c.awaiting == "paused", "one step, then paused")
        await asyncio.sleep(0.02)
        assert h.env.ran == ["echo one"] and h.c.step == 1
    await h.finish()


@pytest.mark.parametrize("state", STATES)
async def test_interrupt_only_touches_a_running_command(state):
    h = await reach(state)
    h.c.interrupt()
    await h.settle()
    if state == "command":
        await h.until(lambda: h.c.step == 1, "the interrupted step")
        assert h.env.interrupts == 1 and h.of(ev.CommandFinished)[0].interrupted
        assert not h.c.done, "an interrupt ends the command, not the episode"
    else:
        assert h.env.interrupts == 0 and h.c.awaiting == state
    await h.finish()


@pytest.mark.parametrize("state", STATES)
async def test_stop_ends_the_episode_from_every_state(state):
    h = await reach(state)
    h.c.stop()
    assert await asyncio.wait_for(h.c.wait(), 5) == "early_exit"
    assert h.env.interrupts == (1 if state == "command" else 0)
    assert h.env.closed and h.c.state.done and h.c.awaiting is None
    ended = h.of(ev.EpisodeEnded)
    assert len(ended) == 1 and ended[0].exit_status == "early_exit"
    h.c.stop()  # stopping an ended episode is harmless
    h.c.interrupt()


@pytest.mark.parametrize("state", STATES)
async def test_set_limit_applies_in_every_state(state):
    h = await reach(state)
    h.c.set_limit("cost_limit", 2.5)
    h.c.set_limit("wall_time_s", 600)
    await h.settle()
    assert h.c.state.cost_limit == 2.5 and h.policy.cost_limit == 2.5 and h.c.state.wall_time_s == 600
    assert [(e.name, e.value) for e in h.of(ev.LimitChanged)] == [("cost_limit", 2.5), ("wall_time_s", 600.0)]
    for name, value, match in (("max_stepz", 3, "unknown limit"), ("max_steps", 0, ">= 1"), ("cost_limit", -1, ">= 0")):
        with pytest.raises(ControllerError, match=match):
            h.c.set_limit(name, value)
    await h.finish()


async def test_lowering_max_steps_ends_at_the_next_boundary_with_an_autosubmission():
    h = await reach("human")
    h.c.inject("echo one")
    await h.until(lambda: h.c.step == 1, "a step")
    h.c.set_limit("max_steps", 1)
    assert await asyncio.wait_for(h.c.wait(), 5) == "autosubmission (max_steps)"
    assert h.env.autosubmitted == ["max_steps"] and h.c.succeeded and h.policy.max_steps == 1


# ==================================================================== how an episode ends


async def test_submit_ends_with_the_score_and_the_best_is_kept():
    h = Harness()
    h.c.start()
    h.policy.answer("validate", "submit")
    assert await asyncio.wait_for(h.c.wait(), 5) == "submitted"
    assert [e.metrics for e in h.of(ev.ValidationScored)] == [{"score": 1.0}, {"score": 2.0}]
    assert h.c.best_score == {"score": 2.0} and h.c.submission == "answer.csv" and h.c.succeeded
    ended = h.of(ev.EpisodeEnded)[0]
    assert ended.score == [{"score": 1.0}, {"score": 2.0}]
    chunks = h.of(ev.OutputChunk)
    assert [c.data for c in chunks] == ["output of validate\n", "output of submit\n"] and chunks[1].step == 2
    types = [e.type for e in h.events if e.type != "output_chunk"]
    assert types[:6] == ["episode_started", "action_proposed", "command_started", "command_finished",
                         "step", "validation_scored"]


@pytest.mark.parametrize("error, status", [
    (CostLimitExceeded("cost"), "exit_cost"),
    (FormatLimitExceeded("format"), "exit_format"),
    (ModelAPIError("api"), "exit_api"),
])
async def test_a_policy_error_autosubmits_with_the_status_its_type_names(error, status):
    h = Harness()
    h.c.start()
    h.policy.answer("validate", error)
    assert await asyncio.wait_for(h.c.wait(), 5) == f"autosubmission ({status})"
    assert h.env.autosubmitted == [status]
    assert h.of(ev.ErrorEvent)[0].message.startswith(f"{status}: ") and h.of(ev.ErrorEvent)[0].fatal


async def test_max_steps_autosubmits():
    h = Harness(max_steps=2)
    h.c.start()
    h.policy.answer("echo 1", "echo 2", "echo never")
    assert await asyncio.wait_for(h.c.wait(), 5) == "autosubmission (max_steps)"
    assert h.env.ran == ["echo 1", "echo 2"]


async def test_wall_time_interrupts_the_running_command_then_autosubmits():
    h = Harness(wall_time_s=0.2)
    h.c.start()
    h.policy.answer("slow forever")
    assert await asyncio.wait_for(h.c.wait(), 5) == "autosubmission (exit_time)"
    assert h.env.interrupts == 1 and h.of(ev.CommandFinished)[0].interrupted


async def test_wall_time_ends_a_wait_for_the_model():
    h = Harness(wall_time_s=0.2)
    h.c.start()
    assert await asyncio.wait_for(h.c.wait(), 5) == "autosubmission (exit_time)"
    assert h.policy.asked == 1 and h.env.ran == []


async def test_a_scripted_policy_that_runs_out_is_an_early_exit():
    h = Harness(policy=ScriptedPolicy(["echo a", "echo b"], author="baseline"))
    h.c.start()
    assert await asyncio.wait_for(h.c.wait(), 5) == "early_exit"
    assert h.steps() == [("baseline", "echo a"), ("baseline", "echo b")]


async def test_cancelling_the_episode_is_an_early_exit_and_closes_the_environment():
    h = await reach("command")
    task = h.c.start()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert h.c.exit_status == "early_exit" and h.env.closed


async def test_an_environment_that_does_not_start_is_an_exit_error():
    h = Harness()

    async def broken() -> str:
        raise RuntimeError("no engine")

    h.env.reset = broken
    assert await asyncio.wait_for(h.c.run(), 5) == "exit_error"
    assert "did not start: no engine" in h.of(ev.ErrorEvent)[0].message and h.env.closed


async def test_commands_sent_before_the_start_apply_at_the_first_boundary():
    h = Harness()
    h.c.pause()
    h.c.set_limit("max_steps", 7)
    h.c.start()
    await h.until(lambda: h.c.awaiting == "paused", "paused at once")
    assert h.c.state.max_steps == 7 and h.policy.asked == 0
    started = h.of(ev.EpisodeStarted)[0]
    assert (started.task_id, started.max_steps, started.trust) == ("fake", 20, "isolated")
    assert h.events.index(started) == 0, "the episode is announced before anything else"
    await h.finish()


async def test_an_ended_episode_refuses_every_request_with_the_way_on():
    h = Harness()
    h.c.start()
    h.policy.answer("submit")
    await asyncio.wait_for(h.c.wait(), 5)
    for call in (lambda: h.c.message("hi"), lambda: h.c.inject("ls"), lambda: h.c.set_mode("human"), h.c.pause,
                 h.c.resume, h.c.step_once, lambda: h.c.set_limit("max_steps", 9)):
        with pytest.raises(ControllerError, match="the episode has ended \\(submitted\\); start or fork a new one"):
            call()


async def test_a_command_that_no_longer_applies_is_dropped():
    """An approval sent as the mode switches to auto finds no decision to make; nothing runs twice."""
    h = await reach("approval")
    h.c.set_mode("auto")
    h.c.approve()
    await h.until(lambda: h.c.step == 1, "the proposal to run once")
    await h.settle()
    assert h.env.ran == ["echo proposed"] and h.c.state.queued_commands == 0
    await h.finish()


def test_every_command_type_is_handled():
    """The runner's dispatch names every command the module defines (a new one cannot be silently ignored)."""
    import inspect

    from mlgym_tui.episode import runner

    source = inspect.getsource(runner.EpisodeRunner._apply)
    defined = [name for name, obj in vars(cmd).items() if inspect.isclass(obj) and obj.__module__ == cmd.__name__]
    assert set(defined) == {t.__name__ for t in cmd.Command.__args__}
    missing = [name for name in defined if f"cmd.{name}(" not in source]
    assert missing == []


async def test_a_command_waits_until_the_steps_before_it_are_on_disk():
    """The runner awaits the recorder's sync (off the loop) before each command: a crash of the machine loses at
    most the step in flight."""
    from mlgym_tui.episode.runner import EpisodeRunner
    from mlgym_tui.episode.state import EpisodeInfo

    on_disk = asyncio.Event()
    waits: list[int] = []

    async def steps_on_disk() -> None:
        waits.append(len(env.ran))
        await on_disk.wait()
        on_disk.clear()

    env, policy, events = FakeEnv(), AnsweredPolicy(), []
    runner = EpisodeRunner(info=EpisodeInfo("r", "fake", "test", "none", "local"), env=env, policy=policy,
                           emit=events.append, steps_on_disk=steps_on_disk)
    task = asyncio.ensure_future(runner.run())
    policy.answer("echo 1", "echo 2")
    for _ in range(50):
        await asyncio.sleep(0)
    assert env.ran == [] and waits == [0], "the first command waits for the sync"
    on_disk.set()
    for _ in range(50):
        await asyncio.sleep(0)
    assert env.ran == ["echo 1"] and waits == [0, 1], "the second waits for step 1 to be on disk"
    runner.submit(cmd.Stop())
    on_disk.set()
    assert await asyncio.wait_for(task, 5) == "early_exit"


async def test_the_controller_closes_a_real_recorder_off_the_loop_and_every_file_is_complete(tmp_path):
    import json

    from mlgym_tui.trajectory import Recorder

    recorder = Recorder(tmp_path, "fake", {"task": "fake"})
    h = Harness()
    h.c = Controller(env=h.env, policy=h.policy, recorder=recorder, task_id="fake", agent="test", model="none",
                     engine="local", run_dir=tmp_path)
    h.c.start()
    h.policy.answer("echo 1", "validate", "submit")
    assert await asyncio.wait_for(h.c.wait(), 10) == "submitted"
    lines = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert [e["type"] for e in lines if e["type"] == "step"] == ["step"] * 3 and lines[-1]["type"] == "episode_ended"
    results = json.loads((tmp_path / "results.json").read_text())
    traj = json.loads((tmp_path / "fake.traj").read_text())
    assert results["agent"] == [{"score": 1.0}, {"score": 2.0}] and results["trust"] == "isolated"
    assert len(traj["trajectory"]) == 3 and traj["info"]["exit_status"] == "submitted"


async def test_a_persons_step_does_not_use_up_a_step_token():
    """Step lets one more *agent* step run while paused; a person's command in between does not count."""
    h = await reach("paused")
    h.c.step_once()
    h.c.inject("echo by-hand")
    await h.until(lambda: h.c.step == 1, "the person's step")
    h.policy.answer("echo agent", "echo never")
    await h.until(lambda: h.c.step == 2 and h.c.awaiting == "paused", "the agent's one step")
    await asyncio.sleep(0.02)
    assert h.steps() == [("human", "echo by-hand"), ("agent", "echo agent")] and h.c.paused
    await h.finish()


async def test_terminal_commands_queued_during_a_step_are_recorded_before_a_stop():
    h = await reach("command")
    h.c.record_terminal_command(command="echo typed-meanwhile", output="typed-meanwhile", exit_code=0, duration=0.1)
    h.c.stop()
    h.env.release.set()
    assert await asyncio.wait_for(h.c.wait(), 5) == "early_exit"
    assert ("human-terminal", "echo typed-meanwhile") in h.steps(), "the cast has it: the trajectory must too"


async def test_a_model_answer_that_completed_in_the_same_turn_as_a_take_over_is_discarded():
    """The answer is in (its task done) but not yet taken as the pending proposal when the take-over applies."""
    from mlgym_tui.episode.runner import EpisodeRunner

    events: list[ev.Event] = []
    policy = AnsweredPolicy()
    runner = EpisodeRunner(info=Harness().c.info, env=FakeEnv(), policy=policy, emit=events.append)
    answered: asyncio.Future = asyncio.get_running_loop().create_future()
    answered.set_result(Proposal(thought="", action="echo answered", step=1))
    runner._proposing = answered
    runner._set_mode("human")
    assert runner.pending is None and runner._proposing is None
    assert policy.discarded == [""], "the policy is told its answer did not run (its history stays true)"
    assert [(e.action, e.reason.startswith("a person took over")) for e in events
            if isinstance(e, ev.ProposalDiscarded)] == [("echo answered", True)]


async def test_an_autosubmission_at_the_time_limit_is_stamped_within_the_limit():
    """So `results --budget T` keeps the score a `play --time-limit T` session ended with."""
    h = Harness(mode="human", wall_time_s=0.3)
    h.c.start()
    assert await asyncio.wait_for(h.c.wait(), 5) == "autosubmission (exit_time)"
    final = h.of(ev.ValidationScored)[-1]
    assert final.final and final.wall_s <= 0.3 and final.active_s <= 0.3
