#!/usr/bin/env bash
# Verify every bundled task end to end in the task image, the way the environment runs it:
#   * starter_code -> a scratch workspace owned by uid 1000, dataset data -> workspace/data
#   * evaluation_paths (from the fresh workspace) + secret_files -> a root-only eval directory
#   * CSV tasks: run baseline.py as uid 1000 in the workspace
#   * run `python3 evaluate.py [args]` as root from the eval directory with the workspace on PYTHONPATH,
#     REPEAT times, and compare the last stdout line with baseline_scores (baseline_tolerance)
#   * break the submission in several ways and check each gives a one-line "Error: ..." on stderr
#     and a non-zero exit
# Usage: tasks/verify_in_docker.sh [task_id ...]      (env: REPEAT=5, IMAGE=mlgym-tui-task:latest)
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
IMAGE="${IMAGE:-mlgym-tui-task:latest}"
export DOCKER_HOST="${DOCKER_HOST:-unix:///run/mlgym-ci/docker.sock}"

exec docker run --rm -i --network none --cpus 1 --memory 2g --pids-limit 256 -u root \
  -e REPEAT="${REPEAT:-5}" -v "$REPO/tasks:/repo/tasks:ro" "$IMAGE" python3 - "$@" <<'PY'
import json, os, shutil, subprocess, sys, time
from pathlib import Path

import yaml

REPO = Path("/repo")
SCRATCH = Path("/tmp/verify")
REPEAT = int(os.environ.get("REPEAT", "5"))
EVAL_LIMIT_S = 30.0
REQUIRED = ["id", "name", "description", "dataset_configs", "task_entrypoint", "training_timeout",
            "use_generic_conda", "requirements_path", "starter_code", "baseline_paths", "baseline_scores",
            "sample_submission", "evaluation_paths", "evaluation_read_only", "secret_files", "memory_path",
            "benchmark_name", "domain", "metrics", "baseline_tolerance", "network", "limits"]

# Broken submissions: file name in the workspace -> content (None deletes the file).
STRATEGY_BROKEN = {
    "raises": {"strategy.py": "def row_strategy(history):\n    raise RuntimeError('boom')\n"},
    "wrong return type": {"strategy.py": "def row_strategy(history):\n    return 'cooperate'\n"},
    "out-of-range move": {"strategy.py": "def row_strategy(history):\n    return 2\n"},
    "missing function": {"strategy.py": "def other(history):\n    return 0\n"},
    "syntax error": {"strategy.py": "def row_strategy(history)\n    return 0\n"},
    "missing file": {"strategy.py": None},
}
BROKEN = {
    "battleOfSexes": STRATEGY_BROKEN,
    "prisonersDilemma": STRATEGY_BROKEN,
    "blotto": {
        "raises": {"strategy.py": "def row_strategy(history):\n    raise ValueError('boom')\n"},
        "wrong total": {"strategy.py": "def row_strategy(history):\n    return [20] * 5 + [21]\n"},
        "wrong length": {"strategy.py": "def row_strategy(history):\n    return [24] * 5\n"},
        "negative entry": {"strategy.py": "def row_strategy(history):\n    return [-10, 30, 25, 25, 25, 25]\n"},
        "fractional entry": {"strategy.py": "def row_strategy(history):\n    return [20.5, 19.5, 20, 20, 20, 20]\n"},
        "wrong return type": {"strategy.py": "def row_strategy(history):\n    return '20,20,20,20,20,20'\n"},
        "missing function": {"strategy.py": "X = 1\n"},
    },
    "sat3Heuristic": {
        "raises": {"heuristic.py": "def choose_branch(clauses, assignment, num_vars):\n    return 1 / 0\n"},
        "assigned variable": {"heuristic.py": "def choose_branch(clauses, assignment, num_vars):\n"
                                              "    return 1, True\n"},
        "out of range": {"heuristic.py": "def choose_branch(clauses, assignment, num_vars):\n"
                                         "    return num_vars + 1, True\n"},
        "wrong return type": {"heuristic.py": "def choose_branch(clauses, assignment, num_vars):\n"
                                              "    return abs(clauses[0][0])\n"},
        "tampering": {"heuristic.py": "import sys\n"
                                      "def _fake(self, clauses, assignment=None):\n    return None\n"
                                      "def choose_branch(clauses, assignment, num_vars):\n"
                                      "    sys.modules['__main__'].Solver.solve = _fake\n"
                                      "    return abs(clauses[0][0]), True\n"},
        "missing file": {"heuristic.py": None},
    },
    "mountainCarContinuous": {
        "raises": {"policy.py": "def act(observation):\n    raise KeyError('w')\n"},
        "nan action": {"policy.py": "def act(observation):\n    return float('nan')\n"},
        "vector action": {"policy.py": "def act(observation):\n    return [1.0, -1.0]\n"},
        "string action": {"policy.py": "def act(observation):\n    return 'left'\n"},
        "missing function": {"policy.py": "def policy(observation):\n    return 0.0\n"},
    },
}


