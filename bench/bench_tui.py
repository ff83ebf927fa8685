"""TUI figures: start-up to the painted task browser, and key press to repaint during a 5,000-step episode.

    uv run python bench/bench_tui.py [--runs 10] [--presses 60] [--steps 5000] [--startup-only]

Start-up: a fresh process per run, from just before the spawn to the task browser painted (headless), taking
the path `mlgym-tui` takes (mlgym_tui.cli, then the app open_tui starts), and whether litellm was imported by then
(it must not be). Alongside, in the same run and interleaved with it, a minimal Textual app (one Label) timed to
its first paint the same way: the machine's noise hits both, and their ratio is the figure (target <= 1.5x).
Key press: in one app showing an episode fed 5,000 steps from events (and still being fed more), a pane toggle
key pressed and the screen repainted. Prints median and p95 in milliseconds; targets: start-up <= 1.5x the
minimal app, key press <= 50 ms. Not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

CHILD = r"""
import sys, time, json
t0 = float(sys.argv[1])
import importlib.abc, importlib.util
import mlgym_tui.cli  # the path `mlgym-tui` takes: cli.main() with no arguments, which opens the task browser

first_frame, listed = [], []

def on_frame(screen, renderable):
    # headless: every frame is still composited; note the first one that shows the task browser, and the first
    # that shows it with its tasks
    if renderable is None or type(screen).__name__ != "TaskBrowser":
        return
    if not first_frame:
        first_frame.append(time.time() - t0)
        first_frame.append("litellm" in sys.modules)
    if not listed and screen.loaded and screen.tasks:
        listed.append(time.time() - t0)

async def auto_pilot(pilot):
    while not first_frame:
        await pilot.pause(0.001)
    while not listed:  # the frames are timed by on_frame; polling every ms would take the worker's GIL
        await pilot.pause(0.02)
    pilot.app.exit()

def watched(module):
    from mlgym_tui.tui.perf import watch_frames

    app_run = module.MLGymApp.run

    def run(app, **_):
        watch_frames(app, on_frame)
        return app_run(app, headless=True, size=(120, 40), auto_pilot=auto_pilot)

    module.MLGymApp.run = run

class Watch(importlib.abc.MetaPathFinder):
    # once main() has imported the app module (nothing here imports it ahead), its app runs headless and watched
    def find_spec(self, name, path, target=None):
        if name != "mlgym_tui.tui.app":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        loader = spec.loader

        class Loader(importlib.abc.Loader):
            def create_module(self, spec):
                return loader.create_module(spec)

            def exec_module(self, module):
                loader.exec_module(module)
                watched(module)

        spec.loader = Loader()
        return spec

sys.meta_path.insert(0, Watch())
mlgym_tui.cli.main([])
print(json.dumps({"seconds": first_frame[0], "listed": listed[0], "litellm": first_frame[1]}))
"""


MINIMAL = r"""
import sys, time, json
t0 = float(sys.argv[1])
from textual.app import App
from textual.widgets import Label

class Minimal(App):
    def compose(self):
        yield Label("hello")

app = Minimal()
first_frame = []
display = app._display  # as perf.watch_frames does, without importing mlgym_tui into the minimal app

def recording_display(screen, renderable):
    if renderable is not None and not first_frame:
        first_frame.append(time.time() - t0)
    display(screen, renderable)

app._display = recording_display

async def auto_pilot(pilot):
    while not first_frame:
        await pilot.pause(0.001)
    print(json.dumps({"seconds": first_frame[0]}))
    pilot.app.exit()

