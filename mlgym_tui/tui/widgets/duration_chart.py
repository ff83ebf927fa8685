"""Per-step durations (seconds) of the last steps."""

from __future__ import annotations

from textual_plotext import PlotextPlot

SHOWN_STEPS = 60


class DurationChart(PlotextPlot):
    def plot_durations(self, durations: list[tuple[int, float]]) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title("seconds per step")
        recent = durations[-SHOWN_STEPS:]
        if recent:
            plt.bar([d[0] for d in recent], [d[1] for d in recent])
        self.refresh()
