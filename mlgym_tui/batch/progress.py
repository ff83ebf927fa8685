"""What a batch shows while it runs: one row per (task, run).

A terminal gets a Rich Live table; a pipe or a log gets plain lines (a run starting, each step, a run ending).
Both read the same SlotProgress records, which the runner updates from each episode's event stream.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class SlotProgress:
    task_id: str
    run_index: int
    status: str = "waiting"  # waiting | starting | running | <exit status> | skipped (<status>) | not started
    step: int = 0
    max_steps: int = 0
    cost: float = 0.0
    best: str = "-"
    run_dir: str = ""
    controller: object = None

    @property
    def label(self) -> str:
        return f"{self.task_id} run {self.run_index}"

    def refresh_from(self, controller) -> None:
        self.step = controller.step
        self.max_steps = controller.max_steps
        self.cost = controller.cost
        self.best = best_text(controller)


def best_text(controller) -> str:
    best = controller.best_score
    if not best:
        return "-"
    metric = controller.primary_metric
    name = metric["name"] if metric and metric.get("name") in best else next(iter(best))
    base = controller.baseline.get(name)
    base_text = f" (baseline {base:g})" if base is not None else ""
    return f"{name} {best[name]:g}{base_text}"


class BatchDisplay:
    """The live table (terminal) or line printer (anything else)."""

    def __init__(self, slots: list[SlotProgress], console, live: bool, quiet: bool = False) -> None:
        self.slots = slots
        self.quiet = quiet  # plain mode: only a line per finished run
        self.console = console
        self.live = live
        self._live = None

    # -- live table --------------------------------------------------------------------------------------------
    def render(self):
        from rich.table import Table

        table = Table(title="batch", title_justify="left", expand=False)
        for name, justify in (("task", "left"), ("run", "right"), ("step", "right"), ("cost", "right"),
                              ("status", "left"), ("best score", "left")):
            table.add_column(name, justify=justify)
        for s in self.slots:
            step = f"{s.step}/{s.max_steps}" if s.max_steps else "-"
            style = {"running": "cyan", "starting": "cyan", "waiting": "dim"}.get(s.status)
            table.add_row(s.task_id, str(s.run_index), step, f"${s.cost:.4f}", s.status, s.best, style=style)
        return table

    def __enter__(self) -> "BatchDisplay":
        if self.live:
            from rich.live import Live

            self._live = Live(get_renderable=self.render, console=self.console, refresh_per_second=4)
            self._live.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self._live is not None:
            self._live.__exit__(*exc)
            self._live = None

    # -- lines -------------------------------------------------------------------------------------------------
    def note(self, text: str) -> None:
        """A message for the user; above the live table, or a plain line."""
        self.console.print(text, markup=False, highlight=False, soft_wrap=True)

    def _line(self, slot: SlotProgress, text: str) -> None:
        if not self.live:
            self.console.print(f"[{slot.label}] {text}", markup=False, highlight=False, soft_wrap=True)

    def started(self, slot: SlotProgress) -> None:
        if not self.quiet:
            self._line(slot, f"started in {slot.run_dir}")

    def stepped(self, slot: SlotProgress) -> None:
        if not self.quiet:
            self._line(slot, f"step {slot.step}/{slot.max_steps} cost ${slot.cost:.4f} best {slot.best}")

    def ended(self, slot: SlotProgress) -> None:
        text = f"{slot.status} after {slot.step} step(s), cost ${slot.cost:.4f}, best {slot.best}"
        if self.live:
            self.note(f"[{slot.label}] {text}")
        else:
            self._line(slot, text)
