"""The workspace pane's preview: a file's highlighted text or diff, a CSV's first rows in a table, or lines saying
what the file is and why its content is not shown. It only paints a Preview made on a worker thread."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import DataTable, Static

from mlgym_tui.tui.widgets.workspace_files import Preview


class FilePreview(Vertical):
    DEFAULT_CSS = """
    FilePreview { height: 2fr; border-top: solid $primary 40%; }
    FilePreview #preview-title { height: 1; text-style: bold; padding: 0 1; }
    FilePreview #preview-note { height: auto; color: $text-muted; padding: 0 1; }
    FilePreview #preview-scroll { height: 1fr; padding: 0 1; }
    FilePreview #preview-text { width: auto; }
    FilePreview #preview-table { height: 1fr; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.shown: Preview | None = None
        self.target: tuple[str, bool] | None = None  # (path, diff) asked for; kept while the cursor moves

    def compose(self) -> ComposeResult:
        yield Static(id="preview-title")
        yield Static(id="preview-note")
        with VerticalScroll(id="preview-scroll"):
            yield Static(id="preview-text")
        yield DataTable(id="preview-table", show_cursor=False, zebra_stripes=True)

    def on_mount(self) -> None:
        self.title_line = self.query_one("#preview-title", Static)
        self.note_line = self.query_one("#preview-note", Static)
        self.scroll = self.query_one("#preview-scroll", VerticalScroll)
        self.text = self.query_one("#preview-text", Static)
        self.table = self.query_one("#preview-table", DataTable)
        self.table.display = False

    def reading(self, title: str) -> None:
        self.title_line.update(title)
        self.note_line.update("reading…")

    def show(self, preview: Preview) -> None:
        same_file = self.shown is not None and self.shown.title.split(" · ")[0] == preview.title.split(" · ")[0]
        self.shown = preview
        self.title_line.update(preview.title)
        self.note_line.update(preview.note)
        self.note_line.display = bool(preview.note)
        table = preview.kind == "table"
        self.table.display = table
        self.scroll.display = not table
        if table:
            self.table.clear(columns=True)
            header, *rows = preview.rows
            self.table.add_columns(*header)
            self.table.add_rows(rows)
            return
        self.text.update(preview.text or "")
        if not same_file:
            self.scroll.scroll_home(animate=False)
