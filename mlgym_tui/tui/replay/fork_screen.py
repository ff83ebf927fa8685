"""A fork: a fresh container starts where a recorded run was after step N (its workspace snapshot restored, or its
first N commands re-executed), then the agent or a person continues under the live episode screen, which also shows
the fork's progress and, for a re-execution, its divergences from the parent."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from mlgym_tui.stream.events import WorkspaceSnapshot
from mlgym_tui.trajectory.fork import unavailable_reason

from mlgym_tui.stream.types import ENGINES
from mlgym_tui.tui.actions import bindings_for
from mlgym_tui.tui.replay.dialogs import ForkDialog, TextReport
from mlgym_tui.tui.screens.episode import EpisodeScreen
from mlgym_tui.tui.widgets.status_bar import StatusBar


class ForkEpisodeScreen(EpisodeScreen):
    """The live EpisodeScreen, plus the fork's progress in the status bar and its divergence report."""

    BINDINGS = bindings_for("fork_episode")  # F6 (the terminal on a live episode) shows the divergences here

    def __init__(self, *, starter, fork_step: int, fork_by: str = "reexecute", **kw: Any) -> None:
        super().__init__(starter=starter, **kw)
        self.fork_step = fork_step
        self.fork_by = fork_by
        self.reported = False

    def replayed(self) -> int:
        return sum(1 for s in self.model.steps if s.author == "replay")

    def update_status(self) -> None:
        super().update_status()
        bar = self.query_one(StatusBar)
        done = self.replayed()
        ended = self.model.exit_status is not None
        if done < self.fork_step and not ended:
            bar.busy = (f"fork: restoring the workspace at step {self.fork_step}" if self.fork_by == "snapshot" else
                        f"fork: re-executing step {done + 1} of {self.fork_step}")
        elif not self.reported and (done >= self.fork_step or ended) and self.controller is not None:
            self.reported = True
            self.call_later(self.report_divergences)
        bar.detail = f"fork of step {self.fork_step} ({self.fork_by})  " + bar.detail

    def report_divergences(self) -> None:
        if self.fork_by == "snapshot":
            self.notify(f"fork: the workspace, directory and environment at step {self.fork_step} were restored from "
                        "the parent's snapshot; nothing was re-executed", timeout=4)
            return
        divergences = self.controller.divergences if self.controller is not None else []
        if not divergences:
            if self.fork_step:
                self.notify(f"fork: the {self.fork_step} re-executed step(s) matched the parent", timeout=4)
            return
        self.notify("; ".join(d.summary() for d in divergences[:3]) + " (F6: full report)",
                    title=f"fork diverged at {len(divergences)} step(s)", severity="warning", timeout=10)

    def action_divergences(self) -> None:
        divergences = self.controller.divergences if self.controller is not None else []
        text = "\n\n".join(d.details() for d in divergences) or (
            "an exact fork: the parent's steps were restored from its snapshot, not run again, so none can diverge"
            if self.fork_by == "snapshot" else "no divergence: every re-executed step matched")
        self.app.push_screen(TextReport(f"fork of step {self.fork_step}: divergence report", text))


def fork_parent(path: Path) -> Path:
    """The run folder a fork records as its parent."""
    path = path.resolve()
    return path.parent if path.name == "events.jsonl" else path


def ask_and_fork(app: Any, run: Any, path: Path, steps: int, clock: Any) -> None:
    """Ask how a fork of `run` after its first `steps` recorded steps starts and who continues it, then start it.
    Whether its snapshot can be restored is checked first (on a worker thread: it stats every blob)."""
    meta = run.meta
    engine = meta.engine if meta.engine in ENGINES else getattr(app, "default_engine", "auto")
    agent = meta.agent if meta.agent not in ("human", "replay", "unknown") else "default"

    def ask(unavailable: str | None) -> None:
        app.push_screen(ForkDialog(meta.task_id, steps, engine=engine, agent=agent, unavailable=unavailable),
                        lambda choice: start_fork(app, run, path, choice, steps, clock))

    if not any(isinstance(e, WorkspaceSnapshot) for e in run.events):
        ask(unavailable_reason(run, steps))  # no blob to look at: said at once
        return

    async def check() -> None:
        ask(await asyncio.to_thread(unavailable_reason, run, steps))

    app.run_worker(check(), name="fork-check", group="fork-check", exclusive=True)


def start_fork(app: Any, run: Any, path: Path, choice: dict | None, steps: int, clock: Any) -> None:
    if not choice:
        return
    from mlgym_tui.tui.episode_request import EpisodeRequest, make_starter

    human = choice["who"] == "human"
    request = EpisodeRequest(task_id=run.meta.task_id, agent=choice["agent"], model=choice["model"],
                             engine=choice["engine"], mode="human" if human else "auto")
    options = dict(getattr(app, "episode_options", {}) or {})
    if human:
        options.pop("agent_config", None)
    parent = fork_parent(path)
    # A fork lands beside its parent, unless this session was told where runs go.
    runs_dir = parent.parent if parent.is_dir() and not app.runs_dir_given else app.runs_dir()
    how = choice.get("how", "reexecute")
    starter = make_starter(request, runs_dir, parent=str(parent), fork_prefix=steps, fork_by=how, **options)
    app.notify(f"forking at step {steps}: " + (f"restoring the parent's workspace at step {steps}" if how == "snapshot"
                                                else f"re-executing {steps} action(s)") + " in a fresh container",
               timeout=4)
    app.push_screen(ForkEpisodeScreen(starter=starter, fork_step=steps, fork_by=how, clock=clock))
