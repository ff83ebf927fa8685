"""The body of an episode view: the transcript with the pending action, the container shell and the metrics.

Composed by the live EpisodeScreen and by the ReplayScreen (a recording shows the run with the very panes that
showed it live). A replay gets the replay transcript (cards re-pointed as its cursor moves), no pending action
and no command line under the shell.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Input

from mlgym_tui.stream.model import METRICS, PENDING, SHELL, TRANSCRIPT, Changed, EpisodeModel
from mlgym_tui.tui.widgets.metrics_pane import MetricsPane
from mlgym_tui.tui.widgets.pending_action import PendingAction
from mlgym_tui.tui.widgets.shell_pane import ShellPane
from mlgym_tui.tui.widgets.shell_view import ShellView
from mlgym_tui.tui.widgets.transcript import Transcript

if TYPE_CHECKING:
    from mlgym_tui.tui.replay.cursor import ReplayCursor


class EpisodeBody(Horizontal):
    def __init__(self, model: EpisodeModel, *, replay: bool = False, id: str | None = "episode-body") -> None:
        super().__init__(id=id)
        self.model = model
        self.replay = replay

    def compose(self) -> ComposeResult:
        if self.replay:
            from mlgym_tui.tui.widgets.replay_transcript import ReplayTranscript as transcript_class
        else:
            transcript_class = Transcript
        with Vertical(id="transcript-pane", classes="pane"):
            yield transcript_class(self.model, id="transcript")
            yield PendingAction(id="pending")
        with Vertical(id="side-panes"):
            yield ShellPane(id="shell-pane", classes="pane")
            yield MetricsPane(self.model, id="metrics-pane", classes="pane")

    def on_mount(self) -> None:
        # looked up once: a replay's cursor move touches all of them, and each query walks the tree
        self.transcript = self.query_one(Transcript)
        self.pending = self.query_one(PendingAction)
        self.shell = self.query_one(ShellPane)
        self.shell_view = self.query_one(ShellView)
        self.shell_input = self.query_one("#shell-input", Input)
        self.metrics = self.query_one(MetricsPane)
        if self.replay:
            self.shell_input.display = False  # nothing to type into a recording
            self.pending.show(None)

    def render_dirty(self, dirty: Changed) -> None:
        """Repaint the panes whose part of the model changed."""
        if SHELL in dirty:
            self.shell.feed(self.model.drain_shell())
        if TRANSCRIPT in dirty:
            self.transcript.sync()
        if METRICS in dirty:
            self.metrics.refresh_all()
        if PENDING in dirty:
            self.pending.show(self.model.pending)

    def show_recording(self, cursor: ReplayCursor) -> None:
        """Show a recorded run as it was at a replay's cursor: the model, the transcript with the cursor's card
        marked, the figures (the charts are the caller's to redraw, once the cursor rests) and the shell."""
        index, card = cursor.index, cursor.card
        cursor.project(self.model)
        transcript = self.transcript
        transcript.window_end = None
        transcript.sync()
        transcript.mark_cursor(index.cards[card - 1] if card else None, cursor.highlight())
        self.metrics.refresh_figures()
        terminal = self.shell_view.terminal
        self.shell_view.replace(index.shell_at(card, lines=terminal.lines, columns=terminal.columns))

    def toggle_pane(self, pane_id: str) -> None:
        pane = self.query_one(f"#{pane_id}")
        pane.display = not pane.display

    def zoom(self) -> None:
        """Maximise the pane holding the focus, or restore the layout when one is maximised."""
        screen = self.screen
        if screen.maximized is not None:
            screen.minimize()
            return
        node = screen.focused
        while node is not None and "pane" not in node.classes:
            node = node.parent
        if node is not None:
            screen.maximize(node, container=False)
