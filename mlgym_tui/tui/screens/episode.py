"""The episode screen: transcript, container shell, metrics and a status bar, steered by key bindings.

Events arrive from a Controller subscription (live) or a list (replay, tests). They are queued; the first after
a quiet spell is painted at once, a burst at most every MIN_REPAINT_GAP_S, so token streams and chatty output
coalesce into few repaints (and a FLUSH_S timer keeps the screen in step with the controller's state).

The screen runs the episodes it starts (served, so other terminals can attach) and shows attached ones
(`mlgym-tui attach`: a RemoteEpisode has the Controller's surface) the same way; leaving an attached one detaches.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from textual.app import ComposeResult
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widgets import Footer, Input, TextArea

from mlgym_tui.stream import events as ev
from mlgym_tui.stream.model import METRICS, PENDING, STATUS, TRANSCRIPT, Changed, EpisodeModel, Pending
from mlgym_tui.tui.actions import bindings_for
from mlgym_tui.tui.screens.choice import ChoiceDialog
from mlgym_tui.tui.screens.prompt import PromptScreen
from mlgym_tui.tui.widgets.episode_body import EpisodeBody
from mlgym_tui.tui.widgets.pending_action import PendingAction
from mlgym_tui.tui.widgets.shell_pane import ShellPane
from mlgym_tui.tui.widgets.status_bar import LOADING_LIBRARY, StatusBar, format_left

if TYPE_CHECKING:
    from mlgym_tui.episode.controller import Controller

log = logging.getLogger(__name__)

FLUSH_S = 0.05
MIN_REPAINT_GAP_S = 0.025  # an event after a quiet spell is shown at once; a burst repaints at most every 25 ms
Starter = Callable[[], Awaitable["Controller"]]  # returns a ready Controller
WARN_LEFT_S = 600.0  # a timed session warns when this much time is left (half the limit, for limits under 20 min)


def warning_point(limit_s: float) -> float:
    return WARN_LEFT_S if limit_s > 2 * WARN_LEFT_S else limit_s / 2


def is_remote(controller: Any) -> bool:
    """An episode attached to (another process runs it), not one run here."""
    if controller is None:
        return False
    from mlgym_tui.control.client import RemoteEpisode

    return isinstance(controller, RemoteEpisode)


class EpisodeScreen(Screen):
    BINDINGS = bindings_for("episode")

    def __init__(self, *, controller: Controller | None = None, events: list[ev.Event] | None = None,
                 starter: Starter | None = None, clock: Callable[[], float] | None = None,
                 ask_note: bool = False) -> None:
        super().__init__()
        self.ask_note = ask_note  # a human-baseline session: ask for a note when it ends (human.json)
        self.starting = starter is not None  # until the Controller exists (the container may take a while)
        self._decision: tuple[int | None, str] | None = None  # the proposal awaiting approval, when last seen
        self._warned_time = False
        self._ended_seen = False
        self.model = EpisodeModel()
        self.controller = controller
        self.starter = starter
        self.initial_events = list(events or [])
        self.queue: list[ev.Event] = []
        self._flush_due = False  # a repaint is already scheduled for the queued events
        self._last_flush = 0.0
        self.clock = clock or time.time
        self.events_seen = 0
        self._unsubscribe: Callable[[], None] | None = None
        self._shell_title = ""
        self.attached = is_remote(controller)  # another process runs it: leaving detaches, control is shared
        self._detaching = False

    # ---------------------------------------------------------------- layout

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status-bar")
        yield EpisodeBody(self.model)
        yield Footer()

    def on_mount(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._app_context = contextvars.copy_context()  # the app's: what a repaint scheduled from any task runs in
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
        if (self.controller is not None or self.starter is not None) and not self.attached:
            self.app.keep_episode(self)  # a live episode: leaving its screen keeps it running
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
        self.starting = False
        if is_remote(controller):
            self.attached = True
            # the connection's reader task may predate the app (attach connects first): handle on this screen's
            # own message loop, where the app is active
            controller.on_notice(lambda text, severity: self.call_later(self.on_episode_notice, text, severity))
            controller.on_control(lambda message: self.call_later(self.on_control_message, message))
        self._unsubscribe = controller.subscribe(self.receive_event)
        self.sync_from_controller()
        # cheap when untimed (nothing changes), and a limit set while running (`l wall_time_s=N`) shows at once
        self.set_interval(0.5, self.show_time_left, name="episode-deadline")

    @property
    def running(self) -> bool:
        """Starting or running: leaving or quitting needs a decision."""
        return self.starting or (self.controller is not None and not self.controller.done)

    async def run_episode(self) -> None:
        """The `episode` worker: start the controller (slow: engine, image), serve it (other terminals can
        attach), then run it; the UI stays live."""
        status = self.query_one(StatusBar)
        status.busy = "starting container"
        services = None
        try:
            controller = await self.starter()
            services = await self.serve(controller)
            self.attach(controller)
            status.busy = ""
            await controller.run()
        except Exception as exc:  # noqa: BLE001 - shown to the user, never a crash of the UI
            self.notify(f"episode failed: {exc}", severity="error", timeout=10)
            self.feed([ev.ErrorEvent(message=str(exc), fatal=True)])
        finally:
            self.starting = False
            status.busy = ""
            if services is not None:
                try:
                    await services.close()
                except Exception:  # noqa: BLE001 - the episode is over; a socket left behind is no reason to fail
                    log.exception("closing the episode's control endpoint failed")

    async def serve(self, controller: Controller) -> Any:
        """The episode's control endpoint (other terminals attach) and notifications; None when it cannot be
        served (the episode still runs here, and the person is told why)."""
        from mlgym_tui.control.services import serve_episode

        try:
            services = await serve_episode(controller, bell=self.app.bell)
        except Exception as exc:  # noqa: BLE001 - attaching is an extra; the episode runs without it
            log.exception("serving the episode failed")
            self.notify(f"other terminals cannot attach to this episode: {exc}", severity="warning", timeout=8)
            return None
        if services.notifier is not None:
            services.notifier.notified.append(self.toast)
        return services

    def toast(self, note: Any) -> None:
        """A notification (settings `notify`) while this episode is not on screen: what it shows needs nobody told."""
        if self.app.screen is not self:
            self.app.notify(note.text, title=note.title, timeout=8)

    def receive_event(self, event: ev.Event) -> None:
        """Controller callback (loop thread): queue, and schedule one repaint for the burst: at once after a quiet
        spell (an attached viewer sees a step within milliseconds), else when the minimum gap has passed."""
        self.queue.append(event)
        if self._flush_due:
            return
        self._flush_due = True
        wait = max(0.0, self._last_flush + MIN_REPAINT_GAP_S - time.monotonic())
        # A plain loop callback in the screen's own context: the caller may be a task started before the app (an
        # attached viewer's reader), where Textual's timers and messages cannot be made.
        self._loop.call_later(wait, self._repaint, context=self._app_context)

    def _repaint(self) -> None:
        if not self.is_mounted or self._closing or self._closed:
            return  # scheduled before the screen was taken down
        try:
            self.flush()
        except NoMatches:
            pass  # taken down while the callback waited: its widgets are gone, nothing to show

    def feed(self, events: list[ev.Event], flush: bool = False) -> None:
        self.queue.extend(events)
        if flush:
            self.flush()

    def flush(self) -> None:
        self._flush_due = False
        if self.controller is not None:
            self.sync_from_controller()
        if not self.queue:
            return
        self._last_flush = time.monotonic()
        batch, self.queue = self.queue, []
        self.events_seen += len(batch)
        self.render_dirty(self.model.apply_all(batch))
        if self.controller is not None and self.controller.done and not self._ended_seen:
            self._ended_seen = True
            self.ended()

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
        awaited = state.pending if state.awaiting == "approval" else None
        decision = (awaited.step, awaited.action) if awaited is not None else None
        if decision is not None and decision != self._decision:
            self.focus_decision()
        self._decision = decision

    def focus_decision(self) -> None:
        """A decision is awaited: the confirm card takes the focus, so `a`, `e`, `r` (or Enter) act on it. Not while
        a person types elsewhere (a command half typed, the interactive terminal) or already works in the card."""
        focused = self.focused
        card = self.body.pending
        if self.model.pending is None or self._terminal_focused():
            return
        if focused is not None and (card in focused.ancestors_with_self):
            return
        if isinstance(focused, (Input, TextArea)) and focused.id != "shell-input":
            return
        if isinstance(focused, Input) and focused.value.strip():
            return
        self.query_one("#pending-approve").focus()
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
        bar.control = self.control_label()
        engine = m.engine + (f" ({m.container})" if m.container else "")
        parts = [f"engine {engine or '?'}", f"task {m.task_id or '?'}", f"model {m.model or '?'}"]
        if m.exit_status:
            parts.append(f"ended: {m.exit_status}")
        if m.errors:
            parts.append(f"error: {m.errors[-1][:60]}")
        bar.detail = "  ".join(parts)
        title = "container shell" + (" — HUMAN: type the next command below" if m.mode == "human" else "")
        if title != self._shell_title:
            handed_back = bool(self._shell_title) and m.mode != "human"
            self._shell_title = title
            self.body.shell.set_title(title)
            if m.mode == "human" and not isinstance(self.focused, Input):
                # A person now types the actions: put the cursor where they go.
                self.body.shell_input.focus()
            elif handed_back and self.focused is self.body.shell_input and not self.body.shell_input.value.strip():
                # The agent acts again: keys are keys (p, a, ...), not letters typed into the command line.
                self.body.transcript.focus()

    def control_label(self) -> str:
        """Who steers, for the status bar: attached, "you" or who holds control ("nobody": the first to steer
        takes it); running here, the attached viewer steering it, if any."""
        c = self.controller
        if not self.attached or c is None:
            return self.model.control_holder
        if c.lost is not None:
            return ""
        return "you" if c.holds_control else (c.holder or "nobody")

    def show_time_left(self) -> None:
        """A timed session: the time left in the status bar, a warning (and the bell) once near the end."""
        c = self.controller
        bar = self.query_one(StatusBar)
        if c is None or not c.wall_time_s or c.done:
            bar.time_left = ""
            return
        left = c.wall_time_s - c.elapsed()
        bar.time_left = format_left(left)
        if not self._warned_time and left <= warning_point(c.wall_time_s):
            self._warned_time = True
            bar.set_class(True, "-time-short")
            self.app.bell()
            self.notify(f"{format_left(left)} left: at the limit your last valid submission is submitted "
                        "(validate to keep one)", title="time", severity="warning", timeout=15)

    # ---------------------------------------------------------------- controls

    # priority keys a shell needs (ctrl+b/ctrl+r): they go to the interactive terminal while it has focus
    TERMINAL_KEYS = ("interrupt", "stop", "run_edited")
    # keys that end or discard work: never while a text box has the focus (ctrl+k there is readline's kill-line)
    TEXT_BOX_SAFE = ("stop",)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in self.TERMINAL_KEYS and self._terminal_focused():
            return False
        if action in self.TEXT_BOX_SAFE and isinstance(self.focused, (Input, TextArea)):
            return False
        if action in ("approve", "edit", "reject", "run_edited"):
            waiting = self.controller is not None and self.controller.pending is not None
            return True if self.model.pending is not None or waiting else None  # None: shown greyed out
        if action in CONTROL_ACTIONS:
            return self.control_applies(action)
        return True

    def control_applies(self, action: str) -> bool:
        """Control keys show where they mean something on an attached screen: request (nobody holding it: take)
        unless this viewer holds control, give and release when it does."""
        c = self.controller
        if not self.attached or c is None or c.done:
            return False
        if action == "request_control":
            return not c.holds_control
        return c.holds_control

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

    # ---------------------------------------------------------------- control, between attached viewers

    def action_request_control(self) -> None:
        holder = self.controller.holder if self.controller is not None else ""
        if self._call("request_control") and holder:
            self.notify(f"asked {holder} for control", timeout=4)

    def action_give_control(self) -> None:
        self._call("give_control")

    def action_release_control(self) -> None:
        if self._call("release_control"):
            self.notify("control released: you are watching", timeout=3)

    def on_episode_notice(self, text: str, severity: str) -> None:
        """A refusal or news only the episode knows (an attached screen)."""
        self.notify(text, severity=severity if severity in ("information", "warning", "error") else "information",
                    timeout=6)

    def on_control_message(self, message: dict[str, Any]) -> None:
        """Control changed, someone asks for it, a request was refused, or the connection was lost."""
        if not self.is_mounted or self._detaching:
            return  # this screen has gone (detached): nothing here to tell
        c = self.controller
        op = message.get("op")
        if op == "control_request" and c is not None and c.holds_control:
            asker = message.get("from") or {}
            who = asker.get("who", "another viewer")
            self.app.push_screen(ChoiceDialog(f"{who} requests control", [
                ("give", f"Give control to {who}"), ("keep", "Keep control")],
                "They steer from then on; you keep watching."),
                lambda choice: self._answer_request(choice, asker.get("id")))
        elif op == "control_refused":
            self.notify(f"{message.get('by', 'the holder')} keeps control", severity="warning", timeout=5)
        elif op == "control" and c is not None:
            holder = message.get("holder") or {}
            if c.holds_control and self.query_one(StatusBar).control != "you":
                self.notify("you hold control", timeout=3)
            elif holder and not c.holds_control and self.query_one(StatusBar).control == "you":
                self.notify(f"control passed to {holder.get('who')}", timeout=4)
        elif op == "lost" and c is not None and not c.exit_status:
            self.notify(f"disconnected from the episode: {message.get('reason')}; it may still run "
                        f"(attach again: mlgym-tui attach {c.run_dir})", severity="error", timeout=15)
        self.update_status()
        self.refresh_bindings()

    def _answer_request(self, choice: str | None, asker: int | None) -> None:
        if choice == "give":
            self._call("give_control", asker)
        else:
            self._call("refuse_control")

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
            self.app.push_screen(PromptScreen("Set a limit: max_steps=N, cost_limit=X or wall_time_s=SECONDS",
                                              "max_steps=100"), self._do_limit)

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
        c = self._live()
        if c is None:
            return
        if c.done:
            self.notify(f"the episode has ended ({c.exit_status})", timeout=3)
            return
        self.app.push_screen(ChoiceDialog("Stop the episode?", STOP_CHOICES, submission_note(c)), self._do_stop)

    def _do_stop(self, choice: str | None) -> None:
        if choice in ("submit", "end") and self._call("stop", choice == "submit"):
            self.notify("stopping: scoring the last valid submission" if choice == "submit"
                        else "stopping without a score", timeout=4)

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
        if self.attached:
            self.notify("the interactive terminal works in the episode's own process (where it was started); "
                        "here, take over (ctrl+o) and type commands in the shell pane", severity="warning", timeout=6)
            return
        container = c.env.container if c is not None and not c.done else None
        if container is None:
            self.notify("no live container: the terminal opens on a running episode", severity="warning")
            return
        pane = TerminalPane.for_episode(c, id="terminal-pane")  # recorded: a cast, and its commands as steps
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
        elif self.running and isinstance(self.focused, (Input, TextArea)):
            self.body.transcript.focus()  # Escape first leaves the text box; the next one leaves the screen
        elif self.attached:
            self.ask_detach()
        elif len(self.app.screen_stack) <= 2:
            return
        elif self.running:
            self.app.push_screen(ChoiceDialog(
                "Leave this episode's screen?", LEAVE_CHOICES,
                "It keeps running. Come back from the task browser: e (or its run in past runs)."), self._do_leave)
        else:
            self.app.leave_episode(self)

    def _do_leave(self, choice: str | None) -> None:
        if choice == "leave":
            self.app.leave_episode(self)

    # ---------------------------------------------------------------- leaving an attached episode

    def ask_detach(self, then_quit: bool = False) -> None:
        """Leave an attached episode (it keeps running); asked first while connected to a running one."""
        if not self.running:
            self.run_worker(self.detach(then_quit), name="detach", group="detach", exclusive=True)
            return
        c = self.controller
        where = f"Attach again: mlgym-tui attach {c.run_dir}" if c is not None else "The episode keeps running."
        self.app.push_screen(ChoiceDialog("Detach from this episode?", DETACH_CHOICES, where),
                             lambda choice: self._do_detach(choice, then_quit))

    def _do_detach(self, choice: str | None, then_quit: bool) -> None:
        if choice == "detach":
            self.run_worker(self.detach(then_quit), name="detach", group="detach", exclusive=True)

    async def detach(self, then_quit: bool = False) -> None:
        """Detach (control, if held, is released at once), then leave: the app quits when this was its first
        screen or the person asked to quit."""
        self._detaching = True
        if self.controller is not None:
            await self.controller.detach()
        if then_quit:
            await self.app.action_quit()
        elif self.app.start_screen is self or len(self.app.screen_stack) <= 2:
            self.app.exit()
        else:
            self.app.leave_episode(self)

    # ---------------------------------------------------------------- the end of a human-baseline session

    def ended(self) -> None:
        """The episode is over: a human-baseline session asks for a note (kept with who and the time limit)."""
        self.query_one(StatusBar).time_left = ""
        if self.ask_note and self.controller is not None and self.controller.run_dir is not None:
            from mlgym_tui.tui.screens.end_note import ask_for_note

            ask_for_note(self, self.controller)


STOP_CHOICES = [("submit", "Submit the last valid submission, then end"), ("end", "End without a score"),
                ("cancel", "Keep going")]
LEAVE_CHOICES = [("leave", "Leave (the episode keeps running)"), ("stay", "Stay")]
DETACH_CHOICES = [("detach", "Detach (the episode keeps running)"), ("stay", "Stay")]
CONTROL_ACTIONS = ("request_control", "give_control", "release_control")


def submission_note(c: Controller) -> str:
    """What each answer does: the auto-submission scores the submission's files as they are now (MLGym's rule)."""
    last = (f"last validation: {', '.join(f'{k} {v:g}' for k, v in c.scores[-1].items())}" if c.scores
            else "nothing validated yet")
    return f"Submitting scores the submission as it is now ({last}); ending leaves the run unscored."
