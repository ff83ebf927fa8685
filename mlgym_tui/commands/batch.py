"""`mlgym-tui run --tasks A,B --runs K --parallel P ...`: the batch front end of the run command."""

from __future__ import annotations

import asyncio
from typing import Any


def add_executor_options(group) -> None:
    """--executor, --ray-address, --retries (defaults from the settings' `executor` section)."""
    group.add_argument("--executor", choices=("local", "ray"), default=None,
                       help="where episodes run: this machine (local, the default) or a Ray cluster (ray)")
    group.add_argument("--ray-address", default=None, metavar="auto|HOST:PORT",
                       help="the Ray cluster for --executor ray (default: settings executor.address, else auto)")
    group.add_argument("--retries", type=int, default=None,
                       help="reruns of an episode the infrastructure ended, e.g. its node lost (default 2)")


def split_tasks(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def resolve_tasks(names: list[str]) -> list[Any]:
    """Task configs for the names given ('all' = every registered task); duplicates are dropped."""
    from mlgym_tui.tasks.registry import load_registry

    registry = load_registry()
    if names == ["all"]:
        return [registry.tasks[key] for key in sorted(registry.tasks)]
    tasks, seen = [], set()
    for name in names:
        task = registry.get(name)  # ConfigError names the unknown task and the known ones
        if task.id not in seen:
            seen.add(task.id)
            tasks.append(task)
    return tasks


def run_batch_cli(args) -> int:
    from mlgym_tui.commands.common import fail

    if getattr(args, "mode", "auto") != "auto":
        return fail(f"--mode {args.mode} needs a person at each episode; batch runs are auto only "
                    "(run one episode with --task for confirm or human mode)", 2)
    for option, value in (("--runs", args.runs), ("--parallel", args.parallel)):
        if value is not None and value < 1:
            return fail(f"{option} must be at least 1, got {value}", 2)
    if getattr(args, "retries", None) is not None and args.retries < 0:
        return fail(f"--retries must be at least 0, got {args.retries}", 2)
    names = split_tasks(args.tasks) if args.tasks else ([args.task] if args.task else [])
    if not names:
        return fail("--tasks is empty; pass a comma list of task ids, e.g. --tasks battleOfSexes,blotto (or 'all')", 2)
    return asyncio.run(_run(args, names))


async def _run(args, names: list[str]) -> int:
    from rich.console import Console

    from mlgym_tui.batch.preflight import PreflightError
    from mlgym_tui.batch.ray_support import RayUnavailable
    from mlgym_tui.batch.runner import BatchError, BatchRunner
    from mlgym_tui.commands.common import fail
    from mlgym_tui.commands.run import with_gpus
    from mlgym_tui.config.agent import AgentConfigError
    from mlgym_tui.config.settings import ConfigError, get_settings, runs_dir
    from mlgym_tui.episode.controller import ControllerError
    from mlgym_tui.episode.session import resolve_agent
    from mlgym_tui.runtime.errors import RuntimeProblem

    console = Console(highlight=False)
    try:
        settings = get_settings()
        runtime = with_gpus(settings.runtime, args.gpus)
        tasks = resolve_tasks(names)
        agent = resolve_agent(args.agent, args.model, args.api_base, args.max_steps, args.cost_limit)
        executor = getattr(args, "executor", None) or settings.executor.kind
        retries = getattr(args, "retries", None)
        runner = BatchRunner(  # checks the input before any engine is contacted
            tasks, agent, runs=args.runs or 1, parallel=args.parallel or 1,
            runs_dir=runs_dir(args.runs_dir), engine=None, runtime=runtime, redo=args.redo,
            console=console, quiet=args.quiet, executor=executor,
            ray_address=getattr(args, "ray_address", None) or settings.executor.address,
            retries=settings.executor.retries if retries is None else retries,
        )
        if executor == "ray":  # each node checks its own engine and image; this machine needs neither
            runner.engine = args.engine or runtime.engine
            outcome = await runner.run()
        else:
            from mlgym_tui.runtime.detect import connect

            # a missing image is one of the preflight's lines (BatchRunner.run), with the other problems found
            runner.engine = await asyncio.to_thread(connect, args.engine or runtime.engine, runtime)
            outcome = await runner.run()
    except PreflightError as exc:  # every problem found, one line each (the batch started nothing)
        for problem in exc.problems:
            fail(problem, 2)
        return 2
    except (AgentConfigError, ConfigError, ControllerError, BatchError) as exc:
        return fail(str(exc), 2)
    except (RuntimeProblem, RayUnavailable) as exc:
        return fail(str(exc), 2)
    if runner.display is not None:
        await runner.display.detached()  # an attach child (1-9 in the live table) still has the terminal

    counts = ", ".join(f"{n} {status}" for status, n in sorted(outcome.counts.items()))
    console.print(f"batch {outcome.batch_dir}: {len(outcome.slots)} run(s): {counts}", markup=False, soft_wrap=True)
    if outcome.infra:  # what the cluster did, apart from how the agents did
        incidents = ", ".join(f"{n} {kind}" for kind, n in sorted(outcome.infra.items()))
        console.print(f"infrastructure: {incidents} (episodes ended by it were run again up to --retries; their "
                      "partial runs are kept, labelled infra-interrupted)", markup=False, soft_wrap=True)
    _print_results(outcome.batch_dir, console)
    if outcome.interrupted:
        console.print("interrupted: re-run the same command to finish the remaining runs", markup=False, soft_wrap=True)
    elif not outcome.all_finished:
        console.print("some runs did not finish; re-run the same command to retry them", markup=False, soft_wrap=True)
    return outcome.exit_code


def _print_results(batch_dir, console) -> None:
    from mlgym_tui.evaluation import aggregate, collect_runs
    from mlgym_tui.evaluation.report_table import print_report

    try:
        runs = collect_runs([batch_dir])
    except ValueError as exc:
        console.print(f"no results table: {exc}", markup=False, soft_wrap=True)
        return
    if not runs:
        console.print("no finished runs yet: no results table", markup=False, soft_wrap=True)
        return
    print_report(aggregate(runs), console)
