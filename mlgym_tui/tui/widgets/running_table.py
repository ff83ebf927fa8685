"""Episodes running under the runs folder in other processes (headless runs, batches, other apps): task, agent
and model, step, mode, who holds control, run folder. The task browser attaches to the highlighted one."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from textual.widgets import DataTable

if TYPE_CHECKING:
    from mlgym_tui.tui.running_index import RunningEpisode


class RunningTable(DataTable):
    DEFAULT_CSS = "RunningTable { height: auto; max-height: 8; }"

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._shown: list[tuple] = []

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.add_columns("task", "agent / model", "step", "mode", "control", "run")

    def show(self, episodes: list[RunningEpisode]) -> None:
        """Rows for `episodes`; unchanged rows are left alone, so the cursor stays where it was between scans."""
        rows = [(str(e.run_dir), e.task_id, f"{e.agent or '?'} / {e.model or '?'}", e.step_text, e.mode_text,
                 e.holder, e.where)
                for e in episodes]
        if rows == self._shown:
            return
        self._shown = rows
        selected = self.selected_run()
        self.clear()
        for key, *cells in rows:
            self.add_row(*cells, key=key)
        keys = [row[0] for row in rows]
        if selected is not None and str(selected) in keys:
            self.move_cursor(row=keys.index(str(selected)), animate=False)

    def selected_run(self) -> Path | None:
        if not self.row_count:
            return None
        row_key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        return Path(row_key.value) if row_key.value else None

