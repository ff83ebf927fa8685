"""The MLGym environment: a task's workspace in a container, the agent's tools, validate and submit."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from mlgym_tui.config.runtime import RuntimeConfig, parse_gpus
from mlgym_tui.config.task import TaskConfig
from mlgym_tui.environment.evaluation import (EvaluationInterrupted, EvaluationStop, evaluate, evaluation_digest,
                                              trust_of)
from mlgym_tui.environment.submission import Artefacts, SubmissionRefused, read_submission
from mlgym_tui.environment.task_image import task_image
from mlgym_tui.environment.workspace_snapshot import BlobSink, WorkspaceSnapshotter
from mlgym_tui.runtime.base import Container, ContainerSpec, Engine
from mlgym_tui.runtime.errors import RuntimeProblem, ShellDied
from mlgym_tui.runtime.shell import ENV_FILE_END, SHELL_CONTROL_VARIABLES, ShellSession
from mlgym_tui.runtime.text import bash_quote
from mlgym_tui.stream.events import WorkspaceSnapshot
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
    trust: str | None = None  # how the score was computed: isolated | in-process | unisolated
    artefacts: str | None = None  # sha256 of the scored files, kept under submissions/<step>/


def require_gpus(task: TaskConfig, runtime: RuntimeConfig):
    """The GPUs the task's containers get; refuses a task that cannot run without them."""
    gpus = parse_gpus(runtime.gpus)
    if task.task_entrypoint == "LMSubmissionTasks" and gpus is None:
        # MLGym evaluates these with torchrun, one process per GPU: there is no CPU fallback to pretend with.
        raise RuntimeProblem(f"task {task.id} is an LMSubmissionTasks task: it trains and evaluates on GPUs",
                             "run it with --gpus all (or set runtime.gpus in settings) on a host with GPUs")
    return gpus


