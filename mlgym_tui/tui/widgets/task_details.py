"""The selected task: description (Markdown), primary metric and direction, baseline scores."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from mlgym_tui.runtime.text import strip_escapes
from mlgym_tui.tasks.registry import source_label


class TaskDetails(VerticalScroll):
    def compose(self):
        yield Static("", id="task-details-body")

    def show(self, task) -> None:
        body = self.query_one("#task-details-body", Static)
        if task is None:
            body.update(Text("no task selected", style="dim"))
            return
        head = Text()
        head.append(task.name, style="bold")
        head.append(f"  ({task.id})", style="dim")
        facts = Table.grid(padding=(0, 2))
        facts.add_column(style="dim")
        facts.add_column()
        metric = task.primary_metric
        facts.add_row("domain", task.domain or "-")
        facts.add_row("entrypoint", task.task_entrypoint)
        facts.add_row("metric", f"{metric.name} ({metric.direction})" if metric else "?")
        baseline = task.baseline
        facts.add_row("baseline", ", ".join(f"{k} {v:.4g}" for k, v in baseline.items()) or "-")
        packages = list(task.packages) + ([task.requirements_path] if task.requirements_path else [])
        if packages:  # installed into an image derived from the task image, built at the first start
            facts.add_row("packages", ", ".join(packages))
        source = source_label(task)
        if source != "bundled":  # tasks of the user's own folders (MLGym's, say) may share a bundled task's id
            facts.add_row("source", source)
        from rich.markdown import Markdown  # markdown-it and pygments: ~35 ms, kept out of the first paint

        body.update(Group(head, facts, Text(""), Markdown(strip_escapes(task.rendered_description))))
