"""Episode-loop overhead per step, per engine (a benchmark that prints figures; not a test).

A zero-latency scripted policy runs `true` N times. For each step, overhead = wall time between consecutive
StepRecorded events minus the shell command's own duration (CommandFinished.duration): the controller, the
events, the policy bookkeeping, the environment wrapper and the recorder. The recorder's share (its time on the
event loop) is timed separately by wrapping the recorder object handed to the Controller. Target: median <= 2 ms.

Each engine runs the episode with the recorder as it is (events.jsonl fsync'd in groups on a thread; the runner
awaits, without blocking the loop, until the previous step is synced before it runs a command) and with the
alternative, fsync per event on the loop (the recorder before; `sync_in_background=False`), alternating
`--rounds` times, and prints the ratio of the recorder as it is to the alternative.

    eval "$(bash .ci/engines env)"   # or export MLGYM_DOCKER_HOST=... MLGYM_PODMAN_HOST=... CONTAINERS_CONF=...
    uv run python bench/bench_loop.py [--steps 200] [--rounds 2] [--engines docker,podman]
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


VARIANTS = {"threaded": {}, "inline": {"sync_in_background": False}}


async def bench(engine_name: str, steps: int, recorder_options: dict) -> dict:
    data = load_agent_config("baseline").model_dump()
    data["baseline"]["commands"] = ["true"] * steps
    data["limits"]["max_steps"] = steps + 1
    config = AgentConfig.model_validate(data)
    with tempfile.TemporaryDirectory(prefix="bench-loop-") as tmp:
        wrapped: list[TimedRecorder] = []

        def wrap(recorder) -> TimedRecorder:
            wrapped.append(TimedRecorder(recorder))
            return wrapped[-1]

        c = await start_episode("battleOfSexes", config, engine_name=engine_name, runtime=RuntimeConfig(memory="1g"),
                                runs_dir=Path(tmp), recorder_options=recorder_options, recorder_wrapper=wrap)
        timed = wrapped[0]
        marks: dict[int, float] = {}
        durations: dict[int, float] = {}

        def on_event(event) -> None:
            if isinstance(event, ev.CommandFinished):
                durations[event.step] = event.duration
            elif isinstance(event, ev.StepRecorded):
                marks[event.step] = time.perf_counter()

        # measured after the recorder ran for the same event: the Controller tells its recorder first
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
            "commands": list(durations.values())}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=2, help="alternating runs per variant and engine")
    parser.add_argument("--engines", default="docker,podman")
    args = parser.parse_args()
    print(f"episode loop overhead per step ({args.steps} x `true`, zero-latency scripted policy, "
          f"{args.rounds} alternating round(s) per variant)")
    print("  threaded: events.jsonl written on the loop, fsync'd in groups on a thread; a command awaits the previous")
    print("            step's sync off the loop (the recorder and runner as they are)")
    print("  inline:   fsync per event on the loop (the recorder before; the alternative)")
    print(f"{'engine':8} {'variant':9} {'steps':>5} {'median ms':>10} {'p95 ms':>8} {'recorder med':>13} "
          f"{'recorder p95':>13} {'cmd med ms':>11}")
    for name in args.engines.split(","):
        pooled = {variant: {"overhead": [], "recorder": [], "commands": []} for variant in VARIANTS}
        try:
            for _ in range(args.rounds):
                for variant, options in VARIANTS.items():
                    r = asyncio.run(bench(name, args.steps, options))
                    for key in pooled[variant]:
                        pooled[variant][key].extend(r[key])
        except Exception as exc:  # an engine that is not there is reported, not fatal
            print(f"{name:8} unavailable: {exc}")
            continue
        for variant, r in pooled.items():
            o, rec = r["overhead"], r["recorder"]
            print(f"{name:8} {variant:9} {len(o):>5} {statistics.median(o):>10.3f} {pct(o, 0.95):>8.3f} "
                  f"{statistics.median(rec):>13.3f} {pct(rec, 0.95):>13.3f} "
                  f"{statistics.median(r['commands']) * 1000:>11.2f}")
        new, old = pooled["threaded"], pooled["inline"]
        print(f"{name:8} threaded/inline: overhead median {statistics.median(new['overhead']) / statistics.median(old['overhead']):.2f}x, "
              f"p95 {pct(new['overhead'], 0.95) / pct(old['overhead'], 0.95):.2f}x; recorder median "
              f"{statistics.median(new['recorder']) / statistics.median(old['recorder']):.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
