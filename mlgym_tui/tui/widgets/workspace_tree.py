"""The workspace pane's tree: a step's folders and files, the step's changes marked (+ created, ~ modified, - deleted).

Folders holding a change open; the others are filled only when opened, so a step of a large workspace adds the
nodes one sees, not one per file. What was open and where the cursor was survive a cursor move."""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual.actions import SkipAction
from textual.message import Message
from textual.widgets import Tree
from textual.widgets._tree import TreeNode

from mlgym_tui.tui.actions import bindings_for
from mlgym_tui.tui.widgets.workspace_files import CREATED, DELETED, MODIFIED, StepView, human_size

MARKS = {CREATED: ("+", "bold green"), MODIFIED: ("~", "bold yellow"), DELETED: ("-", "bold red strike")}


class WorkspaceTree(Tree[str]):
    BINDINGS = bindings_for("workspace")

    class Open(Message):
        def __init__(self, path: str, diff: bool) -> None:
            super().__init__()
            self.path, self.diff = path, diff

    class Close(Message):
        pass

    def __init__(self, **kwargs) -> None:
        super().__init__("workspace", data="", **kwargs)
        self.show_root = False
        self.view: StepView | None = None
        self.opened: set[str] = set()  # folders a person opened (kept open across steps)
        self.closed: set[str] = set()  # changed folders a person closed (kept closed)
        self.preview_open = False  # escape closes the preview first, then means what it means on the screen
        self.nodes_by_path: dict[str, TreeNode[str]] = {}

    def show(self, view: StepView) -> None:
        """List `view`, keeping the cursor on the same path when it is still there."""
        at = self.cursor_node.data if self.cursor_node is not None else None
        self.view = view
        self.nodes_by_path = {}
        self.clear()
        self._fill(self.root, "")
        node = self.nodes_by_path.get(at or "")
        if node is None:  # the first file the step changed
            changed = sorted(p for p in view.marks if not view.is_folder(p) and p in self.nodes_by_path)
            node = self.nodes_by_path.get(changed[0]) if changed else None
        if node is not None:
            self._tree_lines  # noqa: B018 - lays the new nodes out now, so the cursor lands in this frame
            self.move_cursor(node)

    def _fill(self, node: TreeNode[str], folder: str) -> None:
        view = self.view
        for path in view.children_of(folder):
            if view.is_folder(path):
                child = node.add(self.label_of(path), data=path)
                self.nodes_by_path[path] = child
                if path in self.opened or (path in view.changed_folders and path not in self.closed):
                    self._fill(child, path)
                    child.expand()
            else:
                self.nodes_by_path[path] = node.add_leaf(self.label_of(path), data=path)

    def label_of(self, path: str) -> Text:
        view = self.view
        name = path.rsplit("/", 1)[-1]
        mark = view.marks.get(path)
        sign, style = MARKS.get(mark, (" ", ""))
        label = Text(f"{sign} ", style=style)
        if view.is_folder(path):
            label.append(f"{name}/", style="bold " + style if path in view.changed_folders else style)
            return label
        label.append(name, style=style)
        entry = view.entry(path)
        if entry is not None:
            label.append(f"  {human_size(entry.size)}", style="dim")
            if entry.kind == "link":
                label.append(f" → {entry.target}", style="dim")
            elif entry.size and not entry.stored:
                label.append(" (hash only)", style="dim italic")
        return label

    def render_label(self, node: TreeNode[str], base_style: Style, style: Style) -> Text:
        label = super().render_label(node, base_style, style)
        if not node.allow_expand:  # a file lines up with the folders' names, past their ▶
            label = Text.assemble("  ", label)
        return label

    def on_tree_node_expanded(self, event: Tree.NodeExpanded[str]) -> None:
        event.stop()
        path, view = event.node.data or "", self.view
        if view is None or self.nodes_by_path.get(path) is not event.node:
            return  # a node of the step shown before
        self.closed.discard(path)
        if path not in view.changed_folders:  # (changed folders open by themselves)
            self.opened.add(path)
        if not event.node.children:
            self._fill(event.node, path)

    def on_tree_node_collapsed(self, event: Tree.NodeCollapsed[str]) -> None:
        event.stop()
        path, view = event.node.data or "", self.view
        if view is None or self.nodes_by_path.get(path) is not event.node:
            return
        self.opened.discard(path)
        if path in view.changed_folders:
            self.closed.add(path)

    def action_open(self) -> None:
        """Enter: a folder opens or closes, a file is shown."""
        node = self.cursor_node
        if node is None or self.view is None:
            return
        if self.view.is_folder(node.data):
            node.toggle()
        else:
            self.post_message(self.Open(node.data, diff=False))

    def action_diff(self) -> None:
        node = self.cursor_node
        if node is None or self.view is None:
            return
        if self.view.is_folder(node.data):
            self.notify("d shows a file's diff: move to a file", timeout=3)
            return
        self.post_message(self.Open(node.data, diff=True))

    def action_close_preview(self) -> None:
        if not self.preview_open:
            raise SkipAction()
        self.post_message(self.Close())
