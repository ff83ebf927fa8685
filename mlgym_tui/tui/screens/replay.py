"""The replay screen: a recorded run shown with the live episode's widgets, one step at a time.

A run is folded once into a `ReplayIndex` (an EpisodeModel fed the whole stream, with a snapshot of the
scalar state at every step boundary and each step's shell output). Moving the cursor to step k then costs the
same in both directions: the view model takes the first k transcript cards and the snapshot's figures, the
shell pane is redrawn from the last few steps' output. Follow mode extends the index as another process
appends to events.jsonl; a fork re-executes the first N steps in a fresh container under the live EpisodeScreen.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pyte
from rich.text import Text
from textual.app import ComposeResult
from textual.actions import SkipAction
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Button, Footer, Input, Label, Select, Static

from mlgym_tui.stream import events as ev
from mlgym_tui.tui import collector
from mlgym_tui.tui.screens.episode import EPISODE_BINDINGS, EpisodeScreen
from mlgym_tui.stream.types import ENGINES
from mlgym_tui.stream.replay_index import SCALARS, STATIC, ReplayIndex, next_in
from mlgym_tui.tui.widgets.metrics_pane import MetricsPane
from mlgym_tui.tui.widgets.pending_action import PendingAction
from mlgym_tui.tui.widgets.replay_transcript import ReplayTranscript
from mlgym_tui.tui.widgets.shell_pane import ShellPane
from mlgym_tui.tui.widgets.shell_view import ShellView
from mlgym_tui.tui.widgets.status_bar import StatusBar
from mlgym_tui.tui.widgets.step_card import StepCard
from mlgym_tui.tui.widgets.timeline import Timeline

CHARTS_AFTER_S = 0.12  # redraw the score and duration charts when the cursor has rested this long
COLLECT_YOUNG_AFTER_S = 0.3  # collect the young generations when it has rested this long (see collector.py)...
COLLECT_ALL_AFTER_S = 1.5  # ...and everything when it has rested this long
AUTHORS = (None, "agent", "human", "replay")


def format_duration(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s"


# ==================================================================== dialogs


class ForkDialog(ModalScreen[dict | None]):
    """Who continues a fork: the agent (config, model) or a person; and on which engine."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="fork_cancel"),
        Binding("ctrl+a", "choose('agent')", "Agent continues", id="fork_as_agent", priority=True),
        Binding("ctrl+u", "choose('human')", "Human continues", id="fork_as_human", priority=True),
    ]

    def __init__(self, task_id: str, steps: int, engine: str = "auto", agent: str = "default") -> None:
        super().__init__()
        self.task_id, self.steps, self.engine, self.agent = task_id, steps, engine, agent

    def compose(self) -> ComposeResult:
        from mlgym_tui.tui.episode_request import ENGINES, agent_choices

        agents = [a for a in agent_choices() if a not in ("human", "replay")]
        agent = self.agent if self.agent in agents else ("default" if "default" in agents else Select.BLANK)
        with Vertical(id="start-box"):
            yield Label(f"Fork [b]{self.task_id}[/b] at step {self.steps}: re-execute the first {self.steps} "
                        "action(s) in a fresh container, then continue (ctrl+a: agent, ctrl+u: human)",
                        id="start-title")
            with Grid(id="start-grid"):
                yield Label("continue as")
                yield Select([("the agent", "agent"), ("a human (me)", "human")], value="agent", id="fork-who",
                             allow_blank=False)
                yield Label("agent config")
                yield Select([(a, a) for a in agents], value=agent, id="fork-agent", allow_blank=not agents)
                yield Label("model")
                yield Input(placeholder="(from the agent config)", id="fork-model")
                yield Label("engine")
                yield Select([(e, e) for e in ENGINES], value=self.engine if self.engine in ENGINES else "auto",
                             id="fork-engine", allow_blank=False)
            with Horizontal(id="start-buttons"):
                yield Button("Agent continues", variant="success", id="fork-agent-go")
                yield Button("Human continues", variant="primary", id="fork-human-go")
                yield Button("Cancel", id="fork-cancel")

    def choice(self, who: str) -> dict:
        agent = self.query_one("#fork-agent", Select).value
        return {"who": who, "agent": "human" if who == "human" else (str(agent) if agent is not Select.BLANK
                                                                      else "default"),
                "model": self.query_one("#fork-model", Input).value.strip(),
                "engine": str(self.query_one("#fork-engine", Select).value)}

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "fork-agent-go":
            self.dismiss(self.choice("agent"))
        elif event.button.id == "fork-human-go":
            self.dismiss(self.choice("human"))
        else:
            self.dismiss(None)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(self.choice(str(self.query_one("#fork-who", Select).value)))

    def action_choose(self, who: str) -> None:
        self.dismiss(self.choice(who))

    def action_cancel(self) -> None:
        self.dismiss(None)


