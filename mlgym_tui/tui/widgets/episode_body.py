"""The body of an episode view: the transcript with the pending action, the container shell, the metrics and the
workspace (hidden until `4`).

Composed by the live EpisodeScreen and by the ReplayScreen (a recording shows the run with the very panes that
showed it live). A replay gets the replay transcript (cards re-pointed as its cursor moves), no pending action
and no command line under the shell.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Input

from mlgym_tui.stream.model import METRICS, PENDING, SHELL, TRANSCRIPT, WORKSPACE, Changed, EpisodeModel
from mlgym_tui.tui.widgets.metrics_pane import MetricsPane
from mlgym_tui.tui.widgets.pending_action import PendingAction
from mlgym_tui.tui.widgets.shell_pane import ShellPane
from mlgym_tui.tui.widgets.shell_view import ShellView
from mlgym_tui.tui.widgets.transcript import Transcript
from mlgym_tui.tui.widgets.workspace_pane import WorkspacePane

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
        yield WorkspacePane(id="workspace-pane", classes="pane")

    def on_mount(self) -> None:
        # looked up once: a replay's cursor move touches all of them, and each query walks the tree
        self.transcript = self.query_one(Transcript)
        self.pending = self.query_one(PendingAction)
        self.shell = self.query_one(ShellPane)
        self.shell_view = self.query_one(ShellView)
        self.shell_input = self.query_one("#shell-input", Input)
        self.metrics = self.query_one(MetricsPane)
        self.workspace = self.query_one(WorkspacePane)
        self._run_dir: tuple[object, Path | None] | None = None
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
        if WORKSPACE in dirty:
            self.workspace.follow(self.model.workspace, self.run_dir())

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
        self.workspace.follow(index.fold.workspace, self.run_dir(), index.cards[card - 1].step if card else 0)

    def run_dir(self) -> Path | None:
        """Where the run's blobs are: the live episode's run folder (an attached viewer's may be on another
        machine: the pane says so), or the replayed run's folder."""
        screen = self.screen
        source = getattr(screen, "controller", None) or getattr(screen, "path", None)
        if self._run_dir is None or self._run_dir[0] is not source:
            self._run_dir = (source, located(source))
        return self._run_dir[1]

    def toggle_pane(self, pane_id: str) -> None:
        pane = self.query_one(f"#{pane_id}")
        pane.display = not pane.display
        if pane is self.workspace and pane.display:
            self.workspace.refresh_view()  # (not kept up to date while hidden)
            self.workspace.files.focus()

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


def located(source: object) -> Path | None:
    """A controller's run folder, or the folder of a replayed path (a run folder, its events.jsonl, a .traj)."""
    if source is None:
        return None
    if isinstance(source, Path):
        return source if source.suffix not in (".jsonl", ".traj") else source.parent
    run_dir = getattr(source, "run_dir", None)
    return Path(run_dir) if run_dir and str(run_dir) not in ("", ".") else None
