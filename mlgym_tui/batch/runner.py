"""Run every task K times, P episodes at once, each in its own container.

Where the episodes run is the executor's business: `local` (local_executor.py: this process, one shared engine
connection) or `ray` (ray_executor.py: one Ray task per episode on a cluster node; --parallel caps the whole
cluster). Either way the driver writes the same batch layout (layout.py) and shows the same table (progress.py).

Ctrl-C / SIGTERM: no new episode starts; running ones are marked (layout.INTERRUPTED_MARKER) and stopped at
their next step boundary, so their files are complete and a later re-run redoes them. A second signal cancels
them outright (on a cluster: the Ray tasks are cancelled and their containers removed). Finished runs are never
touched.
"""

from __future__ import annotations

import asyncio
import shutil
import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlgym_tui.batch.layout import batch_dir_name, clear_slot, infra_reason, inspect_slot, slot_name
from mlgym_tui.batch.local_executor import INTERRUPTED, LocalExecutor
from mlgym_tui.batch.preflight import PreflightError, check_engine_and_images, model_problems
from mlgym_tui.batch.progress import BatchDisplay, SlotProgress

EXECUTORS = ("local", "ray")
INFRA = "infra"  # the status prefix of a run the infrastructure ended (node lost, engine down, image missing)


class BatchError(ValueError):
    """Bad batch input; the message names the problem and the fix."""


class BatchPreflightError(BatchError, PreflightError):
    """Problems found before any container starts (preflight.py): `problems`, one line each."""


@dataclass
class BatchOutcome:
    batch_dir: Path
    slots: list[SlotProgress]
    interrupted: bool = False
    counts: dict[str, int] = field(default_factory=dict)
    # Every infrastructure incident of the batch, kind -> how many, including those whose episode was rerun and
    # then finished (the end counts say how each slot ended; this says what the cluster did on the way).
    infra: dict[str, int] = field(default_factory=dict)

    @property
    def all_finished(self) -> bool:
        return not self.interrupted and all(s.status not in (INTERRUPTED, "not started", "waiting")
                                            and not s.status.startswith(("failed", INFRA)) for s in self.slots)

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
        executor: str = "local",
        ray_address: str = "auto",
        retries: int = 2,
    ) -> None:
        from rich.console import Console

        if runs < 1:
            raise BatchError(f"--runs must be at least 1, got {runs}")
        if parallel < 1:
            raise BatchError(f"--parallel must be at least 1, got {parallel}")
        if executor not in EXECUTORS:
            raise BatchError(f"unknown executor {executor!r}; use --executor local or --executor ray")
        if retries < 0:
            raise BatchError(f"--retries must be at least 0, got {retries}")
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
        self._workers: list[asyncio.Task] = []
        self.slots: list[SlotProgress] = []
        self.display: BatchDisplay | None = None
        self.infra: dict[str, int] = {}
        if executor == "ray":
            from mlgym_tui.batch.ray_executor import RayExecutor

            self.executor: Any = RayExecutor(self, address=ray_address, retries=retries)
        else:
            self.executor = LocalExecutor(self)

    def count_infra(self, kind: str) -> None:
        self.infra[kind] = self.infra.get(kind, 0) + 1

    # -- signals ---------------------------------------------------------------------------------------------
    def request_stop(self, reason: str = "stop requested") -> None:
        """First call: start nothing new, stop running episodes at their next step boundary. Second: cancel."""
        if self.stopping:
            self._note(f"{reason} again: cancelling the running episodes now")
            for worker in self._workers:
                worker.cancel()
            return
        self.stopping = True
        self._note(f"{reason}: stopping {self.executor.active} running episode(s); finished runs are kept "
                   "(signal again to cancel at once)")
        self.executor.stop(reason)

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
            for path in state.infra:
                self._note(f"kept {path}: its episode was ended by the infrastructure ({infra_reason(path)})")
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
        await self._preflight()
        await self.executor.open()  # a cluster that cannot run these tasks fails here, before any folder is made
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
            await self.executor.close()
        counts: dict[str, int] = {}
        for s in self.slots:
            key = s.status.split(":")[0]
            counts[key] = counts.get(key, 0) + 1
        return BatchOutcome(self.batch_dir, self.slots, interrupted=self.stopping, counts=counts,
                            infra=dict(self.infra))

    async def _preflight(self) -> None:
        """Before any container starts: the model's route and key; the engine and the task images too, unless each
        cluster node checks its own (ray: `engine` is then the engine's name, see preflight.check_engine_and_images)."""
        checks = [asyncio.to_thread(model_problems, self.agent)]
        if not isinstance(self.engine, str):
            checks.append(asyncio.to_thread(check_engine_and_images, self.engine or "auto", self.tasks, self.runtime))
        problems = [line for found in await asyncio.gather(*checks) for line in found]
        if problems:
            raise BatchPreflightError(problems)

    async def _run_slot(self, semaphore: asyncio.Semaphore, task: Any, progress: SlotProgress, slot: Path) -> None:
        async with semaphore:
            if self.stopping:
                progress.status = "not started"
                return
            await self.executor.run_slot(task, progress, slot)
