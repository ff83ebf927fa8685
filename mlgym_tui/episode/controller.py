"""The Controller: the one door through which the TUI, the CLI and remote viewers steer an episode.

A thin facade over the EpisodeRunner (runner.py). Its methods check that a request makes sense now (raising
ControllerError with what to do instead), then put a typed command on the runner's queue; the runner applies
it at its next defined point, within the same turn of the event loop when it is waiting. Front ends read the
episode through `state` (a read-only EpisodeState), `info` and the events they subscribe to. See
controller_api.md for the contract. No textual here.
"""

from __future__ import annotations

import asyncio
import dataclasses
import getpass
import logging
import re
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlgym_tui.agents.proposal import Policy, Proposal
from mlgym_tui.episode import commands as cmd
from mlgym_tui.episode.runner import EpisodeRunner, Environment
from mlgym_tui.episode.state import EpisodeInfo, EpisodeReads, EpisodeState
from mlgym_tui.stream import events as ev
from mlgym_tui.stream.events import Event
from mlgym_tui.stream.types import LIMIT_NAMES, MODES, Awaiting, ExitStatus, Mode

if TYPE_CHECKING:
    from mlgym_tui.trajectory.recorder import Recorder

log = logging.getLogger(__name__)


class ControllerError(ValueError):
    """A front end asked for something impossible; the message says what and how to fix it."""


def who_am_i() -> str:
    """user@host: how a person steering an episode is named in its events and status bars."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers)
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def command_name(command: cmd.Command) -> str:
    """SetMode -> set_mode: the name a command is recorded and sent under."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", type(command).__name__).lower()


