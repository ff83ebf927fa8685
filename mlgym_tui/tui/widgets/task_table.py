"""The task list with a filter (id, name, domain, metric)."""

from __future__ import annotations

from textual.widgets import DataTable


def task_matches(task, query: str) -> bool:
    query = query.strip().lower()
    if not query:
        return True
    metric = task.primary_metric
    haystack = " ".join([task.id, task.name, task.domain, metric.name if metric else ""]).lower()
    return all(word in haystack for word in query.split())


class TaskTable(DataTable):
    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.zebra_stripes = True
        self.add_columns("id", "domain", "metric")

    def show(self, tasks: list, query: str) -> list:
        shown = [t for t in tasks if task_matches(t, query)]
        self.clear()
        for task in shown:
            metric = task.primary_metric
            arrow = "" if metric is None else (" ↑" if metric.direction == "maximize" else " ↓")
            self.add_row(task.id, task.domain or "-", (metric.name if metric else "?") + arrow, key=task.id)
        return shown