app.run(headless=True, size=(120, 40), auto_pilot=auto_pilot)
"""


def child(code: str, env: dict) -> dict:
    t0 = time.time()
    out = subprocess.run([sys.executable, "-c", code, repr(t0)], capture_output=True, text=True, env=env,
                         check=True, timeout=60).stdout
    return json.loads(out.strip().splitlines()[-1])


def summary(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


def startup(runs: int) -> None:
    samples, minimal, listed, litellm = [], [], [], False
    env = dict(os.environ, MLGYM_TUI_CONFIG_DIR=tempfile.mkdtemp(prefix="bench-tui-config-"))
    child(MINIMAL, env)  # warm the file cache for both before timing either
    child(CHILD, env)
    for _ in range(runs):
        minimal.append(child(MINIMAL, env)["seconds"] * 1000)
        result = child(CHILD, env)
        samples.append(result["seconds"] * 1000)
        listed.append(result["listed"] * 1000)
        litellm |= result["litellm"]
    med, p95 = summary(samples)
    min_med, min_p95 = summary(minimal)
    print(f"minimal Textual app to first paint ({runs} processes): median {min_med:.0f} ms, p95 {min_p95:.0f} ms")
    print(f"start-up to task browser painted ({runs} processes): median {med:.0f} ms, p95 {p95:.0f} ms; "
          f"litellm imported at start-up: {'YES (bad)' if litellm else 'no'}")
    print(f"ratio task browser / minimal app: median {med / min_med:.2f}x, p95 {p95 / min_p95:.2f}x (target <= 1.5x)")
    med, p95 = summary(listed)
    print(f"start-up to the task list painted (registry read on a worker thread): median {med:.0f} ms, p95 {p95:.0f} ms")


async def keypress(presses: int, steps: int) -> None:
    from mlgym_tui.tui.app import MLGymApp
    from mlgym_tui.tui.perf import watch_frames
    from mlgym_tui.tui.sample_events import T0, many_steps
    from mlgym_tui.tui.screens.episode import EpisodeScreen

    events = many_steps(steps + presses * 5)
    cut = next(i for i, e in enumerate(events) if getattr(e, "step", 0) > steps)
    first, rest = events[:cut], events[cut:]
    screen = EpisodeScreen(events=first, clock=lambda: T0)
    app = MLGymApp(deterministic=True, start_screen=screen)
    samples = []
    async with app.run_test(size=(120, 40)) as pilot:
        t = time.perf_counter()
        await pilot.pause()
        while len(screen.model.steps) < steps:
            await pilot.pause(0.01)
        load = time.perf_counter() - t
        screen.query_one("#transcript").focus()
        pane = screen.query_one("#metrics-pane")
        frames: list[tuple[float, bool]] = []  # (time a frame was composited, metrics pane shown in it)

        def on_frame(target, renderable):
            if renderable is not None:
                frames.append((time.perf_counter(), pane.display))

        watch_frames(app, on_frame)  # headless: frames are composited, just not written to a terminal
        for i in range(presses):
            screen.feed(rest[i * 5:(i + 1) * 5])  # the episode keeps streaming while keys are pressed
            expected = not pane.display
            t = time.perf_counter()
            await pilot.press("3")  # toggle the metrics pane
            await pilot.pause()
            await pilot.pause(0.02)
            painted = next((ft for ft, shown in frames if ft >= t and shown == expected), None)
            if painted is None:
                raise SystemExit("no repaint seen after a key press")
            samples.append((painted - t) * 1000)
            frames.clear()
        mounted = len(screen.query("StepCard"))
    # printed after the app has exited: inside run_test, stdout belongs to the app
    med, p95 = summary(samples)
    print(f"{steps} steps applied and shown in {load * 1000:.0f} ms; {mounted} cards mounted")
    print(f"key press to repaint with {steps} steps ({presses} presses): median {med:.1f} ms, p95 {p95:.1f} ms "
          "(target <= 50 ms; measured from posting the key to the first composited frame showing its effect)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--presses", type=int, default=60)
    parser.add_argument("--steps", type=int, default=5000)
    parser.add_argument("--startup-only", action="store_true", help="only the start-up figures")
    args = parser.parse_args()
    startup(args.runs)
    if args.startup_only:
        return
    asyncio.run(keypress(args.presses, args.steps))


if __name__ == "__main__":
    main()
