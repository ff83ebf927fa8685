"""Performance profiles (MLGym paper): the share of tasks rho(tau) on which a method is within tau of the best."""

from __future__ import annotations

from textual_plotext import PlotextPlot

from mlgym_tui.evaluation.profiles import Profile


class ProfileChart(PlotextPlot):
    """One profile (best or last attempt): a line per model, log10 tau on x, rho in [0, 1] on y."""

    def plot_profile(self, kind: str, profile: Profile | None, aup: dict[str, dict[str, float]]) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title(f"performance profile: {kind} attempt")
        plt.xlabel("log10 tau")
        plt.ylim(0, 1.05)
        if profile is not None and profile.tau:
            for model, rho in profile.rho.items():
                score = aup.get(model, {}).get(kind)
                label = f"{model} (AUP {score:.3f})" if score is not None else model
                plt.plot(profile.tau, rho, marker="braille", label=label)
        self.refresh()
