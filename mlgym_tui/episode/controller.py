"""The Controller: the only door through which the TUI and the CLI steer an episode.

See controller_api.md for the contract. Everything runs on one asyncio loop; methods are plain (non-async)
calls that change state and wake the episode loop (mlgym_tui/episode/loop.py), which acts at the next step
boundary. No textual here.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mlgym_tui.stream import events as ev
from mlgym_tui.stream.events import Event

log = logging.getLogger(__name__)

MODES = ("auto", "confirm", "human")
LIMIT_NAMES = ("max_steps", "cost_limit", "wall_time_s")


class ControllerError(ValueError):
    """A front end asked for something impossible; the message says what and how to fix it."""


class Controller:
    def __init__(
        self,
        *,
        env: Any,
        policy: Any = None,
        policy_factory: Callable[["Controller"], Any] | None = None,
        recorder: Any = None,
        task_id: str,
        agent: str,
        model: str,
        engine: str,
        run_dir: Path | None,
        mode: str = "auto",
        max_steps: int = 50,
        cost_limit: float = 0.0,
        wall_time_s: float | None = None,
        baseline: dict[str, float] | None = None,
        metrics: list[dict[str, Any]] | None = None,
        parent: str | None = None,
        prefix: list[ev.StepRecorded] | None = None,
        run_id: str = "",
    ) -> None:
        if mode not in MODES:
            raise ControllerError(f"unknown mode {mode!r}; use one of: {', '.join(MODES)}")
        self.env = env
        self.policy = policy
        self._policy_factory = policy_factory
        self.recorder = recorder
        self.task_id = task_id
        self.agent = agent
        self.model = model
        self.engine = engine
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.run_id = run_id or (self.run_dir.name if self.run_dir else "")
        self.mode = mode
        self._previous_mode = mode if mode != "human" else "auto"
        self.paused = False
        self.step = 0
        self.max_steps = int(max_steps)
        self.cost_limit = float(cost_limit)
        self.wall_time_s = wall_time_s
        self.baseline = dict(baseline or {})
        self.metrics = list(metrics or [])
        self.parent = parent
        self.prefix = list(prefix or [])
        self.fork_step = len(self.prefix) if parent is not None else None
        self.pending = None  # Proposal waiting to run (confirm mode: waiting for approval)
        self.running_command: str | None = None
        self.done = False
        self.exit_status: str | None = None
        self.submission: str | None = None
        self.best_score: dict[str, float] | None = None
        self.scores: list[dict[str, float]] = []
        self.divergences: list[Any] = []  # fork: where the re-executed prefix differed from the parent
        self.started_at: float | None = None
        # Front ends can show what the loop waits for: None | "model" | "approval" | "human" | "command" | "paused"
        self.awaiting: str | None = None

        self._subscribers: list[Callable[[Event], None]] = []
        self._wake = asyncio.Event()
        self._human_queue: deque[str] = deque()
        self._decision: tuple[str, str] | None = None  # ("approve"|"edit"|"reject", text)
        self._step_tokens = 0
        self._stop_requested = False
        self._task: asyncio.Task | None = None
        self._propose_task: asyncio.Task | None = None  # the model call in flight
        self._agent_is_human = False
        self._interrupt_requested = False
        if recorder is not None:
            self._subscribers.append(recorder)

    # -- read-only conveniences ---------------------------------------------------------------------------------
    @property
    def container_name(self) -> str | None:
        container = getattr(self.env, "container", None)
        return getattr(container, "name", None)

    @property
    def model_stats(self) -> dict[str, Any]:
        stats = getattr(self.policy, "model_stats", None)
        return dict(stats) if stats else {}

    @property
    def cost(self) -> float:
        return float(self.model_stats.get("total_cost", 0.0))

    @property
    def tokens_in(self) -> int:
        return int(self.model_stats.get("tokens_sent", 0))

    @property
    def tokens_out(self) -> int:
        return int(self.model_stats.get("tokens_received", 0))

    @property
    def primary_metric(self) -> dict[str, Any] | None:
        for metric in self.metrics:
            if metric.get("primary"):
                return metric
        return self.metrics[0] if self.metrics else None

    # -- events -----------------------------------------------------------------------------------------------------
    def subscribe(self, callback: Callable[[Event], None]) -> Callable[[], None]:
        """callback(event) runs on the loop thread for every event; returns an unsubscribe function."""
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback) if callback in self._subscribers else None

    def emit(self, event: Event) -> None:
        for callback in list(self._subscribers):
            if callback is self.recorder:
                callback(event)  # a recorder failure is a real failure: the run's files are the point
                continue
            try:
                callback(event)
            except Exception:  # a broken view must not end the episode
                log.exception("event subscriber %r failed on %s", callback, event.type)

    def _poke(self) -> None:
        self._wake.set()

    # -- methods for front ends -------------------------------------------------------------------------------------
    def set_mode(self, mode: str) -> None:
        self._require_live("change the mode")
        if mode not in MODES:
            raise ControllerError(f"unknown mode {mode!r}; use one of: {', '.join(MODES)}")
        if mode == self.mode:
            return
        if self.mode != "human":
            self._previous_mode = self.mode
        self.mode = mode
        if mode != "confirm":
            self._decision = None
        self.emit(ev.ModeChanged(mode=mode))
        self._poke()

    def take_over(self) -> None:
        self.set_mode("human")

    def hand_back(self) -> None:
        self.set_mode(self._previous_mode if self._previous_mode != "human" else "auto")

    def pause(self) -> None:
        self._require_live("pause")
        if not self.paused:
            self.paused = True
            self._step_tokens = 0
            self.emit(ev.Paused())
            self._poke()

    def resume(self) -> None:
        self._require_live("resume")
        if self.paused:
            self.paused = False
            self.emit(ev.Resumed())
            self._poke()

    def step_once(self) -> None:
        """While paused: let exactly one more step run (pausing first if running)."""
        self._require_live("step")
        if not self.paused:
            self.pause()
        self._step_tokens += 1
        self._poke()

    def approve(self) -> None:
        self._require_pending("approve")
        self._decision = ("approve", "")
        self._poke()

    def approve_edited(self, new_action: str) -> None:
        self._require_pending("edit")
        if not new_action.strip():
            raise ControllerError("the edited action is empty; type a command or use reject")
        self._decision = ("edit", new_action)
        self._poke()

    def reject(self, comment: str = "") -> None:
        self._require_pending("reject")
        self._decision = ("reject", comment)
        self._poke()

    def submit_human_action(self, action: str) -> None:
        self._require_live("run a command")
        if not action.strip():
            raise ControllerError("the action is empty; type a command to run")
        self._human_queue.append(action)
        self._poke()

    def inject(self, command: str) -> None:
        """Runs at the next step boundary as a human step; the agent sees it in its history."""
        self.submit_human_action(command)

    def message(self, text: str) -> None:
        self._require_live("message the agent")
        if not text.strip():
            raise ControllerError("the message is empty; type something for the agent to read")
        if self.policy is None:
            raise ControllerError("the agent is not ready yet; send the message once the episode has started")
        self.policy.add_user_message(text)
        self.emit(ev.MessageToAgent(text=text))

    def interrupt(self) -> None:
        if self.running_command is not None and self.env is not None:
            self._interrupt_requested = True
            asyncio.get_running_loop().create_task(self.env.interrupt(), name="interrupt")

    def stop(self) -> None:
        if self.done:
            return
        self._stop_requested = True
        self.interrupt()
        self._poke()

    def set_limit(self, name: str, value: float) -> None:
        self._require_live("change a limit")
        if name not in LIMIT_NAMES:
            raise ControllerError(f"unknown limit {name!r}; use one of: {', '.join(LIMIT_NAMES)}")
        if value is None or value < 0 or (name == "max_steps" and value < 1):
            raise ControllerError(f"limit {name} must be {'>= 1' if name == 'max_steps' else '>= 0'}, got {value!r}")
        if name == "max_steps":
            self.max_steps = int(value)
        elif name == "cost_limit":
            self.cost_limit = float(value)
        else:
            self.wall_time_s = float(value) or None
        if self.policy is not None and hasattr(self.policy, name):
            setattr(self.policy, name, getattr(self, name))
        self.emit(ev.LimitChanged(name=name, value=float(value)))
        self._poke()

    def _require_live(self, what: str) -> None:
        if self.done:
            raise ControllerError(f"cannot {what}: the episode has ended ({self.exit_status}); start or fork a new one")

    def _require_pending(self, what: str) -> None:
        if self.pending is None:
            raise ControllerError(f"nothing to {what}: no proposed action is waiting")

    # -- running ------------------------------------------------------------------------------------------------------
    def start(self) -> asyncio.Task:
        """Start the episode loop as a task (idempotent)."""
        if self._task is None:
            from mlgym_tui.episode.loop import run_episode

            self._task = asyncio.get_running_loop().create_task(run_episode(self), name=f"episode:{self.run_id}")
        return self._task

    async def run(self) -> str:
        """Run the episode to its end; returns the exit status."""
        await self.start()
        return self.exit_status or "exit_error"

    async def wait(self) -> str:
        if self._task is None:
            raise ControllerError("the episode has not been started; call controller.start() or run()")
        await asyncio.shield(self._task)
        return self.exit_status or "exit_error"

    @property
    def succeeded(self) -> bool:
        """Submitted or auto-submitted with a score."""
        status = self.exit_status or ""
        return bool(self.scores) and (status == "submitted" or status.startswith("autosubmission"))

    def elapsed(self) -> float:
        return time.monotonic() - self.started_at if self.started_at is not None else 0.0
