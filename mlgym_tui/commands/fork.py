"""`mlgym-tui fork PATH --step N`: a new run that starts where the parent was after step N, then continues under
any policy (an agent config, or a person with --mode human) and records its parent. By default an exact fork: the
parent's workspace, shell directory and exported environment after step N are restored from its snapshots and
nothing runs again; `--reexecute` runs the first N commands again in the fresh container instead."""

from __future__ import annotations

from mlgym_tui.commands.common import fail


def register(subparsers) -> None:
    from mlgym_tui.commands.run import add_episode_options

    parser = subparsers.add_parser("fork", help="continue a run live from its step N, in a new run")
    parser.add_argument("path", help="the parent run directory (or its events.jsonl / .traj)")
    parser.add_argument("--step", type=int, required=True, help="how many of the parent's steps the fork starts from")
    parser.add_argument("--reexecute", action="store_true",
                        help="run the parent's first N commands again instead of restoring its workspace snapshot "
                             "(for runs without snapshots; stochastic commands may then give other results)")
    add_episode_options(parser, agent_default=None)
    parser.set_defaults(func=run)


def run(args) -> int:
    import asyncio

    from mlgym_tui.commands.run import run_single_cli
    from mlgym_tui.config.agent import AgentConfigError, resolve_agent_config_path
    from mlgym_tui.trajectory import TrajectoryError, fork_prefix, load_run
    from mlgym_tui.trajectory.fork import unavailable_reason

    try:
        parent = load_run(args.path)
        fork_prefix(parent, args.step)
    except TrajectoryError as exc:
        return fail(str(exc), 2)
    if not args.reexecute:
        reason = unavailable_reason(parent, args.step)  # said before anything starts
        if reason is not None:
            return fail(reason, 2)
    if args.agent is None:
        try:
            args.agent = str(resolve_agent_config_path(parent.meta.agent))
        except AgentConfigError:
            return fail(f"the parent's agent {parent.meta.agent!r} is not a known config; pass --agent PATH", 2)
    return asyncio.run(run_single_cli(args, task=parent.meta.task_id, parent=args.path, fork_step=args.step,
                                      fork_by="reexecute" if args.reexecute else "snapshot"))
