"""`--executor local` (the default): every episode in this process, on this machine's engine."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from mlgym_tui.batch.layout import INTERRUPTED_MARKER, mark_interrupted
from mlgym_tui.batch.progress import SlotProgress, best_text

INTERRUPTED = "interrupted"


class LocalExecutor:
    name = "local"

    def __init__(self, runner: Any) -> None:
        from mlgym_tui.episode.notify import Bell, terminal_bell

        self.runner = runner
        self._active: set[Any] = set()
        self.bell = Bell(terminal_bell)  # shared: twenty episodes ending together ring once

    @property
    def active(self) -> int:
        return len(self._active)

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    def stop(self, reason: str) -> None:
        """Stop running episodes at their next step boundary; their run directories are marked unfinished."""
        for controller in list(self._active):
            mark_interrupted(controller.run_dir, reason)
            controller.stop()

    async def run_slot(self, task: Any, progress: SlotProgress, slot: Path) -> None:
        from mlgym_tui.episode.session import start_episode

        runner = self.runner
        progress.status = "starting"
        slot.mkdir(parents=True, exist_ok=True)
        try:
            controller = await start_episode(task, runner.agent, engine_name=getattr(runner.engine, "name", "auto"),
                                             runs_dir=slot, runtime=runner.runtime, engine=runner.engine)
        except Exception as exc:  # a config or engine problem for this one episode: report, go on
            progress.status = f"failed: {exc}"[:200]
            runner._note(f"[{progress.label}] could not start: {exc}")
            return
        if runner.stopping:  # the signal came while it was being set up: leave nothing behind
            controller.recorder.close()
            shutil.rmtree(controller.run_dir, ignore_errors=True)
            progress.status = "not started"
            return
        progress.run_dir = str(controller.run_dir)
        progress.max_steps = controller.max_steps
        progress.controller = controller
        controller.subscribe(lambda event: self._on_event(progress, controller, event))
        from mlgym_tui.control.services import serve_episode

        services = await serve_episode(controller, bell=self.bell)  # attachable: mlgym-tui attach RUN_DIR
        self._active.add(controller)
        progress.status = "running"
        runner.display.started(progress)
        try:
            await controller.run()
        finally:
            await services.close()
            self._active.discard(controller)
            progress.refresh_from(controller)
            progress.status = settle(runner.stopping, controller.exit_status, controller.run_dir)
            runner.display.ended(progress)

    def _on_event(self, progress: SlotProgress, controller: Any, event: Any) -> None:
        kind = event.type
        if kind in ("step", "validation_scored", "model_response", "episode_ended"):
            progress.step = controller.step
            progress.cost = controller.cost
            progress.best = best_text(controller)
            if kind == "step":
                self.runner.display.stepped(progress)


def settle(stopping: bool, exit_status: str | None, run_dir: Path | None) -> str:
    """An ended episode's status; one the batch stopped is marked unfinished, one that ended on its own while the
    stop was on its way is a finished run and keeps no mark."""
    was_stopped = stopping and exit_status in (None, "early_exit")
    if run_dir is not None:
        if was_stopped:
            mark_interrupted(run_dir, "batch stopped")
        else:
            (Path(run_dir) / INTERRUPTED_MARKER).unlink(missing_ok=True)
    return INTERRUPTED if was_stopped else (exit_status or "exit_error")
