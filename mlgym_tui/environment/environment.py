"""The MLGym environment: a task's workspace in a container, the agent's tools, validate and submit."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from mlgym_tui.config.runtime import RuntimeConfig
from mlgym_tui.config.task import TaskConfig
from mlgym_tui.environment.evaluation import EvaluationFailed, evaluate
from mlgym_tui.runtime.base import Container, ContainerSpec, Engine
from mlgym_tui.runtime.errors import RuntimeProblem, ShellDied
from mlgym_tui.runtime.shell import ShellSession
from mlgym_tui.tools.commands import (CONTAINER_FILES, blocked_message, blocked_program, command_docs, special_command,
                                      to_shell)


@dataclass
class StepResult:
    observation: str
    done: bool = False
    exit_code: int | None = None
    duration: float = 0.0
    timed_out: bool = False
    interrupted: bool = False
    state: dict = field(default_factory=dict)
    metrics: dict[str, float] | None = None
    exit_status: str | None = None
    submission: str | None = None


class MLGymEnvironment:
    def __init__(self, task: TaskConfig, engine: Engine, runtime: RuntimeConfig | None = None) -> None:
        self.task = task
        self.engine = engine
        self.runtime = runtime or RuntimeConfig()
        self.container: Container | None = None
        self.shell: ShellSession | None = None
        self.scores: list[dict[str, float]] = []
        self.submission: str | None = None
        self.done = False
        self.exit_status: str | None = None

    # -- facts for the prompt ---------------------------------------------------------------------

    @property
    def command_docs(self) -> str:
        return command_docs()

    @property
    def task_description(self) -> str:
        return self.task.rendered_description

    @property
    def baseline(self) -> dict[str, float]:
        return self.task.baseline

    def state(self) -> dict:
        shell = self.shell
        return {"open_file": (shell.open_file or "n/a") if shell else "n/a",
                "working_dir": (shell.cwd or self.workspace) if shell else self.workspace}

    @property
    def workspace(self) -> str:
        return self.container.workspace if self.container else "/home/agent/workspace"

    # -- life cycle -------------------------------------------------------------------------------

    async def reset(self) -> str:
        task, runtime = self.task, self.runtime
        spec = ContainerSpec(
            image=task.image or runtime.image,
            network=task.network or runtime.network,
            memory=task.limits.memory or runtime.memory,
            cpus=task.limits.cpus or runtime.cpus,
            pids=task.limits.pids or runtime.pids,
            labels={"mlgym-tui.task": task.id},
        )
        self.container = await asyncio.to_thread(self.engine.start, spec)
        try:
            await asyncio.to_thread(self._prepare_workspace)
            limits = runtime.shell.model_copy()
            if task.training_timeout:
                limits.command_timeout = float(task.training_timeout)
            self.shell = await self.container.open_shell(limits, env={"MLGYM_WINDOW": "100"})
            setup = await self.shell.run(f". {self.container.tools_dir}/tools.sh")
            if setup.exit_code != 0:
                raise RuntimeProblem(f"could not load the agent tools: {setup.output.strip()[:200]}", "rebuild the task image")
        except BaseException:
            await self.close()
            raise
        return ""

    def _prepare_workspace(self) -> None:
        box, task = self.container, self.task
        for relative in task.starter_code:
            box.copy_in(task.resolve(relative), box.workspace)
        for dataset in task.datasets:
            source = task.resolve(dataset.data_path)
            if dataset.is_local and source.exists():
                box.copy_in(source, box.workspace)
                if source.name != "data":
                    box.check(["sh", "-c", f'mkdir -p "{box.workspace}/data" && cp -a "{box.workspace}/{source.name}/." '
                                           f'"{box.workspace}/data/" && rm -rf "{box.workspace}/{source.name}"'])
        box.copy_in(CONTAINER_FILES / "tools.py", box.tools_dir, owner="root", mode=0o644)
        box.copy_in(CONTAINER_FILES / "tools.sh", box.tools_dir, owner="root", mode=0o644)
        if task.evaluation_read_only:
            protected = [f"{box.workspace}/{name}" for name in task.evaluation_paths]
            existing = [p for p in protected if box.exec(["test", "-e", p]).ok]
            box.make_read_only(existing)

    async def close(self) -> None:
        if self.shell is not None:
            await self.shell.close()
            self.shell = None
        if self.container is not None:
            await asyncio.to_thread(self.container.remove)
            self.container = None

    # -- steps ------------------------------------------------------------------------------------

    async def step(self, action: str) -> StepResult:
        if self.done:
            return StepResult("The episode has ended.", done=True, exit_status=self.exit_status)
        special = special_command(action)
        if special is not None:
            return await self._score(final=(special == "submit"), status_ok="submitted")
        program = blocked_program(action)
        if program is not None:
            return StepResult(blocked_message(program), exit_code=None, state=self.state())
        try:
            result = await self.shell.run(to_shell(action))
        except ShellDied as exc:
            self.done, self.exit_status = True, "exit_error"
            return StepResult(f"The shell ended unexpectedly: {exc}", done=True, exit_status="exit_error", state=self.state())
        return StepResult(
            observation=result.observation,
            exit_code=result.exit_code,
            duration=result.duration,
            timed_out=result.timed_out,
            interrupted=result.interrupted,
            state=self.state(),
        )

    async def autosubmit(self, reason: str) -> StepResult:
        """At a limit: score the last artefact and end the episode."""
        return await self._score(final=True, status_ok=f"autosubmission ({reason})")

    async def validate(self) -> StepResult:
        return await self._score(final=False, status_ok="submitted")

    async def interrupt(self) -> None:
        if self.shell is not None:
            await self.shell.interrupt()

    async def _score(self, final: bool, status_ok: str) -> StepResult:
        started = time.monotonic()
        try:
            score = await asyncio.to_thread(evaluate, self.task, self.container)
        except EvaluationFailed as exc:
            observation = f"Submission could not be evaluated: {exc.reason}"
            if final:
                self.done, self.exit_status = True, f"{exc.status} ({exc.reason})"
            return StepResult(observation, done=final, exit_code=1, duration=time.monotonic() - started,
                              state=self.state(), exit_status=self.exit_status if final else None)
        except RuntimeProblem as exc:
            observation = f"Evaluation failed: {exc}"
            if final:
                self.done, self.exit_status = True, "exit_error"
            return StepResult(observation, done=final, exit_code=1, duration=time.monotonic() - started,
                              state=self.state(), exit_status=self.exit_status if final else None)
        self.scores.append(score.metrics)
        self.submission = score.submission
        observation = (
            f"Your code produced a valid submission artefact at {score.submission}.\n"
            f"Baseline Score: {json.dumps(self.baseline)}\nEvaluation Score: {json.dumps(score.metrics)}"
        )
        if final:
            self.done, self.exit_status = True, status_ok
        return StepResult(observation, done=final, exit_code=0, duration=time.monotonic() - started, state=self.state(),
                          metrics=score.metrics, exit_status=self.exit_status if final else None,
                          submission=score.submission)
