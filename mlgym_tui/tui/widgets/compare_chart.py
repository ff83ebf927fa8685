"""Two runs' best primary score so far, per step, on one chart (textual-plotext), with the baseline."""

from __future__ import annotations

from textual_plotext import PlotextPlot

from mlgym_tui.trajectory.compare import ScoreSeries, step_line


class CompareChart(PlotextPlot):
    def plot_pair(self, a: ScoreSeries, b: ScoreSeries) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title("best score so far, by step" if a.metric == b.metric else
                  f"best so far: A {a.metric}, B {b.metric}")
        right = 1
        for name, series, marker in (("A", a, "braille"), ("B", b, "hd")):
            xs, ys = step_line(series.best_so_far())
            if xs:
                plt.plot(xs, ys, marker=marker, label=name)
                right = max(right, xs[-1])
        baseline = a.baseline if a.baseline is not None else b.baseline
        if baseline is not None:
            plt.plot([0, right], [baseline, baseline], marker="braille", label="baseline")
        self.refresh()
