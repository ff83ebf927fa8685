"""TUI figures: start-up to the painted task browser, and key press to repaint during a 5,000-step episode.

    uv run python bench/bench_tui.py [--runs 10] [--presses 60] [--steps 5000]

Start-up: a fresh process per run, from just before the spawn to the task browser painted (headless), and
whether litellm was imported by then (it must not be). Key press: in one app showing an episode fed 5,000
steps from events (and still being fed more), a pane toggle key pressed and the screen repainted.
Prints median and p95 in milliseconds; targets: start-up <= 1000 ms, key press <= 50 ms. Not a test.
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
from mlgym_tui.tui.app import MLGymApp
from mlgym_tui.tui.screens.task_browser import TaskBrowser

app = MLGymApp(deterministic=True)
first_frame = []
display = app._display

def recording_display(screen, renderable):
    # headless: every frame is still composited; note the first one that shows the task browser
    if renderable is not None and not first_frame and isinstance(screen, TaskBrowser):
        first_frame.append(time.time() - t0)
        first_frame.append("litellm" in sys.modules)
    display(screen, renderable)

app._display = recording_display

async def auto_pilot(pilot):
    while not first_frame or not getattr(pilot.app.screen, "loaded", False):
        await pilot.pause(0.001)
    await pilot.pause()
    listed = time.time() - t0
    print(json.dumps({"seconds": first_frame[0], "listed": listed, "litellm": first_frame[1] or "litellm" in sys.modules,
                      "tasks": len(pilot.app.screen.tasks)}))
    pilot.app.exit()

app.run(headless=True, size=(120, 40), auto_pilot=auto_pilot)
"""


def summary(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


def startup(runs: int) -> None:
    samples, listed, litellm = [], [], False
    env = dict(os.environ, MLGYM_TUI_CONFIG_DIR=tempfile.mkdtemp(prefix="bench-tui-config-"))
    for _ in range(runs):
        t0 = time.time()
        out = subprocess.run([sys.executable, "-c", CHILD, repr(t0)], capture_output=True, text=True, env=env,
                             check=True, timeout=60).stdout
        result = json.loads(out.strip().splitlines()[-1])
        samples.append(result["seconds"] * 1000)
        listed.append(result["listed"] * 1000)
        litellm |= result["litellm"]
    med, p95 = summary(samples)
    print(f"start-up to task browser painted ({runs} processes): median {med:.0f} ms, p95 {p95:.0f} ms "
          f"(target <= 1000 ms); litellm imported at start-up: {'YES (bad)' if litellm else 'no'}")
    med, p95 = summary(listed)
    print(f"start-up to the task list filled (registry read on a worker thread): median {med:.0f} ms, p95 {p95:.0f} ms")


async def keypress(presses: int, steps: int) -> None:
    from mlgym_tui.tui.app import MLGymApp
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
        display = app._display

        def recording_display(target, renderable):
            if renderable is not None:
                frames.append((time.perf_counter(), pane.display))
            display(target, renderable)

        app._display = recording_display  # headless: frames are composited, just not written to a terminal
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
    args = parser.parse_args()
    startup(args.runs)
    asyncio.run(keypress(args.presses, args.steps))


if __name__ == "__main__":
    main()
