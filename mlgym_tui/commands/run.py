"""`mlgym-tui run`: one episode without the TUI, with a live status line (or a line per step when piped).

Confirm and human modes work from a plain terminal: the proposal is printed and you answer
approve / edit / reject, or you type the human's command. The exit code is 0 when the episode was submitted
or auto-submitted with a score, 1 otherwise, 2 for bad input.

`run_single` is the reusable single-episode path (a batch runner calls it once per episode).
"""

from __future__ import annotations

from mlgym_tui.commands.common import add_engine_option, fail

from mlgym_tui.stream.types import MODES


def add_episode_options(parser, *, task_required: bool = True, agent_default: str | None = "default") -> None:
    """Options shared by `run` and `fork`."""
    parser.add_argument("--agent", default=agent_default, help="agent config: a YAML path or a name in agents/")
    parser.add_argument("--model", default=None, help="override the agent's model (litellm name)")
    parser.add_argument("--api-base", default=None, help="override the model's API base URL")
    add_engine_option(parser)
    parser.add_argument("--max-steps", type=int, default=None, help="override the agent's step limit")
    parser.add_argument("--cost-limit", type=float, default=None, help="override the cost limit in USD (0: none)")
    parser.add_argument("--mode", choices=MODES, default="auto", help="auto, confirm (approve each action) or human")
    parser.add_argument("--runs-dir", default=None, help="where run directories go (default: settings, else runs/)")
    parser.add_argument("--gpus", default=None, metavar="all|N|0,1",
                        help="GPUs for the task and evaluation containers (default: settings runtime.gpus, else none)")
    parser.add_argument("--quiet", action="store_true", help="no live display; only the final summary")
    parser.add_argument("--listen", default=None, metavar="HOST:PORT",
                        help="also serve the episode's control endpoint on TCP (a token is made, printed and kept 0600 "
                             "in the run directory); it always serves a Unix socket there: mlgym-tui attach RUN_DIR")


def register(subparsers) -> None:
    parser = subparsers.add_parser("run", help="run one episode headless (no TUI), or a batch with --tasks")
    parser.add_argument("--task", default=None, help="task id (see `mlgym-tui tasks`) or a task YAML path")
    add_episode_options(parser)
    batch = parser.add_argument_group("batch runs (mlgym_tui/batch)")
    batch.add_argument("--tasks", default=None, help="comma list of task ids ('all': every task); runs a batch")
    batch.add_argument("--runs", type=int, default=None, help="runs per task (batch; default 1)")
    batch.add_argument("--parallel", type=int, default=None, help="episodes at once, one container each (default 1)")
    batch.add_argument("--redo", action="store_true", help="run finished runs of the batch again")
    from mlgym_tui.commands.batch import add_executor_options

    add_executor_options(batch)
    parser.set_defaults(func=run)


def run(args) -> int:
    import asyncio

    if args.tasks is not None or args.runs is not None or args.parallel is not None or args.redo:
        if args.tasks is not None and args.task is not None:
            return fail("give either --task (one episode) or --tasks (a batch), not both", 2)
        from mlgym_tui.commands.batch import run_batch_cli

        return run_batch_cli(args)
    if args.task is None:
        return fail("no task given; pass --task ID for one episode or --tasks A,B,... for a batch", 2)
    return asyncio.run(run_single_cli(args, task=args.task))


def with_gpus(runtime, gpus: str | None):
    """The settings' runtime with --gpus applied; ConfigError names the accepted forms."""
    if gpus is None:
        return runtime
    from mlgym_tui.config.runtime import parse_gpus
    from mlgym_tui.config.settings import ConfigError

    try:
        parse_gpus(gpus)
    except ValueError as exc:
        raise ConfigError(f"--gpus: {exc}") from None
    return runtime.model_copy(update={"gpus": gpus})