def csv_broken(sample: Path) -> dict:
    """Broken CSV submissions derived from the task's sample submission."""
    lines = sample.read_text().splitlines()
    header, rows = lines[0], lines[1:]
    cols = header.split(",")
    first = rows[0].split(",")
    return {
        "missing file": {"submission.csv": None},
        "empty file": {"submission.csv": ""},
        "wrong columns": {"submission.csv": "\n".join([cols[0] + ",prediction"] + rows) + "\n"},
        "extra column": {"submission.csv": "\n".join([header + ",extra"] + [r + ",1" for r in rows]) + "\n"},
        "missing row": {"submission.csv": "\n".join([header] + rows[:-1]) + "\n"},
        "duplicate id": {"submission.csv": "\n".join([header] + rows[:-1] + [rows[0]]) + "\n"},
        "non-numeric value": {"submission.csv": "\n".join([header, first[0] + ",abc"] + rows[1:]) + "\n"},
        "unknown id": {"submission.csv": "\n".join([header, "999999," + first[1]] + rows[1:]) + "\n"},
    }


def as_agent():
    os.setgid(1000)
    os.setuid(1000)


def run(cmd, cwd, env=None, agent=False, timeout=600):
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout,
                          preexec_fn=as_agent if agent else None)
    return proc, time.perf_counter() - start


def eval_cmd(task, ws):
    entry = task["task_entrypoint"]
    script = task["evaluation_paths"][0]
    if entry == "CSVSubmissionTasks":
        return ["python3", script, "--submission_file", str(ws / "submission.csv")]
    if entry == "PythonSubmissionTasks":
        return ["python3", script]
    if entry == "ModelSubmissionTasks":
        return ["python3", script, "--config_fname", str(sorted(ws.glob("*.yaml"))[0])]
    raise SystemExit(f"unsupported entrypoint {entry}")


def close(got, want, tol):
    return abs(got - want) <= tol * abs(want) + 1e-6


def prepare(task, yaml_path, root):
    ws, ev = root / "workspace", root / "eval"
    shutil.rmtree(root, ignore_errors=True)
    ws.mkdir(parents=True)
    for rel in task["starter_code"]:
        shutil.copy2(REPO / rel, ws / Path(rel).name)
    for rel in task["dataset_configs"] or []:
        dataset = yaml.safe_load((yaml_path.parent / rel).read_text())
        shutil.copytree(REPO / dataset["data_path"], ws / "data")
    subprocess.run(["chown", "-R", "1000:1000", str(ws)], check=True)
    ev.mkdir(parents=True)
    for rel in task["evaluation_paths"]:
        shutil.copy2(ws / rel, ev / Path(rel).name)
    for rel in task["secret_files"] or []:
        src = REPO / rel
        shutil.copy2(src, ev / src.name)
        leaked = [p for p in ws.rglob("*") if p.is_file() and p.read_bytes() == src.read_bytes()]
        if leaked:
            raise AssertionError(f"secret file {rel} is visible in the workspace as {leaked[0]}")
    os.chmod(ev, 0o700)
    return ws, ev