class MLGymEnvironment:
    def __init__(self, task: TaskConfig, engine: Engine, runtime: RuntimeConfig | None = None,
                 submissions_dir: Path | None = None, memory: bool = False,
                 workspace_store: BlobSink | None = None) -> None:
        self.task = task
        self.memory = memory  # MLGym's memory module, which the agent config turns on
        self.engine = engine
        self.runtime = runtime or RuntimeConfig()
        self.submissions_dir = submissions_dir  # where each scored artefact set is kept (None: not kept)
        # Where the per-step snapshots keep file contents (the run's workspace/ BlobStore); None: no snapshots.
        self.workspace_store = workspace_store
        self.snapshots: WorkspaceSnapshotter | None = None
        self.image: str | None = None  # the task's image (with its packages), known once reset has run
        self.trust, self.trust_reason = trust_of(task, engine)
        self._scorings = 0
        self._evaluation: EvaluationStop | None = None  # the scoring running now, which interrupt stops
        self._memory_stats = {"memory_records_num": "no records, write to memory first", "memory_records_tags": "n/a"}
        self.container: Container | None = None
        self.shell: ShellSession | None = None
        self.scores: list[dict[str, float]] = []
        self.submission: str | None = None
        self.done = False
        self.exit_status: str | None = None
        # An exact fork sets this: after the workspace is prepared and the shell is open, it puts back the parent's
        # files, cwd and exported environment as they were after the fork's step (environment/workspace_restore.py).
        self.restore: Callable[["MLGymEnvironment"], Awaitable[None]] | None = None

    # -- facts for the prompt ---------------------------------------------------------------------

    @property
    def command_docs(self) -> str:
        return command_docs(memory=self.memory)

    @property
    def task_description(self) -> str:
        return self.task.rendered_description

    @property
    def baseline(self) -> dict[str, float]:
        return self.task.baseline

    def state(self) -> dict:
        shell = self.shell
        state = {"open_file": (shell.open_file or "n/a") if shell else "n/a",
                 "working_dir": (shell.cwd or self.workspace) if shell else self.workspace}
        if self.memory:
            state.update(self._memory_stats)
        return state

    @property
    def workspace(self) -> str:
        return self.container.workspace if self.container else "/home/agent/workspace"

    # -- life cycle -------------------------------------------------------------------------------

    async def reset(self) -> str:
        task, runtime = self.task, self.runtime
        gpus = require_gpus(task, runtime)
        # Built first when the task needs packages this engine has no image for (minutes the first time).
        self.image = await asyncio.to_thread(task_image, task, runtime, self.engine)
        spec = ContainerSpec(
            image=self.image,
            network=task.network or runtime.network,
            memory=task.limits.memory or runtime.memory,
            cpus=task.limits.cpus or runtime.cpus,
            pids=task.limits.pids or runtime.pids,
            labels={"mlgym-tui.task": task.id},
            gpus=gpus,
        )
        self.container = await asyncio.to_thread(self.engine.start, spec)
        try:
            await asyncio.to_thread(self._prepare_workspace)
            self.shell = await self._open_shell()
            if self.restore is not None:
                await self.restore(self)
            if self.workspace_store is not None and self.runtime.workspace.snapshots:
                self.snapshots = WorkspaceSnapshotter(self.container, self.workspace_store, self.runtime.workspace,
                                                      self.task.workspace_ignore)
        except BaseException:
            await self.close()
            raise
        return ""

    async def _open_shell(self, restore: ShellSession | None = None) -> ShellSession:
        """The agent's shell with its tools loaded; with `restore`, it continues where that (ended) one left off:
        its working directory and exported environment."""
        shell, _, _ = await self._start_shell(restore)
        return shell

    async def _start_shell(self, restore: ShellSession | None) -> tuple[ShellSession, bool, str]:
        """(the shell, whether the saved environment was taken over, the shell-control variables left out of it)."""
        limits = self.runtime.shell.model_copy()
        if self.task.training_timeout:
            limits.command_timeout = float(self.task.training_timeout)
        shell = await self.container.open_shell(limits, env={"MLGYM_WINDOW": "100"})
        restored, skipped = False, ""
        try:
            if restore is not None:
                report = (await shell.run(_restore_script(restore.env_files, restore.cwd or self.workspace,
                                                          self.workspace))).output.strip().splitlines()
                outcome, _, skipped = (report[-1] if report else "").partition(" ")
                restored, skipped = outcome == "restored", skipped.strip()
            tools = self.container.tools_dir
            setup = await shell.run(f". {tools}/tools.sh && {{ [ ! -f ~/.mlgym_state ] || . ~/.mlgym_state; }}")
            if setup.exit_code != 0:
                raise RuntimeProblem(f"could not load the agent tools: {setup.output.strip()[:200]}", "rebuild the task image")
        except BaseException:
            await shell.close()
            raise
        shell.inspect = self._inspect
        return shell, restored, skipped

    async def _inspect(self, script: str) -> str:
        """Out-of-band look at the shell's processes, as the agent (only its own user may read their syscalls).
        Its standard output only: the exec API merges the streams and keeps no order between them."""
        result = await asyncio.to_thread(self.container.exec, ["bash", "-c", "exec 2>/dev/null\n" + script], "agent",
                                         None, None, 10)
        return result.output

    async def _recover(self, died: ShellDied) -> StepResult:
        """The shell ended or wedged during an action: start a fresh one in the same container where the old one
        was, and tell the actor what happened and what was lost. The episode ends only if that fails."""
        old, partial = self.shell, died.result
        if old is not None:
            # It may still be alive but unusable (a replaced shell, a lost marker): end it, not its background jobs.
            # Only the process verified to be that shell (the pid it had at startup, with the same start time).
            await old.end()
        try:
            fresh, restored, skipped = await self._start_shell(restore=old)
        except RuntimeProblem as exc:
            self.done, self.exit_status = True, "exit_error"
            return StepResult(f"The shell ended unexpectedly ({died.problem}) and a new one could not be started: {exc}",
                              done=True, exit_status="exit_error", state=self.state())
        if old is not None:
            fresh.take_over(old)
        self.shell = fresh
        environment = ("the exported environment restored" if restored else
                       "the exported environment lost (its saved copy was missing or cut short)")
        note = (f"[{died.problem}; a fresh shell was started in {fresh.cwd or self.workspace} with {environment} and the "
                "agent tools reloaded; shell functions, aliases, shell options and unexported variables were lost"
                + (f"; shell-control variables were not restored: {skipped}" if skipped else "") + "]")
        fresh.announce(note.strip("[]"))
        output = partial.observation if partial is not None else ""
        return StepResult(
            observation=f"{output}\n{note}".lstrip("\n"),
            exit_code=partial.exit_code if partial is not None else None,
            duration=partial.duration if partial is not None else 0.0,
            timed_out=bool(partial and partial.timed_out),
            interrupted=bool(partial and partial.interrupted),
            state=self.state(),
        )

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
        box.copy_in(CONTAINER_FILES / "memory.py", box.tools_dir, owner="root", mode=0o644)
        if self.memory:
            # MLGym starts the agent from the task's memory file when there is one (e.g. a demo's memory).
            seed = task.resolve(task.memory_path) if task.memory_path else None
            if seed is not None and seed.is_file():
                box.copy_in({"memory.json": seed.read_bytes()}, box.home)
            self._memory_stats = self._read_memory_stats()
        box.copy_in(CONTAINER_FILES / "tools.sh", box.tools_dir, owner="root", mode=0o644)
        if task.evaluation_read_only:
            protected = [f"{box.workspace}/{name}" for name in task.evaluation_paths]
            existing = [p for p in protected if box.exec(["test", "-e", p]).ok]
            box.make_read_only(existing)

    def _read_memory_stats(self) -> dict:
        """What MLGym shows after each step: how many records, and their tags."""
        try:
            result = self.container.exec(["python3", f"{self.container.tools_dir}/memory.py", "stats"],
                                         user="agent", timeout=20)
            stats = json.loads(result.output.strip().splitlines()[-1]) if result.ok else None
        except (RuntimeProblem, ValueError, IndexError):
            stats = None
        if not stats or not stats.get("records"):
            return {"memory_records_num": "no records, write to memory first", "memory_records_tags": "n/a"}
        return {"memory_records_num": str(stats["records"]), "memory_records_tags": " | ".join(stats["tags"])}

    async def snapshot_workspace(self, step: int) -> WorkspaceSnapshot | None:
        """What the workspace's files, the shell's cwd and its exported environment became since the last snapshot
        (step 0: after reset). Read by a root helper in the container, never through the agent's shell. None when
        snapshots are off."""
        if self.snapshots is None or self.container is None:
            return None
        shell = self.shell
        return await self.snapshots.take(step, cwd=(shell.cwd or self.workspace) if shell else None,
                                         env_files=shell.env_files if shell else ())

    async def close(self) -> None:
        if self.snapshots is not None:
            await self.snapshots.close()
            self.snapshots = None
        if self.shell is not None:
            await self.shell.close()
            self.shell = None
        if self.container is not None:
            await asyncio.to_thread(self.container.remove)
            self.container = None

    # -- steps ------------------------------------------------------------------------------------

    async def step(self, action: str, step: int | None = None) -> StepResult:
        """Run one action; `step` names the folder its submission is kept in if it scores."""
        if self.done:
            return StepResult("The episode has ended.", done=True, exit_status=self.exit_status)
        special = special_command(action)
        if special is not None:
            return await self._score(final=(special == "submit"), status_ok="submitted", step=step)
        program = blocked_program(action)
        if program is not None:
            return StepResult(blocked_message(program), exit_code=None, state=self.state())
        try:
            result = await self.shell.run(to_shell(action))
            if self.memory and action.lstrip().startswith("memory_write"):
                self._memory_stats = await asyncio.to_thread(self._read_memory_stats)
        except ShellDied as exc:
            return await self._recover(exc)
        return StepResult(
            observation=result.observation,
            exit_code=result.exit_code,
            duration=result.duration,
            timed_out=result.timed_out,
            interrupted=result.interrupted,
            state=self.state(),
        )

    async def autosubmit(self, reason: str, step: int | None = None) -> StepResult:
        """At a limit: score the last artefact and end the episode."""
        return await self._score(final=True, status_ok=f"autosubmission ({reason})", step=step)

    async def validate(self, step: int | None = None) -> StepResult:
        return await self._score(final=False, status_ok="submitted", step=step)

    async def interrupt(self) -> None:
        """Stop what runs now: the shell's command, or a validation/submission (its container is removed)."""
        if self._evaluation is not None:
            await asyncio.to_thread(self._evaluation.request)
        elif self.shell is not None:
            await self.shell.interrupt()

    async def _score(self, final: bool, status_ok: str, step: int | None) -> StepResult:
        started = time.monotonic()
        self._scorings += 1
        artefacts: Artefacts | None = None
        self._evaluation = stop = EvaluationStop()
        try:
            # Read by value through the engine's archive API (works whatever state the agent left its container
            # in), then score in a fresh evaluation container.
            artefacts = await asyncio.to_thread(read_submission, self.task, self.container)
            score = await asyncio.to_thread(evaluate, self.task, self.engine, artefacts, self.runtime, self.image,
                                            stop)
        except EvaluationInterrupted as exc:
            # The episode goes on (a submit too): the person stopped the scoring, not the episode.
            await self._keep(artefacts, step, {"status": exc.status, "reason": exc.reason})
            return StepResult(f"Scoring interrupted: {exc.reason}; no score was recorded.", exit_code=None,
                              interrupted=True, duration=time.monotonic() - started, state=self.state())
        except SubmissionRefused as exc:
            await self._keep(artefacts, step, {"status": exc.status, "reason": exc.reason})
            return self._unscored(f"Submission could not be evaluated: {exc.reason}" + _shown(getattr(exc, "output", "")),
                                  final, f"{exc.status} ({exc.reason})", started)
        except RuntimeProblem as exc:
            return self._unscored(f"Evaluation failed: {exc}", final, "exit_error", started)
        finally:
            self._evaluation = None
        await self._keep(artefacts, step, {"status": "scored", "metrics": score.metrics})
        self.scores.append(score.metrics)
        self.submission = score.submission
        observation = (
            f"Your code produced a valid submission artefact at {score.submission}.\n"
            f"Baseline Score: {json.dumps(self.baseline)}\nEvaluation Score: {json.dumps(score.metrics)}"
            + _shown(score.output)
        )
        if final:
            self.done, self.exit_status = True, status_ok
        return StepResult(observation, done=final, exit_code=0, duration=time.monotonic() - started, state=self.state(),
                          metrics=score.metrics, exit_status=self.exit_status if final else None,
                          submission=score.submission, trust=score.trust, artefacts=artefacts.digest)

    def _unscored(self, observation: str, final: bool, exit_status: str, started: float) -> StepResult:
        """A scoring that gave no score: the episode goes on, unless it was the final one."""
        if final:
            self.done, self.exit_status = True, exit_status
        return StepResult(observation, done=final, exit_code=1, duration=time.monotonic() - started,
                          state=self.state(), exit_status=self.exit_status if final else None)

    async def _keep(self, artefacts: Artefacts | None, step: int | None, outcome: dict) -> None:
        """Keep the artefact set under submissions/<step>/ with its hashes and outcome, for `mlgym-tui rescore`."""
        if self.submissions_dir is None or artefacts is None:
            return
        name = str(step if step is not None else self._scorings)
        folder = self.submissions_dir / name
        suffix = 2
        while folder.exists():
            folder = self.submissions_dir / f"{name}-{suffix}"
            suffix += 1
        def save() -> None:
            record = {"task_id": self.task.id, "step": step, "trust": self.trust, "trust_reason": self.trust_reason,
                      "evaluation_sha256": evaluation_digest(self.task), "scored_at": time.time(), **outcome}
            artefacts.save(folder, record)

        await asyncio.to_thread(save)


