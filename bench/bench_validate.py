"""Cost of one `validate`, per engine (a benchmark that prints figures; not a test).

Two ways of scoring the same baseline submission of a bundled CSV task (regressionDiabetes) and a Python task
(battleOfSexes), alternated so that machine drift hits both alike:

- isolated: what `validate` does now: read the submission through the archive API, start a fresh evaluation
  container, lay it out, run the harness, read the result, remove the container (in the background);
- in-agent (before): what it did until the evaluation got its own container: copy the evaluation files into the
  agent's container and run `python3 evaluate.py` there as the evaluator's uid.

Target: a CSV task's isolated validate under 1.5 s median on this machine.

    export MLGYM_DOCKER_HOST=... MLGYM_PODMAN_HOST=... CONTAINERS_CONF=...
    uv run python bench/bench_validate.py [--rounds 15] [--engines docker,podman] [--tasks regressionDiabetes,battleOfSexes]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mlgym_tui.environment.environment import MLGymEnvironment  # noqa: E402
from mlgym_tui.environment.evaluation import EVALUATOR_UID, evaluation_sources  # noqa: E402
from mlgym_tui.runtime.detect import connect  # noqa: E402
from mlgym_tui.config.runtime import RuntimeConfig  # noqa: E402
from mlgym_tui.tasks.registry import load_registry  # noqa: E402


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def in_agent_container(env: MLGymEnvironment) -> float:
    """The old path, kept here only to be measured against."""
    task, box = env.task, env.container
    t0 = time.perf_counter()
    eval_dir = "/opt/mlgym/eval"
    box.check(["sh", "-c", f'rm -rf "{eval_dir}" && mkdir -p "{eval_dir}"'])
    for source in evaluation_sources(task):
        box.copy_in(source, eval_dir, owner="root")
    box.check(["sh", "-c", f'chown -R {EVALUATOR_UID}:{EVALUATOR_UID} "{eval_dir}" && chmod 0700 "{eval_dir}"'])
    command = ["python3", "evaluate.py"]
    if task.task_entrypoint == "CSVSubmissionTasks":
        command += ["--submission_file", f"{box.workspace}/submission.csv"]
    result = box.exec(command, user=f"{EVALUATOR_UID}:{EVALUATOR_UID}", workdir=eval_dir,
                      env={"PYTHONPATH": box.workspace, "HOME": "/tmp"}, timeout=900)
    assert result.ok and "{" in result.output, result.output[-300:]
    return time.perf_counter() - t0


async def bench(engine_name: str, task_id: str, rounds: int) -> dict:
    engine = connect(engine_name, RuntimeConfig())
    env = MLGymEnvironment(load_registry().get(task_id), engine, RuntimeConfig(memory="1g"))
    await env.reset()
    try:
        for script in env.task.baseline_scripts:
            await env.step(f"python3 {script}")
        await env.validate()  # warm both paths once (page cache, image layers)
        await asyncio.to_thread(in_agent_container, env)
        new, old = [], []
        for _ in range(rounds):
            t0 = time.perf_counter()
            result = await env.validate()
            new.append(time.perf_counter() - t0)
            assert result.metrics, result.observation
            old.append(await asyncio.to_thread(in_agent_container, env))
    finally:
        await env.close()
    return {"new": new, "old": old}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--engines", default="docker,podman")
    parser.add_argument("--tasks", default="regressionDiabetes,battleOfSexes")
    args = parser.parse_args()
    print(f"one validate, {args.rounds} rounds each, alternating; seconds")
    print(f"{'engine':<8} {'task':<20} {'isolated median':>16} {'p95':>7} {'in-agent median':>16} {'p95':>7} {'ratio':>6}")
    for engine_name in args.engines.split(","):
        for task_id in args.tasks.split(","):
            r = asyncio.run(bench(engine_name, task_id, args.rounds))
            new_m, old_m = statistics.median(r["new"]), statistics.median(r["old"])
            print(f"{engine_name:<8} {task_id:<20} {new_m:>16.3f} {pct(r['new'], 0.95):>7.3f} "
                  f"{old_m:>16.3f} {pct(r['old'], 0.95):>7.3f} {new_m / old_m:>5.2f}x")


if __name__ == "__main__":
    main()
