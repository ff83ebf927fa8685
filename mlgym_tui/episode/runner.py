"""The episode runner: one asyncio task that drives an episode from the environment's first observation to its end.

A step has four phases, each a method below: the **next action** (a person's queued command first, then a
person in human mode, then the policy's proposal), its **confirmation** (confirm mode: approve, edit or
reject), its **execution** in the environment, and its **record** (events, the policy's history, a score).
Front ends never touch this object's state: they put typed commands (commands.py) on `commands`, and the runner
applies them at defined points — at the top of every step, while it waits (for the model, an approval, a person
or a pause) and while a command runs. What it does is told as events through `emit`.

The exception type decides how an episode ends: a PolicyError ends it with the status its type names (scoring
the last valid submission; a model unusable as configured, ModelConfigError, ends it unscored: exit_config),
cancellation is an early exit, anything else an exit_error.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from mlgym_tui.agents.errors import (
    ContextWindowExceeded,
    CostLimitExceeded,
    FormatLimitExceeded,
    ModelAPIError,
    ModelConfigError,
    PolicyError,
)
from mlgym_tui.agents.proposal import Policy, Proposal
from mlgym_tui.episode import commands as cmd
from mlgym_tui.episode.state import EpisodeInfo, EpisodeState
from mlgym_tui.stream import events as ev
from mlgym_tui.stream.clock import EpisodeClock, observed_by
from mlgym_tui.stream.types import PERSON_AUTHORS, Author, Awaiting, ExitStatus, Mode

log = logging.getLogger(__name__)

# A policy error ends the episode with the status its type names, after scoring the last valid submission.
POLICY_EXITS: dict[type[PolicyError], ExitStatus] = {
    CostLimitExceeded: ExitStatus.EXIT_COST,
    ContextWindowExceeded: ExitStatus.EXIT_CONTEXT,
    FormatLimitExceeded: ExitStatus.EXIT_FORMAT,
    ModelAPIError: ExitStatus.EXIT_API,
    ModelConfigError: ExitStatus.EXIT_CONFIG,
}
# ... except these, which end it unscored: the model was not usable as configured, so the run is not the agent's.
UNSCORED_EXITS: frozenset[ExitStatus] = frozenset({ExitStatus.EXIT_CONFIG})


class Environment(Protocol):
    """What the runner needs of an environment (MLGymEnvironment, or a fake in the loop tests)."""

    trust: str
    trust_reason: str
    shell: Any  # has subscribe(callback) -> unsubscribe, for the running command's output
    scores: list[dict[str, float]]

    async def reset(self) -> str: ...

    def state(self) -> dict[str, Any]: ...

    async def step(self, action: str, step: int | None = None) -> Any: ...  # a StepResult

    async def autosubmit(self, reason: str, step: int | None = None) -> Any: ...

    async def interrupt(self) -> None: ...

    async def close(self) -> None: ...


@dataclass(frozen=True)
class Action:
    """An action chosen to run, and who chose it."""

    text: str
    author: Author
    proposal: Proposal | None = None  # the policy's proposal it came from (thought, tokens, cost)
    edited_from: str | None = None  # the proposal's action, when a person edited it


class EpisodeRunner:
    def __init__(
        self,
        *,
        info: EpisodeInfo,
        env: Environment,
        policy: Policy,
        emit: Callable[[ev.Event], None],
        mode: Mode = "auto",
        max_steps: int = 50,
        cost_limit: float = 0.0,
        wall_time_s: float | None = None,
        prefix: list[ev.StepRecorded] | None = None,
        on_history: Callable[[Policy], None] | None = None,
        steps_on_disk: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.info = info
        self.env = env
        self.policy = policy
        self.clock = EpisodeClock()  # wall, active and a person's time, from the events emitted
        self.emit = observed_by(self.clock, emit)
        self.commands: asyncio.Queue[cmd.Command] = asyncio.Queue()
        self.prefix = list(prefix or [])
        self._on_history = on_history  # the recorder keeps the policy's history for the .traj
        self._steps_on_disk = steps_on_disk  # resolves once every recorded step is synced (off the loop)

        self.mode: Mode = mode
        self._mode_before_human: Mode = mode if mode != "human" else "auto"
        self.paused = False
        self._step_tokens = 0  # agent steps allowed while paused (Step); a person's steps never use one
        self.step = 0
        self.max_steps = int(max_steps)
        self.cost_limit = float(cost_limit)
        self.wall_time_s = wall_time_s
        self.awaiting: Awaiting | None = None
        self.pending: Proposal | None = None
        self.running_command: str | None = None
        self.done = False
        self.exit_status: str | None = None

        self.submission: str | None = None
        self.scores: list[dict[str, float]] = []
        self.best_score: dict[str, float] | None = None
        self.divergences: list[Any] = []  # a fork: where the re-executed prefix differed from its parent
        self.started_at: float | None = None

        self._proposing: asyncio.Future[Proposal] | None = None  # the model call in flight
        self._decision: cmd.Approve | cmd.Edit | cmd.Reject | None = None
        # What a person sent for the agent, in the order sent: commands to run (Inject), commands already run in
        # the terminal (TerminalCommand) and messages. A message waits behind the steps sent before it, so the
        # model reads them in that order.
        self._from_person: deque[cmd.Inject | cmd.TerminalCommand | cmd.Message] = deque()
        self._stop_requested = False
        self._stop_autosubmit = False
        self._scoring_clock: tuple[float, float] | None = None  # the clocks when the running scoring began
        self._interrupt_requested = False
        self._sent = self._applied = 0  # commands submitted / applied (or dropped): what is still on its way

    # ================================================================ what front ends read

    def state(self) -> EpisodeState:
        return EpisodeState(
            mode=self.mode, paused=self.paused, awaiting=self.awaiting, step=self.step, max_steps=self.max_steps,
            cost_limit=self.cost_limit, wall_time_s=self.wall_time_s, pending=self.pending,
            running_command=self.running_command, agent_is_person=self.policy.is_person, done=self.done,
            exit_status=self.exit_status, queued_commands=self._sent - self._applied,
        )

    def submit(self, command: cmd.Command) -> None:
        """Queue a command; it is applied at the runner's next defined point."""
        self._sent += 1
        self.commands.put_nowait(command)

    # ================================================================ the episode

    async def run(self) -> str:
        """Run the episode to its end; returns the exit status."""
        self.started_at = time.monotonic()
        self._announce()
        unsubscribe = None
        try:
            try:
                observation = await self.env.reset()
            except Exception as exc:
                self.emit(ev.ErrorEvent(message=f"the environment did not start: {exc}", fatal=True))
                await self._end(ExitStatus.EXIT_ERROR)
                return self.exit_status
            self.policy.max_steps, self.policy.cost_limit = self.max_steps, self.cost_limit
            unsubscribe = self.env.shell.subscribe(self._on_output)
            await self._snapshot(self.step)  # the workspace as the task gave it (or as a restored fork has it)
            observation = await self._replay_prefix(observation)
            while not self.done:
                observation = await self._step(observation)
        except asyncio.CancelledError:
            if not self.done:
                await asyncio.shield(self._end(ExitStatus.EARLY_EXIT))
            raise
        except Exception as exc:
            self.emit(ev.ErrorEvent(message=f"episode failed: {type(exc).__name__}: {exc}", fatal=True))
            await self._end(ExitStatus.EXIT_ERROR)
        finally:
            if unsubscribe is not None:
                unsubscribe()
            await self._cancel_proposal()
            await self.env.close()
        return self.exit_status or ExitStatus.EXIT_ERROR

    async def _step(self, observation: str) -> str:
        """One pass of the loop: apply commands, end at a limit, else run the next action or wait for one."""
        self._apply_queued()
        try:
            self._take_proposal()
        except PolicyError as exc:
            await self._policy_failed(exc)
            return observation
        observation = self._record_terminal_steps(observation)  # before an end: they ran, they are on the record
        if self._stop_requested:
            if self._stop_autosubmit:
                await self._autosubmit(ExitStatus.EARLY_EXIT)
            else:
                await self._end(ExitStatus.EARLY_EXIT)
            return observation
        limit = self._limit_reached()
        if limit is not None:
            await self._autosubmit(limit)
            return observation
        choice = self._next_action(observation)
        if not isinstance(choice, Action):
            await self._wait(choice)
            return observation
        result = await self._execute(choice)
        return result.observation

    # ---------------------------------------------------------------- phase 1: the next action

    def _next_action(self, observation: str) -> Action | Awaiting:
        """The action to run now, or what the runner has to wait for before there is one."""
        if self._from_person and isinstance(self._from_person[0], cmd.Inject):
            action = Action(self._from_person.popleft().command, author="human")
            self._supersede("a person ran a command first")
            return action
        if self.mode == "human" or self.policy.is_person:
            return "human"
        if self.pending is None:
            if self._proposing is None:
                if not self._may_step():
                    return "paused"
                state = {**self.env.state(), "max_steps": self.max_steps}
                self._proposing = asyncio.ensure_future(self.policy.propose(self.step + 1, observation, state))
            return "model"
        if self.mode == "confirm":
            return self._confirmed(observation)
        if not self._may_step():
            return "paused"
        return self._take_pending()

    def _take_proposal(self) -> None:
        """A finished model call becomes the pending proposal, whatever the mode is now."""
        task = self._proposing
        if task is None or not task.done():
            return
        self._proposing = None
        proposal = task.result()  # a PolicyError ends the episode (_step)
        self.pending = proposal
        self._decision = None
        self.emit(ev.ActionProposed(step=self.step + 1, action=proposal.action, thought=proposal.thought,
                                    author=proposal.author))

    def _take_pending(self, edited: str | None = None) -> Action:
        proposal, self.pending = self.pending, None
        assert proposal is not None
        if edited is None:
            return Action(proposal.action, author=proposal.author, proposal=proposal)
        return Action(edited, author=proposal.author, proposal=proposal, edited_from=proposal.action)

    def _supersede(self, reason: str) -> None:
        """A person acted: the agent's proposal (in flight or pending) was made without seeing it, so it is
        dropped unrun, the transcript says so, and the agent proposes again from what it sees after."""
        if self.policy.is_person:
            return
        step = self.step + 1
        task, self._proposing = self._proposing, None
        if task is not None and task.done() and not task.cancelled() and task.exception() is None:
            self.pending = task.result()  # answered in the same turn: discarded below, like any pending proposal
        elif task is not None:
            task.cancel()  # the policy puts its history back as it was before the call (LLMPolicy.propose)
            task.add_done_callback(_consume_outcome)
            self.emit(ev.ProposalDiscarded(step=step, action="", reason=f"{reason} while the model was thinking; "
                                                                        "it proposes again from what it sees now"))
        proposal, self.pending = self.pending, None
        if proposal is not None:
            self._decision = None
            self.policy.discard_proposal()
            self.emit(ev.ProposalDiscarded(step=step, action=proposal.action,
                                           reason=f"{reason}; the agent proposes again from what it sees now"))

    def _record_terminal_steps(self, observation: str) -> str:
        """Commands a person already ran in the interactive terminal become steps (author human-terminal);
        messages sent after them are delivered after them."""
        while self._from_person and isinstance(self._from_person[0], (cmd.TerminalCommand, cmd.Message)):
            item = self._from_person.popleft()
            if isinstance(item, cmd.Message):
                self._deliver(item.text)
                continue
            self._supersede("a person ran a command in the terminal")
            step = self.step = self.step + 1
            self.policy.record_step(item.command, item.output, "human")
            self._history_changed()
            self.emit(ev.StepRecorded(
                step=step, author="human-terminal", action=item.command, observation=item.output,
                state={**self.env.state(), "working_dir": item.cwd} if item.cwd else dict(self.env.state()),
                exit_code=item.exit_code, started_at=item.started_at, duration=item.duration,
            ))
            observation = item.output
        return observation

    def _deliver(self, text: str) -> None:
        self.policy.add_user_message(text)
        self.emit(ev.MessageToAgent(text=text))

    # ---------------------------------------------------------------- phase 2: confirmation (confirm mode)

    def _confirmed(self, observation: str) -> Action | Awaiting:
        decision, self._decision = self._decision, None
        proposal = self.pending
        assert proposal is not None
        if decision is None:
            return "approval"
        if isinstance(decision, cmd.Reject):
            self.pending = None
            self.emit(ev.ActionRejected(step=self.step + 1, action=proposal.action, comment=decision.comment))
            self.policy.discard_proposal(decision.comment)
            return self._next_action(observation)  # the policy is asked again (unless paused)
        if isinstance(decision, cmd.Edit) and decision.action.strip() != proposal.action.strip():
            self.emit(ev.ActionEdited(step=self.step + 1, original=proposal.action, action=decision.action))
            return self._take_pending(edited=decision.action)
        self.emit(ev.ActionApproved(step=self.step + 1, action=proposal.action, by="human"))
        return self._take_pending()

    # ---------------------------------------------------------------- phase 3: execution

    async def _execute(self, action: Action, *, thought: str = "", response: str = "",
                       policy_author: str | None = None) -> Any:
        if self._steps_on_disk is not None:
            # A command changes the workspace: the steps before it must be on disk first, so a crash of the
            # machine loses at most the step in flight. The sync began when the step ended; this rarely waits.
            await self._steps_on_disk()
        step = self.step + 1
        if self.paused and self._step_tokens > 0 and action.author != "human":
            self._step_tokens -= 1
        self.running_command = action.text
        self._interrupt_requested = False
        self.emit(ev.CommandStarted(step=step, action=action.text, author=action.author))
        self._scoring_clock = self._clock_now()  # a score this command gives is of the files as they are now
        started_at, t0 = time.time(), time.monotonic()
        deadline = self._deadline()
        watchdog = None
        if deadline is not None:
            watchdog = asyncio.get_running_loop().call_later(max(0.0, deadline - time.monotonic()),
                                                             self._interrupt_command)
        running = asyncio.ensure_future(self.env.step(action.text, step=step))
        try:
            while not running.done():
                await self._wait("command", running)  # commands apply while it runs: pause, stop, interrupt...
            result = running.result()
        finally:
            if watchdog is not None:
                watchdog.cancel()
            if not running.done():
                running.cancel()
            self.running_command = None
        self._record(step, action, result, time.monotonic() - t0, started_at, thought, response, policy_author)
        await self._snapshot(step)
        if result.done:
            await self._end(result.exit_status or ExitStatus.SUBMITTED, submission=result.submission)
        return result

    # ---------------------------------------------------------------- phase 4: the record

    def _record(self, step: int, action: Action, result: Any, elapsed: float, started_at: float, thought: str,
                response: str, policy_author: str | None) -> None:
        proposal = action.proposal
        if proposal is not None:
            thought, response = proposal.thought, proposal.response
        duration = result.duration or elapsed
        self.emit(ev.CommandFinished(step=step, exit_code=result.exit_code, duration=duration,
                                     timed_out=result.timed_out,
                                     interrupted=bool(result.interrupted or self._interrupt_requested)))
        self.step = step
        # In the policy's own history a step is its own or a person's.
        author = policy_author or ("human" if action.author == "human" else "agent")
        self.policy.record_step(action.text, result.observation, author, thought)
        self._history_changed()
        self.emit(ev.StepRecorded(
            step=step, author=action.author, action=action.text, observation=result.observation, thought=thought,
            response=response, state=dict(result.state or {}), exit_code=result.exit_code, started_at=started_at,
            duration=duration, tokens_in=proposal.tokens_in if proposal else 0,
            tokens_out=proposal.tokens_out if proposal else 0, cost=proposal.cost if proposal else 0.0,
            edited_from=action.edited_from, timed_out=result.timed_out,
        ))
        self._scored(step, result)

    def _scored(self, step: int, result: Any) -> None:
        if not result.metrics:
            return
        wall_s, active_s = self._scoring_clock or self._clock_now()
        metrics = dict(result.metrics)
        self.scores.append(metrics)
        self.submission = result.submission or self.submission
        if self._better(metrics, self.best_score):
            self.best_score = metrics
        self.emit(ev.ValidationScored(step=step, metrics=metrics, baseline=dict(self.info.baseline),
                                      submission=result.submission, final=bool(result.done),
                                      trust=result.trust or "", artefacts=result.artefacts or "",
                                      wall_s=wall_s, active_s=active_s))

    def _better(self, new: dict[str, float], best: dict[str, float] | None) -> bool:
        if best is None:
            return True
        metric = self.info.primary_metric
        name = metric.get("name") if metric else next(iter(new), None)
        if name not in new or name not in best:
            return False
        if metric and metric.get("direction") == "minimize":
            return new[name] < best[name]
        return new[name] > best[name]

    def _clock_now(self, at_time_limit: bool = False) -> tuple[float, float]:
        """Wall and active seconds now: what a score is stamped with is when its scoring began (the files scored are
        those of that moment), so scoring seconds never push a validation out of a budget."""
        wall, active = self.clock.wall_s(), self.clock.active_s()
        if at_time_limit and self.wall_time_s:
            # Noticed a moment after the limit: the submission scored is the one at the limit.
            wall, active = min(wall, self.wall_time_s), min(active, self.wall_time_s)
        return wall, active

    def _history_changed(self) -> None:
        if self._on_history is not None:
            self._on_history(self.policy)

    # ================================================================ commands

    async def _wait(self, awaiting: Awaiting, work: asyncio.Future | None = None) -> None:
        """Until a command arrives (and is applied) or `work` ends; between steps also until the model call ends
        or the wall time runs out (a running command has its own wall-time watchdog)."""
        self.awaiting = awaiting
        try:
            if self._apply_queued():
                return
            if work is None and self._proposing is not None:
                work = self._proposing
                if not work.done():
                    await asyncio.sleep(0)  # a policy that needs no I/O answers at once: skip the machinery
                if work.done():
                    return
            get = asyncio.ensure_future(self.commands.get())
            waits: list[asyncio.Future] = [get] if work is None else [get, work]
            deadline = self._deadline() if awaiting != "command" else None
            timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            finally:
                if get.done() and not get.cancelled():
                    self._apply(get.result())
                    self._apply_queued()
                else:
                    get.cancel()  # an item a cancelled get had been handed stays in the queue
        finally:
            self.awaiting = None

    def _apply_queued(self) -> bool:
        applied = False
        while not self.commands.empty():
            self._apply(self.commands.get_nowait())
            applied = True
        return applied

    def _apply(self, command: cmd.Command) -> None:
        """Apply one command now. A command that no longer fits (the episode ended, the proposal is gone) is
        dropped: the Controller refused what was impossible when it was sent."""
        self._applied += 1
        if self.done:
            return
        match command:
            case cmd.Approve() | cmd.Edit() | cmd.Reject():
                if self.pending is not None and self.mode == "confirm":
                    self._decision = command
            case cmd.Inject() | cmd.TerminalCommand():
                self._from_person.append(command)
            case cmd.Message(text=text):
                if self._from_person:
                    self._from_person.append(command)  # after the steps sent before it
                else:
                    self._deliver(text)
            case cmd.SetMode(mode=mode):
                self._set_mode(mode)
            case cmd.Pause():
                self._pause()
            case cmd.Resume():
                if self.paused:
                    self.paused = False
                    self.emit(ev.Resumed())
            case cmd.Step():
                self._pause()
                self._step_tokens += 1
            case cmd.Interrupt():
                self._interrupt_command()
            case cmd.Stop(autosubmit=autosubmit):
                self._stop_requested = True
                self._stop_autosubmit = autosubmit
                self._interrupt_command()
            case cmd.SetLimit(name=name, value=value):
                self._set_limit(name, value)

    def _set_mode(self, mode: Mode) -> None:
        if mode == self.mode:
            return
        if self.mode != "human":
            self._mode_before_human = self.mode
        if mode == "human":
            self._supersede("a person took over")  # handing back never runs a proposal made before
        self.mode = mode
        if mode != "confirm":
            self._decision = None
        self.emit(ev.ModeChanged(mode=mode))

    def mode_to_hand_back(self) -> Mode:
        return self._mode_before_human

    def _pause(self) -> None:
        if not self.paused:
            self.paused = True
            self._step_tokens = 0
            self.emit(ev.Paused())

    def _may_step(self) -> bool:
        return not self.paused or self._step_tokens > 0

    def _set_limit(self, name: str, value: float) -> None:
        if name == "max_steps":
            self.max_steps = self.policy.max_steps = int(value)
        elif name == "cost_limit":
            self.cost_limit = self.policy.cost_limit = float(value)
        else:
            self.wall_time_s = float(value) or None
        self.emit(ev.LimitChanged(name=name, value=float(value)))

    def _interrupt_command(self) -> None:
        if self.running_command is not None:
            self._interrupt_requested = True
            asyncio.get_running_loop().create_task(self.env.interrupt(), name="interrupt")

    # ================================================================ limits and the end

    def _deadline(self) -> float | None:
        if not self.wall_time_s or self.started_at is None:
            return None
        return self.started_at + self.wall_time_s

    def _limit_reached(self) -> ExitStatus | None:
        if self.step >= self.max_steps:
            return ExitStatus.MAX_STEPS
        deadline = self._deadline()
        if deadline is not None and time.monotonic() >= deadline:
            return ExitStatus.EXIT_TIME
        return None

    async def _policy_failed(self, exc: PolicyError) -> None:
        from mlgym_tui.agents.scripted_policy import ScriptExhausted

        if isinstance(exc, ScriptExhausted):
            await self._end(ExitStatus.EARLY_EXIT)
            return
        reason = POLICY_EXITS.get(type(exc), ExitStatus.EXIT_ERROR)
        self.emit(ev.ErrorEvent(message=f"{reason}: {exc}", fatal=True))
        if reason in UNSCORED_EXITS:
            await self._end(reason)
            return
        await self._autosubmit(reason)

    async def _autosubmit(self, reason: ExitStatus) -> None:
        """Score the last valid submission, then end: MLGym's rule at a limit or a policy failure."""
        await self._cancel_proposal()
        self.pending = None
        self._scoring_clock = self._clock_now(at_time_limit=reason == ExitStatus.EXIT_TIME)
        try:
            result = await self.env.autosubmit(reason, step=self.step)
        except Exception as exc:
            self.emit(ev.ErrorEvent(message=f"autosubmission failed: {exc}", fatal=True))
            await self._end(reason)
            return
        self._scored(self.step, result)
        await self._end(result.exit_status or reason, submission=result.submission)

    async def _end(self, exit_status: str, submission: str | None = None) -> None:
        if self.done:
            return
        await self._cancel_proposal()
        self._record_terminal_steps("")  # commands a person ran while the last step ran are on the record too
        self.done = True
        self.exit_status = str(exit_status)
        self.submission = submission or self.submission
        self._history_changed()
        self.emit(ev.EpisodeEnded(exit_status=self.exit_status, submission=self.submission,
                                  score=list(self.env.scores or self.scores), model_stats=self.policy.model_stats,
                                  wall_s=self.clock.wall_s(), active_s=self.clock.active_s(),
                                  human_s=self.clock.human_s()))

    async def _cancel_proposal(self) -> None:
        task, self._proposing = self._proposing, None
        if task is not None and not task.done():
            task.cancel()
            try:
                await task
            except BaseException:
                pass

    # ================================================================ the rest

    def _announce(self) -> None:
        i = self.info
        self.emit(ev.EpisodeStarted(
            run_id=i.run_id, task_id=i.task_id, agent=i.agent, model=i.model, mode=self.mode, engine=i.engine,
            max_steps=self.max_steps, cost_limit=self.cost_limit, parent=i.parent, fork_step=i.fork_step,
            fork_by=i.fork_by, baseline=dict(i.baseline), metrics=list(i.metrics), trust=self.env.trust,
            trust_reason=self.env.trust_reason, who=i.who, wall_time_s=self.wall_time_s,
        ))

    async def _snapshot(self, step: int) -> None:
        """The workspace's changes at `step`, right after its StepRecorded (an environment without snapshots, as
        the loop tests' fakes, has none). Exported variables whose names look secret are redacted here."""
        take = getattr(self.env, "snapshot_workspace", None)
        snapshot = await take(step) if take is not None else None
        if snapshot is None:
            return
        if snapshot.env:
            from mlgym_tui.trajectory.redaction import REDACTED, name_looks_secret

            snapshot.env = {k: REDACTED if name_looks_secret(k) else v for k, v in snapshot.env.items()}
        self.emit(snapshot)

    def _on_output(self, text: str) -> None:
        if self.running_command is not None:
            self.emit(ev.OutputChunk(step=self.step + 1, data=text))

    async def _replay_prefix(self, observation: str) -> str:
        """A fork re-executes its parent's first steps (author "replay") and notes where they diverge."""
        if not self.prefix:
            return observation
        from mlgym_tui.episode.reexecute import compare_step

        self.policy.prime(observation, {"max_steps": self.max_steps})
        for original in self.prefix:
            self._apply_queued()
            if self._stop_requested:
                await self._end(ExitStatus.EARLY_EXIT)
                return observation
            result = await self._execute(
                Action(original.action, author="replay"), thought=original.thought, response=original.response,
                policy_author="human" if original.author in PERSON_AUTHORS else "agent",
            )
            divergence = compare_step(original, result.observation, result.metrics, self.step)
            if divergence is not None:
                self.divergences.append(divergence)
                self.emit(ev.ErrorEvent(message=f"fork: {divergence.summary()}", fatal=False))
            if self.done:
                return result.observation
        return ""


def _consume_outcome(task: asyncio.Future) -> None:
    """A cancelled model call's outcome is of no interest; fetch it so asyncio does not log it as lost."""
    if not task.cancelled():
        task.exception()
