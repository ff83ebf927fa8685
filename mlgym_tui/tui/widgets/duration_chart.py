"""Per-step durations (seconds) of the last steps."""

from __future__ import annotations

from textual_plotext import PlotextPlot

SHOWN_STEPS = 60


class DurationChart(PlotextPlot):
    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self._plotted: list[tuple[int, float]] | None = None

    def plot_durations(self, durations: list[tuple[int, float]]) -> None:
        recent = durations[-SHOWN_STEPS:]
        if recent == self._plotted:
            return  # a plotext redraw costs milliseconds: none when the bars shown are the same
        self._plotted = recent
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title("seconds per step")
        if recent:
            plt.bar([d[0] for d in recent], [d[1] for d in recent])
        self.refresh()
