"""Per-command latency: the persistent shell session against one exec per command.

    uv run python bench/bench_shell.py [--commands 500] [--engines docker,podman]

Prints median and p95 milliseconds per command for both ways on each engine, measured in the
same run, and the ratio. Not a test: figures, no assertions.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from mlgym_tui.config.runtime import RuntimeConfig
from mlgym_tui.runtime.base import ContainerSpec
from mlgym_tui.runtime.detect import connect
from mlgym_tui.runtime.errors import RuntimeProblem


def summary(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


async def measure(engine_name: str, count: int) -> None:
    engine = connect(engine_name)
    box = engine.start(ContainerSpec(image=RuntimeConfig().image))
    try:
        shell = await box.open_shell()
        for _ in range(20):  # warm up
            await shell.run("true")
        session = []
        for i in range(count):
            start = time.perf_counter()
            await shell.run(f"echo {i}")
            session.append((time.perf_counter() - start) * 1000)
        await shell.close()
        per_exec = []
        for i in range(count):
            start = time.perf_counter()
            box.exec(["bash", "-c", f"echo {i}"], user="agent")
            per_exec.append((time.perf_counter() - start) * 1000)
    finally:
        box.remove()
    s_med, s_p95 = summary(session)
    e_med, e_p95 = summary(per_exec)
    print(f"{engine_name:7s} persistent session : median {s_med:7.3f} ms   p95 {s_p95:7.3f} ms   ({count} commands)")
    print(f"{engine_name:7s} exec per command   : median {e_med:7.3f} ms   p95 {e_p95:7.3f} ms   ({count} commands)")
    print(f"{engine_name:7s} ratio exec/session : median {e_med / s_med:7.1f}x  p95 {e_p95 / s_p95:7.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--commands", type=int, default=500)
    parser.add_argument("--engines", default="docker,podman")
    args = parser.parse_args()
    for name in args.engines.split(","):
        try:
            asyncio.run(measure(name, args.commands))
        except RuntimeProblem as exc:
            print(f"{name:7s} skipped: {exc}")


if __name__ == "__main__":
    main()
