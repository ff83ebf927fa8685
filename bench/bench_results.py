"""Benchmark (not a test): `mlgym-tui results DIR` over 676 synthetic runs in MLGym's published layout.

13 MLGym tasks x 13 models x 4 runs, each with a .traj of a few tens of KB and a results.json, as the
published runs have. Times the whole command as a fresh process (start-up included) and, for scale, a naive
reader that json-loads every .traj in full, then aggregates the same way.

    uv run python bench/bench_results.py [--reps 7] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mlgym_tui.config.directions import MLGYM_DIRECTIONS

MODELS = [f"metagen-model{i:02d}" for i in range(13)]
RUNS_PER_MODEL = 4
TARGET_SECONDS = 1.0
BASELINES = {"regressionKaggleHousePrice": 0.88, "3SATTime": 16.2, "imageClassificationCifar10": 0.497,
             "imageClassificationFMnist": 0.784, "imageCaptioningCOCO": 0.28, "languageModelingFineWeb": 4.67,
             "naturalLanguageInferenceMNLI": 0.525, "battleOfSexes": 1.02, "prisonersDilemma": 2.37,
             "blotto": -0.248, "rlBreakoutMinAtar": 48.8, "rlMetaMazeMisc": 15.7, "rlMountainCarContinuous": 33.8}
EXIT_STATUSES = ["submitted"] * 6 + ["autosubmission (max_steps)", "exit_context", "exit_cost",
                                      "submission_not_found (no submission.csv)"]

NAIVE = r"""
import json, os, sys
from pathlib import Path
from mlgym_tui.evaluation.aggregate import aggregate
from mlgym_tui.evaluation.discovery import parse_mlgym_name, model_label
from mlgym_tui.evaluation.report_table import print_report
from mlgym_tui.evaluation.run_summary import RunSummary
runs = []
for dirpath, dirs, files in os.walk(sys.argv[1]):
    fields = parse_mlgym_name(os.path.basename(dirpath))
    if not fields:
        continue
    traj = json.load(open(os.path.join(dirpath, fields["task"] + ".traj")))
    results = json.load(open(os.path.join(dirpath, "results.json")))
    info = traj["info"]
    runs.append(RunSummary(path=Path(dirpath), layout="mlgym", task_id=fields["task"],
        model=model_label(fields["model"]), scores=results["agent"], baseline=results["baseline"],
        exit_status=info.get("exit_status"), cost=info["model_stats"]["total_cost"],
        steps=len(traj["trajectory"]), wall_time=sum(s["execution_time"] for s in traj["trajectory"])))
