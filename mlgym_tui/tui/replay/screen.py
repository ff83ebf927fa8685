"""The replay screen: a recorded run shown with the live episode's panes (EpisodeBody), one step at a time.

The run is read and folded into a ReplayIndex on a thread (loader.py); the cursor, author filter and search live in
a ReplayCursor (cursor.py) and are mirrored in this screen's reactives, which the status line and the timeline are
bound to. Moving the cursor costs the same in both directions: the model is given the run as it was at the cursor
and every pane repaints in one frame. Follow mode (follow.py) extends the index as another process appends to
events.jsonl; a fork (fork_screen.py) re-executes the first N steps under the live episode screen.
"""

from __future__ import annotations

import asyncio
import gc
import time
from pathlib import Path
from typing import Any

from rich.text import Text
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Footer, Input, Static

from mlgym_tui.stream.model import EpisodeModel
from mlgym_tui.stream.replay_index import ReplayIndex
from mlgym_tui.tui import collector
from mlgym_tui.tui.actions import bindings_for
from mlgym_tui.tui.perf import flush_refreshes
from mlgym_tui.tui.replay.cursor import ReplayCursor
from mlgym_tui.tui.replay.follow import FollowTail
from mlgym_tui.tui.replay.loader import Loaded, append, events_path, start_reading
from mlgym_tui.tui.replay.status import is_human_run, status_line, timeline_caption
from mlgym_tui.tui.widgets.episode_body import EpisodeBody
from mlgym_tui.tui.widgets.status_bar import StatusBar
from mlgym_tui.tui.widgets.timeline import Timeline

CHARTS_AFTER_S = 0.12  # redraw the score and duration charts when the cursor has rested this long
COLLECT_YOUNG_AFTER_S = 0.3  # collect the young generations when it has rested this long (see collector.py)...
COLLECT_ALL_AFTER_S = 1.5  # ...and everything when it has rested this long


