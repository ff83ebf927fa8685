"""Run every task K times, P episodes at once, each in its own container, on one shared engine connection.

Ctrl-C / SIGTERM: no new episode starts; running ones are marked (layout.INTERRUPTED_MARKER) and stopped at
their next step boundary, so their files are complete and a later re-run redoes them. A second signal cancels
them outright. Finished runs are never touched.
"""

from __future__ import annotations

import asyncio
import shutil
import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlgym_tui.batch.layout import (
    INTERRUPTED_MARKER,
    batch_dir_name,
    clear_slot,
    inspect_slot,
    mark_interrupted,
    slot_name,
)
from mlgym_tui.batch.progress import BatchDisplay, SlotProgress, best_text

INTERRUPTED = "interrupted"


class BatchError(ValueError):
    """Bad batch input; the message names the problem and the fix."""


@dataclass
class BatchOutcome:
    batch_dir: Path
    slots: list[SlotProgress]
    interrupted: bool = False
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def all_finished(self) -> bool:
        return not self.interrupted and all(s.status not in (INTERRUPTED, "not started", "waiting")
                                            and not s.status.startswith("failed") for s in self.slots)

    @property
    def exit_code(self) -> int:
        if self.all_finished:
            return 0
        return 130 if self.interrupted else 1


def plan_batch(tasks: list[Any], runs: int) -> list[tuple[Any, int]]:
    """Run 1 of every task, then run 2 of every task, ...: an early stop leaves every task with some runs."""
    return [(task, i) for i in range(1, runs + 1) for task in tasks]


