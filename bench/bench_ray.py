"""Cost of running a batch's episodes on a Ray cluster (a benchmark that prints figures; not a test).

A zero-latency scripted policy (the baseline policy with one `echo` command: its episode is a container started,
one step, the container removed) is run as batch episodes:

- overhead: one episode at a time (--parallel 1), by the local executor and by the Ray executor on a one-node
  cluster, alternated round by round so that machine drift hits both alike; per episode, the time from the slot
  being taken to its row settling. The Ray executor's extra is its scheduling, the streaming of the events and
  the driver's second Recorder.
- throughput: episodes per minute of a batch of --episodes episodes with --parallel as large as the cluster's
  container slots (2 per node), on 1 node and then on 2 nodes of this machine.

    eval "$(bash .ci/engines env)"
    uv run python bench/bench_ray.py [--engine docker] [--rounds 8] [--episodes 8]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rich.console import Console  # noqa: E402

from mlgym_tui.batch.ray_support import CONTAINER_RESOURCE, import_ray  # noqa: E402
from mlgym_tui.batch.runner import BatchRunner  # noqa: E402
from mlgym_tui.config.agent import AgentConfig, load_agent_config  # noqa: E402
from mlgym_tui.config.runtime import RuntimeConfig  # noqa: E402
from mlgym_tui.runtime.detect import connect  # noqa: E402
from mlgym_tui.tasks.registry import load_registry  # noqa: E402

TASK = "battleOfSexes"
SLOTS_PER_NODE = 2


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def scripted_agent() -> AgentConfig:
    data = load_agent_config("baseline").model_dump()
    data["baseline"]["commands"] = ["echo done"]
    data["name"] = "bench"
    return AgentConfig.model_validate(data)


class TimedRunner(BatchRunner):
    """Times each slot from the moment it is taken to its row settling."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.durations: list[float] = []

    async def _run_slot(self, semaphore, task, progress, slot) -> None:
        async with semaphore:
            started = time.perf_counter()
            await self.executor.run_slot(task, progress, slot)
            self.durations.append(time.perf_counter() - started)


def batch(executor: str, engine, runs: int, parallel: int) -> tuple[list[float], float]:
    task = load_registry().get(TASK)
    with tempfile.TemporaryDirectory(prefix="bench-ray-") as runs_dir:
        runner = TimedRunner([task], scripted_agent(), runs=runs, parallel=parallel, runs_dir=Path(runs_dir),
                             engine=engine, runtime=RuntimeConfig(memory="1g"), executor=executor, retries=0,
                             console=Console(file=io.StringIO()))
        started = time.perf_counter()
        outcome = asyncio.run(runner.run())
        wall = time.perf_counter() - started
    bad = [s.status for s in outcome.slots if s.status != "early_exit"]
    if bad:
        raise SystemExit(f"{executor}: episodes did not end as scripted: {bad}")
    return runner.durations, wall


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", default="docker")
    parser.add_argument("--rounds", type=int, default=8, help="episodes timed one at a time, per executor")
    parser.add_argument("--episodes", type=int, default=8, help="episodes per throughput batch")
    args = parser.parse_args()

    engine = connect(args.engine, RuntimeConfig())
    ray = import_ray()
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 1, "resources": {CONTAINER_RESOURCE: SLOTS_PER_NODE}, "include_dashboard": False})
    ray.init(address=cluster.address, log_to_driver=False, logging_level="WARNING")
    try:
        batch("ray", args.engine, 1, 1)  # warm-up: the first task starts a Ray worker process
        batch("local", engine, 1, 1)
        local, remote = [], []
        for _ in range(args.rounds):  # alternated: drift hits both
            local += batch("local", engine, 1, 1)[0]
            remote += batch("ray", args.engine, 1, 1)[0]
        throughput = {}
        _, wall = batch("local", engine, args.episodes, SLOTS_PER_NODE)
        throughput["local, parallel 2"] = args.episodes / wall * 60
        _, wall = batch("ray", args.engine, args.episodes, SLOTS_PER_NODE)
        throughput["ray, 1 node (2 slots)"] = args.episodes / wall * 60
        cluster.add_node(num_cpus=1, resources={CONTAINER_RESOURCE: SLOTS_PER_NODE})
        cluster.wait_for_nodes()
        batch("ray", args.engine, 2 * SLOTS_PER_NODE, 2 * SLOTS_PER_NODE)  # warm the new node's workers
        _, wall = batch("ray", args.engine, args.episodes, 2 * SLOTS_PER_NODE)
        throughput["ray, 2 nodes (4 slots)"] = args.episodes / wall * 60
    finally:
        ray.shutdown()
        cluster.shutdown()
        engine.close()

    print(f"engine {args.engine}; one scripted episode (container start, one step, removal) per slot\n")
    print(f"{'executor':10} {'episodes':>8} {'median s':>9} {'p95 s':>7}")
    for name, values in (("local", local), ("ray", remote)):
        print(f"{name:10} {len(values):>8} {statistics.median(values):>9.3f} {pct(values, 0.95):>7.3f}")
    extra = statistics.median(remote) - statistics.median(local)
    print(f"ray/local: median {statistics.median(remote) / statistics.median(local):.2f}x, "
          f"p95 {pct(remote, 0.95) / pct(local, 0.95):.2f}x; scheduling overhead per episode "
          f"{extra * 1000:+.0f} ms (median)\n")
    print(f"{'throughput':26} {'episodes/min':>12}")
    for name, value in throughput.items():
        print(f"{name:26} {value:>12.1f}")
    two, one = throughput["ray, 2 nodes (4 slots)"], throughput["ray, 1 node (2 slots)"]
    print(f"2 nodes / 1 node: {two / one:.2f}x (both nodes share this machine's {_cores()} cores and engine)")
    return 0


def _cores() -> int:
    import os

    return os.cpu_count() or 1


if __name__ == "__main__":
    raise SystemExit(main())