async def run_single_cli(args, task: str, parent: str | None = None, fork_step: int | None = None,
                         fork_by: str = "reexecute") -> int:
    """Parse-level errors become one-line messages and exit code 2."""
    from rich.console import Console

    from mlgym_tui.batch.preflight import PreflightError, check_before_start
    from mlgym_tui.config.agent import AgentConfigError
    from mlgym_tui.config.settings import ConfigError, get_settings, runs_dir as settings_runs_dir
    from mlgym_tui.control.server import ListenError
    from mlgym_tui.episode.controller import ControllerError
    from mlgym_tui.episode.session import resolve_agent, resolve_task
    from mlgym_tui.runtime.errors import RuntimeProblem
    from mlgym_tui.trajectory import TrajectoryError

    console = Console(highlight=False)
    try:
        settings = get_settings()
        runtime = with_gpus(settings.runtime, args.gpus)
        engine = args.engine or runtime.engine
        runs_dir = settings_runs_dir(args.runs_dir)
        listen = getattr(args, "listen", None)
        if listen:
            from mlgym_tui.control.endpoint import parse_listen

            try:
                parse_listen(listen)
            except ValueError as exc:
                raise ConfigError(str(exc)) from None
        # A missing key, an unroutable model, an engine or image missing: said now, before any container starts.
        agent = resolve_agent(args.agent, args.model, args.api_base, args.max_steps, args.cost_limit)
        connected = await check_before_start([resolve_task(task)], agent, engine, runtime)
        cleanup = start_orphan_cleanup(runtime, console)
        controller = await run_single(
            task, args.agent, engine_name=engine, mode=args.mode, runs_dir=runs_dir, model=args.model,
            api_base=args.api_base, max_steps=args.max_steps, cost_limit=args.cost_limit, runtime=runtime,
            parent=parent, fork_step=fork_step, fork_by=fork_by, console=console, quiet=args.quiet, engine=connected,
            listen=listen,
        )
    except PreflightError as exc:
        for problem in exc.problems:
            fail(problem)
        return 2
    except (AgentConfigError, ConfigError, ControllerError, TrajectoryError) as exc:
        return fail(str(exc), 2)
    except RuntimeProblem as exc:
        return fail(str(exc), 2)
    except ListenError as exc:
        return fail(str(exc), 2)
    await cleanup  # long done by now: it ran beside the episode
    return 0 if controller.succeeded else 1


def start_orphan_cleanup(runtime, console):
    """Remove containers of runs whose process is gone, on a worker thread beside the episode's start-up."""
    import asyncio

    from mlgym_tui.runtime.orphans import describe, remove_orphans

    async def clean() -> None:
        note = describe(await asyncio.to_thread(remove_orphans, runtime))
        if note:
            console.print(note)

    return asyncio.ensure_future(clean())


