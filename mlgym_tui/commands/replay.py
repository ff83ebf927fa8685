"""`mlgym-tui replay PATH`: open a recorded run in the replay screen (`--follow` tails a run being written);
`--list` prints its steps instead; `--reexecute` runs them again in a fresh container and reports where
observations or scores diverge (exit code 1 when they do)."""

from __future__ import annotations

import sys

from mlgym_tui.commands.common import add_engine_option, fail


def register(subparsers) -> None:
    parser = subparsers.add_parser("replay", help="replay a run in the TUI; --list its steps; --reexecute them")
    parser.add_argument("path", help="run directory, events.jsonl or .traj (ours or MLGym's)")
    parser.add_argument("--list", action="store_true", help="print the steps as plain text instead of opening the UI")
    parser.add_argument("--follow", action="store_true", help="tail a run another process is still writing")
    parser.add_argument("--reexecute", action="store_true", help="run every action again in a fresh container")
    parser.add_argument("--lines", type=int, default=5, help="lines of each differing observation to show")
    add_engine_option(parser)
    parser.set_defaults(func=run)


def run(args) -> int:
    from mlgym_tui.config.settings import ConfigError
    from mlgym_tui.runtime.errors import RuntimeProblem
    from mlgym_tui.trajectory import TrajectoryError, load_run

    try:
        if args.list or (not args.reexecute and not sys.stdout.isatty()):
            # piped or redirected output gets the plain listing: there is no terminal to draw the UI on
            print(listing(load_run(args.path)))
            return 0
        if not args.reexecute:
            return open_ui(args.path, args.follow)
        import asyncio

        from mlgym_tui.config.settings import get_settings
        from mlgym_tui.episode.reexecute import reexecute

        runtime = get_settings().runtime
        report = asyncio.run(
            reexecute(args.path, args.engine or runtime.engine, runtime=runtime,
                      on_step=lambda i, step, d: print(f"step {i}: {'DIVERGED' if d else 'ok'} {step.action.splitlines()[0] if step.action.strip() else ''}", flush=True))
        )
    except (TrajectoryError, ConfigError) as exc:
        return fail(str(exc), 2)
    except RuntimeProblem as exc:
        return fail(str(exc), 2)
    print(report.render(args.lines))
    return 0 if not report.divergences else 1


def open_ui(path: str, follow: bool) -> int:
    from pathlib import Path

    if not Path(path).exists():
        return fail(f"{path}: no such file or directory; expected a run directory, events.jsonl or .traj", 2)
    from mlgym_tui.tui.app import MLGymApp
    from mlgym_tui.tui.replay.screen import ReplayScreen

    MLGymApp(start_screen=ReplayScreen(path, follow=follow)).run()
    return 0


def listing(run) -> str:
    meta = run.meta
    out = [f"{run.source}: task {meta.task_id}, agent {meta.agent}, model {meta.model}, {len(run.steps)} step(s)"]
    if meta.parent:
        out.append(f"forked from {meta.parent} at step {meta.fork_step}")
    scores = {v.step: v for v in run.validations}
    for step in run.steps:
        first = (step.action.strip().splitlines() or [""])[0]
        edited = " (edited)" if step.edited_from else ""
        code = "-" if step.exit_code is None else step.exit_code
        out.append(f"{step.step:>4} [{step.author}]{edited} {first}   exit {code}, {step.duration:.1f}s")
        if step.step in scores:
            out.append(f"       score {scores[step.step].metrics}")
    out.append(f"exit status: {run.ended.exit_status if run.ended else '(not ended)'}")
    out.extend(f"warning: {w}" for w in run.warnings)
    return "\n".join(out)
