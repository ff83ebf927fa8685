"""`mlgym-tui fork PATH --step N`: re-execute a run's first N actions in a fresh container, then continue under
any policy (an agent config, or a person with --mode human) into a new run directory that records its parent."""

from __future__ import annotations

from mlgym_tui.commands.common import fail


def register(subparsers) -> None:
    from mlgym_tui.commands.run import add_episode_options

    parser = subparsers.add_parser("fork", help="replay a run's first N steps, then continue live in a new run")
    parser.add_argument("path", help="the parent run directory (or its events.jsonl / .traj)")
    parser.add_argument("--step", type=int, required=True, help="how many of the parent's steps to re-execute")
    add_episode_options(parser, agent_default=None)
    parser.set_defaults(func=run)


def run(args) -> int:
    import asyncio

    from mlgym_tui.commands.run import run_single_cli
    from mlgym_tui.config.agent import AgentConfigError, resolve_agent_config_path
    from mlgym_tui.trajectory import TrajectoryError, fork_prefix, load_run

    try:
        parent = load_run(args.path)
        fork_prefix(parent, args.step)
    except TrajectoryError as exc:
        return fail(str(exc), 2)
    if args.agent is None:
        try:
            args.agent = str(resolve_agent_config_path(parent.meta.agent))
        except AgentConfigError:
            return fail(f"the parent's agent {parent.meta.agent!r} is not a known config; pass --agent PATH", 2)
    return asyncio.run(run_single_cli(args, task=parent.meta.task_id, parent=args.path, fork_step=args.step))
