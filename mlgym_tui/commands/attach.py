"""`mlgym-tui attach RUN_DIR|HOST:PORT`: the live episode screen on an episode another process runs (a headless
`run`, a batch episode, another terminal's TUI). The connection is made before the screen opens, so a refusal is
one line; a run whose process is gone offers its replay. Leaving the screen detaches; the episode goes on."""

from __future__ import annotations

import os
import sys

from mlgym_tui.commands.common import fail

TOKEN_ENV = "MLGYM_TUI_TOKEN"


def register(subparsers) -> None:
    parser = subparsers.add_parser("attach", help="watch and steer a running episode (its run directory or "
                                                  "HOST:PORT) in the TUI; leaving detaches")
    parser.add_argument("target", metavar="RUN_DIR|HOST:PORT",
                        help="the run directory of a running episode, or the address it listens on (--listen)")
    parser.add_argument("--token", help=f"the episode's token for a TCP address (default: ${TOKEN_ENV}, else "
                                        "control.token in the run directory when it is readable here)")
    parser.add_argument("--who", metavar="NAME", help="how the other viewers see you (default: user@host)")
    parser.set_defaults(func=run)


def run(args) -> int:
    import asyncio

    from mlgym_tui.control.client import AttachError, RemoteEpisode, viewer_name

    token = args.token or os.environ.get(TOKEN_ENV) or None
    who = viewer_name((args.who or "").strip() or None)
    # The app runs on this loop: the connection (bound to the loop it was made on) outlives the check.
    loop = asyncio.new_event_loop()
    try:
        try:
            remote = loop.run_until_complete(RemoteEpisode.attach(args.target, token=token, who=who))
        except AttachError as exc:
            return not_attached(exc)
        except OSError as exc:
            return fail(f"{args.target}: cannot attach ({exc.strerror or exc})", 2)
        from mlgym_tui.tui.app import MLGymApp
        from mlgym_tui.tui.screens.episode import EpisodeScreen

        MLGymApp(start_screen=EpisodeScreen(controller=remote), remove_orphans=False).run(loop=loop)
        loop.run_until_complete(let_go(remote))
    finally:
        loop.close()
    return 0


async def let_go(remote) -> None:
    """After the app: detach if the screen did not (an error ended the app: a held control is not left behind)."""
    import asyncio

    if remote.lost is None:
        await remote.detach()
    try:
        await asyncio.wait_for(remote.wait(), 2.0)
    except asyncio.TimeoutError:
        pass


def not_attached(exc) -> int:
    """The refusal in one line; a run that is not running (any more) offers its replay on a terminal."""
    replay_dir = exc.replay_dir
    if replay_dir is None or not (replay_dir / "events.jsonl").exists():
        return fail(str(exc), 2)
    if not sys.stdin.isatty() or not sys.stdout.isatty():
        return fail(str(exc), 2)  # the message names the replay command
    print(f"mlgym-tui: {exc}", file=sys.stderr)
    try:
        answer = input("open its replay? [Y/n] ").strip().lower()
    except (EOFError, KeyboardInterrupt):
        print(file=sys.stderr)
        return 2
    if answer not in ("", "y", "yes"):
        return 2
    from mlgym_tui.commands.replay import open_ui

    return open_ui(str(replay_dir), follow=False)
