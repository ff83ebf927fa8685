"""Episode-loop overhead per step, per engine (a benchmark that prints figures; not a test).

A zero-latency scripted policy runs `true` N times. For each step, overhead = wall time between consecutive
StepRecorded events minus the shell command's own duration (CommandFinished.duration): the controller, the
events, the policy bookkeeping, the environment wrapper and the recorder. The recorder's share is timed
separately by wrapping it. Target: median <= 2 ms.

    export MLGYM_DOCKER_HOST=... MLGYM_PODMAN_HOST=... CONTAINERS_CONF=...
    uv run python bench/bench_loop.py [--steps 200] [--engines docker,podman]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mlgym_tui.config.agent import AgentConfig, load_agent_config  # noqa: E402
from mlgym_tui.config.runtime import RuntimeConfig  # noqa: E402
from mlgym_tui.stream import events as ev  # noqa: E402
from mlgym_tui.episode.session import start_episode  # noqa: E402


class TimedRecorder:
    def __init__(self, inner) -> None:
        self.inner = inner
        self.seconds_by_step: dict[int, float] = {}
        self.total = 0.0

    def __call__(self, event) -> None:
        t0 = time.perf_counter()
        self.inner(event)
        dt = time.perf_counter() - t0
        self.total += dt
        step = getattr(event, "step", None)
        if step is not None:
            self.seconds_by_step[step] = self.seconds_by_step.get(step, 0.0) + dt

    def __getattr__(self, name):
        return getattr(self.inner, name)


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


async def bench(engine_name: str, steps: int) -> dict:
    data = load_agent_config("baseline").model_dump()
    data["baseline"]["commands"] = ["true"] * steps
    data["limits"]["max_steps"] = steps + 1
    config = AgentConfig.model_validate(data)
    with tempfile.TemporaryDirectory(prefix="bench-loop-") as tmp:
        c = await start_episode("battleOfSexes", config, engine_name=engine_name, runtime=RuntimeConfig(memory="1g"),
                                runs_dir=Path(tmp))
        timed = TimedRecorder(c.recorder)
        c._subscribers[c._subscribers.index(c.recorder)] = timed
        c.recorder = timed
        marks: dict[int, float] = {}
        durations: dict[int, float] = {}

        def on_event(event) -> None:
            if isinstance(event, ev.CommandFinished):
                durations[event.step] = event.duration
            elif isinstance(event, ev.StepRecorded):
                marks[event.step] = time.perf_counter()

        # measured after the recorder ran for the same event: the recorder is subscribed first
        c.subscribe(on_event)
        t0 = time.perf_counter()
        await c.run()
        total = time.perf_counter() - t0
    overhead, recorder = [], []
    for step in range(2, steps + 1):  # step 1 has no previous mark
        if step in marks and step - 1 in marks:
            overhead.append((marks[step] - marks[step - 1] - durations[step]) * 1000)
            recorder.append(timed.seconds_by_step.get(step, 0.0) * 1000)
    return {"engine": engine_name, "steps": len(overhead), "total_s": total, "overhead": overhead, "recorder": recorder,
            "command_ms": statistics.median(durations.values()) * 1000}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--engines", default="docker,podman")
    args = parser.parse_args()
    print(f"episode loop overhead per step ({args.steps} x `true`, zero-latency scripted policy)")
    print(f"{'engine':8} {'steps':>5} {'median ms':>10} {'p95 ms':>8} {'recorder med':>13} {'recorder p95':>13} {'cmd med ms':>11}")
    for name in args.engines.split(","):
        try:
            r = asyncio.run(bench(name, args.steps))
        except Exception as exc:  # an engine that is not there is reported, not fatal
            print(f"{name:8} unavailable: {exc}")
            continue
        o, rec = r["overhead"], r["recorder"]
        print(f"{name:8} {r['steps']:>5} {statistics.median(o):>10.3f} {pct(o, 0.95):>8.3f} "
              f"{statistics.median(rec):>13.3f} {pct(rec, 0.95):>13.3f} {r['command_ms']:>11.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
