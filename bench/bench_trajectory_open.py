"""Benchmark: opening a 50 MB trajectory, and the recorder's per-step cost late in a long run.

Not a test: prints figures. Run with `uv run python bench/bench_trajectory_open.py [--steps 5000] [--obs-kb 10]`.
Targets: load_run <= 2 s for 50 MB; per-step recorder overhead reported at step `--steps`.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from mlgym_tui.stream.events import EpisodeEnded, EpisodeStarted, Event, StepRecorded, ValidationScored
from mlgym_tui.trajectory import Recorder, load_run
from mlgym_tui.trajectory.traj_format import traj_entry_to_step

TASK = "imageClassificationCifar10"


def make_step(n: int, obs_bytes: int) -> StepRecorded:
    line = f"epoch {n} batch 0123 loss 0.5432 acc 0.8123 lr 1e-3 time 0.031s\n"
    observation = (line * (obs_bytes // len(line) + 1))[:obs_bytes]
    return StepRecorded(
        step=n, author="agent", action=f"python train.py --epochs {n % 7 + 1}", observation=observation,
        thought=f"Step {n}: train longer and check the validation accuracy.",
        response=f"Step {n}: train longer.\n```\npython train.py --epochs {n % 7 + 1}\n```",
        state={"open_file": "/home/agent/workspace/train.py", "working_dir": "/home/agent/workspace"},
        exit_code=0, started_at=1.7e9 + n, duration=1.5, tokens_in=4000 + n, tokens_out=120, cost=0.002,
    )


def started() -> EpisodeStarted:
    return EpisodeStarted(run_id="bench", task_id=TASK, agent="default", model="bench-model", mode="auto",
                          engine="local", max_steps=10**6, cost_limit=100.0, baseline={"accuracy": 0.5})


def build_runs(run_dir: Path, steps: int, obs_bytes: int) -> tuple[Recorder, Recorder]:
    """Two identical runs, one rewriting its .traj inline, one in the background, left open at `steps` steps.

    Rewrites are capped while generating (per-step rewrites would make generation quadratic); flush() writes the
    .traj whole, and the open recorders then measure the per-step cost at this size.
    """
    inline = Recorder(run_dir, TASK, {"model": "bench-model"}, traj_min_interval_s=float("inf"), traj_in_background=False)
    background = Recorder(run_dir.with_name("run_bg"), TASK, {"model": "bench-model"}, traj_min_interval_s=float("inf"))
    for recorder in (inline, background):
        recorder(started())
    for n in range(1, steps + 1):
        step = make_step(n, obs_bytes)
        for recorder in (inline, background):
            recorder(step)
        if n % 500 == 0:
            validation = ValidationScored(step=n, metrics={"accuracy": 0.5 + n / (10 * steps)})
            for recorder in (inline, background):
                recorder(validation)
    for recorder in (inline, background):
        recorder.flush()
    return inline, background


def time_steps(recorder: Recorder, first: int, count: int, obs_bytes: int, pause_s: float = 0.0) -> list[float]:
    samples = []
    for n in range(first, first + count):
        step = make_step(n, obs_bytes)
        t0 = time.perf_counter()
        recorder(step)
        samples.append(time.perf_counter() - t0)
        time.sleep(pause_s)  # a real step takes seconds; a pause lets background writes and the cap's clock move
    return samples


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def timed(fn, repetitions: int) -> list[float]:
    samples = []
    for _ in range(repetitions):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return samples


def naive_events(path: Path) -> list[Event]:
    with open(path, "rb") as handle:
        return [Event.from_dict(json.loads(line)) for line in handle if line.strip()]


def naive_traj(path: Path) -> list[StepRecorded]:
    with open(path, "rb") as handle:
        document = json.load(handle)
    return [traj_entry_to_step(entry, i) for i, entry in enumerate(document["trajectory"])]


def report(label: str, samples: list[float], unit: str = "s", scale: float = 1.0) -> str:
    return f"{label}: median {statistics.median(samples) * scale:.3f} {unit}, p95 {percentile(samples, 0.95) * scale:.3f} {unit}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=5000)
    parser.add_argument("--obs-kb", type=float, default=10.0, help="observation size per step in KB")
    parser.add_argument("--repetitions", type=int, default=7)
    parser.add_argument("--extra-steps", type=int, default=30, help="steps timed after the run is built")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="bench_traj_"))
    try:
        run_dir = workdir / "run"
        t0 = time.perf_counter()
        obs_bytes = int(args.obs_kb * 1024)
        recorder, background = build_runs(run_dir, args.steps, obs_bytes)
        build_s = (time.perf_counter() - t0) / 2
        events_mb = (run_dir / "events.jsonl").stat().st_size / 1e6
        traj_path = run_dir / f"{TASK}.traj"
        traj_mb = traj_path.stat().st_size / 1e6
        print(f"built {args.steps} steps in {build_s:.1f} s: events.jsonl {events_mb:.1f} MB, .traj {traj_mb:.1f} MB")
        print(f"  per-event append (json + write + fsync), amortised over the build: {build_s / args.steps * 1e3:.2f} ms")

        # Per-step cost at this size: what the caller (the event loop) waits for in each configuration.
        n = args.steps + 1
        recorder.traj_min_interval_s = 0.0
        inline_every = time_steps(recorder, n, args.extra_steps, obs_bytes)
        n += args.extra_steps
        background.traj_min_interval_s = 0.0
        written_before = background._writer.completed if background._writer else 0
        t0 = time.perf_counter()
        background_every = time_steps(background, n, args.extra_steps, obs_bytes, pause_s=0.05)
        background_wall = time.perf_counter() - t0
        background.flush()
        written = (background._writer.completed if background._writer else 0) - written_before
        recorder.traj_min_interval_s = 1.0
        capped = time_steps(recorder, n, args.extra_steps, obs_bytes, pause_s=0.05)
        recorder.traj_min_interval_s = float("inf")
        events_only = time_steps(recorder, n + args.extra_steps, args.extra_steps, obs_bytes)
        for each in (recorder, background):
            each(EpisodeEnded(exit_status="submitted"))
            each.close()
        print(f"recorder per-step overhead at step ~{args.steps} (time the caller is blocked):")
        print("  " + report(".traj rewritten inline every step", inline_every, "ms", 1e3))
        print("  " + report(".traj rewritten in the background (default), 50 ms steps", background_every, "ms", 1e3)
              + f"; {written} rewrites in {background_wall:.1f} s of wall time for {args.extra_steps} steps")
        print("  " + report(".traj inline, capped at 1 rewrite/s, 50 ms steps", capped, "ms", 1e3))
        print("  " + report("events.jsonl only (cap never due)", events_only, "ms", 1e3))

        bare_traj = workdir / traj_path.name
        shutil.copy(traj_path, bare_traj)
        total = len(load_run(run_dir).steps)
        print(f"load_run over {args.repetitions} repetitions ({total} steps, target <= 2 s):")
        cases = [
            ("run directory (events.jsonl)", lambda: load_run(run_dir), lambda: naive_events(run_dir / "events.jsonl")),
            ("bare .traj", lambda: load_run(bare_traj), lambda: naive_traj(bare_traj)),
        ]
        for label, ours, naive in cases:
            ours_samples = timed(ours, args.repetitions)
            naive_samples = timed(naive, args.repetitions)
            ratio = statistics.median(ours_samples) / statistics.median(naive_samples)
            print("  " + report(label, ours_samples))
            print("    " + report("naive json.load + objects", naive_samples) + f"; ours/naive = {ratio:.2f}")

        truncated = workdir / "cut.traj"
        data = bare_traj.read_bytes()
        truncated.write_bytes(data[: len(data) * 2 // 3])
        cut_samples = timed(lambda: load_run(truncated), max(3, args.repetitions // 2))
        print("  " + report(".traj cut at 2/3 (tolerant scan)", cut_samples) + f", {len(load_run(truncated).steps)} steps recovered")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