class ReplayScreen(Screen):
    """A recorded run (run directory, events.jsonl or .traj) with a step cursor, search, follow and fork."""

    BINDINGS = bindings_for("replay")
    CSS = """
    #replay-notice { height: auto; max-height: 3; background: $warning 30%; padding: 0 1; }
    Timeline { height: 2; padding: 0 1; background: $panel; }
    Timeline:focus { background: $boost; }
    #replay-search { height: 3; display: none; }
    #replay-search.-open { display: block; }
    StepCard.-cursor { border-left: thick $accent; }
    """

    cursor: reactive[int] = reactive(0, always_update=True, init=False)  # 1-based card, 0: none
    follow: reactive[bool] = reactive(False, init=False)
    author_filter: reactive[str | None] = reactive(None, init=False)
    query_text: reactive[str] = reactive("", init=False)  # (not `query`: that is every DOM node's query method)
    status_line: reactive[str] = reactive("")  # computed from the four above and the run; bound into the status bar
    timeline_caption: reactive[str] = reactive("")  # bound into the timeline

    def __init__(self, path: Path | str | None = None, *, run: Any = None, follow: bool = False,
                 clock=None) -> None:
        super().__init__()
        self.model = EpisodeModel()
        self.clock = clock or time.time
        self._recorded_clock = clock is None  # metrics show time as recorded, not the wall clock (see _recorded_now)
        self.path = Path(path) if path is not None else (Path(run.source) if run is not None else None)
        self.run = run
        self.state = ReplayCursor()
        self.set_reactive(ReplayScreen.follow, follow)
        self.warnings: list[str] = []
        self.loaded = False
        self._human = False
        self._charts_timer = None
        self._rest_timers: list = []
        self._holding_collector = False
        # start reading at once, on a thread: the file is read while the app starts and paints
        self._reading = start_reading(self.path, follow) if run is None and path is not None else None

    @property
    def index(self) -> ReplayIndex | None:
        return self.state.index

    @property
    def matches(self) -> list[int]:
        return self.state.matches

    @property
    def _highlighted(self):
        return self.body.transcript.highlighted

    # ---------------------------------------------------------------- layout and the bound state

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status-bar").data_bind(detail=ReplayScreen.status_line)
        yield Static("", id="replay-notice")
        yield EpisodeBody(self.model, replay=True)
        yield Input(placeholder="search thoughts, actions and observations (enter: find, escape: close)",
                    id="replay-search")
        yield Timeline(id="timeline").data_bind(ReplayScreen.cursor, caption=ReplayScreen.timeline_caption)
        yield FollowTail(id="follow-tail")
        yield Footer()

    def compute_status_line(self) -> str:
        state, run = getattr(self, "state", None), getattr(self, "run", None)
        if state is None or state.index is None or run is None:
            return f"{getattr(self, 'path', '')}"
        return status_line(state, run, follow=self.follow, warnings=self.warnings,
                           exit_status=self.model.exit_status, human=self._human)

    def compute_timeline_caption(self) -> str:
        state = getattr(self, "state", None)
        return timeline_caption(state) if state is not None and state.index is not None else ""

    def publish(self) -> None:
        """Mirror the cursor state in the reactives (the cursor last: it always fires, repainting what is bound)."""
        self.author_filter = self.state.author_filter
        self.query_text = self.state.query
        self.cursor = self.state.card

    def on_mount(self) -> None:
        self.body = self.query_one(EpisodeBody)
        self._timeline = self.query_one(Timeline)
        self._search_box = self.query_one("#replay-search", Input)
        self.body.metrics.clock = self._recorded_now if self._recorded_clock else self.clock
        self.query_one("#replay-notice").display = False
        status = self.query_one(StatusBar)
        status.mode = "replay"
        self._timeline.focus()
        if self.run is not None:
            self.loaded_run(Loaded(self.run, ReplayIndex.build(self.run.events), None, None))
        else:
            status.busy = f"opening {self.path}"
            self.run_worker(self.load(), name="replay-load", group="replay", exclusive=True)

    def _recorded_now(self) -> float:
        """'Now' for the elapsed time: the wall clock while following a live run, else the time of the last event
        at the cursor (a run that never ended would otherwise show the years since its start)."""
        if self.follow or self.model.last_event_t is None:
            return time.time()
        return self.model.last_event_t

    # ---------------------------------------------------------------- the collector (see collector.py)

    def on_screen_resume(self) -> None:
        if not self._holding_collector:
            self._holding_collector = True
            collector.hold()

    def on_screen_suspend(self) -> None:
        self.release_collector()

    def on_unmount(self) -> None:
        self.release_collector()

    def release_collector(self) -> None:
        if self._holding_collector:
            self._holding_collector = False
            collector.release()

    # ---------------------------------------------------------------- loading and following

    async def load(self) -> None:
        """The `replay-load` worker: wait for the reading thread, then show the run."""
        loaded = await asyncio.wrap_future(self._reading)
        if loaded.error is not None:
            self.load_failed(loaded.error)
        else:
            self.loaded_run(loaded)

    def load_failed(self, message: str) -> None:
        self.query_one(StatusBar).busy = ""
        self.warnings = [message]
        self.show_notice()
        self.notify(message, title="cannot replay", severity="error", timeout=15)

    def loaded_run(self, loaded: Loaded) -> None:
        from mlgym_tui.trajectory import NOT_ENDED_WARNING

        # The run lives as long as the screen: keep later full collections from walking it again and again
        # (a walk over a 5,000-step run is a pause long enough to show between two key presses).
        gc.freeze()
        self.run, self.state.index = loaded.run, loaded.index
        self._human = is_human_run(self.run, self.state)
        self.query_one(StatusBar).busy = ""
        self.warnings = [w for w in self.run.warnings if not (self.follow and w == NOT_ENDED_WARNING)]
        if self.follow and loaded.tail is None:
            self.follow = False
            self.notify("follow mode needs an events.jsonl (a .traj is rewritten whole); showing it as it is",
                        severity="warning", timeout=8)
        self.show_notice()
        if self.warnings:
            lost = "; ".join(self.warnings[:3]) + (f" (+{len(self.warnings) - 3} more)" if len(self.warnings) > 3 else "")
            self.notify(lost, title="opened with what it holds", severity="warning", timeout=12)
        self.loaded = True
        self.go(self.state.total, force=True)
        if self.follow:
            self.query_one(FollowTail).start(events_path(self.path), loaded.tail)

    def show_notice(self) -> None:
        notice = self.query_one("#replay-notice", Static)
        notice.display = bool(self.warnings)
        if self.warnings:
            notice.update(Text("⚠ " + " · ".join(self.warnings), no_wrap=False))

    def action_toggle_follow(self) -> None:
        if self.follow:
            self.follow = False
            self.query_one(FollowTail).stop()
            self.notify("follow mode off", timeout=2)
            return
        followed = events_path(self.path)
        if not self.loaded:
            self.notify("the run is still opening", timeout=2)
            return
        if followed is None:
            self.notify("follow mode needs an events.jsonl (a .traj is rewritten whole)", severity="warning")
            return
        self.follow = True
        self.query_one(FollowTail).start(followed)
        self.notify("following: new steps appear as they are recorded", timeout=3)

    def on_follow_tail_appended(self, message: FollowTail.Appended) -> None:
        if self.index is not None:
            was_last = self.state.card >= self.index.total
            append(self.run, self.index, message.events)
            self._human = is_human_run(self.run, self.state)
            self.go(self.index.total if was_last else self.state.card, force=True)

    # ---------------------------------------------------------------- the cursor

    def go(self, card: int, force: bool = False) -> None:
        if self.index is None:
            return
        before = self.state.card
        if self.state.go(card) != before or force:
            self.show_cursor()

    def show_cursor(self) -> None:
        """Show the run as it was at the cursor: every pane repainted, in one frame."""
        state, index = self.state, self.index
        if index is None:
            self.publish()
            return
        self.body.show_recording(state)
        if self._charts_timer is not None:  # the charts (5,000 points) once the cursor rests
            self._charts_timer.stop()
        self._charts_timer = self.set_timer(CHARTS_AFTER_S, self.body.metrics.refresh_all, name="replay-charts")
        collector.on_key()
        for timer in self._rest_timers:
            timer.stop()
        self._rest_timers = [self.set_timer(COLLECT_YOUNG_AFTER_S, collector.collect_young, name="replay-gc-young"),
                             self.set_timer(COLLECT_ALL_AFTER_S, collector.collect_all, name="replay-gc-all")]
        marks = index.marks()
        if state.author_filter is not None:
            marks["filtered"] = state.filtered()
        self._timeline.set_marks(index.total, marks)
        self.publish()  # the timeline's cursor and caption, the status line
        self.hand_refreshes_to_screen()

    def hand_refreshes_to_screen(self) -> None:
        """Pass every pending repaint and layout to the screen now, so that a move is painted in one frame.

        Textual passes a widget's refresh on to its screen from that widget's own idle handler, and the screen
        paints as soon as it is idle with something to paint: the transcript went out in one frame and the shell,
        figures, timeline and status line in the next, ~30 ms later. `_check_refresh` is what that idle handler
        calls (Textual is pinned in uv.lock; the replay tests fail if it stops doing this)."""
        flush_refreshes(self)

    def move(self, card: int | None, force: bool = False) -> None:
        if card is not None:
            self.go(card, force)

    def action_step(self, delta: int) -> None:
        self.move(self.state.step(delta))

    def action_first(self) -> None:
        self.move(self.state.first())

    def action_last(self) -> None:
        self.move(self.state.last())

    def action_goto(self) -> None:
        from mlgym_tui.tui.screens.prompt import PromptScreen

        self.app.push_screen(PromptScreen("Go to step (number as recorded)", "step"), self.goto_step)

    def goto_step(self, text: str | None) -> None:
        if not text or self.index is None:
            return
        try:
            number = int(text.strip())
        except ValueError:
            self.notify(f"not a step number: {text.strip()!r}", severity="error")
            return
        card = self.state.card_of_step(number)
        if card is None:
            cards = self.index.cards
            self.notify(f"no step {number} (the run has steps {cards[0].step if cards else 0}"
                        f"..{cards[-1].step if cards else 0})", severity="warning")
        self.move(card)

    def on_timeline_jump(self, message: Timeline.Jump) -> None:
        self.go(message.card)

    def action_jump(self, kind: str, direction: int) -> None:
        if self.index is None:
            return
        card = self.state.jump(kind, direction)
        if card is None:
            self.notify(f"no {'later' if direction > 0 else 'earlier'} {kind} step", timeout=2)
        self.move(card)

    def action_cycle_author(self) -> None:
        if self.index is not None:
            self.notify(f"author filter: {self.state.cycle_author() or 'all'}", timeout=2)
            self.show_cursor()

    # ---------------------------------------------------------------- search

    def action_search(self) -> None:
        box = self._search_box
        if self.focused is box:  # (has_focus follows a moment later)
            raise SkipAction()  # a / in the query
        box.add_class("-open")
        box.value = self.state.query
        # focused now, not once the keys already queued are handled (Widget.focus waits): typed fast or pasted,
        # the query's letters would otherwise reach the replay's own keys (a: author filter, t: follow, ...)
        self.set_focus(box)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id != "replay-search":
            return
        event.stop()
        event.input.remove_class("-open")
        self.set_focus(self._timeline)
        self.search(event.value.strip())

    def search(self, query: str) -> None:
        card = self.state.search(query)
        if card is not None:
            self.go(card, force=True)
            return
        if query and not self.state.matches:
            self.notify(f"no step matches {query!r}", severity="warning", timeout=3)
        elif query:
            self.notify(f"{len(self.state.matches)} match(es), none by {self.state.author_filter}",
                        severity="warning")
        self.show_cursor()

    def action_match(self, direction: int) -> None:
        if not self.state.query:
            self.action_search()
            return
        card, wrapped = self.state.next_match(direction)
        if wrapped:
            self.notify("search wrapped around", timeout=2)
        if card is None:
            self.notify(f"no step matches {self.state.query!r}", severity="warning", timeout=2)
        self.move(card, force=True)

    def action_back(self) -> None:
        if self._search_box.has_class("-open"):
            self._search_box.remove_class("-open")
            self.set_focus(self._timeline)
        elif self.state.query:
            self.state.clear_search()
            self.show_cursor()
        elif self.maximized is not None:
            self.minimize()
        elif len(self.app.screen_stack) > 2:
            self.app.pop_screen()

    # ---------------------------------------------------------------- panes and fork

    def action_toggle_pane(self, pane_id: str) -> None:
        self.body.toggle_pane(pane_id)

    def action_zoom(self) -> None:
        self.body.zoom()

    def action_fork(self) -> None:
        if self.index is None or self.run is None:
            self.notify("nothing to fork: no run is loaded", severity="warning")
            return
        from mlgym_tui.tui.replay.fork_screen import ask_and_fork

        ask_and_fork(self.app, self.run, self.path, self.index.recorded_steps_before(self.state.card), self.clock)
