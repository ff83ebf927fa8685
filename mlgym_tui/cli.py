"""The `mlgym-tui` command: each subcommand lives in mlgym_tui/commands/<name>.py.

A command module defines `register(subparsers)`, which adds its parser and sets `func=run`
(run takes the parsed args and returns an exit code). Modules are imported only to build the parser,
and each keeps its heavy imports inside `run`, so start-up stays fast.
"""

from __future__ import annotations

import sys

COMMAND_MODULES = [
    "mlgym_tui.commands.doctor",
    "mlgym_tui.commands.image",
    "mlgym_tui.commands.tasks",
    "mlgym_tui.commands.results",
    "mlgym_tui.commands.run",
    "mlgym_tui.commands.replay",
    "mlgym_tui.commands.attach",
    "mlgym_tui.commands.fork",
    "mlgym_tui.commands.play",
    "mlgym_tui.commands.rescore",
    "mlgym_tui.commands.export",
    "mlgym_tui.commands.compare",
    "mlgym_tui.commands.import_run",
    "mlgym_tui.commands.serve",
]


def build_parser():
    import argparse
    import importlib

    parser = argparse.ArgumentParser(prog="mlgym-tui", description="Watch, steer and compare AI research agents.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    if not (sys.argv[1:] if argv is None else argv):
        # the bare command opens the task browser: no subcommand's module is needed before its first paint
        from mlgym_tui.commands.play import open_tui

        return open_tui()
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        from mlgym_tui.commands.play import open_tui

        return open_tui()
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
