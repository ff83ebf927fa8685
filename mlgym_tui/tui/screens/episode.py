"""The episode screen: transcript, container shell, metrics and a status bar, steered by key bindings.

Events arrive from a Controller subscription (live) or a list (replay, tests). They are queued and
applied every FLUSH_S seconds so token streams and chatty output coalesce into one repaint.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, Input, TextArea

from mlgym_tui.stream import events as ev
from mlgym_tui.stream.model import METRICS, PENDING, STATUS, TRANSCRIPT, Changed, EpisodeModel, Pending
from mlgym_tui.tui.actions import bindings_for
from mlgym_tui.tui.screens.prompt import PromptScreen
from mlgym_tui.tui.widgets.episode_body import EpisodeBody
from mlgym_tui.tui.widgets.pending_action import PendingAction
from mlgym_tui.tui.widgets.shell_pane import ShellPane
from mlgym_tui.tui.widgets.status_bar import LOADING_LIBRARY, StatusBar

if TYPE_CHECKING:
    from mlgym_tui.episode.controller import Controller

FLUSH_S = 0.05
Starter = Callable[[], Awaitable["Controller"]]  # returns a ready Controller

class EpisodeScreen(Screen):
    BINDINGS = bindings_for("episode")

    def __init__(self, *, controller: Controller | None = None, events: list[ev.Event] | None = None,
                 starter: Starter | None = None, clock: Callable[[], float] | None = None) -> None:
        super().__init__()
        self.model = EpisodeModel()
        self.controller = controller
        self.starter = starter
        self.initial_events = list(events or [])
        self.queue: list[ev.Event] = []
        self.clock = clock or time.time
        self.events_seen = 0
        self._unsubscribe: Callable[[], None] | None = None
        self._shell_title = ""

    # ---------------------------------------------------------------- layout

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status-bar")
        yield EpisodeBody(self.model)
        yield Footer()

    def on_mount(self) -> None:
        self.body = self.query_one(EpisodeBody)
        self.body.metrics.clock = self.clock
        self.render_dirty(STATUS | METRICS | TRANSCRIPT | PENDING)
        if self.initial_events:
            # after the first layout, so the shell's virtual terminal already has the pane's size
            self.call_after_refresh(self.feed, self.initial_events, True)
            self.initial_events = []
        self.set_interval(FLUSH_S, self.flush, name="episode-flush")
        if not getattr(self.app, "deterministic", False):
            self.set_interval(1.0, self.body.metrics.refresh_figures, name="episode-clock")
        if self.controller is not None:
            self.attach(self.controller)
        elif self.starter is not None:
            self.run_worker(self.run_episode(), name="episode", group="episode", exclusive=True)

    def on_unmount(self) -> None:
        if self._unsubscribe:
            self._unsubscribe()

    # ---------------------------------------------------------------- the stream

    def attach(self, controller: Controller) -> None:
        self.controller = controller
        self._unsubscribe = controller.subscribe(self.receive_event)
        self.sync_from_controller()

    async def run_episode(self) -> None:
        """The `episode` worker: start the controller (slow: engine, image) then run it; the UI stays live."""
        status = self.query_one(StatusBar)
        status.busy = "starting container"
        try:
            controller = await self.starter()
            self.attach(controller)
            status.busy = ""
            await controller.run()
        except Exception as exc:  # noqa: BLE001 - shown to the user, never a crash of the UI
            self.notify(f"episode failed: {exc}", severity="error", timeout=10)
            self.feed([ev.ErrorEvent(message=str(exc), fatal=True)])
        finally:
            status.busy = ""

    def receive_event(self, event: ev.Event) -> None:
        """Controller callback (loop thread): only queue, the flush timer renders."""
        self.queue.append(event)

    def feed(self, events: list[ev.Event], flush: bool = False) -> None:
        self.queue.extend(events)
        if flush:
            self.flush()

    def flush(self) -> None:
        if self.controller is not None:
            self.sync_from_controller()
        if not self.queue:
            return
        batch, self.queue = self.queue, []
        self.events_seen += len(batch)
        self.render_dirty(self.model.apply_all(batch))

    def render_dirty(self, dirty: Changed) -> None:
        self.body.render_dirty(dirty)
        if STATUS in dirty:
            self.update_status()

    def sync_from_controller(self) -> None:
        """Show the episode's own state at once: a command's events may follow a moment later."""
        c = self.controller
        if c is None:
            return
        state, info, m = c.state, c.info, self.model
        m.mode, m.paused, m.max_steps, m.cost_limit = state.mode, state.paused, state.max_steps, state.cost_limit
        m.engine = m.engine or str(info.engine)
        m.container = m.container or (c.container_name or "")
        m.task_id, m.model = m.task_id or info.task_id, m.model or info.model
        if state.pending is not None and state.awaiting == "approval":
            m.pending = Pending(state.pending.step or state.step + 1, state.pending.action, state.pending.thought)
        elif m.mode != "confirm" or state.awaiting not in (None, "approval"):
            m.pending = None
        self.update_status()
        self.body.pending.show(self.model.pending)

    def update_status(self) -> None:
        m = self.model
        bar = self.query_one(StatusBar)
        bar.mode, bar.paused = m.mode, m.paused
        live = m.live
        awaiting = self.controller.awaiting if self.controller is not None else None
        # The first model call of a session may wait for the model library's import (on a worker thread).
        model_wait = LOADING_LIBRARY if live is not None and live.loading_library else "waiting for the model"
        if m.exit_status:
            bar.busy = ""
        elif awaiting in ("model", "command"):
            bar.busy = model_wait if awaiting == "model" else "running command"
        elif awaiting in ("approval", "human"):
            bar.busy = ""
        elif live is not None and live.thinking:
            bar.busy = model_wait
        elif live is not None and live.running:
            bar.busy = "running command"
        elif bar.busy != "starting container":
            bar.busy = ""
        engine = m.engine + (f" ({m.container})" if m.container else "")
        parts = [f"engine {engine or '?'}", f"task {m.task_id or '?'}", f"model {m.model or '?'}"]
        if m.exit_status:
            parts.append(f"ended: {m.exit_status}")
        if m.errors:
            parts.append(f"error: {m.errors[-1][:60]}")
        bar.detail = "  ".join(parts)
        title = "container shell" + (" — HUMAN: type the next command below" if m.mode == "human" else "")
        if title != self._shell_title:
            self._shell_title = title
            self.body.shell.set_title(title)
            if m.mode == "human" and not isinstance(self.focused, Input):
                # A person now types the actions: put the cursor where they go.
                self.body.shell_input.focus()

    # ---------------------------------------------------------------- controls

    # priority keys a shell needs (ctrl+b/ctrl+k/ctrl+r): they go to the interactive terminal while it has focus
    TERMINAL_KEYS = ("interrupt", "stop", "run_edited")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in self.TERMINAL_KEYS and self._terminal_focused():
            return False
        if action in ("approve", "edit", "reject", "run_edited"):
            waiting = self.controller is not None and self.controller.pending is not None
            return True if self.model.pending is not None or waiting else None  # None: shown greyed out
        return True

    def _live(self) -> Any:
        if self.controller is None:
            self.notify("no live episode here (replay or not started)", severity="warning")
            return None
        return self.controller

    def _after(self) -> None:
        self.sync_from_controller()
        self.refresh_bindings()

    def _call(self, method: str, *args: Any) -> bool:
        """Call a Controller method; a refusal (ControllerError is a ValueError) becomes a notification."""
        c = self._live()
        if c is None:
            return False
        try:
            getattr(c, method)(*args)
        except ValueError as exc:
            self.notify(str(exc), severity="error", timeout=6)
            return False
        finally:
            self._after()
        return True

    def action_pause(self) -> None:
        if c := self._live():
            self._call("resume" if c.paused else "pause")

    def action_step_once(self) -> None:
        self._call("step_once")

    def action_set_mode(self, mode: str) -> None:
        if self._call("set_mode", mode):
            self.notify(f"mode: {mode.upper()}", timeout=2)

    def action_take_over(self) -> None:
        if c := self._live():
            if c.mode == "human":
                self._call("hand_back")
            elif self._call("take_over"):
                self.body.shell_input.focus()

    def action_inject(self) -> None:
        if self._live():
            self.app.push_screen(PromptScreen("Inject a command (runs at the next step boundary)", "command"),
                                 self._do_inject)

    def _do_inject(self, command: str | None) -> None:
        if command and command.strip() and self._call("inject", command.strip()):
            self.notify(f"injected: {command.strip()[:60]}", timeout=3)

    def action_message(self) -> None:
        if self._live():
            self.app.push_screen(PromptScreen("Message the agent (added to its next prompt)", "message"),
                                 self._do_message)

    def _do_message(self, text: str | None) -> None:
        if text and text.strip() and self._call("message", text.strip()):
            self.notify("message queued for the agent", timeout=3)

    def action_limit(self) -> None:
        if self._live():
            self.app.push_screen(PromptScreen("Set a limit: max_steps=N or cost_limit=X", "max_steps=100"),
                                 self._do_limit)

    def _do_limit(self, text: str | None) -> None:
        if not text or "=" not in text:
            return
        name, _, value = text.partition("=")
        try:
            number = float(value)
        except ValueError:
            self.notify(f"limit not changed: {value.strip()!r} is not a number", severity="error")
            return
        self._call("set_limit", name.strip(), number)

    def action_interrupt(self) -> None:
        if self._call("interrupt"):
            self.notify("interrupt sent", timeout=2)

    def action_stop(self) -> None:
        if self._call("stop"):
            self.notify("stopping the episode", timeout=3)

    def action_approve(self) -> None:
        self.sync_from_controller()
        self.body.pending.approve()

    def action_edit(self) -> None:
        self.sync_from_controller()
        self.body.pending.edit()

    def action_run_edited(self) -> None:
        if self.query_one("#pending-editor", TextArea).display:
            self.body.pending.edit()

    def action_reject(self) -> None:
        self.sync_from_controller()
        self.body.pending.reject()

    def on_pending_action_approved(self, message: PendingAction.Approved) -> None:
        self._call("approve")

    def on_pending_action_edited(self, message: PendingAction.Edited) -> None:
        self._call("approve_edited", message.action)

    def on_pending_action_rejected(self, message: PendingAction.Rejected) -> None:
        self._call("reject", message.comment)

    def on_shell_pane_command_submitted(self, message: ShellPane.CommandSubmitted) -> None:
        if c := self._live():
            if c.mode == "human":
                self._call("submit_human_action", message.command)
            elif self._call("inject", message.command):
                self.notify(f"injected: {message.command[:60]}", timeout=3)

    # ---------------------------------------------------------------- interactive terminal

    def _terminal_focused(self) -> bool:
        from mlgym_tui.tui.widgets.container_terminal import ContainerTerminal

        return isinstance(self.focused, ContainerTerminal)

    def action_toggle_terminal(self) -> None:
        from mlgym_tui.tui.widgets.terminal_pane import TerminalPane

        panes = list(self.query(TerminalPane))
        if panes:
            for pane in panes:
                pane.remove()
            self.body.shell_input.focus()
            return
        c = self.controller
        container = c.env.container if c is not None and not c.done else None
        if container is None:
            self.notify("no live container: the terminal opens on a running episode", severity="warning")
            return
        pane = TerminalPane(container, id="terminal-pane")
        self.query_one("#side-panes").mount(pane, before=0)  # the pane focuses its terminal once mounted

    def on_container_terminal_closed(self, message) -> None:
        from mlgym_tui.tui.widgets.terminal_pane import TerminalPane

        for pane in self.query(TerminalPane):
            pane.remove()
        self.notify(f"terminal closed: {message.reason}", timeout=4)

    def action_toggle_pane(self, pane_id: str) -> None:
        self.body.toggle_pane(pane_id)

    def action_zoom(self) -> None:
        self.body.zoom()

    def action_back(self) -> None:
        if self.maximized is not None:
            self.minimize()
        elif len(self.app.screen_stack) > 2:
            self.app.pop_screen()
