"""Generate the sat3Heuristic instances: random 3-SAT at the phase transition.

Run inside the task image:  python3 tasks/sat3Heuristic/make_data.py
Writes data/dev_instances.json (visible to the agent) and eval/instances.json
(hidden test set). Each set has as many satisfiable as unsatisfiable
instances; the verdict is stored with each instance so that the evaluator can
check the solver's answer. Deterministic: fixed seeds, Python's `random`.
"""
import json
import random
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "starter"))
from evaluate import Solver  # noqa: E402  (the evaluator's own DPLL)

NUM_VARS = 50
CLAUSE_RATIO = 4.26
PER_VERDICT = 15  # satisfiable and unsatisfiable instances per set


def random_3sat(rng, num_vars, num_clauses):
    clauses = []
    for _ in range(num_clauses):
        variables = rng.sample(range(1, num_vars + 1), 3)
        clauses.append([v if rng.random() < 0.5 else -v for v in variables])
    return clauses


def jeroslow_wang(clauses, assignment, num_vars):
    score = {}
    for clause in clauses:
        weight = 2.0 ** -len(clause)
        for lit in clause:
            score[lit] = score.get(lit, 0.0) + weight
    best = max(score, key=lambda lit: (score[lit] + score.get(-lit, 0.0), lit))
    return abs(best), best > 0


def build(seed, prefix):
    rng = random.Random(seed)
    num_clauses = round(CLAUSE_RATIO * NUM_VARS)
    kept = {True: [], False: []}
    while min(len(v) for v in kept.values()) < PER_VERDICT:
        clauses = random_3sat(rng, NUM_VARS, num_clauses)
        satisfiable = Solver(jeroslow_wang, NUM_VARS, budget=10**7).solve([tuple(c) for c in clauses]) is not None
        if len(kept[satisfiable]) < PER_VERDICT:
            kept[satisfiable].append(clauses)
    instances = []
    for i, (sat_clauses, unsat_clauses) in enumerate(zip(kept[True], kept[False])):
        for clauses, verdict in ((sat_clauses, True), (unsat_clauses, False)):
            instances.append({"name": f"{prefix}{len(instances):02d}", "num_vars": NUM_VARS,
                              "satisfiable": verdict, "clauses": clauses})
    return {"generator": f"uniform random 3-SAT, n={NUM_VARS}, m={num_clauses}, seed={seed}",
            "instances": instances}


def dump(data, path):
    path.parent.mkdir(exist_ok=True)
    lines = ",\n".join(json.dumps(inst, separators=(",", ":")) for inst in data["instances"])
    path.write_text(f'{{"generator": {json.dumps(data["generator"])},\n"instances": [\n{lines}\n]}}\n')


def main() -> None:
    dump(build(31337, "dev"), HERE / "data" / "dev_instances.json")
    dump(build(80085, "test"), HERE / "eval" / "instances.json")
    print("wrote data/dev_instances.json and eval/instances.json")


if __name__ == "__main__":
    main()
