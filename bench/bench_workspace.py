"""Workspace snapshot cost per step on Docker and Podman: no change, one small edit, 1,000 new files; against
what the same snapshot would cost without the persistent root lister, measured in the same run: a full
`find | sha256sum` exec through the engine API, and a full tar of the workspace through the archive API.

    eval "$(bash .ci/engines env)"; uv run python bench/bench_workspace.py [--engines docker,podman] [--rounds 30]
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
from mlgym_tui.environment.environment import MLGymEnvironment
from mlgym_tui.runtime.detect import connect
from mlgym_tui.tasks.registry import load_registry
from mlgym_tui.trajectory.workspace_store import BlobStore

FULL_HASH = "cd /home/agent/workspace && find . -xdev -type f -print0 | xargs -0 -r sha256sum >/dev/null"


def figures(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return f"median {statistics.median(ordered):8.2f} ms   p95 {p95:8.2f} ms   (n={len(ordered)})"


async def snapshot_ms(env: MLGymEnvironment, step: int) -> float:
    started = time.perf_counter()
    await env.snapshot_workspace(step)
    return (time.perf_counter() - started) * 1000


def blocking_ms(call) -> float:
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000


async def bench(engine_name: str, rounds: int) -> None:
    engine = connect(engine_name, RuntimeConfig())
    env = MLGymEnvironment(load_registry().get("battleOfSexes"), engine, RuntimeConfig(memory="1g"),
                           workspace_store=BlobStore(Path(tempfile.mkdtemp(prefix="bench-ws-"))))
    await env.reset()
    try:
        await env.step("mkdir -p src && for i in $(seq 200); do echo \"line $i\" > src/f$i.py; done")
        step = 0
        await env.snapshot_workspace(step)
        rows: dict[str, list[float]] = {"no change": [], "1 small edit": [], "1,000 new files": [],
                                        "full find+sha256sum exec": [], "full tar (archive API)": []}
        for _ in range(rounds):
            step += 1
            rows["no change"].append(await snapshot_ms(env, step))
        for i in range(rounds):
            await env.step(f"echo edit-{i} >> src/f1.py")
            step += 1
            rows["1 small edit"].append(await snapshot_ms(env, step))
        for i in range(max(3, rounds // 6)):
            await env.step(f"mkdir b{i} && cd b{i} && for j in $(seq 1000); do echo $j-{i} > n$j.txt; done; cd ..")
            step += 1
            rows["1,000 new files"].append(await snapshot_ms(env, step))
            await env.step(f"rm -r b{i}")
            step += 1
            await env.snapshot_workspace(step)
        box = env.container
        for _ in range(max(5, rounds // 3)):
            rows["full find+sha256sum exec"].append(
                await asyncio.to_thread(blocking_ms, lambda: box.exec(["sh", "-c", FULL_HASH])))
            rows["full tar (archive API)"].append(
                await asyncio.to_thread(blocking_ms, lambda: box.read_archive(box.workspace, 1 << 30)))
        print(f"{engine_name} (workspace: 202 small files, then +1,000)")
        for name, samples in rows.items():
            print(f"  {name:26} {figures(samples)}")
    finally:
        await env.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", default="docker,podman")
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args(argv)
    for name in args.engines.split(","):
        asyncio.run(bench(name.strip(), args.rounds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
