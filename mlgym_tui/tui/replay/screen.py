"""The replay screen: a recorded run shown with the live episode's panes (EpisodeBody), one step at a time.

The run is read and folded into a ReplayIndex on a thread (loader.py). The cursor, author filter and search live in
a ReplayCursor (cursor.py), mirrored in this screen's reactives, to which the status line and the timeline are
bound. A move costs the same in both directions: the model is given the run as it was at the cursor and every pane
repaints in one frame; the charts and the collections wait until the cursor rests (rest.py). Follow mode
(follow.py) extends the index as another process appends to events.jsonl; a fork (fork_screen.py) re-executes the
first N steps under the live episode screen.
"""

from __future__ import annotations

import asyncio
import gc
import time
from pathlib import Path
from typing import Any

from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Footer

from mlgym_tui.stream.model import EpisodeModel
from mlgym_tui.stream.replay_index import ReplayIndex
from mlgym_tui.tui.actions import bindings_for
from mlgym_tui.tui.perf import flush_refreshes
from mlgym_tui.tui.replay.cursor import ReplayCursor
from mlgym_tui.tui.replay.follow import FollowTail
from mlgym_tui.tui.replay.loader import Loaded, append, events_path, start_reading
from mlgym_tui.tui.replay.rest import RestWork
from mlgym_tui.tui.replay.status import is_human_run, status_line, summary, timeline_caption
from mlgym_tui.tui.widgets.episode_body import EpisodeBody
from mlgym_tui.tui.widgets.replay_notice import ReplayNotice
from mlgym_tui.tui.widgets.search_box import SearchBox
from mlgym_tui.tui.widgets.status_bar import StatusBar
from mlgym_tui.tui.widgets.timeline import Timeline


