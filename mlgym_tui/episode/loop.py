"""The asyncio episode loop behind a Controller.

One task drives the episode. At every step boundary it looks, in order, at: a stop request, the limits,
queued human commands (injected, or typed in human mode), then the agent's turn (start or collect a model
call, wait for approval in confirm mode, respect pause / step-once), and runs the chosen action. Front-end
calls only change the controller's state and set its wake event; the loop sleeps on that event, on the model
call in flight and on the wall-time deadline.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from mlgym_tui.agents.errors import (
    ContextWindowExceeded,
    CostLimitExceeded,
    FormatLimitExceeded,
    ModelAPIError,
    PolicyError,
)
from mlgym_tui.stream import events as ev

if TYPE_CHECKING:
    from mlgym_tui.episode.controller import Controller


def _is_human_policy(policy: Any) -> bool:
    from mlgym_tui.agents.scripted_policy import HumanPolicy

    return isinstance(policy, HumanPolicy)


def _policy_author(author: str) -> str:
    """How a step reads in the agent's own history: its own, or a person's."""
    return "human" if author == "human" else "agent"


async def run_episode(c: "Controller") -> None:
    c.started_at = time.monotonic()
    c.emit(
        ev.EpisodeStarted(
            run_id=c.run_id,
            task_id=c.task_id,
            agent=c.agent,
            model=c.model,
            mode=c.mode,
            engine=c.engine,
            max_steps=c.max_steps,
            cost_limit=c.cost_limit,
            parent=c.parent,
            fork_step=c.fork_step,
            baseline=dict(c.baseline),
            metrics=list(c.metrics),
            trust=c.env.trust,
            trust_reason=c.env.trust_reason,
        )
    )
    unsubscribe = None
    try:
        try:
            observation = await c.env.reset()
        except Exception as exc:
            c.emit(ev.ErrorEvent(message=f"the environment did not start: {exc}", fatal=True))
            await _end(c, "exit_error")
            return
        if c.policy is None and c._policy_factory is not None:
            c.policy = c._policy_factory(c)
        for name in ("max_steps", "cost_limit"):
            if hasattr(c.policy, name):
                setattr(c.policy, name, getattr(c, name))
        unsubscribe = c.env.shell.subscribe(lambda text: _on_output(c, text))
        c._agent_is_human = _is_human_policy(c.policy)
        observation = await _replay_prefix(c, observation)
        if not c.done:
            await _main_loop(c, observation)
    except asyncio.CancelledError:
        if not c.done:
            await asyncio.shield(_end(c, "early_exit"))
        raise
    except Exception as exc:
        c.emit(ev.ErrorEvent(message=f"episode failed: {type(exc).__name__}: {exc}", fatal=True))
        if not c.done:
            await _end(c, "exit_error")
    finally:
        if unsubscribe is not None:
            unsubscribe()
        await _cancel_proposal(c)
        try:
            await c.env.close()
        finally:
            if c.recorder is not None:
                c.recorder.close()


def _on_output(c: "Controller", text: str) -> None:
    if c.running_command is not None:
        c.emit(ev.OutputChunk(step=c.step + 1, data=text))


async def _cancel_proposal(c: "Controller") -> None:
    task = getattr(c, "_propose_task", None)
    c._propose_task = None
    if task is not None and not task.done():
        task.cancel()
        try:
            await task
        except BaseException:
            pass


def _prime_policy(c: "Controller", observation: str) -> None:
    """Give a model policy its system and task prompt before steps it did not propose are recorded (a fork)."""
    prime = getattr(c.policy, "prime", None)  # only model policies have a prompt to prime
    if callable(prime):
        prime(observation, _state(c, {}))


async def _replay_prefix(c: "Controller", observation: str) -> str:
    """A fork re-executes its parent's first steps (author "replay") and notes where they diverge."""
    if not c.prefix:
        return observation
    from mlgym_tui.episode.reexecute import compare_step

    _prime_policy(c, observation)
    for original in c.prefix:
        if c._stop_requested:
            await _end(c, "early_exit")
            return observation
        result = await _execute(c, original.action, author="replay", thought=original.thought,
                                response=original.response, policy_author=_policy_author(original.author))
        divergence = compare_step(original, result.observation, result.metrics, c.step)
        if divergence is not None:
            c.divergences.append(divergence)
            c.emit(ev.ErrorEvent(message=f"fork: {divergence.summary()}", fatal=False))
        if c.done:
            return result.observation
        observation = result.observation
    return ""


