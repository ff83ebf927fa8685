"""`mlgym-tui import FILE`: an ATIF or mini-swe-agent trajectory written as a run of ours, so replay opens it."""

from __future__ import annotations

from mlgym_tui.commands.common import fail


def register(subparsers) -> None:
    parser = subparsers.add_parser("import", help="import an ATIF or mini-swe-agent trajectory as a run")
    parser.add_argument("file", help="an ATIF trajectory .json or a mini-swe-agent .traj.json")
    parser.set_defaults(func=run)


def run(args) -> int:
    return fail(f"import of {args.file} is not available yet", 2)