class ReplayScreen(Screen):
    """A recorded run (run directory, events.jsonl or .traj) with a step cursor, search, follow and fork."""

    BINDINGS = bindings_for("replay")
    CSS = """
    Timeline { height: 2; padding: 0 1; background: $panel; }
    Timeline:focus { background: $boost; }
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
        self.rest = RestWork(self, lambda: self.body.metrics.refresh_all())  # the charts once the cursor rests
        # start reading at once, on a thread: the file is read while the app starts and paints
        self._reading = start_reading(self.path, follow) if run is None and path is not None else None

    @property
    def index(self) -> ReplayIndex | None:
        return self.state.index

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status-bar").data_bind(detail=ReplayScreen.status_line)
        yield ReplayNotice(id="replay-notice")
        yield EpisodeBody(self.model, replay=True)
        yield SearchBox(placeholder="search thoughts, actions and observations (enter: find, escape: close)",
                        id="replay-search")
        yield Timeline(id="timeline").data_bind(ReplayScreen.cursor, ReplayScreen.author_filter,
                                                caption=ReplayScreen.timeline_caption)
        yield FollowTail(events_path(self.path), id="follow-tail")
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
        self._search_box = self.query_one(SearchBox)
        self.body.metrics.clock = self._recorded_now if self._recorded_clock else self.clock
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

    def on_screen_resume(self) -> None:
        self.rest.hold()

    def on_screen_suspend(self) -> None:
        self.rest.release()

    def on_unmount(self) -> None:
        self.rest.release()

    async def load(self) -> None:
        """The `replay-load` worker: wait for the reading thread, then show the run."""
        self.loaded_run(await asyncio.wrap_future(self._reading))

    def loaded_run(self, loaded: Loaded) -> None:
        from mlgym_tui.trajectory import NOT_ENDED_WARNING

        self.query_one(StatusBar).busy = ""
        if loaded.error is not None:
            self.warnings = [loaded.error]
            self.query_one(ReplayNotice).show(self.warnings)
            self.notify(loaded.error, title="cannot replay", severity="error", timeout=15)
            return
        gc.freeze()  # the run lives as long as the screen: no full collection need walk it again
        self.run, self.state.index = loaded.run, loaded.index
        self._human = is_human_run(self.run, self.state)
        self.warnings = [w for w in self.run.warnings if not (self.follow and w == NOT_ENDED_WARNING)]
        if self.follow and loaded.tail is None:
            self.follow = False
            self.notify("follow mode needs an events.jsonl (a .traj is rewritten whole); showing it as it is",
                        severity="warning", timeout=8)
        self.query_one(ReplayNotice).show(self.warnings)
        if self.warnings:
            self.notify(summary(self.warnings), title="opened with what it holds", severity="warning", timeout=12)
        self.loaded = True
        self.mark_timeline()
        self.go(self.state.total, force=True)
        if self.follow:
            self.query_one(FollowTail).start(loaded.tail)

    def action_toggle_follow(self) -> None:
        self.follow, note, severity = self.query_one(FollowTail).toggle(self.follow, self.loaded)
        self.notify(note, severity=severity, timeout=3)

    def on_follow_tail_appended(self, message: FollowTail.Appended) -> None:
        if self.index is not None:
            was_last = self.state.card >= self.index.total
            append(self.run, self.index, message.events)
            self._human = is_human_run(self.run, self.state)
            self.mark_timeline()
            self.go(self.index.total if was_last else self.state.card, force=True)

    def mark_timeline(self) -> None:
        """The run's failures, validations and human steps on the timeline (when it is read and as it grows)."""
        index = self.index
        self._timeline.set_marks(index.total, index.marks(), [card.author for card in index.cards])

    def show_cursor(self) -> None:
        """Show the run as it was at the cursor: every pane repainted, in one frame."""
        state, index = self.state, self.index
        if index is None:
            self.publish()
            return
        self.body.show_recording(state)  # the charts wait until the cursor rests
        self.follow_cast()
        self.rest.moved()
        self.publish()  # the timeline's cursor and caption, the status line
        flush_refreshes(self)  # every pane in one frame

    def go(self, card: int | None, force: bool = False) -> None:
        """Move the cursor to `card` (None: nowhere to go) and show it; tell what the cursor has to say."""
        if (note := self.state.note) is not None:
            self.notify(note.text, severity=note.severity, timeout=3)
            self.state.note = None
        before = self.state.card
        if card is not None and self.index is not None and (self.state.go(card) != before or force):
            self.show_cursor()

    def action_step(self, delta: int) -> None:
        self.go(self.state.step(delta))

    def action_first(self) -> None:
        self.go(self.state.first())

    def action_last(self) -> None:
        self.go(self.state.last())

    def action_goto(self) -> None:
        from mlgym_tui.tui.screens.prompt import PromptScreen

        self.app.push_screen(PromptScreen("Go to step (number as recorded)", "step"), self.goto_step)

    def goto_step(self, text: str | None) -> None:
        if text and self.index is not None:
            self.go(self.state.card_of_text(text))

    def on_timeline_jump(self, message: Timeline.Jump) -> None:
        self.go(message.card)

    def action_jump(self, kind: str, direction: int) -> None:
        self.go(self.state.jump(kind, direction))

    def action_cycle_author(self) -> None:
        if self.index is not None:
            self.notify(f"author filter: {self.state.cycle_author() or 'all'}", timeout=2)
            self.show_cursor()

    def action_search(self) -> None:
        if self.focused is self._search_box:  # (has_focus follows a moment later)
            raise SkipAction()  # a / in the query
        self._search_box.open(self.state.query)

    def on_search_box_searched(self, message: SearchBox.Searched) -> None:
        self.set_focus(self._timeline)
        self.search(message.query)

    def search(self, query: str) -> None:
        card = self.state.search(query)
        self.go(card, force=True)
        if card is None:
            self.show_cursor()

    def action_match(self, direction: int) -> None:
        if not self.state.query:
            self.action_search()
            return
        self.go(self.state.next_match(direction), force=True)

    def action_back(self) -> None:
        if self._search_box.is_open:
            self._search_box.close()
            self.set_focus(self._timeline)
        elif self.state.query:
            self.state.clear_search()
            self.show_cursor()
        elif self.maximized is not None:
            self.minimize()
        elif len(self.app.screen_stack) > 2:
            self.app.pop_screen()

    def action_toggle_pane(self, pane_id: str) -> None:
        self.body.toggle_pane(pane_id)

    def action_zoom(self) -> None:
        self.body.zoom()

    # ---------------------------------------------------------------- the interactive terminal's recordings

    def action_play_cast(self) -> None:
        """Play (or close) the terminal recording at the cursor's step in the shell pane."""
        from mlgym_tui.tui.replay.cast_player import CastPlayer, read_run_casts, run_folder

        if self.query(CastPlayer):
            self.close_cast()
            return
        run_dir = run_folder(self.path)
        if run_dir is None or self.index is None:
            self.notify("no run is loaded", severity="warning")
            return
        author, started_at = self.cursor_step_time()

        async def load() -> None:
            casts, problems = await asyncio.to_thread(read_run_casts, run_dir)
            for problem in problems:
                self.notify(problem, title="terminal recording", severity="warning", timeout=8)
            self.open_cast(casts, author, started_at)

        self.run_worker(load(), name="cast-load", group="cast", exclusive=True)

    def open_cast(self, casts: dict, author: str | None, started_at: float | None) -> None:
        from mlgym_tui.tui.replay.cast_player import CastPlayer, choose, run_folder

        choice = choose(run_folder(self.path), author, started_at, casts)
        if isinstance(choice, str):
            self.notify(choice, severity="warning", timeout=5)
            return
        shell = self.body.shell
        self.body.shell_view.display = False
        shell.display = True
        shell.mount(CastPlayer(casts[choice.path], choice.path.name, choice.offset, id="cast-player"),
                    after=self.body.shell_view)
        self.notify(f"playing {choice.path.name}: {choice.why}", timeout=3)

    def cursor_step_time(self) -> tuple[str | None, float | None]:
        """The author of the cursor's step and when it began (None when unknown)."""
        card = self.index.cards[self.state.card - 1] if self.index is not None and self.state.card else None
        if card is None or self.run is None:
            return None, None
        recorded = next((s for s in self.run.steps if s.step == card.step and s.author == card.author), None)
        return card.author, (recorded.started_at or recorded.t - recorded.duration) if recorded is not None else None

    def follow_cast(self) -> None:
        """A recording is playing and the cursor moved to one of its commands: the playback jumps there."""
        from mlgym_tui.tui.replay.cast_player import LEAD_S, CastPlayer

        players = self.query(CastPlayer)
        if not players:
            return
        author, started_at = self.cursor_step_time()
        player = players.first()
        if author == "human-terminal" and started_at and player.cast.covers(started_at):
            player.seek(max(0.0, player.cast.offset_of(started_at) - LEAD_S))

    def close_cast(self) -> None:
        from mlgym_tui.tui.replay.cast_player import CastPlayer

        for player in self.query(CastPlayer):
            player.remove()
        self.body.shell_view.display = True
        self.body.shell.set_title("container shell")

    def action_cast_speed(self) -> None:
        from mlgym_tui.tui.replay.cast_player import CastPlayer

        players = self.query(CastPlayer)
        if not players:
            self.notify("no terminal recording is playing (c plays one)", timeout=3)
            return
        self.notify(f"playback speed {players.first().cycle_speed():g}x", timeout=2)

    def action_fork(self) -> None:
        if self.index is None or self.run is None:
            self.notify("nothing to fork: no run is loaded", severity="warning")
            return
        from mlgym_tui.tui.replay.fork_screen import ask_and_fork

        ask_and_fork(self.app, self.run, self.path, self.index.recorded_steps_before(self.state.card), self.clock)