def _state(c: "Controller", env_state: dict[str, Any]) -> dict[str, Any]:
    return {**env_state, "max_steps": c.max_steps}


def _deadline(c: "Controller") -> float | None:
    if not c.wall_time_s or c.started_at is None:
        return None
    return c.started_at + c.wall_time_s


async def _wait(c: "Controller", awaiting: str) -> None:
    """Sleep until a front end changes something, the model call ends or the wall-time deadline passes."""
    c.awaiting = awaiting
    waits: list[asyncio.Future] = [asyncio.ensure_future(c._wake.wait())]
    task = getattr(c, "_propose_task", None)
    if task is not None:
        waits.append(task)
    deadline = _deadline(c)
    timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
    try:
        await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waits[0].cancel()
        c._wake.clear()
        c.awaiting = None


def _may_step(c: "Controller") -> bool:
    return not c.paused or c._step_tokens > 0


async def _main_loop(c: "Controller", observation: str) -> None:
    c._propose_task = None
    while not c.done:
        # Collect a model answer that arrived (whatever the mode is now: it becomes the pending proposal).
        task = c._propose_task
        if task is not None and task.done():
            c._propose_task = None
            try:
                proposal = task.result()
            except PolicyError as exc:
                await _policy_failed(c, exc)
                return
            c.pending = proposal
            c._decision = None
            c.emit(ev.ActionProposed(step=c.step + 1, action=proposal.action, thought=proposal.thought,
                                     author=getattr(proposal, "author", "agent")))

        if c._stop_requested:
            await _end(c, "early_exit")
            return
        if c.step >= c.max_steps:
            await _autosubmit(c, "max_steps")
            return
        deadline = _deadline(c)
        if deadline is not None and time.monotonic() >= deadline:
            await _autosubmit(c, "exit_time")
            return

        if c._human_queue:
            action = c._human_queue.popleft()
            result = await _execute(c, action, author="human")
            observation = result.observation
            continue

        if c.mode == "human" or c._agent_is_human:
            await _wait(c, "human")
            continue

        if c.pending is None:
            if c._propose_task is None:
                if not _may_step(c):
                    await _wait(c, "paused")
                    continue
                state = _state(c, c.env.state())
                c._propose_task = asyncio.ensure_future(c.policy.propose(c.step + 1, observation, state))
                await asyncio.sleep(0)  # a policy that needs no I/O answers now: skip the wait machinery
                if c._propose_task.done():
                    continue
            await _wait(c, "model")
            continue

        proposal = c.pending
        edited_from = None
        if c.mode == "confirm":
            if c._decision is None:
                await _wait(c, "approval")
                continue
            kind, text = c._decision
            c._decision = None
            if kind == "reject":
                c.pending = None
                c.emit(ev.ActionRejected(step=c.step + 1, action=proposal.action, comment=text))
                discard = getattr(c.policy, "discard_proposal", None)
                if callable(discard):
                    discard(text)
                elif text:
                    c.policy.add_user_message(text)
                continue
            if kind == "edit" and text.strip() != proposal.action.strip():
                edited_from = proposal.action
                action = text
                c.emit(ev.ActionEdited(step=c.step + 1, original=proposal.action, action=action))
            else:
                action = proposal.action
                c.emit(ev.ActionApproved(step=c.step + 1, action=action, by="human"))
        else:
            if not _may_step(c):
                await _wait(c, "paused")
                continue
            action = proposal.action
        c.pending = None
        result = await _execute(c, action, author=getattr(proposal, "author", "agent"), proposal=proposal,
                                edited_from=edited_from)
        observation = result.observation


