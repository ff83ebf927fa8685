"""`mlgym-tui export RUN --cast`: the agent's shell of a recorded run as an asciicast v2 file (asciinema plays it).

The cast is built from the run's recorded events (each command started, its output chunks, with their times); a
run known only from a .traj has no output events, so each step's action and observation stand in for them.
"""

from __future__ import annotations

from mlgym_tui.commands.common import fail


def register(subparsers) -> None:
    parser = subparsers.add_parser("export", help="export a recorded run (--cast: the agent's shell as asciicast v2)")
    parser.add_argument("run", help="a run directory, an events.jsonl or a .traj")
    parser.add_argument("--cast", action="store_true", help="write the agent's shell as an asciicast v2 .cast file")
    parser.add_argument("-o", "--output", default=None,
                        help="where to write (default: agent-shell.cast in the run directory)")
    parser.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    from mlgym_tui.trajectory import TrajectoryError, load_run
    from mlgym_tui.trajectory.atomic_write import atomic_write_text
    from mlgym_tui.trajectory.cast import agent_cast

    if not args.cast:
        return fail("say what to export: --cast (the agent's shell as an asciicast v2 file)", 2)
    source = Path(args.run)
    try:
        loaded = load_run(source)
    except TrajectoryError as exc:
        return fail(str(exc), 2)
    folder = source if source.is_dir() else source.parent
    output = Path(args.output) if args.output else folder / "agent-shell.cast"
    title = f"{loaded.meta.task_id}: {loaded.meta.agent} ({loaded.meta.model})"
    lines = agent_cast(loaded.events, title=title)
    try:
        atomic_write_text(output, "".join(lines))
    except OSError as exc:
        return fail(f"cannot write {output}: {exc.strerror or exc}; choose another place with -o", 2)
    for warning in loaded.warnings:
        print(f"note: {warning}")
    print(f"wrote {output} ({len(lines) - 1} events); play it with: asciinema play {output}")
    return 0
