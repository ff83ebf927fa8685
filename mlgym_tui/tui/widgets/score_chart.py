"""Validation scores per step against the baseline (textual-plotext)."""

from __future__ import annotations

from textual_plotext import PlotextPlot


class ScoreChart(PlotextPlot):
    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self._plotted: tuple | None = None

    def plot_scores(self, metric: str | None, points: list[tuple[int, float]], baseline: float | None,
                    max_step: int) -> None:
        wanted = (metric, points, baseline, max_step)
        if wanted == self._plotted:
            return  # a plotext redraw costs milliseconds: none when the scores shown are the same
        self._plotted = wanted
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title(f"{metric or 'score'} per step")
        if points:
            plt.plot([p[0] for p in points], [p[1] for p in points], marker="dot", label=metric or "score")
        if baseline is not None:
            right = max([max_step, 1] + [p[0] for p in points])
            plt.plot([0, right], [baseline, baseline], label="baseline")
        self.refresh()