print_report(aggregate(runs))
"""


def _step(rng: random.Random, i: int) -> dict:
    observation = "\n".join(f"epoch {e}: loss {rng.uniform(0.1, 3):.4f} acc {rng.random():.4f}"
                            for e in range(rng.randint(2, 25)))
    thought = "DISCUSSION\n" + " ".join(rng.choice(["we", "train", "the", "model", "again", "with", "a",
                                                     "larger", "learning", "rate"]) for _ in range(rng.randint(20, 90)))
    action = rng.choice(["validate", "python train.py", "ls -la", "open \"train.py\"",
                         "edit 10:20\n    lr = 3e-4\nend_of_edit"])
    return {"action": action, "observation": observation, "response": f"{thought}\n```\n{action}\n```",
            "state": json.dumps({"open_file": "/home/agent/workspace/train.py", "working_dir": "/home/agent/workspace"}),
            "thought": thought, "execution_time": round(rng.uniform(0.05, 120), 3)}


def make_runs(root: Path, seed: int = 0) -> int:
    rng = random.Random(seed)
    count = 0
    for task, (metric, direction) in MLGYM_DIRECTIONS.items():
        base = BASELINES[task]
        for model in MODELS:
            for run_index in range(RUNS_PER_MODEL):
                name = (f"{model}__{task}__better_thought_action_parser_with_insert__t-0.00__p-0.95__c-4.00"
                        f"__install-0__parallel_agents_run_{run_index}")
                run_dir = root / task / name
                run_dir.mkdir(parents=True)
                status = rng.choice(EXIT_STATUSES)
                scale = 1 + rng.uniform(-0.2, 0.3) * (1 if direction == "maximize" else -1)
                scores = [] if status.startswith("submission_not_found") else [
                    {metric: base * scale * rng.uniform(0.9, 1.1)} for _ in range(rng.randint(1, 6))]
                steps = [_step(rng, i) for i in range(rng.randint(15, 45))]
                history = [{"role": "system", "content": "SETTING: you are an autonomous ML researcher " * 20,
                            "agent": "primary"}]
                history += [{"role": "assistant", "content": s["response"], "agent": "primary",
                             "thought": s["thought"], "action": s["action"]} for s in steps[:3]]
                traj = {"environment": "mlgym_main", "trajectory": steps, "history": history,
                        "info": {"model_stats": {"total_cost": round(rng.uniform(0.1, 4), 4), "task_cost": 0.0,
                                                 "tokens_sent": rng.randint(10**4, 10**6), "tokens_received": 5000,
                                                 "api_calls": len(steps)},
                                 "exit_status": status, "submission": "/home/agent/workspace/submission.csv",
                                 "score": scores, "summarizer": {}}}
                (run_dir / f"{task}.traj").write_text(json.dumps(traj, indent=2))
                (run_dir / "results.json").write_text(json.dumps({"agent": scores, "baseline": {metric: base}}))
                (run_dir / "args.yaml").write_text("agent:\n  model:\n    model_name: " + model + "\n")
                count += 1
    return count


def time_command(argv: list[str], reps: int) -> list[float]:
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        proc = subprocess.run(argv, capture_output=True, text=True, env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"})
        times.append(time.perf_counter() - start)
        if proc.returncode != 0:
            sys.exit(f"{' '.join(argv[:4])} failed ({proc.returncode}):\n{proc.stderr.strip()[-2000:]}")
    return times


def time_reading_in_process(root: Path, reps: int) -> tuple[float, float]:
    """Median seconds to read all runs: our reader vs json-loading every .traj and results.json in full."""
    from mlgym_tui.evaluation.discovery import find_runs
    from mlgym_tui.evaluation.run_reader import read_run

    found, _ = find_runs([root])
    ours, naive = [], []
    for _ in range(reps):
        start = time.perf_counter()
        for run in found:
            read_run(run)
        ours.append(time.perf_counter() - start)
        start = time.perf_counter()
        for run in found:
            traj = json.loads((run.path / f"{run.name_fields['task']}.traj").read_bytes())
            json.loads((run.path / "results.json").read_bytes())
            sum(step["execution_time"] for step in traj["trajectory"])
        naive.append(time.perf_counter() - start)
    return statistics.median(ours), statistics.median(naive)


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--keep", type=Path, help="generate into this folder and keep it")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        n = make_runs(root)
        size = sum(p.stat().st_size for p in root.rglob("*.traj"))
        print(f"{n} runs, .traj total {size / 1e6:.1f} MB (mean {size / n / 1e3:.0f} KB)")
        ours = time_command([sys.executable, "-m", "mlgym_tui.cli", "results", str(root)], args.reps)
        naive = time_command([sys.executable, "-c", NAIVE, str(root)], args.reps)
        read_ours, read_naive = time_reading_in_process(root, args.reps)
    print(f"mlgym-tui results: median {statistics.median(ours):.3f} s, p95 {p95(ours):.3f} s "
          f"(target <= {TARGET_SECONDS:.1f} s: {'met' if p95(ours) <= TARGET_SECONDS else 'MISSED'})")
    print(f"naive full json.load of every .traj: median {statistics.median(naive):.3f} s, p95 {p95(naive):.3f} s")
    print(f"speed-up (naive / ours, medians): {statistics.median(naive) / statistics.median(ours):.1f}x")
    print(f"reading stage alone, in process: ours {read_ours:.3f} s, naive {read_naive:.3f} s "
          f"({read_naive / read_ours:.1f}x)")


if __name__ == "__main__":
    main()