class TextReport(ModalScreen[None]):
    """A scrollable text report (the fork's divergences); escape closes it."""

    BINDINGS = [Binding("escape", "close", "Close", id="report_close")]
    CSS = "TextReport { align: center middle; } #report-box { width: 100; height: 80%; border: thick $warning; " \
          "background: $surface; padding: 0 1; }"

    def __init__(self, title: str, text: str) -> None:
        super().__init__()
        self.title_text, self.text = title, text

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="report-box"):
            yield Label(self.title_text, classes="pane-title")
            yield Static(Text(self.text), id="report-text")

    def action_close(self) -> None:
        self.dismiss(None)


# ==================================================================== the live fork


class ForkEpisodeScreen(EpisodeScreen):
    """The live EpisodeScreen, plus the fork's progress in the status bar and its divergence report."""

    BINDINGS = [Binding("f6", "divergences", "Divergences", id="fork_divergences")]

    def __init__(self, *, starter, fork_step: int, **kw: Any) -> None:
        super().__init__(starter=starter, **kw)
        self.fork_step = fork_step
        self.reported = False

    def replayed(self) -> int:
        return sum(1 for s in self.model.steps if s.author == "replay")

    def update_status(self) -> None:
        super().update_status()
        bar = self.query_one(StatusBar)
        done = self.replayed()
        ended = self.model.exit_status is not None
        if done < self.fork_step and not ended:
            bar.busy = f"fork: re-executing step {done + 1} of {self.fork_step}"
        elif not self.reported and (done >= self.fork_step or ended) and self.controller is not None:
            self.reported = True
            self.call_later(self.report_divergences)
        bar.detail = f"fork of step {self.fork_step}  " + bar.detail

    def report_divergences(self) -> None:
        divergences = list(getattr(self.controller, "divergences", []) or [])
        if not divergences:
            if self.fork_step:
                self.notify(f"fork: the {self.fork_step} re-executed step(s) matched the parent", timeout=4)
            return
        self.notify("; ".join(d.summary() for d in divergences[:3]) + " (F6: full report)",
                    title=f"fork diverged at {len(divergences)} step(s)", severity="warning", timeout=10)

    def action_divergences(self) -> None:
        divergences = list(getattr(self.controller, "divergences", []) or [])
        text = "\n\n".join(d.details() for d in divergences) or "no divergence: every re-executed step matched"
        self.app.push_screen(TextReport(f"fork of step {self.fork_step}: divergence report", text))


# ==================================================================== the replay screen


REPLAY_BINDINGS = [
    Binding("right", "step(1)", "Next", id="replay_next"),
    Binding("left", "step(-1)", "Previous", id="replay_previous"),
    Binding("full_stop", "step(1)", "Next", id="replay_next_alt", show=False),
    Binding("comma", "step(-1)", "Previous", id="replay_previous_alt", show=False),
    Binding("home,g", "first", "First", id="replay_first", show=False),
    Binding("end,G", "last", "Last", id="replay_last", show=False),
    Binding("colon", "goto", "Go to step", id="replay_goto"),
    # priority: handled as the key arrives, so the keys typed after it already go to the search box
    Binding("slash", "search", "Search", id="replay_search", priority=True),
    Binding("n", "match(1)", "Next match", id="replay_next_match", show=False),
    Binding("N", "match(-1)", "Previous match", id="replay_previous_match", show=False),
    Binding("x", "jump('failure', 1)", "Next failure", id="replay_next_failure"),
    Binding("X", "jump('failure', -1)", "Previous failure", id="replay_previous_failure", show=False),
    Binding("v", "jump('validation', 1)", "Next validation", id="replay_next_validation", show=False),
    Binding("V", "jump('validation', -1)", "Previous validation", id="replay_previous_validation", show=False),
    Binding("u", "jump('human', 1)", "Next human step", id="replay_next_human", show=False),
    Binding("U", "jump('human', -1)", "Previous human step", id="replay_previous_human", show=False),
    Binding("a", "cycle_author", "Author filter", id="replay_author"),
    Binding("t", "toggle_follow", "Follow", id="replay_follow"),
    Binding("f", "fork", "Fork here", id="replay_fork"),
] + [b for b in EPISODE_BINDINGS if b.action.startswith(("toggle_pane", "zoom"))] + [
    Binding("escape", "back", "Back", id="replay_back", show=False),
]