class Controller(EpisodeReads):
    def __init__(
        self,
        *,
        env: Environment,
        policy: Policy,
        recorder: Recorder | None = None,
        task_id: str,
        agent: str,
        model: str,
        engine: str,
        run_dir: Path | None,
        mode: Mode = "auto",
        max_steps: int = 50,
        cost_limit: float = 0.0,
        wall_time_s: float | None = None,
        baseline: dict[str, float] | None = None,
        metrics: list[dict[str, Any]] | None = None,
        parent: str | None = None,
        prefix: list[ev.StepRecorded] | None = None,
        fork_by: str = "",
        run_id: str = "",
        who: str = "",
    ) -> None:
        if mode not in MODES:
            raise ControllerError(f"unknown mode {mode!r}; use one of: {', '.join(MODES)}")
        self.recorder = recorder
        self.run_dir = Path(run_dir) if run_dir is not None else None
        prefix = list(prefix or [])
        self.info = EpisodeInfo(
            run_id=run_id or (self.run_dir.name if self.run_dir else ""), task_id=task_id, agent=agent, model=model,
            engine=engine, baseline=dict(baseline or {}), metrics=list(metrics or []), parent=parent,
            fork_step=len(prefix) if parent is not None else None, fork_by=fork_by if parent is not None else "",
            who=who,
        )
        self._subscribers: list[Callable[[Event], None]] = []
        self.runner = EpisodeRunner(
            info=self.info, env=env, policy=policy, emit=self.emit, mode=mode, max_steps=max_steps,
            cost_limit=cost_limit, wall_time_s=wall_time_s, prefix=prefix, on_history=self._keep_history,
            steps_on_disk=recorder.step_synced if recorder is not None else None,
        )
        self._task: asyncio.Task | None = None
        # A served episode (mlgym_tui/control) records every command with who sent it; the process's own front
        # end is named user@host (local), an attached viewer by the name it gave.
        self.record_commands = False
        self.local_who = f"{who_am_i()} (local)"
        self._sender: str | None = None

    # ================================================================ reading

    @property
    def state(self) -> EpisodeState:
        return self.runner.state()

    # Shorthands for the fields front ends read most.
    mode = property(lambda self: self.runner.mode)
    paused = property(lambda self: self.runner.paused)
    step = property(lambda self: self.runner.step)
    max_steps = property(lambda self: self.runner.max_steps)
    cost_limit = property(lambda self: self.runner.cost_limit)
    wall_time_s = property(lambda self: self.runner.wall_time_s)
    done = property(lambda self: self.runner.done)
    exit_status = property(lambda self: self.runner.exit_status)
    submission = property(lambda self: self.runner.submission)
    scores = property(lambda self: list(self.runner.scores))
    best_score = property(lambda self: self.runner.best_score)
    divergences = property(lambda self: list(self.runner.divergences))
    env = property(lambda self: self.runner.env)
    policy = property(lambda self: self.runner.policy)

    @property
    def awaiting(self) -> Awaiting | None:
        return self.runner.awaiting

    @property
    def pending(self) -> Proposal | None:
        return self.runner.pending

    @property
    def running_command(self) -> str | None:
        return self.runner.running_command

    @property
    def container_name(self) -> str | None:
        container = getattr(self.runner.env, "container", None)  # a fake environment in tests has none
        return container.name if container is not None else None

    @property
    def model_stats(self) -> dict[str, Any]:
        return dict(self.runner.policy.model_stats)

    def elapsed(self) -> float:
        started = self.runner.started_at
        return time.monotonic() - started if started is not None else 0.0

    # ================================================================ events

    def subscribe(self, callback: Callable[[Event], None]) -> Callable[[], None]:
        """callback(event) runs on the loop thread for every event; returns an unsubscribe function."""
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback) if callback in self._subscribers else None

    def emit(self, event: Event) -> None:
        """Tell the recorder, then every subscriber. The policy emits through here too (tokens, retries), so the
        clock sees its model calls and rate-limit back-off (an event it saw from the runner counts once)."""
        self.runner.clock.observe(event)
        if self.recorder is not None:
            self.recorder(event)  # a recorder failure is a real failure: the run's files are the point
        for callback in list(self._subscribers):
            try:
                callback(event)
            except Exception:  # a broken view must not end the episode
                log.exception("event subscriber %r failed on %s", callback, event.type)

    def _keep_history(self, policy: Policy) -> None:
        if self.recorder is not None:
            self.recorder.set_history(policy.history_view())
            self.recorder.set_model_stats(policy.model_stats)

    # ================================================================ steering

    def send(self, command: cmd.Command) -> None:
        """Queue a command for the runner (the methods below check it first)."""
        if self.record_commands and not isinstance(command, cmd.TerminalCommand):  # that one becomes a step
            self.emit(ev.CommandSent(who=self.sender, command=command_name(command),
                                     args=dataclasses.asdict(command)))
        self.runner.submit(command)

    @property
    def sender(self) -> str:
        """Who the command being sent now comes from."""
        return self._sender or self.local_who

    @contextmanager
    def sent_by(self, who: str) -> Iterator[None]:
        """Commands sent inside this block are recorded as sent by `who` (an attached viewer)."""
        previous, self._sender = self._sender, who
        try:
            yield
        finally:
            self._sender = previous

    def set_mode(self, mode: Mode) -> None:
        self._require_live("change the mode")
        if mode not in MODES:
            raise ControllerError(f"unknown mode {mode!r}; use one of: {', '.join(MODES)}")
        self.send(cmd.SetMode(mode))

    def take_over(self) -> None:
        self.set_mode("human")

    def hand_back(self) -> None:
        self.set_mode(self.runner.mode_to_hand_back())

    def pause(self) -> None:
        self._require_live("pause")
        self.send(cmd.Pause())

    def resume(self) -> None:
        self._require_live("resume")
        self.send(cmd.Resume())

    def step_once(self) -> None:
        """While paused: let exactly one more step run (pausing first if running)."""
        self._require_live("step")
        self.send(cmd.Step())

    def approve(self) -> None:
        self._require_pending("approve")
        self.send(cmd.Approve())

    def approve_edited(self, new_action: str) -> None:
        self._require_pending("edit")
        if not new_action.strip():
            raise ControllerError("the edited action is empty; type a command or use reject")
        self.send(cmd.Edit(new_action))

    def reject(self, comment: str = "") -> None:
        self._require_pending("reject")
        self.send(cmd.Reject(comment))

    def inject(self, command: str) -> None:
        """Runs at the next step boundary as a human step; the agent sees it in its history. In human mode this
        is how a person's next action is given."""
        self._require_live("run a command")
        if not command.strip():
            raise ControllerError("the action is empty; type a command to run")
        self.send(cmd.Inject(command))

    submit_human_action = inject

    def message(self, text: str) -> None:
        self._require_live("message the agent")
        if not text.strip():
            raise ControllerError("the message is empty; type something for the agent to read")
        self.send(cmd.Message(text))

    def interrupt(self) -> None:
        if not self.done:
            self.send(cmd.Interrupt())

    def stop(self, autosubmit: bool = False) -> None:
        """End the episode: with `autosubmit`, after scoring the last valid submission (the default a person is
        offered); without, unscored (early_exit)."""
        if not self.done:
            self.send(cmd.Stop(autosubmit=autosubmit))

    def record_terminal_command(self, *, command: str, output: str, exit_code: int | None, duration: float,
                                cwd: str = "", started_at: float = 0.0) -> None:
        """A command a person ran in the interactive terminal (it has run already): recorded as a step by author
        human-terminal at the runner's next step boundary, in the order it was sent among injects and messages."""
        self._require_live("record a terminal command")
        if not command.strip():
            return  # an empty prompt line is not a step
        self.send(cmd.TerminalCommand(command=command, output=output, exit_code=exit_code, duration=duration,
                                      cwd=cwd, started_at=started_at))

    def set_limit(self, name: str, value: float) -> None:
        self._require_live("change a limit")
        if name not in LIMIT_NAMES:
            raise ControllerError(f"unknown limit {name!r}; use one of: {', '.join(LIMIT_NAMES)}")
        if value is None or value < 0 or (name == "max_steps" and value < 1):
            raise ControllerError(f"limit {name} must be {'>= 1' if name == 'max_steps' else '>= 0'}, got {value!r}")
        self.send(cmd.SetLimit(name, float(value)))

    def _require_live(self, what: str) -> None:
        if self.done:
            raise ControllerError(f"cannot {what}: the episode has ended ({self.exit_status}); start or fork a new one")

    def _require_pending(self, what: str) -> None:
        if self.pending is None:
            raise ControllerError(f"nothing to {what}: no proposed action is waiting")

    # ================================================================ running

    def start(self) -> asyncio.Task:
        """Start the episode as a task (idempotent)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name=f"episode:{self.run_id}")
        return self._task

    async def _run(self) -> None:
        try:
            await self.runner.run()
        finally:
            if self.recorder is not None:
                await self.recorder.aclose()  # the last rewrites and syncs run on a worker thread

    async def run(self) -> str:
        """Run the episode to its end; returns the exit status."""
        await self.start()
        return self.exit_status or ExitStatus.EXIT_ERROR

    async def wait(self) -> str:
        if self._task is None:
            raise ControllerError("the episode has not been started; call controller.start() or run()")
        await asyncio.shield(self._task)
        return self.exit_status or ExitStatus.EXIT_ERROR
