"""Fork time by snapshot vs by re-execution (issue 17), on a real parent run with a ~5 s "training" step.

The parent is a person's episode (the human agent) whose commands write files, draw a random number and "train"
(sleep, then write a checkpoint of random bytes); its workspace snapshots are recorded as it runs. Each fork is
timed from start_episode to the moment it waits for a person after its N steps (container started, workspace
restored or commands re-run). Median and p95 over --reps repetitions per engine and method.

    uv run python bench/bench_fork.py --engines docker,podman --reps 5 --train-seconds 5
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

from mlgym_tui.config.runtime import RuntimeConfig
from mlgym_tui.episode.session import start_episode
from mlgym_tui.runtime.detect import connect

TASK = "battleOfSexes"
HUMAN = str(Path(__file__).resolve().parents[1] / "agents" / "human.yaml")


def parent_actions(train_seconds: float) -> list[str]:
    return [
        "mkdir -p models && printf 'lr = 0.01\\n' > config.py",
        'python3 -c "import random; print(random.random())" > r.txt',
        f"sleep {train_seconds} && python3 -c \"import os; open('models/ckpt.bin', 'wb').write(os.urandom(1 << 16))\"",
        "cd models && export LR=0.01",
    ]


async def until_waiting(controller, timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while controller.awaiting != "human" and not controller.done:
        if time.monotonic() > deadline:
            raise TimeoutError("the episode never waited for a person")
        await asyncio.sleep(0.01)
    if controller.done:
        raise RuntimeError(f"the episode ended ({controller.exit_status}) before its prefix was through")


async def record_parent(engine, runtime, runs: Path, train_seconds: float) -> Path:
    c = await start_episode(TASK, HUMAN, engine=engine, runtime=runtime, runs_dir=runs / "parent")
    c.start()
    await until_waiting(c)
    for action in parent_actions(train_seconds):
        before = c.runner.step
        c.submit_human_action(action)
        while c.runner.step == before:
            await asyncio.sleep(0.01)
        await until_waiting(c)
    c.stop()
    await c.wait()
    return c.run_dir


async def time_fork(engine, runtime, runs: Path, parent: Path, n: int, how: str) -> float:
    started = time.perf_counter()
    c = await start_episode(TASK, HUMAN, engine=engine, runtime=runtime, runs_dir=runs / how, parent=parent,
                            fork_prefix=n, fork_by=how)
    c.start()
    try:
        await until_waiting(c)
        return time.perf_counter() - started
    finally:
        c.stop()
        await c.wait()


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engines", default="docker,podman")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--train-seconds", type=float, default=5.0)
    args = parser.parse_args()
    runtime = RuntimeConfig(memory="1g")
    n = len(parent_actions(args.train_seconds))
    print(f"fork at step {n} of a parent whose step 3 trains for {args.train_seconds:g} s; {args.reps} rep(s)")
    print(f"{'engine':8} {'method':10} {'median s':>9} {'p95 s':>8}")
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.engines.split(","):
            engine = await asyncio.to_thread(connect, name, runtime)
            parent = await record_parent(engine, runtime, Path(tmp) / name, args.train_seconds)
            for how in ("snapshot", "reexecute"):
                times = [await time_fork(engine, runtime, Path(tmp) / name, parent, n, how) for _ in range(args.reps)]
                print(f"{name:8} {how:10} {statistics.median(times):9.2f} {p95(times):8.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
