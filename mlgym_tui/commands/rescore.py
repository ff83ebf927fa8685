"""`mlgym-tui rescore RUN`: score a run's kept submissions again, in fresh evaluation containers."""

from __future__ import annotations

from mlgym_tui.commands.common import add_engine_option, fail


def register(subparsers) -> None:
    parser = subparsers.add_parser("rescore", help="re-compute a run's scores from its kept submissions")
    parser.add_argument("run", help="a run directory (it holds submissions/<step>/)")
    parser.add_argument("--tasks-dir", action="append", default=[], help="extra task directory or YAML file")
    parser.add_argument("--tasks-root", default=None, help="root that MLGym task paths are relative to")
    add_engine_option(parser)
    parser.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    import yaml
    from rich.console import Console
    from rich.table import Table

    from mlgym_tui.config.settings import ConfigError, get_settings
    from mlgym_tui.environment.rescore import rescore_folder, submission_folders
    from mlgym_tui.runtime.detect import connect
    from mlgym_tui.runtime.errors import RuntimeProblem
    from mlgym_tui.tasks.registry import load_registry

    run_dir = Path(args.run)
    folders = submission_folders(run_dir)
    if not folders:
        return fail(f"{run_dir} has no kept submissions (submissions/<step>/manifest.json); "
                    "only runs recorded since submissions are kept can be rescored", 2)
    try:
        config = yaml.safe_load((run_dir / "config.yaml").read_text()) or {}
        task_id = config["task"]["id"]
    except (OSError, yaml.YAMLError, KeyError, TypeError):
        return fail(f"{run_dir}/config.yaml does not name the run's task; rescore a run directory that mlgym-tui wrote", 2)
    settings = get_settings()
    try:
        task = load_registry(args.tasks_dir, Path(args.tasks_root) if args.tasks_root else None).get(task_id)
        engine = connect(args.engine or settings.runtime.engine, settings.runtime)
    except (ConfigError, RuntimeProblem) as exc:
        return fail(str(exc), 2)
    console = Console()
    table = Table(title=f"rescore of {run_dir.name} ({task.id}, {engine.name})")
    for column in ("submission", "recorded", "rescored", "result"):
        table.add_column(column)
    failures = 0
    for folder in folders:
        result = rescore_folder(folder, task, engine, settings.runtime)
        failures += not result.ok
        console.print(f"{folder.name}: {'ok' if result.ok else 'DIFFERS'} ({result.message})", highlight=False,
                      markup=False, soft_wrap=True)
        table.add_row(folder.name, _fmt(result.recorded), _fmt(result.measured),
                      ("[green]ok[/] " if result.ok else "[red]DIFFERS[/] ") + result.message)
    console.print(table)
    return 1 if failures else 0


def _fmt(metrics) -> str:
    return ", ".join(f"{k}={v:g}" for k, v in metrics.items()) if metrics else "-"