async def run_single(
    task,
    agent,
    *,
    engine_name: str = "auto",
    mode: str = "auto",
    runs_dir="runs",
    model: str | None = None,
    api_base: str | None = None,
    max_steps: int | None = None,
    cost_limit: float | None = None,
    runtime=None,
    parent=None,
    fork_step: int | None = None,
    fork_by: str = "reexecute",
    console=None,
    quiet: bool = False,
    engine=None,
    listen: str | None = None,
):
    """Run one episode to its end with a terminal front end; returns the finished Controller. The episode serves
    its control endpoint meanwhile (`mlgym-tui attach RUN_DIR`; `listen`: TCP too) and sends notifications."""
    import signal
    import sys
    from pathlib import Path

    from rich.console import Console

    from mlgym_tui.episode.session import start_episode

    console = console or Console(highlight=False)
    controller = await start_episode(
        task, agent, engine_name=engine_name, mode=mode, runs_dir=Path(runs_dir), model_override=model,
        max_steps=max_steps, cost_limit=cost_limit, parent=parent, fork_prefix=fork_step, fork_by=fork_by,
        api_base=api_base, runtime=runtime, engine=engine,
    )
    import asyncio

    from mlgym_tui.control.server import ListenError
    from mlgym_tui.control.services import serve_episode
    from mlgym_tui.episode.notify import terminal_bell

    try:
        services = await serve_episode(controller, listen=listen, bell=terminal_bell)
    except ListenError:
        controller.recorder.close()  # nothing ran: leave no half-made run behind
        import shutil

        shutil.rmtree(controller.run_dir, ignore_errors=True)
        raise
    loop = asyncio.get_running_loop()
    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, controller.stop)
            installed.append(sig)
        except (NotImplementedError, RuntimeError, ValueError):
            pass
    # whole lines, never wrapped: people and scripts copy these
    console.print(f"run directory: {controller.run_dir}", markup=False, highlight=False, soft_wrap=True)
    console.print(f"attach: mlgym-tui attach {controller.run_dir}", markup=False, highlight=False, soft_wrap=True)
    if services.address:
        console.print(f"listening on {services.address} (token {services.server.token}, also in "
                      f"{controller.run_dir / 'control.token'}): mlgym-tui attach {services.address} --token TOKEN",
                      markup=False, highlight=False, soft_wrap=True)
    interactive = mode != "auto" or controller.state.agent_is_person or controller.mode == "human"
    live_ok = console.is_terminal and not interactive and not quiet
    status = _Status(controller)
    controller.subscribe(status)
    try:
        if live_ok:
            from rich.live import Live

            with Live(get_renderable=status.render, console=console, refresh_per_second=4, transient=False):
                await controller.run()
        else:
            if not quiet:
                controller.subscribe(_LinePrinter(console))
            controller.start()
            if interactive:
                await _TerminalDriver(controller, console, sys.stdin).drive()
            await controller.wait()
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
        await services.close()
    console.print(status.summary())
    return controller


class _Status:
    """What the live display shows: step, last action, cost, best score against the baseline."""

    def __init__(self, controller) -> None:
        self.c = controller
        self.last_action = ""
        self.note = "starting"

    def __call__(self, event) -> None:
        kind = event.type
        if kind == "command_started":
            self.last_action = event.action
            self.note = "running"
        elif kind == "model_query_started":
            self.note = "asking the model"
        elif kind == "step":
            self.note = "step done"
        elif kind == "error":
            self.note = event.message

    def _score_text(self) -> str:
        metric = self.c.primary_metric
        name = metric["name"] if metric else None
        best = self.c.best_score
        if not best:
            base = self.c.baseline.get(name) if name else None
            return f"best -  (baseline {name} {base:g})" if base is not None else "best -"
        if name is None or name not in best:
            name = next(iter(best))
        base = self.c.baseline.get(name)
        base_text = f" vs baseline {base:g}" if base is not None else ""
        return f"best {name} {best[name]:g}{base_text}"

    def render(self):
        from rich.text import Text

        c = self.c
        action = (self.last_action.strip().splitlines() or [""])[0][:70]
        state = c.exit_status if c.done else ("paused" if c.paused else self.note)
        return Text(
            f"{c.task_id} | step {c.step}/{c.max_steps} | {c.mode} | last: {action} | cost ${c.cost:.4f} | "
            f"{self._score_text()} | {state}"
        )

    def summary(self) -> str:
        c = self.c
        return (
            f"{c.task_id}: {c.exit_status} after {c.step} step(s), cost ${c.cost:.4f}, {self._score_text()}; "
            f"files in {c.run_dir}"
        )


class _LinePrinter:
    """A line per step and per score, for pipes, logs and the interactive modes."""

    def __init__(self, console) -> None:
        self.console = console

    def __call__(self, event) -> None:
        kind = event.type
        if kind == "step":
            action = (event.action.strip().splitlines() or [""])[0][:80]
            edited = " (edited)" if event.edited_from else ""
            self.console.print(
                f"step {event.step} [{event.author}]{edited} {action} -> exit {event.exit_code} in {event.duration:.1f}s",
                markup=False,
            )
        elif kind == "validation_scored":
            self.console.print(f"  score {event.metrics} (baseline {event.baseline})", markup=False)
        elif kind == "error":
            self.console.print(f"  {'error' if event.fatal else 'warning'}: {event.message}", markup=False)
        elif kind == "retry":
            self.console.print(f"  retry {event.attempt}: {event.reason} (waiting {event.wait_s:.1f}s)", markup=False)


