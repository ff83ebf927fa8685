"""Replay figures: opening a 50 MB trajectory to the first painted replay screen, and key press to repaint
with 5,000 steps loaded.

    uv run python bench/bench_replay.py [--runs 5] [--mb 50] [--presses 120] [--steps 5000]

Open: a fresh process per run (bytecode compiled beforehand, as after a first launch), from just before the spawn
to the first composited frame (headless) of the replay screen with the run loaded (read, folded, cursor on the last step); the file is an events.jsonl of
--mb megabytes (steps with command output streamed as chunks, validations every 50 steps). Key press: one
app with a --steps run loaded; next/previous step, first/last, next failure and a search match pressed in
turn, a random 0-0.3 s after the previous move was painted (so keys land at every moment of the work the
screen does once the cursor rests), each timed from posting the key to the first composited frame that shows
the new cursor, and to the
frame by which every pane has been repainted: the cursor's transcript card marked as the cursor, the shell,
the figures, the timeline and the status line (the move complete).
Prints median and p95 in milliseconds; targets: open <= 2000 ms, key press <= 50 ms. Not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = r"""
import sys, time, json
t0 = float(sys.argv[1])
from mlgym_tui.tui.app import MLGymApp
from mlgym_tui.tui.perf import watch_frames
from mlgym_tui.tui.replay.screen import ReplayScreen

screen = ReplayScreen(sys.argv[2])
app = MLGymApp(deterministic=True, start_screen=screen)
first_frame = []

def on_frame(target, renderable):
    if renderable is not None and not first_frame and target is screen and screen.loaded:
        first_frame.append(time.time() - t0)

watch_frames(app, on_frame)

async def auto_pilot(pilot):
    while not first_frame:
        await pilot.pause(0.05)
    print(json.dumps({"seconds": first_frame[0], "steps": screen.index.total, "cursor": screen.cursor}))
    pilot.app.exit()

