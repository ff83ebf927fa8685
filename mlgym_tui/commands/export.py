"""`mlgym-tui export RUN`: a recorded run for other tools.

--cast: the agent's shell as an asciicast v2 file (asciinema plays it), built from the run's recorded events (each
command started, its output chunks, with their times); a run known only from a .traj has no output events, so
each step's action and observation stand in for them.
--format chat-jsonl | atif | mini-swe-agent: training data (OpenAI chat messages per agent step), Harbor's ATIF
trajectory, or mini-swe-agent's trajectory JSON (mlgym_tui/trajectory/formats/). Secrets are scrubbed.
"""

from __future__ import annotations

from mlgym_tui.commands.common import fail

FORMATS = ("chat-jsonl", "atif", "mini-swe-agent")  # mlgym_tui.trajectory.formats.EXPORT_FORMATS, kept light here


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "export", help="export a recorded run (--format chat-jsonl|atif|mini-swe-agent, or --cast)")
    parser.add_argument("run", help="a run directory, an events.jsonl or a .traj")
    parser.add_argument("--format", choices=FORMATS, default=None, dest="format",
                        help="chat-jsonl (training data: chat messages per agent step), atif (Harbor's trajectory "
                             "format) or mini-swe-agent (its trajectory JSON)")
    parser.add_argument("--cast", action="store_true", help="write the agent's shell as an asciicast v2 .cast file")
    parser.add_argument("-o", "--output", default=None,
                        help="where to write, - for standard output (default: in the run directory: chat.jsonl, "
                             "trajectory.atif.json, trajectory.mini-swe-agent.traj.json or agent-shell.cast)")
    parser.set_defaults(func=run)


def run(args) -> int:
    if args.cast and args.format:
        return fail("choose one: --cast or --format", 2)
    if args.format:
        return _export_format(args)
    if not args.cast:
        return fail("say what to export: --format chat-jsonl|atif|mini-swe-agent, or --cast (the agent's shell "
                    "as an asciicast v2 file)", 2)
    return _export_cast(args)


def _export_format(args) -> int:
    import sys
    from pathlib import Path

    from mlgym_tui.trajectory import TrajectoryError
    from mlgym_tui.trajectory.atomic_write import atomic_write_text
    from mlgym_tui.trajectory.formats import DEFAULT_NAMES, export_run

    source = Path(args.run)
    try:
        exported = export_run(source, args.format)
    except TrajectoryError as exc:
        return fail(str(exc), 2)
    notes = [f"note: {warning}" for warning in exported.warnings]
    if args.output == "-":
        sys.stdout.write(exported.text)
        for note in notes:
            print(note, file=sys.stderr)
        return 0
    folder = source if source.is_dir() else source.parent
    output = Path(args.output) if args.output else folder / DEFAULT_NAMES[args.format]
    try:
        atomic_write_text(output, exported.text)
    except OSError as exc:
        return fail(f"cannot write {output}: {exc.strerror or exc}; choose another place with -o", 2)
    for note in notes:
        print(note)
    unit = {"chat-jsonl": "line(s), one per agent step", "atif": "step(s)", "mini-swe-agent": "message(s)"}
    print(f"wrote {output} ({args.format}: {exported.records} {unit[args.format]})")
    return 0


def _export_cast(args) -> int:
    from pathlib import Path

    from mlgym_tui.trajectory import TrajectoryError, load_run
    from mlgym_tui.trajectory.atomic_write import atomic_write_text
    from mlgym_tui.trajectory.cast import agent_cast

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