async def _execute(
    c: "Controller",
    action: str,
    *,
    author: str,
    proposal: Any = None,
    edited_from: str | None = None,
    thought: str = "",
    response: str = "",
    policy_author: str | None = None,
):
    step = c.step + 1
    if c.paused and c._step_tokens > 0:
        c._step_tokens -= 1
    if proposal is not None:
        thought, response = proposal.thought, proposal.response
    c.running_command = action
    c._interrupt_requested = False
    c.awaiting = "command"
    c.emit(ev.CommandStarted(step=step, action=action, author=author))
    started_at = time.time()
    t0 = time.monotonic()
    watchdog = _wall_time_watchdog(c)
    try:
        result = await c.env.step(action, step=step)
    finally:
        if watchdog is not None:
            watchdog.cancel()
        c.running_command = None
        c.awaiting = None
    duration = result.duration or (time.monotonic() - t0)
    interrupted = bool(result.interrupted or c._interrupt_requested)
    c.emit(ev.CommandFinished(step=step, exit_code=result.exit_code, duration=duration, timed_out=result.timed_out,
                              interrupted=interrupted))
    c.step = step
    c.policy.record_step(action, result.observation, policy_author or _policy_author(author), thought)
    _sync_recorder(c)
    c.emit(
        ev.StepRecorded(
            step=step,
            author=author,
            action=action,
            observation=result.observation,
            thought=thought,
            response=response,
            state=dict(result.state or {}),
            exit_code=result.exit_code,
            started_at=started_at,
            duration=duration,
            tokens_in=getattr(proposal, "tokens_in", 0) if proposal is not None else 0,
            tokens_out=getattr(proposal, "tokens_out", 0) if proposal is not None else 0,
            cost=getattr(proposal, "cost", 0.0) if proposal is not None else 0.0,
            edited_from=edited_from,
            timed_out=result.timed_out,
        )
    )
    _scored(c, step, result)
    if result.done:
        await _end(c, result.exit_status or "submitted", submission=result.submission)
    return result


def _wall_time_watchdog(c: "Controller"):
    deadline = _deadline(c)
    if deadline is None:
        return None
    loop = asyncio.get_running_loop()
    return loop.call_later(max(0.0, deadline - time.monotonic()), c.interrupt)


def _scored(c: "Controller", step: int, result: Any) -> None:
    if not result.metrics:
        return
    metrics = dict(result.metrics)
    c.scores.append(metrics)
    c.submission = result.submission or c.submission
    if _better(c, metrics, c.best_score):
        c.best_score = metrics
    c.emit(ev.ValidationScored(step=step, metrics=metrics, baseline=dict(c.baseline), submission=result.submission,
                               final=bool(result.done), trust=result.trust or "", artefacts=result.artefacts or ""))


def _better(c: "Controller", new: dict[str, float], best: dict[str, float] | None) -> bool:
    if best is None:
        return True
    metric = c.primary_metric
    name = metric.get("name") if metric else next(iter(new), None)
    if name not in new or name not in best:
        return False
    if metric and metric.get("direction") == "minimize":
        return new[name] < best[name]
    return new[name] > best[name]


def _sync_recorder(c: "Controller") -> None:
    if c.recorder is None or c.policy is None:
        return
    c.recorder.set_history(c.policy.history_view())
    c.recorder.set_model_stats(c.policy.model_stats)


async def _policy_failed(c: "Controller", exc: PolicyError) -> None:
    from mlgym_tui.agents.scripted_policy import ScriptExhausted

    if isinstance(exc, ScriptExhausted):
        await _end(c, "early_exit")
        return
    reason = {
        CostLimitExceeded: "exit_cost",
        ContextWindowExceeded: "exit_context",
        FormatLimitExceeded: "exit_format",
        ModelAPIError: "exit_api",
    }.get(type(exc), "exit_error")
    c.emit(ev.ErrorEvent(message=f"{reason}: {exc}", fatal=True))
    await _autosubmit(c, reason)


async def _autosubmit(c: "Controller", reason: str) -> None:
    await _cancel_proposal(c)
    if c.pending is not None and hasattr(c.policy, "discard_proposal"):
        c.pending = None
    try:
        result = await c.env.autosubmit(reason, step=c.step)
    except Exception as exc:
        c.emit(ev.ErrorEvent(message=f"autosubmission failed: {exc}", fatal=True))
        await _end(c, reason)
        return
    _scored(c, c.step, result)
    status = result.exit_status or reason
    if not result.metrics and reason in ("exit_format", "exit_api", "exit_cost", "exit_context"):
        status = reason if not result.exit_status else result.exit_status
    await _end(c, status, submission=result.submission)


async def _end(c: "Controller", exit_status: str, submission: str | None = None) -> None:
    if c.done:
        return
    await _cancel_proposal(c)
    c.done = True
    c.exit_status = exit_status
    c.submission = submission or c.submission
    _sync_recorder(c)
    scores = list(getattr(c.env, "scores", None) or c.scores)
    c.emit(ev.EpisodeEnded(exit_status=exit_status, submission=c.submission, score=scores,
                           model_stats=c.model_stats))
    c._poke()
