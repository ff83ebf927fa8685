"""Open a recorded run: a path input plus a directory tree (enter on a run folder, events.jsonl or .traj)."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DirectoryTree, Input, Label

from mlgym_tui.tui.actions import bindings_for


class FilePicker(ModalScreen[Path | None]):
    """Dismisses with the chosen path (a run directory, events.jsonl or .traj), or None."""

    BINDINGS = bindings_for("file_picker")
    CSS = """
    FilePicker { align: center middle; }
    #picker-box { width: 90; height: 80%; border: thick $primary; background: $surface; padding: 0 1; }
    #picker-tree { height: 1fr; }
    """

    def __init__(self, root: Path | str) -> None:
        super().__init__()
        self.root = Path(root)

    def compose(self) -> ComposeResult:
        with Vertical(id="picker-box"):
            yield Label("Open a run: a run folder, events.jsonl or an MLGym .traj (enter opens)", classes="pane-title")
            yield Input(value=str(self.root), placeholder="path", id="picker-path")
            yield DirectoryTree(self.root if self.root.is_dir() else Path.cwd(), id="picker-tree")

    def on_mount(self) -> None:
        self.query_one("#picker-path", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        path = Path(event.value.strip()).expanduser()
        if not path.exists():
            self.notify(f"{path}: no such file or folder", severity="error")
            return
        if path.is_dir() and not (path / "events.jsonl").exists() and not list(path.glob("*.traj")):
            self.query_one(DirectoryTree).path = path  # a folder of runs: browse into it
            return
        self.dismiss(path)

    def on_directory_tree_file_selected(self, event: DirectoryTree.FileSelected) -> None:
        event.stop()
        self.dismiss(Path(event.path))

    def on_directory_tree_directory_selected(self, event: DirectoryTree.DirectorySelected) -> None:
        path = Path(event.path)
        self.query_one("#picker-path", Input).value = str(path)
        if (path / "events.jsonl").exists() or list(path.glob("*.traj")):
            event.stop()
            self.dismiss(path)

    def action_cancel(self) -> None:
        self.dismiss(None)
