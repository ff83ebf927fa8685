"""`mlgym-tui import FILE`: an ATIF or mini-swe-agent trajectory written as a run of ours, so replay opens it.

The run directory (events.jsonl, <task>.traj, results.json, config.yaml naming the source) goes under the runs
folder; steps are rebuilt from the file's messages (mlgym_tui/trajectory/formats/).
"""

from __future__ import annotations

from mlgym_tui.commands.common import fail

FORMATS = ("auto", "atif", "mini-swe-agent")


def register(subparsers) -> None:
    parser = subparsers.add_parser("import", help="import an ATIF or mini-swe-agent trajectory as a run")
    parser.add_argument("file", help="an ATIF trajectory (.json) or a mini-swe-agent trajectory (.traj.json)")
    parser.add_argument("--format", choices=FORMATS, default="auto", dest="format",
                        help="the file's format (default: auto, told apart by their fields)")
    parser.add_argument("--runs-dir", default=None, help="where the run directory goes (default: settings, else runs/)")
    parser.add_argument("--task", default=None, help="the task id the run is filed under (default: from the file)")
    parser.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    from mlgym_tui.config.settings import ConfigError, runs_dir as settings_runs_dir
    from mlgym_tui.trajectory import TrajectoryError
    from mlgym_tui.trajectory.formats import import_trajectory

    path = Path(args.file)
    if not path.is_file():
        return fail(f"{path}: no such file; give an ATIF or mini-swe-agent trajectory file", 2)
    try:
        runs_dir = settings_runs_dir(args.runs_dir)
    except ConfigError as exc:
        return fail(str(exc), 2)
    try:
        run_dir, imported = import_trajectory(path, runs_dir, args.format, args.task)
    except TrajectoryError as exc:
        return fail(str(exc), 2)
    except OSError as exc:
        return fail(f"cannot write the run under {runs_dir}: {exc.strerror or exc}; choose another --runs-dir", 2)
    for note in imported.notes:
        print(f"note: {note}")
    people = sum(1 for step in imported.steps if step.author in ("human", "human-terminal"))
    print(f"imported {path} ({imported.source_format}: {len(imported.steps)} step(s), {people} by a person) "
          f"as {run_dir}")
    print(f"replay it with: mlgym-tui replay {run_dir}")
    return 0
