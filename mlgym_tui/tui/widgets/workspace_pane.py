"""The fourth pane of an episode view (toggle `4`): the workspace's files at the cursor's step (live: the latest
snapshot), that step's changes marked, a line for what its snapshot skipped, and a file's text, diff (`d`), CSV
rows or facts under the tree (Enter).

Hidden by default: the three panes already fill a 120-column terminal. While hidden it only remembers which step
to show; shown, a cursor move folds one step's changes (FoldedHistory) and lists the opened folders only. Blobs
are read and highlighted on a worker thread."""

from __future__ import annotations

import asyncio
from pathlib import Path

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static, Tree

from mlgym_tui.stream.events import WorkspaceSnapshot
from mlgym_tui.tui.widgets.file_preview import FilePreview
from mlgym_tui.tui.widgets.workspace_files import (
    SYNC_WORK, FoldedHistory, StepView, Views, load_diff, load_file, skips_at,
)
from mlgym_tui.tui.widgets.workspace_tree import WorkspaceTree


class WorkspacePane(Vertical):
    DEFAULT_CSS = """
    WorkspacePane { display: none; width: 2fr; border: round $success 50%; }
    WorkspacePane #workspace-skipped { height: auto; color: $warning; padding: 0 1; }
    WorkspacePane #workspace-tree { height: 1fr; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.history = FoldedHistory()
        self.views = Views()
        self.step: int | None = None  # the step to show; None: the latest snapshot's (live)
        self.view: StepView | None = None

    def compose(self) -> ComposeResult:
        yield Static("workspace", id="workspace-title", classes="pane-title")
        yield Static(id="workspace-skipped")
        yield WorkspaceTree(id="workspace-tree")
        yield FilePreview(id="workspace-preview")

    def on_mount(self) -> None:
        self.title_line = self.query_one("#workspace-title", Static)
        self.skipped = self.query_one("#workspace-skipped", Static)
        self.files = self.query_one(WorkspaceTree)
        self.preview = self.query_one(FilePreview)
        self.preview.display = False
        self.skipped.display = False

    # ---------------------------------------------------------------- what to show

    def follow(self, snapshots: list[WorkspaceSnapshot], run_dir: Path | None, step: int | None = None) -> None:
        """Show the run whose snapshots are `snapshots` (a list that may grow) at `step` (None: the latest). Cheap
        while hidden."""
        if snapshots is not self.history.snapshots or self.history_dir() != run_dir:
            self.history = FoldedHistory(snapshots, run_dir)
            self.views = Views()
            self.view = None
        self.step = step
        if self.display:
            self.refresh_view()

    def history_dir(self) -> Path | None:
        store = self.history.store
        return store.root.parent if store is not None else None

    def refresh_view(self) -> None:
        history = self.history
        if not history.snapshots:
            self.view = None
            self.title_line.update("workspace · no snapshot in this run" if self.step is not None
                                   else "workspace · no snapshot yet")
            self.skipped.display = False
            self.files.clear()
            return
        step = self.step if self.step is not None else history.snapshots[-1].step
        if history.work_to(step) + history.work_to(step - 1) > SYNC_WORK:
            self.title_line.update(f"workspace · step {step} · reading…")
            self.run_worker(self.fold(history, step), name="workspace-fold", group="workspace-fold", exclusive=True)
            return
        view = self.views.get(history, step)
        if view is self.view:
            return
        self.view = view
        self.title_line.update(self.title_of(view))
        line = skips_at(history, step)
        self.skipped.update(line)
        self.skipped.display = bool(line)
        self.files.show(view)
        if self.preview.display and self.preview.target is not None:
            self.load(*self.preview.target)

    async def fold(self, history: FoldedHistory, step: int) -> None:
        """A long stretch of snapshots folded on a thread (the first look at a big run, a far jump); then shown."""
        previous = history.previous_step(step)
        await asyncio.to_thread(lambda: [history.fold_at(s) for s in (previous, step) if s is not None])
        if history is self.history and self.display:
            self.refresh_view()

    @staticmethod
    def title_of(view: StepView) -> str:
        files = sum(1 for e in view.tree.values() if e.kind != "dir")
        if view.snapshot is None:
            since = f"as at step {view.shown_step}" if view.shown_step is not None else "before the first snapshot"
            return f"workspace · step {view.step} · {files} files · no snapshot here ({since})"
        counts = view.counts()
        changes = " ".join(f"{sign}{counts[kind]}" for sign, kind in (("+", "created"), ("~", "modified"),
                                                                      ("-", "deleted")) if counts[kind])
        return f"workspace · step {view.step} · {files} files · " + (changes or "nothing changed")

    # ---------------------------------------------------------------- the preview

    def on_workspace_tree_open(self, message: WorkspaceTree.Open) -> None:
        message.stop()
        self.load(message.path, message.diff)

    def on_tree_node_selected(self, message: Tree.NodeSelected[str]) -> None:
        """A click on a file shows it (Enter is the tree's own action)."""
        message.stop()
        if self.view is not None and not self.view.is_folder(message.node.data):
            self.load(message.node.data, False)

    def on_workspace_tree_close(self, message: WorkspaceTree.Close) -> None:
        message.stop()
        self.close_preview()

    def close_preview(self) -> None:
        self.preview.display = False
        self.preview.target = None
        self.files.preview_open = False

    def load(self, path: str, diff: bool) -> None:
        """Show `path` (or its diff) at the view's step: read and highlighted on a thread, the latest ask wins."""
        view, history = self.view, self.history
        if view is None:
            return
        self.preview.target = (path, diff)
        self.preview.display = True
        self.files.preview_open = True
        self.preview.reading(f"{path} · step {view.step}")
        loader = load_diff if diff else load_file

        async def read() -> None:
            preview = await asyncio.to_thread(loader, history, view, path)
            if self.view is view and self.preview.target == (path, diff):
                self.preview.show(preview)

        self.run_worker(read(), name="workspace-preview", group="workspace-preview", exclusive=True)
