"""Score over time on one task: per run, the best primary score so far against active minutes; human runs marked,
the baseline and the budget drawn as lines."""

from __future__ import annotations

from textual_plotext import PlotextPlot

from mlgym_tui.evaluation.curves import ScoreCurve

HUMAN_MARK = "★"


def curve_label(curve: ScoreCurve) -> str:
    stamp = curve.run_path.name.split("__", 1)[0]  # our run names start with their time
    return f"{HUMAN_MARK + ' ' if curve.human else ''}{curve.model} {stamp}"


def steps_of(curve: ScoreCurve) -> tuple[list[float], list[float]]:
    """A step line in minutes: each level holds until the next improvement, the last until the run's end."""
    xs: list[float] = []
    ys: list[float] = []
    for at, best in curve.points:
        if ys:
            xs.append(at / 60)
            ys.append(ys[-1])
        xs.append(at / 60)
        ys.append(best)
    if ys and curve.end_s / 60 > xs[-1]:
        xs.append(curve.end_s / 60)
        ys.append(ys[-1])
    return xs, ys


class ScoreCurvesChart(PlotextPlot):
    def plot_curves(self, task: str | None, metric: str, curves: list[ScoreCurve], baseline: float | None,
                    budget_s: float | None) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title(f"{task}: best {metric} so far, by active minute" if task else "score over time")
        right = 0.0
        for curve in curves:
            xs, ys = steps_of(curve)
            if not xs:
                continue
            right = max(right, xs[-1])
            # human runs drawn with a heavier marker, so they stand out in the plot too, not only in the legend
            plt.plot(xs, ys, marker="hd" if curve.human else "braille", label=curve_label(curve))
        if baseline is not None and curves:
            plt.plot([0, max(right, 1.0)], [baseline, baseline], marker="braille", label="baseline")
        if budget_s is not None and curves:
            plt.vline(budget_s / 60)
        self.refresh()