class ReplayScreen(EpisodeScreen, inherit_bindings=False):
    """A recorded run (run directory, events.jsonl or .traj) with a step cursor, search, follow and fork."""

    BINDINGS = REPLAY_BINDINGS
    LIVE = False  # recorded time: no clock ticking a relayout every second, no event queue to flush
    CSS = """
    #replay-notice { height: auto; max-height: 3; background: $warning 30%; padding: 0 1; }
    Timeline { height: 2; padding: 0 1; background: $panel; }
    Timeline:focus { background: $boost; }
    #replay-search { height: 3; display: none; }
    #replay-search.-open { display: block; }
    StepCard.-cursor { border-left: thick $accent; }
    """

    def __init__(self, path: Path | str | None = None, *, run: Any = None, follow: bool = False,
                 clock=None) -> None:
        super().__init__(clock=clock)
        self._recorded_clock = clock is None  # metrics show time as recorded, not the wall clock (see _recorded_now)
        self.path = Path(path) if path is not None else (Path(run.source) if run is not None else None)
        self.run = run
        self.index: ReplayIndex | None = None
        self.cursor = 0
        self.author_filter: str | None = None
        self.query_text = ""
        self.matches: list[int] = []
        self._searched = 0  # cards the current search has looked at
        self.follow = follow
        self.tail = None
        self.warnings: list[str] = []
        self.loaded = False
        self._highlighted: StepCard | None = None
        self._stop_follow: asyncio.Event | None = None
        self._reading = None
        self._charts_timer = None
        self._rest_timers: list = []
        self._holding_collector = False
        if run is None and path is not None:
            # start reading at once, on a thread: the file is read while the app starts and paints
            from concurrent.futures import ThreadPoolExecutor

            pool = ThreadPoolExecutor(1, thread_name_prefix="replay-read")
            self._reading = pool.submit(self.read)
            pool.shutdown(wait=False)

    # ---------------------------------------------------------------- layout

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status-bar")
        yield Static("", id="replay-notice")
        with Horizontal(id="episode-body"):
            with Vertical(id="transcript-pane", classes="pane"):
                yield ReplayTranscript(self.model, id="transcript")
                yield PendingAction(id="pending")
            with Vertical(id="side-panes"):
                yield ShellPane(id="shell-pane", classes="pane")
                yield MetricsPane(self.model, id="metrics-pane", classes="pane")
        yield Input(placeholder="search thoughts, actions and observations (enter: find, escape: close)",
                    id="replay-search")
        yield Timeline(id="timeline")
        yield Footer()

    def _recorded_now(self) -> float:
        """'Now' for the elapsed time: the wall clock while following a live run, else the time of the last event
        at the cursor (a run that never ended would otherwise show the years since its start)."""
        if self.follow or self.model.last_event_t is None:
            return time.time()
        return self.model.last_event_t

    def on_mount(self) -> None:
        # looked up once: every cursor move touches all of them, and each query walks the screen
        self._transcript = self.query_one(ReplayTranscript)
        self._metrics = self.query_one(MetricsPane)
        self._shell_view = self.query_one(ShellView)
        self._timeline = self.query_one(Timeline)
        self._status = self.query_one(StatusBar)
        self._metrics.clock = self._recorded_now if self._recorded_clock else self.clock
        self.query_one("#replay-notice").display = False
        self.query_one("#shell-input").display = False  # nothing to type into a recording
        self.query_one(PendingAction).show(None)
        self.query_one(StatusBar).mode = "replay"
        self.query_one(Timeline).focus()
        if self.run is not None:
            self.loaded_run(self.run, ReplayIndex.build(self.run.events), None)
        else:
            self.query_one(StatusBar).busy = f"opening {self.path}"
            self.run_worker(self.load(), name="replay-load", group="replay", exclusive=True)

    def on_unmount(self) -> None:
        self.release_collector()
        if self._stop_follow is not None:
            self._stop_follow.set()

    def on_screen_resume(self) -> None:
        if not self._holding_collector:
            self._holding_collector = True
            collector.hold()

    def on_screen_suspend(self) -> None:
        self.release_collector()

    def release_collector(self) -> None:
        if self._holding_collector:
            self._holding_collector = False
            collector.release()

    # ---------------------------------------------------------------- loading and following

    def events_path(self) -> Path | None:
        path = self.path
        if path is None:
            return None
        if path.is_dir():
            return path / "events.jsonl" if (path / "events.jsonl").exists() or not list(path.glob("*.traj")) else None
        return path if path.suffix == ".jsonl" else None

    def read(self) -> tuple[Any, ReplayIndex | None, Any, str | None]:
        """Reading thread: read and fold the run (no widgets here): (run, index, tail, error)."""
        from mlgym_tui.trajectory import EventTail, LoadedRun, TrajectoryError, load_run
        from mlgym_tui.trajectory.loaded_run import RunMeta

        import gc

        tail = None
        collector.hold()  # ~100k small objects per 50 MB, none of them garbage: collections would only walk them
        try:
            events_path = self.events_path()
            if self.follow and events_path is not None:
                tail = EventTail(events_path)
                events = tail.read_new()
                run = LoadedRun.from_events(events, events_path, "events.jsonl", list(tail.warnings),
                                            RunMeta(task_id="unknown", run_id=events_path.parent.name))
            else:
                run = load_run(self.path)
            index = ReplayIndex.build(run.events)
        except (TrajectoryError, OSError) as exc:
            return None, None, None, str(exc)
        finally:
            # Freeze first: re-enabled with ~1M new objects counted, the collector would otherwise walk them all at
            # once (a pause of 100 ms or more, on whichever thread allocates next).
            gc.freeze()
            collector.release()
        return run, index, tail, None

    async def load(self) -> None:
        """The `replay-load` worker: wait for the reading thread, then show the run."""
        run, index, tail, error = await asyncio.wrap_future(self._reading)
        if error is not None:
            self.load_failed(error)
        else:
            self.loaded_run(run, index, tail)

    def load_failed(self, message: str) -> None:
        self.query_one(StatusBar).busy = ""
        self.warnings = [message]
        self.show_notice()
        self.notify(message, title="cannot replay", severity="error", timeout=15)

    def loaded_run(self, run: Any, index: ReplayIndex, tail: Any) -> None:
        import gc

        from mlgym_tui.trajectory import NOT_ENDED_WARNING

        # The run lives as long as the screen: keep later full collections from walking it again and again
        # (a walk over a 5,000-step run is a pause long enough to show between two key presses).
        gc.freeze()

        self.run, self.index, self.tail = run, index, tail
        self.query_one(StatusBar).busy = ""
        self.warnings = [w for w in run.warnings if not (self.follow and w == NOT_ENDED_WARNING)]
        if self.follow and tail is None:
            self.follow = False
            self.notify("follow mode needs an events.jsonl (a .traj is rewritten whole); showing it as it is",
                        severity="warning", timeout=8)
        self.show_notice()
        if self.warnings:
            lost = "; ".join(self.warnings[:3]) + (f" (+{len(self.warnings) - 3} more)" if len(self.warnings) > 3 else "")
            self.notify(lost, title="opened with what it holds", severity="warning", timeout=12)
        self.loaded = True
        self.go(index.total, force=True)
        if self.follow:
            self.start_follow()

    def show_notice(self) -> None:
        notice = self.query_one("#replay-notice", Static)
        notice.display = bool(self.warnings)
        if self.warnings:
            notice.update(Text("⚠ " + " · ".join(self.warnings), no_wrap=False))

    def start_follow(self) -> None:
        if self.tail is None:
            events_path = self.events_path()
            if events_path is None:
                self.follow = False
                self.notify("follow mode needs an events.jsonl (a .traj is rewritten whole)", severity="warning")
                return
            from mlgym_tui.trajectory import EventTail

            self.tail = EventTail(events_path)
            self.tail.read_new()  # what is already shown: only what comes next is new
        self._stop_follow = asyncio.Event()
        self.run_worker(self.watch_file(self._stop_follow), name="replay-follow", group="follow", exclusive=True)
        self.set_interval(0.5, self.poll_tail, name="replay-follow-poll")  # in case a file event is missed
        self.update_status()

    async def watch_file(self, stop: asyncio.Event) -> None:
        from watchfiles import awatch

        folder = self.tail.path.parent
        async for _changes in awatch(folder, stop_event=stop, debounce=50, step=25, recursive=False):
            self.poll_tail()

    def poll_tail(self) -> None:
        if not self.follow or self.tail is None or self.index is None:
            return
        new = self.tail.read_new()
        if new:
            self.append_events(new)

    def append_events(self, new: list[ev.Event]) -> None:
        index = self.index
        was_last = self.cursor >= index.total
        index.extend(new)
        if self.run is not None and self.run.meta.task_id in ("", "unknown"):
            started = next((e for e in new if isinstance(e, ev.EpisodeStarted)), None)
            if started is not None:
                from mlgym_tui.trajectory.loaded_run import RunMeta

                self.run.meta = RunMeta.from_started(started)
        self.go(index.total if was_last else self.cursor, force=True)

    def action_toggle_follow(self) -> None:
        if self.follow:
            self.follow = False
            if self._stop_follow is not None:
                self._stop_follow.set()
            self.notify("follow mode off", timeout=2)
        else:
            self.follow = True
            self.start_follow()
            if self.follow:
                self.notify("following: new steps appear as they are recorded", timeout=3)
        self.update_status()

    # ---------------------------------------------------------------- the cursor

    def visible(self, card: int) -> bool:
        return self.author_filter is None or self.index.cards[card - 1].author == self.author_filter

    def go(self, card: int, force: bool = False) -> None:
        index = self.index
        if index is None:
            return
        card = max(min(card, index.total), 1 if index.total else 0)
        if card == self.cursor and not force:
            return
        self.cursor = card
        self.show_cursor()

    def show_cursor(self) -> None:
        index, m, c = self.index, self.model, self.cursor
        if index is None:
            return
        snap = index.snapshot(c)
        fold = index.fold
        for name in STATIC:
            setattr(m, name, getattr(fold, name))
        for name in SCALARS:
            setattr(m, name, getattr(snap, name))
        cards = index.cards[:c]
        m.steps = cards if self.author_filter is None else [s for s in cards if s.author == self.author_filter]
        m.validations = fold.validations[:snap.n_validations]
        m.errors = fold.errors[:snap.n_errors]
        m.messages = fold.messages[:snap.n_messages]
        m.live = None
        m.ended_at = snap.ended_at or snap.last_event_t  # elapsed time as it was at this step
        transcript = self._transcript
        transcript.window_end = None
        transcript.sync()
        self.mark_cursor_card()
        metrics = self._metrics
        metrics.refresh_figures()  # the figures now; the charts (5,000 points) once the cursor rests
        if self._charts_timer is not None:
            self._charts_timer.stop()
        self._charts_timer = self.set_timer(CHARTS_AFTER_S, metrics.refresh_all, name="replay-charts")
        collector.on_key()
        for timer in self._rest_timers:
            timer.stop()
        self._rest_timers = [self.set_timer(COLLECT_YOUNG_AFTER_S, collector.collect_young, name="replay-gc-young"),
                             self.set_timer(COLLECT_ALL_AFTER_S, collector.collect_all, name="replay-gc-all")]
        view = self._shell_view
        view.terminal.screen.reset()
        view.terminal.screen.set_mode(pyte.modes.LNM)  # reset() clears it; the terminal sets it at creation
        view.feed(index.shell_at(c, lines=view.terminal.lines, columns=view.terminal.columns))
        timeline = self._timeline
        marks = index.marks()
        if self.author_filter is not None:
            marks["filtered"] = {i + 1 for i, s in enumerate(index.cards) if s.author != self.author_filter}
        timeline.set_marks(index.total, marks)
        timeline.cursor = c
        self.update_status()
        self.hand_refreshes_to_screen()

    def hand_refreshes_to_screen(self) -> None:
        """Pass every pending repaint and layout to the screen now, so that a move is painted in one frame.

        Textual passes a widget's refresh on to its screen from that widget's own idle handler, and the screen
        paints as soon as it is idle with something to paint: the transcript went out in one frame and the shell,
        figures, timeline and status line in the next, ~30 ms later. `_check_refresh` is what that idle handler
        calls (Textual is pinned in uv.lock; the replay tests fail if it stops doing this)."""
        for widget in self.walk_children(Widget):
            widget._check_refresh()

    def mark_cursor_card(self) -> None:
        """Mark the cursor's card, highlight a search match in it (unfolding the observation when the match is
        there) and clear both from the card marked before."""
        transcript = self._transcript
        card = transcript.card_showing(self.index.cards[self.cursor - 1]) if self.cursor else None
        previous = self._highlighted
        if previous is not None and previous is not card:
            previous.remove_class("-cursor")
            if previous.search:
                previous.search = ""
                previous.rerender()
        self._highlighted = card
        if card is None:
            return
        card.add_class("-cursor")
        query = self.query_text if self.cursor in self.matches else ""
        if card.search != query:
            card.search = query  # highlighted, and a match the fold would hide is shown with its neighbours
            card.rerender()
        self.call_after_refresh(self.show_top_of_tall_card, card)

    def show_top_of_tall_card(self, card: StepCard) -> None:
        """The pane stays at its end, where the cursor's card is; a card taller than the pane is shown from its top
        instead (its header: step, author, exit code)."""
        transcript = self._transcript
        if card is self._highlighted and card.outer_size.height > transcript.scrollable_content_region.height:
            transcript.scroll_to_widget(card, animate=False, top=True)

    def update_status(self) -> None:
        bar = self._status
        index, run = self.index, self.run
        bar.mode = "replay"
        if index is None or run is None:
            bar.detail = f"{self.path}"
            return
        meta, m = run.meta, self.model
        human = meta.agent == "human" or (index.humans and len(index.humans) == sum(
            1 for s in index.cards if s.rejected is None and s.author != "replay"))
        # most telling first: the status line is cut at the terminal's width
        parts = [f"step {self.cursor}/{index.total}"]
        if self.follow:
            parts.append("FOLLOWING")
        if self.query_text:
            where = self.matches.index(self.cursor) + 1 if self.cursor in self.matches else "-"
            parts.append(f"/{self.query_text}: {where} of {len(self.matches)}")
        if self.author_filter:
            parts.append(f"filter: {self.author_filter}")
        if human:
            took = index.human_seconds()
            parts.append("HUMAN baseline" + (f", first command → submission {format_duration(took)}"
                                             if took is not None else " (not submitted)"))
        if m.exit_status:
            parts.append(f"ended: {m.exit_status}")
        if self.warnings:
            parts.append(f"⚠ {len(self.warnings)} warning(s)")
        if meta.parent:
            parts.append(f"fork of step {meta.fork_step}")
        parts.append(f"task {meta.task_id}")
        if not human:
            parts.append(f"agent {meta.agent} ({meta.model})")
        bar.detail = " · ".join(parts)
        step = index.cards[self.cursor - 1] if self.cursor else None
        caption = f"step {step.step} [{step.author}]" if step else "no steps"
        self._timeline.set_caption(
            f"{caption}   ✗ failure {len(index.failures)}  ◆ validation {len(index.validations)}  "
            f"H human {len(index.humans)}   ←/→ step  / search  x/v/u next failure/validation/human  f fork")

    # ---------------------------------------------------------------- moves

    def action_step(self, delta: int) -> None:
        if self.index is None:
            return
        card = self.cursor + delta
        while 1 <= card <= self.index.total and not self.visible(card):
            card += delta
        if 1 <= card <= self.index.total:
            self.go(card)

    def action_first(self) -> None:
        if self.index is not None:
            first = next((c for c in range(1, self.index.total + 1) if self.visible(c)), None)
            if first is not None:
                self.go(first)

    def action_last(self) -> None:
        if self.index is not None:
            last = next((c for c in range(self.index.total, 0, -1) if self.visible(c)), None)
            if last is not None:
                self.go(last)

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
        card = next((i + 1 for i, s in enumerate(self.index.cards) if s.step == number), None)
        if card is None:
            self.notify(f"no step {number} (the run has steps {self.index.cards[0].step if self.index.cards else 0}"
                        f"..{self.index.cards[-1].step if self.index.cards else 0})", severity="warning")
            return
        self.go(card)

    def on_timeline_jump(self, message: Timeline.Jump) -> None:
        self.go(message.card)

    def action_jump(self, kind: str, direction: int) -> None:
        if self.index is None:
            return
        cards = {"failure": self.index.failures, "validation": self.index.validations,
                 "human": self.index.humans}[kind]
        card = next_in(cards, self.cursor, direction, self.visible)
        if card is None:
            self.notify(f"no {'later' if direction > 0 else 'earlier'} {kind} step", timeout=2)
            return
        self.go(card)

    def action_cycle_author(self) -> None:
        if self.index is None:
            return
        present = {s.author for s in self.index.cards}
        choices = [a for a in AUTHORS if a is None or a in present]
        self.author_filter = choices[(choices.index(self.author_filter) + 1) % len(choices)] \
            if self.author_filter in choices else None
        self.notify(f"author filter: {self.author_filter or 'all'}", timeout=2)
        if self.author_filter is not None and not self.visible(self.cursor):
            after = next((c for c in range(self.cursor, self.index.total + 1) if self.visible(c)), None)
            before = next((c for c in range(self.cursor, 0, -1) if self.visible(c)), None)
            self.cursor = after or before or self.cursor
        self.show_cursor()

    # ---------------------------------------------------------------- search

    def action_search(self) -> None:
        box = self.query_one("#replay-search", Input)
        if self.focused is box:  # (has_focus follows a moment later)
            raise SkipAction()  # a / in the query
        box.add_class("-open")
        box.value = self.query_text
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
        self.query_text = query
        self.matches = self.index.search(query) if self.index is not None else []
        self._searched = self.index.total if self.index is not None else 0
        if not query:
            self.show_cursor()
            return
        if not self.matches:
            self.notify(f"no step matches {query!r}", severity="warning", timeout=3)
            self.show_cursor()
            return
        card = next_in(self.matches, self.cursor - 1, 1, self.visible) or next_in(self.matches, 0, 1, self.visible)
        if card is None:
            self.notify(f"{len(self.matches)} match(es), none by {self.author_filter}", severity="warning")
            self.show_cursor()
            return
        self.go(card, force=True)

    def action_match(self, direction: int) -> None:
        if not self.query_text:
            self.action_search()
            return
        if self.index is not None and self.index.total > self._searched:  # follow mode added steps since
            self.matches += self.index.search(self.query_text, start=self._searched)
            self._searched = self.index.total
        card = next_in(self.matches, self.cursor, direction, self.visible)
        if card is None:  # wrap around
            card = next_in(self.matches, 0 if direction > 0 else self.index.total + 1, direction, self.visible)
            if card is not None:
                self.notify("search wrapped around", timeout=2)
        if card is None:
            self.notify(f"no step matches {self.query_text!r}", severity="warning", timeout=2)
            return
        self.go(card, force=True)

    def action_back(self) -> None:
        box = self.query_one("#replay-search", Input)
        if box.has_class("-open"):
            box.remove_class("-open")
            self.set_focus(self._timeline)
            return
        if self.query_text:
            self.query_text, self.matches = "", []
            self.show_cursor()
            return
        super().action_back()

    # ---------------------------------------------------------------- fork

    def action_fork(self) -> None:
        if self.index is None or self.run is None:
            self.notify("nothing to fork: no run is loaded", severity="warning")
            return
        n = self.index.recorded_steps_before(self.cursor)
        meta = self.run.meta
        engine = meta.engine if meta.engine in ENGINES else getattr(self.app, "default_engine",
                                                                                         "auto")
        agent = meta.agent if meta.agent not in ("human", "replay", "unknown") else "default"
        self.app.push_screen(ForkDialog(meta.task_id, n, engine=engine, agent=agent),
                             lambda choice: self.start_fork(choice, n))

    def fork_parent(self) -> Path:
        path = self.path.resolve()
        return path.parent if path.name == "events.jsonl" else path

    def start_fork(self, choice: dict | None, n: int) -> None:
        if not choice:
            return
        from mlgym_tui.tui.episode_request import EpisodeRequest, make_starter

        human = choice["who"] == "human"
        request = EpisodeRequest(task_id=self.run.meta.task_id, agent=choice["agent"], model=choice["model"],
                                 engine=choice["engine"], mode="human" if human else "auto")
        options = dict(getattr(self.app, "episode_options", {}) or {})
        if human:
            options.pop("agent_config", None)
        parent = self.fork_parent()
        runs_dir = getattr(self.app, "_runs_dir", None) or (parent.parent if parent.is_dir() else Path("runs"))
        starter = make_starter(request, runs_dir, parent=str(parent), fork_prefix=n, **options)
        self.notify(f"forking at step {n}: re-executing {n} action(s) in a fresh container", timeout=4)
        self.app.push_screen(ForkEpisodeScreen(starter=starter, fork_step=n, clock=self.clock))
