"""`start_episode`: the one constructor the TUI, the CLI and the tests share.

It resolves the task and the agent config, connects to the engine, makes the run directory, the recorder,
the environment and the policy, and returns a Controller that has not started yet (so a front end can
subscribe first). Then `controller.start()` (a task) or `await controller.run()` (to the end).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from mlgym_tui.config.agent import AgentConfig, load_agent_config
from mlgym_tui.config.task import TaskConfig
from mlgym_tui.episode.controller import Controller, ControllerError
from mlgym_tui.stream.events import StepRecorded
from mlgym_tui.stream.types import MODES
from mlgym_tui.trajectory.fork import FORK_BY


def resolve_agent(
    agent_config: AgentConfig | str | Path,
    model_override: str | None = None,
    api_base: str | None = None,
    max_steps: int | None = None,
    cost_limit: float | None = None,
    wall_time_s: float | None = None,
) -> AgentConfig:
    agent = agent_config if isinstance(agent_config, AgentConfig) else load_agent_config(agent_config)
    data = agent.model_dump()
    if model_override or api_base:
        if data.get("model") is None:
            raise ControllerError(
                f"agent {agent.name!r} (policy {agent.policy}) has no model; --model/--api-base need an llm agent "
                "config such as 'default'"
            )
        if model_override:
            data["model"]["name"] = model_override
        if api_base:
            data["model"]["api_base"] = api_base
    if max_steps is not None:
        if max_steps < 1:
            raise ControllerError(f"--max-steps must be at least 1, got {max_steps}")
        data["limits"]["max_steps"] = max_steps
    if cost_limit is not None:
        if cost_limit < 0:
            raise ControllerError(f"--cost-limit must be >= 0 (0 means no limit), got {cost_limit}")
        data["limits"]["cost_limit"] = cost_limit
    if wall_time_s is not None:
        data["limits"]["wall_time_s"] = wall_time_s
    return AgentConfig.model_validate(data)


def resolve_task(task: TaskConfig | str) -> TaskConfig:
    if isinstance(task, TaskConfig):
        return task
    from mlgym_tui.tasks.registry import load_registry

    return load_registry().get(task)


async def start_episode(
    task: TaskConfig | str,
    agent_config: AgentConfig | str | Path,
    engine_name: str = "auto",
    mode: str = "auto",
    runs_dir: Path | str = Path("runs"),
    model_override: str | None = None,
    max_steps: int | None = None,
    cost_limit: float | None = None,
    parent: str | Path | None = None,
    fork_prefix: int | Sequence[StepRecorded] | None = None,
    *,
    fork_by: str = "reexecute",
    api_base: str | None = None,
    wall_time_s: float | None = None,
    who: str = "",
    runtime: Any = None,
    engine: Any = None,
    replay_steps: Sequence[Any] | None = None,
    recorder_options: dict[str, Any] | None = None,
    recorder_wrapper: Callable[[Any], Any] | None = None,
) -> Controller:
    """A ready, not yet started Controller for one episode.

    `parent` + `fork_prefix` make a fork: an int N takes the parent's first N steps (the parent is loaded
    from `parent`), a list of StepRecorded is used as is. `fork_by` says how the fork gets there: "reexecute" runs
    those commands again in the fresh container; "snapshot" (what the CLI and the TUI choose) restores the parent's
    workspace, shell directory and exported environment after step N and answers the N steps from the recording,
    running nothing; it raises SnapshotUnavailable (a TrajectoryError) before any run directory exists when the
    parent's snapshots cannot give that workspace. `engine` may be an already connected Engine.
    """
    from mlgym_tui.agents.factory import create_policy
    from mlgym_tui.environment.environment import MLGymEnvironment
    from mlgym_tui.trajectory import Recorder, make_run_dir

    if mode not in MODES:
        raise ControllerError(f"unknown mode {mode!r}; use one of: {', '.join(MODES)}")
    task_config = resolve_task(task)
    agent = resolve_agent(agent_config, model_override, api_base, max_steps, cost_limit, wall_time_s)
    if agent.policy == "llm":
        from mlgym_tui.agents.model import preload_litellm

        preload_litellm()  # seconds of import on a worker thread, while the engine and the container start
    if agent.policy == "human":
        mode = "human"

    if fork_by not in FORK_BY:
        raise ControllerError(f"unknown fork method {fork_by!r}; use one of: {', '.join(FORK_BY)}")
    prefix: list[StepRecorded] = []
    parent_str: str | None = None
    restored = None  # an exact fork: the parent's workspace after the prefix, and its validations in the prefix
    if parent is not None:
        from mlgym_tui.trajectory import fork_prefix as take_prefix
        from mlgym_tui.trajectory import load_run

        parent_run = load_run(parent)
        parent_str = str(Path(parent).resolve())
        if fork_prefix is None or isinstance(fork_prefix, int):
            n = len(parent_run.steps) if fork_prefix is None else fork_prefix
            prefix = take_prefix(parent_run, n)
        else:
            prefix = list(fork_prefix)
        if parent_run.meta.task_id not in ("unknown", task_config.id):
            raise ControllerError(
                f"{parent}: the parent run is for task {parent_run.meta.task_id!r}, not {task_config.id!r}; "
                "fork it with its own task"
            )
        if fork_by == "snapshot":
            from mlgym_tui.trajectory.fork import workspace_at

            if prefix != list(parent_run.steps[:len(prefix)]):
                raise ControllerError("an exact fork starts from the parent's own first steps; pass an int fork_prefix")
            at = await asyncio.to_thread(workspace_at, parent_run, len(prefix))
            from mlgym_tui.stream.events import WorkspaceSnapshot
            from mlgym_tui.trajectory.fork import run_folder
            from mlgym_tui.trajectory.workspace_store import BlobStore

            inherited = [e for e in parent_run.events if isinstance(e, WorkspaceSnapshot) and e.step <= len(prefix)]
            restored = (at, [v for v in parent_run.validations if v.step <= len(prefix)], inherited,
                        BlobStore(folder) if (folder := run_folder(parent_run)) else None)
    elif fork_prefix:
        prefix = list(fork_prefix) if not isinstance(fork_prefix, int) else []

    if runtime is None:
        from mlgym_tui.config.settings import get_settings

        runtime = get_settings().runtime
    from mlgym_tui.environment.environment import require_gpus

    require_gpus(task_config, runtime)  # before a run directory or a container exists
    if engine is None:
        from mlgym_tui.runtime.detect import connect

        engine = await asyncio.to_thread(connect, engine_name, runtime)
    engine_label = getattr(engine, "name", None) or engine_name

    run_dir = make_run_dir(Path(runs_dir), agent.model_name, task_config.id, agent.name or agent.policy)
    config = {
        "task": task_config.model_dump(mode="json"),
        "agent": agent.redacted(),
        "runtime": runtime.model_dump(mode="json"),
        "engine": engine_label,
        "mode": mode,
        "parent": parent_str,
        "fork_step": len(prefix) if parent_str else None,
        "fork_by": fork_by if parent_str else None,
    }
    recorder = Recorder(run_dir, task_config.id, config, **(recorder_options or {}))
    if recorder_wrapper is not None:  # e.g. bench/bench_loop.py times the recorder's calls
        recorder = recorder_wrapper(recorder)
    from mlgym_tui.trajectory.workspace_store import BlobStore

    env = MLGymEnvironment(task_config, engine, runtime, submissions_dir=run_dir / "submissions", memory=agent.memory,
                           workspace_store=BlobStore(run_dir))
    if restored is not None:
        env = exact_fork_environment(env, prefix, *restored)

    holder: list[Controller] = []

    def emit(event) -> None:
        holder[0].emit(event)

    policy = create_policy(
        agent,
        command_docs=env.command_docs,
        task_description=env.task_description,
        emit=emit,
        replay_steps=replay_steps,
        baseline_scripts=task_config.baseline_scripts,
    )
    metrics = [m.model_dump(mode="json") for m in task_config.metrics]
    controller = Controller(
        env=env,
        policy=policy,
        recorder=recorder,
        task_id=task_config.id,
        agent=agent.name or agent.policy,
        model=agent.model_name,
        engine=str(engine_label),
        run_dir=run_dir,
        mode=mode,
        max_steps=agent.limits.max_steps,
        cost_limit=agent.limits.cost_limit,
        wall_time_s=agent.limits.wall_time_s,
        baseline=dict(task_config.baseline),
        metrics=metrics,
        parent=parent_str,
        prefix=prefix,
        fork_by=fork_by,
        who=who,
    )
    controller.agent_config = agent
    controller.task = task_config
    holder.append(controller)
    return controller


def exact_fork_environment(env: Any, prefix: list[StepRecorded], at: Any, validations: list[Any],
                           snapshots: list[Any] | None = None, parent_store: Any = None) -> Any:
    """`env` set to restore the parent's workspace at reset, wrapped so the prefix is answered from the recording."""
    from mlgym_tui.environment.workspace_restore import RestoredPath, RestorePlan, restore_hook
    from mlgym_tui.episode.restored_prefix import RestoredPrefix

    plan = RestorePlan(
        paths=[RestoredPath(e.path, e.kind, e.mode, data, e.target) for e, data in at.files],
        cwd=at.cwd, env=at.env, unrecorded=list(at.unrecorded),
    )
    env.restore = restore_hook(plan)
    wrapped = RestoredPrefix(env, prefix, validations, snapshots, parent_store)
    wrapped.restore_plan = plan
    return wrapped
