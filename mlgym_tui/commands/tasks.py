"""`mlgym-tui tasks`: list tasks, show one, check that baselines reproduce."""

from __future__ import annotations

from mlgym_tui.commands.common import add_engine_option, fail


def register(subparsers) -> None:
    parser = subparsers.add_parser("tasks", help="list, show and check tasks")
    parser.add_argument("--tasks-dir", action="append", default=[], help="extra task directory or YAML file")
    parser.add_argument("--tasks-root", default=None, help="root that MLGym task paths are relative to")
    actions = parser.add_subparsers(dest="tasks_command", metavar="ACTION")
    show = actions.add_parser("show", help="print one task")
    show.add_argument("task_id")
    check = actions.add_parser("check", help="run baselines in fresh containers and compare with baseline_scores")
    check.add_argument("task_id", nargs="?")
    check.add_argument("--all", action="store_true")
    add_engine_option(check)
    parser.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    from rich.console import Console

    from mlgym_tui.config.settings import ConfigError
    from mlgym_tui.tasks.registry import load_registry

    console = Console()
    registry = load_registry(args.tasks_dir, Path(args.tasks_root) if args.tasks_root else None)
    for problem in registry.problems:
        console.print(f"[yellow]warning:[/] {problem}", highlight=False)
    for notice in registry.notices:
        console.print(f"[cyan]note:[/] {notice}", highlight=False)
    try:
        if args.tasks_command == "show":
            task = registry.get(args.task_id)
            return _show(console, task, registry.source_of(task))
        if args.tasks_command == "check":
            if not args.all and not args.task_id:
                return fail("name a task id or pass --all")
            tasks = list(registry.tasks.values()) if args.all else [registry.get(args.task_id)]
            return _check_baselines(tasks, args.engine, console)
    except ConfigError as exc:
        return fail(str(exc))
    return _list(console, registry)


def _check_baselines(tasks, engine_name: str | None, console) -> int:
    """`tasks check`: each baseline in a fresh container, a table of expected against measured."""
    import asyncio

    from rich.table import Table

    from mlgym_tui.config.settings import get_settings
    from mlgym_tui.environment.baseline_check import BaselineCheck, check_task
    from mlgym_tui.runtime.detect import connect
    from mlgym_tui.runtime.errors import RuntimeProblem

    settings = get_settings()
    try:
        engine = connect(engine_name or settings.runtime.engine, settings.runtime)
    except RuntimeProblem as exc:
        return fail(str(exc))
    table = Table(title=f"baseline check on {engine.name}")
    for column in ("task", "metric", "expected", "measured", "result", "seconds"):
        table.add_column(column)
    failures = 0
    for task in tasks:
        try:
            result = asyncio.run(check_task(task, engine))
        except RuntimeProblem as exc:
            result = BaselineCheck(task.id, task.baseline, None, False, str(exc), 0.0)
        metric = task.primary_metric.name if task.primary_metric else next(iter(task.baseline), "?")
        measured = result.measured.get(metric) if result.measured else None
        failures += not result.ok
        table.add_row(task.id, metric, f"{task.baseline.get(metric, float('nan')):g}",
                      "-" if measured is None else f"{measured:g}",
                      "[green]ok[/]" if result.ok else f"[red]FAIL[/] {result.message}", f"{result.seconds:.1f}")
        console.print(f"{task.id}: {'ok' if result.ok else 'FAIL'} ({result.message})", highlight=False)
    console.print(table)
    return 1 if failures else 0


def _list(console, registry) -> int:
    from rich.table import Table

    table = Table(title=f"{len(registry.tasks)} tasks")
    for column in ("id", "domain", "entrypoint", "metric", "direction", "baseline", "source"):
        table.add_column(column, overflow="fold")
    for task in registry.tasks.values():
        metric = task.primary_metric
        baseline = task.baseline.get(metric.name) if metric else None
        table.add_row(
            task.id, task.domain, task.task_entrypoint, metric.name if metric else "?",
            metric.direction if metric else "?", f"{baseline:g}" if baseline is not None else "-",
            registry.source_of(task),
        )
    console.print(table)
    return 0


def _show(console, task, source: str) -> int:
    import yaml
    from rich.markdown import Markdown

    console.rule(f"{task.id}: {task.name}")
    console.print(f"source: {source}", highlight=False, markup=False, soft_wrap=True)
    console.print(Markdown(task.rendered_description))
    console.rule("config")
    console.print(yaml.safe_dump(task.model_dump(mode="json"), sort_keys=False), highlight=False, markup=False)
    return 0
