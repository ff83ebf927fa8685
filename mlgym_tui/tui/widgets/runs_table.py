"""Past runs of the selected task: date, agent or human, model, exit status, best score vs baseline (and its trust
label when the score was not isolated from the agent's code)."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from mlgym_tui.tui.runs_index import RunRow


class RunsTable(DataTable):
    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.add_columns("date", "who", "model", "exit status", "best", "baseline")

    def show(self, rows: list[RunRow]) -> None:
        self.clear()
        for row in rows:
            best = Text("-" if row.best is None else f"{row.best:.4g}")
            if row.beats is True:
                best.stylize("bold green")
                best.append(" ▲")
            elif row.beats is False:
                best.stylize("red")
                best.append(" ▼")
            if row.best is not None and row.trust and row.trust != "isolated":  # "" = not recorded: nothing shown
                best.append(f" {row.trust}", style="yellow")
            self.add_row(row.date, row.who if row.who == "human" else row.agent or "agent", row.model,
                         row.exit_status, best, "-" if row.baseline is None else f"{row.baseline:.4g}",
                         key=str(row.path))