app.run(headless=True, size=(120, 40), auto_pilot=auto_pilot)
"""


def summary(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


def write_big_run(folder: Path, megabytes: float) -> Path:
    from mlgym_tui.stream import events as ev
    from mlgym_tui.tui.sample_events import T0

    run_dir = folder / "2024-01-01T00-00-00__gpt-4o__battleOfSexes__default"
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / "events.jsonl"
    target = int(megabytes * 1024 * 1024)
    with open(path, "w", encoding="utf-8") as out:
        def put(event) -> int:
            line = json.dumps(event.to_dict()) + "\n"
            out.write(line)
            return len(line)

        size = put(ev.EpisodeStarted(t=T0, run_id="big", task_id="battleOfSexes", agent="default", model="gpt-4o",
                                     mode="auto", engine="docker", max_steps=100000, cost_limit=0.0,
                                     baseline={"Score": 1.0},
                                     metrics=[{"name": "Score", "direction": "maximize", "primary": True}]))
        n = 0
        while size < target:
            n += 1
            t = T0 + n
            action = f"python train.py --epoch {n}"
            observation = "\n".join(f"epoch {n} batch {i}: loss {1 / (i + 1):.5f} acc {i / 40:.3f}" for i in range(40))
            size += put(ev.ModelQueryStarted(t=t, step=n))
            size += put(ev.ModelResponse(t=t, step=n, content=f"Next I train.\n```\n{action}\n```", tokens_in=2000,
                                         tokens_out=60, cost=0.001))
            size += put(ev.ActionProposed(t=t, step=n, action=action, thought="Next I train."))
            size += put(ev.CommandStarted(t=t, step=n, action=action, author="agent"))
            for part in range(4):
                size += put(ev.OutputChunk(t=t, step=n, data="\r\n".join(observation.split("\n")[part * 10:(part + 1) * 10]) + "\r\n"))
            size += put(ev.CommandFinished(t=t + 0.5, step=n, exit_code=0 if n % 37 else 1, duration=0.5))
            size += put(ev.StepRecorded(t=t + 0.5, step=n, author="agent", action=action, observation=observation,
                                        thought="Next I train.", exit_code=0 if n % 37 else 1, started_at=t,
                                        duration=0.5, tokens_in=2000, tokens_out=60, cost=0.001))
            if n % 50 == 0:
                size += put(ev.ValidationScored(t=t + 0.6, step=n, metrics={"Score": 1.0 + (n % 300) / 1000}))
        put(ev.EpisodeEnded(t=T0 + n + 1, exit_status="submitted"))
    return run_dir


def ensure_bytecode() -> None:
    """Compile what the app imports, as its first launch does where Python may write bytecode: with
    PYTHONDONTWRITEBYTECODE set (as on CI images) every launch would compile textual, rich and the rest again,
    about 1.4 s that no user's second launch pays."""
    import sysconfig

    import mlgym_tui

    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    targets = [sysconfig.get_paths()["purelib"], str(Path(mlgym_tui.__file__).parent)]
    subprocess.run([sys.executable, "-m", "compileall", "-q", "-j", "0", *targets], env=env, check=False,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def open_figures(runs: int, megabytes: float) -> None:
    ensure_bytecode()
    folder = Path(tempfile.mkdtemp(prefix="bench-replay-"))
    run_dir = write_big_run(folder, megabytes)
    size = (run_dir / "events.jsonl").stat().st_size / 1024 / 1024
    env = dict(os.environ, MLGYM_TUI_CONFIG_DIR=tempfile.mkdtemp(prefix="bench-replay-config-"))
    samples, steps = [], 0
    for _ in range(runs):
        t0 = time.time()
        out = subprocess.run([sys.executable, "-c", CHILD, repr(t0), str(run_dir)], capture_output=True, text=True,
                             env=env, check=True, timeout=120).stdout
        result = json.loads(out.strip().splitlines()[-1])
        samples.append(result["seconds"] * 1000)
        steps = result["steps"]
    med, p95 = summary(samples)
    print(f"open a {size:.1f} MB events.jsonl ({steps} steps) to the first painted replay screen "
          f"({runs} processes): median {med:.0f} ms, p95 {p95:.0f} ms (target <= 2000 ms)")


async def keypress(presses: int, steps: int) -> None:
    from textual.widgets import Static

    from mlgym_tui.trajectory import load_run
    from mlgym_tui.tui.app import MLGymApp
    from mlgym_tui.tui.perf import watch_frames
    from mlgym_tui.tui.sample_events import T0
    from mlgym_tui.tui.replay.screen import ReplayScreen
    from mlgym_tui.tui.widgets.shell_view import ShellView
    from mlgym_tui.tui.widgets.status_bar import StatusBar
    from mlgym_tui.tui.widgets.step_card import StepCard
    from mlgym_tui.tui.widgets.timeline import Timeline

    folder = Path(tempfile.mkdtemp(prefix="bench-replay-keys-"))
    # one step is ~9.5 KB in write_big_run: size the file for the wanted step count
    run_dir = write_big_run(folder, steps * 4.83 / 1024)
    run = load_run(run_dir)
    screen = ReplayScreen(run=run, clock=lambda: T0)
    app = MLGymApp(deterministic=True, start_screen=screen)
    first: dict[str, list[float]] = {}
    complete: dict[str, list[float]] = {}
    async with app.run_test(size=(120, 40)) as pilot:
        while not screen.loaded:
            await pilot.pause(0.01)
        await pilot.pause(0.2)
        total = screen.index.total
        await pilot.press("slash", *"epoch 4", "enter")  # a search for n / N
        await pilot.pause(0.3)
        frames: list[tuple[float, int, bool]] = []  # (time, cursor, every pane painted since the press)
        painted: set[str] = set()
        panes = {"card", "shell", "figures", "timeline", "status"}
        patched = {cls: cls.render_lines for cls in (StepCard, ShellView, Static, Timeline, StatusBar)}

        def recording_render_lines(widget, crop):
            if isinstance(widget, StepCard):
                # the cursor's card painted with the cursor's style applied, not a frame that still shows it plain
                if (widget.has_class("-cursor") and widget.styles.border_left[0] == "thick" and screen.cursor
                        and widget.step_view is screen.index.cards[screen.cursor - 1]):
                    painted.add("card")
            elif isinstance(widget, ShellView):
                painted.add("shell")
            elif isinstance(widget, Timeline):
                painted.add("timeline")
            elif isinstance(widget, StatusBar):
                painted.add("status")
            elif widget.id == "metrics-figures":
                painted.add("figures")
            return patched[type(widget) if type(widget) in patched else Static](widget, crop)

        def on_frame(target, renderable):
            if renderable is not None:
                frames.append((time.perf_counter(), screen.cursor, panes <= painted))

        for cls in patched:
            cls.render_lines = recording_render_lines
        watch_frames(app, on_frame)
        keys = ["left", "left", "right", "home", "x", "n", "N", "end", "left", "right"]
        rng = random.Random(7)
        for i in range(presses):
            key = keys[i % len(keys)]
            before = screen.cursor
            frames.clear()
            painted.clear()
            t = time.perf_counter()
            await pilot.press(key)
            after = screen.cursor
            if after == before:
                continue  # nothing to move to (e.g. no later failure): no repaint to time
            shown = done = None
            while done is None and time.perf_counter() - t < 2.0:
                await asyncio.sleep(0.002)
                shown = next((ft for ft, cursor, _ in frames if ft >= t and cursor == after), None)
                done = next((ft for ft, cursor, complete in frames if ft >= t and cursor == after and complete), None)
            if shown is None or done is None:
                raise SystemExit(f"no repaint seen after {key} ({before} -> {after})")
            first.setdefault(key, []).append((shown - t) * 1000)
            complete.setdefault(key, []).append((done - t) * 1000)
            # the next key comes at any moment of what the screen does once the cursor rests (cards out of sight
            # filled after 0.08 s, charts redrawn after 0.12 s): a person's pace, from key repeat to a pause
            await asyncio.sleep(rng.uniform(0.0, 0.3))
        for cls, method in patched.items():
            cls.render_lines = method
    for label, samples in (("first frame with the new cursor", first),
                           ("complete repaint (every pane and the cursor's card painted)", complete)):
        everything = [x for values in samples.values() for x in values]
        med, p95 = summary(everything)
        print(f"key press to {label}, {total} steps loaded ({len(everything)} presses): median {med:.1f} ms, "
              f"p95 {p95:.1f} ms (target <= 50 ms)")
        for key, values in samples.items():
            m, p = summary(values)
            print(f"    {key:>5}: median {m:.1f} ms, p95 {p:.1f} ms ({len(values)} presses)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--mb", type=float, default=50)
    parser.add_argument("--presses", type=int, default=120)
    parser.add_argument("--steps", type=int, default=5000)
    args = parser.parse_args()
    open_figures(args.runs, args.mb)
    asyncio.run(keypress(args.presses, args.steps))


if __name__ == "__main__":
    main()
