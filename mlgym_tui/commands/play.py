"""`mlgym-tui play TASK`: open the TUI straight into a human-baseline session on TASK (optionally timed, with who
played and a note at the end)."""

from __future__ import annotations

import re

from mlgym_tui.commands.common import add_engine_option, fail

_DURATION = re.compile(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")


def parse_duration(text: str) -> float:
    """Seconds in "90m", "2h", "1h30m", "45s" (hours, minutes, seconds in that order); ValueError otherwise."""
    match = _DURATION.fullmatch(text.strip().lower())
    if not text.strip() or match is None or not any(match.groups()):
        raise ValueError(f"{text!r} is not a duration; write it like 90m, 2h, 1h30m or 45s")
    h, m, s = (int(part or 0) for part in match.groups())
    seconds = h * 3600 + m * 60 + s
    if seconds <= 0:
        raise ValueError(f"{text!r} is no time at all; give a positive duration such as 90m")
    return float(seconds)


def register(subparsers) -> None:
    parser = subparsers.add_parser("play", help="play a task yourself (human-baseline mode) in the TUI")
    parser.add_argument("task_id")
    add_engine_option(parser)
    parser.add_argument("--time-limit", metavar="DURATION",
                        help="time for the session (90m, 2h, 1h30m, 45s): the time left shows in the status bar, "
                             "a warning comes at 10 minutes, and at the limit the last valid submission is scored")
    parser.add_argument("--who", metavar="NAME", help="who plays, recorded with the run (default: your login name)")
    parser.set_defaults(func=run)


def run(args) -> int:
    wall_time_s = None
    if args.time_limit is not None:
        try:
            wall_time_s = parse_duration(args.time_limit)
        except ValueError as exc:
            return fail(f"--time-limit: {exc}", 2)
    from mlgym_tui.tui.app import MLGymApp
    from mlgym_tui.tui.episode_request import EpisodeRequest

    request = EpisodeRequest.human(args.task_id, engine=args.engine or "auto", wall_time_s=wall_time_s,
                                   who=(args.who or "").strip())
    MLGymApp(request=request).run()
    return 0


def open_tui() -> int:
    """`mlgym-tui` with no subcommand: the task browser."""
    from mlgym_tui.tui import perf

    perf.hold_for_start()  # until the first frame, imports included
    from mlgym_tui.tui.app import MLGymApp

    MLGymApp().run()
    return 0