class BatchRunner:
    def __init__(
        self,
        tasks: list[Any],
        agent: Any,
        *,
        runs: int,
        parallel: int,
        runs_dir: Path,
        engine: Any,
        runtime: Any,
        redo: bool = False,
        console: Any = None,
        live: bool | None = None,
        quiet: bool = False,
    ) -> None:
        from rich.console import Console

        if runs < 1:
            raise BatchError(f"--runs must be at least 1, got {runs}")
        if parallel < 1:
            raise BatchError(f"--parallel must be at least 1, got {parallel}")
        if not tasks:
            raise BatchError("no tasks given; pass --tasks A,B,... (ids from `mlgym-tui tasks`, or 'all')")
        if agent.policy == "human":
            raise BatchError(f"agent {agent.name!r} is a person (policy human); a batch needs an llm, baseline or "
                             "replay agent such as agents/default.yaml")
        self.tasks = tasks
        self.agent = agent
        self.runs = runs
        self.parallel = parallel
        self.engine = engine
        self.runtime = runtime
        self.redo = redo
        self.console = console or Console(highlight=False)
        self.quiet = quiet
        self.live = (self.console.is_terminal and not quiet) if live is None else live
        self.batch_dir = Path(runs_dir) / batch_dir_name(agent.model_name, agent.name or agent.policy)
        self.stopping = False
        self._active: set[Any] = set()
        self._workers: list[asyncio.Task] = []
        self.slots: list[SlotProgress] = []
        self.display: BatchDisplay | None = None

    # -- signals ---------------------------------------------------------------------------------------------
    def request_stop(self, reason: str = "stop requested") -> None:
        """First call: start nothing new, stop running episodes at their next step boundary. Second: cancel."""
        if self.stopping:
            self._note(f"{reason} again: cancelling the running episodes now")
            for worker in self._workers:
                worker.cancel()
            return
        self.stopping = True
        self._note(f"{reason}: stopping {len(self._active)} running episode(s); finished runs are kept "
                   "(signal again to cancel at once)")
        for controller in list(self._active):
            mark_interrupted(controller.run_dir, reason)
            controller.stop()

    def _note(self, text: str) -> None:
        if self.display is not None:
            self.display.note(text)
        else:
            self.console.print(text, markup=False, highlight=False, soft_wrap=True)

    def _install_signals(self) -> list[int]:
        loop = asyncio.get_running_loop()
        installed = []
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, self.request_stop, f"{signal.Signals(sig).name} received")
                installed.append(sig)
            except (NotImplementedError, RuntimeError, ValueError):
                pass  # not the main thread (an in-process caller stops us with request_stop)
        return installed

    # -- the batch -----------------------------------------------------------------------------------------
    def _prepare(self) -> list[tuple[Any, SlotProgress, Path]]:
        """Slots to run; finished ones are skipped (unless redo) and unfinished leftovers are deleted."""
        todo = []
        for task, index in plan_batch(self.tasks, self.runs):
            progress = SlotProgress(task.id, index)
            self.slots.append(progress)
            slot = self.batch_dir / slot_name(task.id, index)
            if self.redo:
                for path in clear_slot(slot):
                    self._note(f"--redo: deleted {path}")
                todo.append((task, progress, slot))
                continue
            state = inspect_slot(slot)
            for path in state.unfinished:
                shutil.rmtree(path, ignore_errors=True)
                self._note(f"deleted unfinished run {path} (it will be redone)" if not state.finished
                           else f"deleted unfinished extra run {path} (the slot is already finished)")
            if state.finished:
                progress.status = f"skipped ({state.exit_status})"
                progress.run_dir = str(state.finished_run)
            else:
                todo.append((task, progress, slot))
        return todo

    async def run(self) -> BatchOutcome:
        self.batch_dir.mkdir(parents=True, exist_ok=True)
        self._note(f"batch folder: {self.batch_dir}")
        todo = self._prepare()
        skipped = len(self.slots) - len(todo)
        if skipped:
            self._note(f"{skipped} finished run(s) skipped (pass --redo to run them again)")
        semaphore = asyncio.Semaphore(self.parallel)
        installed = self._install_signals()
        loop = asyncio.get_running_loop()
        self.display = BatchDisplay(self.slots, self.console, self.live, self.quiet)
        try:
            with self.display:
                self._workers = [loop.create_task(self._run_slot(semaphore, task, progress, slot),
                                                  name=f"batch:{progress.label}")
                                 for task, progress, slot in todo]
                results = await asyncio.gather(*self._workers, return_exceptions=True)
                for progress, result in zip((p for _, p, _ in todo), results):
                    if isinstance(result, asyncio.CancelledError):
                        progress.status = INTERRUPTED
                    elif isinstance(result, BaseException):
                        progress.status = f"failed: {type(result).__name__}: {result}"[:200]
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)
        counts: dict[str, int] = {}
        for s in self.slots:
            key = s.status.split(":")[0]
            counts[key] = counts.get(key, 0) + 1
        return BatchOutcome(self.batch_dir, self.slots, interrupted=self.stopping, counts=counts)

    async def _run_slot(self, semaphore: asyncio.Semaphore, task: Any, progress: SlotProgress, slot: Path) -> None:
        from mlgym_tui.episode.session import start_episode

        async with semaphore:
            if self.stopping:
                progress.status = "not started"
                return
            progress.status = "starting"
            slot.mkdir(parents=True, exist_ok=True)
            try:
                controller = await start_episode(task, self.agent, engine_name=getattr(self.engine, "name", "auto"),
                                                 runs_dir=slot, runtime=self.runtime, engine=self.engine)
            except Exception as exc:  # a config or engine problem for this one episode: report, go on
                progress.status = f"failed: {exc}"[:200]
                self._note(f"[{progress.label}] could not start: {exc}")
                return
            if self.stopping:  # the signal came while it was being set up: leave nothing behind
                controller.recorder.close()
                shutil.rmtree(controller.run_dir, ignore_errors=True)
                progress.status = "not started"
                return
            progress.run_dir = str(controller.run_dir)
            progress.max_steps = controller.max_steps
            progress.controller = controller
            controller.subscribe(lambda event: self._on_event(progress, controller, event))
            self._active.add(controller)
            progress.status = "running"
            self.display.started(progress)
            try:
                await controller.run()
            finally:
                self._active.discard(controller)
                progress.refresh_from(controller)
                was_stopped = self.stopping and (controller.exit_status in (None, "early_exit"))
                if was_stopped:
                    mark_interrupted(controller.run_dir, "batch stopped")
                else:  # it ended on its own while the stop was on its way: a finished run, keep it as one
                    (Path(controller.run_dir) / INTERRUPTED_MARKER).unlink(missing_ok=True)
                progress.status = INTERRUPTED if was_stopped else (controller.exit_status or "exit_error")
                self.display.ended(progress)

    def _on_event(self, progress: SlotProgress, controller: Any, event: Any) -> None:
        kind = event.type
        if kind in ("step", "validation_scored", "model_query_finished", "episode_ended"):
            progress.step = controller.step
            progress.cost = controller.cost
            progress.best = best_text(controller)
            if kind == "step":
                self.display.stepped(progress)