def _restore_script(env_files: tuple[str, ...], cwd: str, workspace: str) -> str:
    """Bash for a fresh shell: take over the exported environment the old shell last saved, less the variables that
    steer the shell itself (a copy without its end line was cut short; /tmp first, as the shell writes there only
    once /dev/shm failed it, so a copy there is the newer); cd where it was; remove the old copies; print "restored NAMES-LEFT-OUT" or "lost". `export -p` writes `declare -x NAME=...`
    lines, so a function named declare sees each name before the builtin sets it (-g: global, not local)."""
    files = " ".join(reversed(env_files))
    control = " ".join(SHELL_CONTROL_VARIABLES)
    return (
        f"__mlgym_ctl=' {control} '; __mlgym_skip=; __mlgym_got=lost; "
        'declare() { case $__mlgym_ctl in *" ${2%%=*} "*) __mlgym_skip+=" ${2%%=*}"; return 0;; esac; '
        'builtin declare -g "$@"; }; '
        f'for __mlgym_f in {files}; do [ "$(tail -n 1 "$__mlgym_f")" = {bash_quote(ENV_FILE_END)} ] || continue; '
        '. "$__mlgym_f"; __mlgym_got=restored; break; done 2>/dev/null; unset -f declare; '
        # The cd comes after, as the saved environment also names PWD.
        f"cd {bash_quote(cwd)} 2>/dev/null || cd {bash_quote(workspace)}; "
        f"command -p rm -f -- {' '.join(f'{f} {f}.l' for f in env_files)}; "
        'printf "%s%s\\n" "$__mlgym_got" "$__mlgym_skip"; unset __mlgym_ctl __mlgym_skip __mlgym_got __mlgym_f'
    )


def _shown(output: str) -> str:
    """The submission's own printing during evaluation, for the person or agent who wrote it."""
    if not output.strip():
        return ""
    return f"\nWhat your submission's code printed while it was evaluated:\n{output.rstrip()}"
