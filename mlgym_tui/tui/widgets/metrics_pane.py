"""Metrics: steps of max, cost of limit, tokens, elapsed time, a score chart and per-step durations."""

from __future__ import annotations

import time

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from mlgym_tui.stream.model import EpisodeModel
from mlgym_tui.tui.widgets.duration_chart import SHOWN_STEPS, DurationChart
from mlgym_tui.tui.widgets.score_chart import ScoreChart

# evaluation.run_summary.ISOLATED, spelled out: importing it would load the whole evaluation package with an episode
ISOLATED = "isolated"


def format_elapsed(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600:d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def trust_row(trust: str, reason: str) -> tuple[str, str, str]:
    """The label alone when isolated; otherwise with its reason, as a warning (the agent's code could have
    influenced the score)."""
    if trust == ISOLATED:
        return ("trust", trust, "")
    return ("trust", f"{trust} ({reason})" if reason else trust, "bold yellow")


class MetricsPane(Vertical):
    def __init__(self, model: EpisodeModel, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.model = model
        self.clock = time.time  # replaced by a fixed clock in snapshot tests

    def compose(self) -> ComposeResult:
        yield Static("", id="metrics-figures")
        yield ScoreChart(id="score-chart")
        yield DurationChart(id="duration-chart")

    def figures(self) -> Text:
        m = self.model
        steps = len([s for s in m.steps if s.rejected is None])
        cost_limit = f" of ${m.cost_limit:.2f}" if m.cost_limit else ""
        best = m.best_score()
        base = m.baseline.get(m.primary_metric or "")
        best_text = "-" if best is None else EpisodeModel.describe(best)
        base_text = "-" if base is None else EpisodeModel.describe(base)
        rows = [
            ("steps", f"{steps}{f' of {m.max_steps}' if m.max_steps else ''}   "
                      f"elapsed {format_elapsed(m.elapsed(self.clock()))}", ""),
            ("cost", f"${m.cost:.4f}{cost_limit}", ""),
            ("tokens", f"{m.tokens_in:,} in / {m.tokens_out:,} out", ""),
            ("best", f"{best_text} {m.primary_metric or '?'} ({m.direction}); baseline {base_text}", ""),
        ]
        if m.trust:  # older runs recorded none: no line rather than a guess
            rows.append(trust_row(m.trust, m.trust_reason))
        if m.exit_status:
            rows.append(("exit", m.exit_status, ""))
        # plain lines rather than a Table: the same two columns, a fraction of the cost to render on each step
        text = Text(no_wrap=True, overflow="ellipsis")
        width = max(len(label) for label, _, _ in rows)
        for i, (label, value, style) in enumerate(rows):
            if i:
                text.append("\n")
            text.append(label.ljust(width), style="dim")
            text.append(" " + value, style=style)
        return text

    def refresh_figures(self) -> None:
        self.query_one("#metrics-figures", Static).update(self.figures())

    def refresh_all(self) -> None:
        m = self.model
        self.refresh_figures()
        name = m.primary_metric
        points = [(step, metrics[name]) for step, metrics in m.validations if name in metrics]
        self.query_one(ScoreChart).plot_scores(name, points, m.baseline.get(name or ""), m.max_steps)
        self.query_one(DurationChart).plot_durations(m.durations(last=SHOWN_STEPS))