def verify(yaml_path):
    task = yaml.safe_load(yaml_path.read_text())
    tid = task["id"]
    problems = []
    missing = [k for k in REQUIRED if k not in task]
    if missing:
        problems.append(f"yaml lacks fields {missing}")
    if tid != yaml_path.stem:
        problems.append(f"id {tid!r} differs from the file name")
    primaries = [m for m in task["metrics"] if m.get("primary")]
    if len(primaries) != 1:
        problems.append("metrics must have exactly one primary")
    names = {m["name"] for m in task["metrics"]}
    if set(task["baseline_scores"][0]) != names:
        problems.append(f"baseline_scores keys {sorted(task['baseline_scores'][0])} != metrics {sorted(names)}")
    root = SCRATCH / tid
    ws, ev = prepare(task, yaml_path, root)
    env = {**os.environ, "PYTHONPATH": str(ws), "HOME": "/root"}  # evaluate.py imports the agent module by name
    baseline_s = 0.0
    if task["task_entrypoint"] == "CSVSubmissionTasks":
        proc, baseline_s = run(["python3", task["baseline_paths"][0]], ws,
                               env={**os.environ, "HOME": "/home/agent"}, agent=True)
        if proc.returncode != 0:
            problems.append(f"baseline failed: {proc.stderr.strip().splitlines()[-1:]}")
    want, tol = task["baseline_scores"][0], float(task["baseline_tolerance"])
    times, results = [], []
    for _ in range(REPEAT):
        proc, secs = run(eval_cmd(task, ws), ev, env=env)
        times.append(secs)
        if proc.returncode != 0:
            problems.append(f"evaluation failed: {proc.stderr.strip()}")
            break
        metrics = json.loads(proc.stdout.strip().splitlines()[-1])
        results.append(metrics)
        for name, value in want.items():
            if name not in metrics or not close(float(metrics[name]), float(value), tol):
                problems.append(f"{name}: got {metrics.get(name)}, baseline_scores says {value} (tol {tol})")
        if problems:
            break
    if max(times, default=0) > EVAL_LIMIT_S:
        problems.append(f"evaluation took {max(times):.1f}s > {EVAL_LIMIT_S}s")
    primary = primaries[0]["name"] if primaries else None
    spread = (max(r[primary] for r in results) - min(r[primary] for r in results)) if results and primary else 0.0

    cases = BROKEN.get(tid) or (csv_broken(REPO / task["sample_submission"])
                                if task["task_entrypoint"] == "CSVSubmissionTasks" else {})
    if task["task_entrypoint"] == "CSVSubmissionTasks":
        # The sample submission itself must be a valid submission.
        shutil.copy2(REPO / task["sample_submission"], ws / "submission.csv")
        proc, _ = run(eval_cmd(task, ws), ev, env=env)
        if proc.returncode != 0:
            problems.append(f"sample submission rejected: {proc.stderr.strip()}")
    errors = []
    for label, files in cases.items():
        ws, ev = prepare(task, yaml_path, root)
        for name, content in files.items():
            if content is None:
                (ws / name).unlink(missing_ok=True)
            else:
                (ws / name).write_text(content)
        proc, _ = run(eval_cmd(task, ws), ev, env=env, timeout=120)
        err = proc.stderr.strip().splitlines()
        stdout_json = any(line.strip().startswith("{") for line in proc.stdout.splitlines())
        ok = proc.returncode != 0 and len(err) == 1 and err[0].startswith("Error:") and not stdout_json
        if not ok:
            problems.append(f"broken submission '{label}' not rejected cleanly: rc={proc.returncode} "
                            f"stderr={proc.stderr.strip()[:300]!r} stdout={proc.stdout.strip()[-200:]!r}")
        errors.append((label, err[0] if err else ""))
    shutil.rmtree(root, ignore_errors=True)
    return {"id": tid, "entrypoint": task["task_entrypoint"], "primary": primary,
            "direction": primaries[0]["direction"] if primaries else "?", "metrics": results[0] if results else {},
            "eval_s": max(times, default=0.0), "baseline_s": baseline_s, "runs": len(results), "spread": spread,
            "errors": errors, "problems": problems}


def main():
    wanted = set(sys.argv[1:])
    paths = sorted(p for p in (REPO / "tasks").glob("*.yaml") if not wanted or p.stem in wanted)
    if wanted - {p.stem for p in paths}:
        raise SystemExit(f"unknown task ids: {sorted(wanted - {p.stem for p in paths})}")
    failed = 0
    for path in paths:
        try:
            r = verify(path)
        except Exception as exc:  # a broken task definition
            r = {"id": path.stem, "problems": [f"{type(exc).__name__}: {exc}"]}
        status = "FAIL" if r["problems"] else "ok"
        failed += bool(r["problems"])
        if "entrypoint" in r:
            print(f"[{status}] {r['id']}: {r['entrypoint']}, {r['primary']} ({r['direction']}); "
                  f"metrics {json.dumps(r['metrics'])}; eval {r['eval_s']:.2f}s (max of {r['runs']}), "
                  f"primary spread {r['spread']:.6g}; baseline run {r['baseline_s']:.2f}s")
            for label, message in r["errors"]:
                print(f"        broken: {label:<20} -> {message}")
        else:
            print(f"[{status}] {r['id']}")
        for problem in r["problems"]:
            print(f"    PROBLEM: {problem}")
        sys.stdout.flush()
    print(f"{len(paths) - failed}/{len(paths)} tasks verified")
    sys.exit(1 if failed else 0)


main()
PY