class _TerminalDriver:
    """Confirm and human modes from a plain terminal. stdin is read by a daemon thread so that an episode
    ending while a prompt waits never hangs the process."""

    HELP = "a=approve, e=edit, r=reject, h=take over, s=stop"

    def __init__(self, controller, console, stream) -> None:
        import asyncio

        self.c = controller
        self.console = console
        self.stream = stream
        self.lines: asyncio.Queue[str | None] = asyncio.Queue()
        self._reader_started = False

    def _start_reader(self) -> None:
        import asyncio
        import threading

        if self._reader_started:
            return
        self._reader_started = True
        loop = asyncio.get_running_loop()

        def read() -> None:
            while True:
                line = self.stream.readline()
                loop.call_soon_threadsafe(self.lines.put_nowait, line.rstrip("\n") if line else None)
                if not line:
                    return

        threading.Thread(target=read, name="stdin-reader", daemon=True).start()

    async def _ask(self, prompt: str) -> str | None:
        import asyncio

        self._start_reader()
        self.console.print(prompt, end="", markup=False)
        self.console.file.flush()
        get = asyncio.ensure_future(self.lines.get())
        done_wait = asyncio.ensure_future(self._until_done())
        finished, _ = await asyncio.wait({get, done_wait}, return_when=asyncio.FIRST_COMPLETED)
        done_wait.cancel()
        if get not in finished:
            get.cancel()
            return None
        return get.result()

    async def _until_done(self) -> None:
        import asyncio

        while not self.c.done:
            await asyncio.sleep(0.05)

    async def drive(self) -> None:
        import asyncio

        c = self.c
        while not c.done:
            if c.awaiting == "approval" and c.pending is not None:
                await self._confirm()
            elif c.awaiting == "human":
                await self._human()
            else:
                await asyncio.sleep(0.05)

    async def _confirm(self) -> None:
        c, p = self.c, self.c.pending
        if p.thought:
            self.console.print(f"thought: {p.thought}", markup=False)
        self.console.print(f"proposed (step {c.step + 1}):\n  " + p.action.replace("\n", "\n  "), markup=False)
        reply = await self._ask(f"[{self.HELP}] > ")
        if reply is None:
            if not c.done:
                c.stop()
            return
        choice = reply.strip().lower()
        if choice in ("a", "approve", "y", "yes", ""):
            c.approve()
        elif choice in ("e", "edit"):
            new = await self._ask("new command > ")
            if new is None:
                c.stop()
            elif new.strip():
                c.approve_edited(new)
        elif choice.startswith("r"):
            comment = await self._ask("comment for the agent (optional) > ")
            c.reject(comment or "")
        elif choice in ("h", "human"):
            c.take_over()
        elif choice in ("s", "stop"):
            c.stop()
        else:
            self.console.print(f"unknown answer {reply!r}; {self.HELP}", markup=False)
        await self._settle()

    async def _human(self) -> None:
        c = self.c
        line = await self._ask(f"human step {c.step + 1} (:auto, :confirm, :stop) $ ")
        if line is None:
            if not c.done:
                c.stop()
            return
        text = line.strip()
        if not text:
            return
        if text in (":auto", ":confirm"):
            if c.state.agent_is_person:
                self.console.print("this agent is a person; there is no model to hand back to", markup=False)
                return
            c.set_mode(text[1:])
        elif text == ":stop":
            c.stop()
        else:
            c.submit_human_action(line)
        await self._settle()

    async def _settle(self) -> None:
        """Let the loop act on the answer before looking at what it waits for."""
        import asyncio

        await asyncio.sleep(0.05)
        while not self.c.done and self.c.state.queued_commands:
            await asyncio.sleep(0.02)
