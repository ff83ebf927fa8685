"""`mlgym-tui play TASK`: open the TUI straight into a human episode on TASK."""

from __future__ import annotations

from mlgym_tui.commands.common import add_engine_option


def register(subparsers) -> None:
    parser = subparsers.add_parser("play", help="play a task yourself (human-baseline mode) in the TUI")
    parser.add_argument("task_id")
    add_engine_option(parser)
    parser.set_defaults(func=run)


def run(args) -> int:
    from mlgym_tui.tui.app import MLGymApp
    from mlgym_tui.tui.episode_request import EpisodeRequest

    request = EpisodeRequest.human(args.task_id, engine=args.engine or "auto")
    MLGymApp(request=request).run()
    return 0


def open_tui() -> int:
    """`mlgym-tui` with no subcommand: the task browser."""
    from mlgym_tui.tui import perf

    perf.hold_for_start()  # until the first frame, imports included
    from mlgym_tui.tui.app import MLGymApp

    MLGymApp().run()
    return 0
