"""Evaluation script for the sat3Heuristic task (readable copy).

mlgym-tui scores a submission in an evaluation container of its own: this
script runs as `python3 evaluate.py` under a user of its own, from a private
folder; your heuristic.py runs in a separate process under your user, and the
`import heuristic` below gets a stand-in module whose functions forward each
call (arguments and results as plain data) to that process. What your code
prints is shown to you, never read as a score. It imports `choose_branch` from
the workspace's heuristic.py and solves every instance with the DPLL solver
below, which asks your heuristic for each branching decision. Its stdout is
exactly one JSON object, e.g. {"Decisions": 210.5, "Solved": 1.0}:

  Decisions (primary, minimise): mean number of branching decisions per
      instance, i.e. calls to choose_branch. An instance that needs more than
      DECISION_BUDGET decisions is abandoned and counts as DECISION_BUDGET.
  Solved (maximise): fraction of instances finished within the budget.

Every result is checked: a model must satisfy the formula and a SAT/UNSAT
verdict must match the known answer, otherwise the evaluation fails.

The hidden instances are not in your workspace. Score your heuristic on the
development instances (same generator, different seed) with:
    python3 evaluate.py --instances data/dev_instances.json
"""
import argparse
import importlib
import json
import sys
import time
import traceback
from pathlib import Path

DECISION_BUDGET = 3000
DEFAULT_INSTANCES = Path(__file__).resolve().parent / "instances.json"


class SubmissionError(Exception):
    """A problem with the submitted heuristic that the agent can fix."""


class BudgetExceeded(Exception):
    pass


def assign(clauses, literal):
    """Make `literal` true: drop satisfied clauses, shorten the others. None on a conflict (empty clause)."""
    out = []
    for clause in clauses:
        if literal in clause:
            continue
        if -literal in clause:
            clause = tuple(x for x in clause if x != -literal)
            if not clause:
                return None
        out.append(clause)
    return out


def unit_propagate(clauses, assignment):
    """Assign the literals of unit clauses until none is left. Returns (clauses, assignment) or None on a conflict."""
    assignment = dict(assignment)
    while True:
        unit = next((c[0] for c in clauses if len(c) == 1), None)
        if unit is None:
            return clauses, assignment
        assignment[abs(unit)] = unit > 0
        clauses = assign(clauses, unit)
        if clauses is None:
            return None


class Solver:
    """DPLL with unit propagation; the branching variable and its first value come from `heuristic`."""

    def __init__(self, heuristic, num_vars, budget=DECISION_BUDGET):
        self.heuristic = heuristic
        self.num_vars = num_vars
        self.budget = budget
        self.decisions = 0

    def ask(self, clauses, assignment):
        try:
            choice = self.heuristic(tuple(clauses), dict(assignment), self.num_vars)
        except Exception as exc:
            raise SubmissionError(
                f"choose_branch raised {type(exc).__name__}: {exc}{where(exc)}"
            ) from None
        if not isinstance(choice, (tuple, list)) or len(choice) != 2:
            raise SubmissionError(f"choose_branch must return a (variable, value) pair, got {choice!r}")
        var, value = choice
        if isinstance(var, bool) or not hasattr(var, "__index__"):
            raise SubmissionError(f"choose_branch returned variable {var!r}; expected an int in 1..{self.num_vars}")
        var = int(var)
        if not 1 <= var <= self.num_vars:
            raise SubmissionError(f"choose_branch returned variable {var}, outside 1..{self.num_vars}")
        if var in assignment:
            raise SubmissionError(f"choose_branch returned variable {var}, which is already assigned")
        if value not in (True, False) or not hasattr(value, "__index__"):
            raise SubmissionError(f"choose_branch returned value {value!r}; expected True or False")
        return var, bool(value)

    def solve(self, clauses, assignment=None):
        """Return a satisfying assignment (dict var -> bool) or None if there is none."""
        state = unit_propagate(clauses, assignment or {})
        if state is None:
            return None
        clauses, assignment = state
        if not clauses:
            return assignment
        if self.decisions >= self.budget:
            raise BudgetExceeded
        var, value = self.ask(clauses, assignment)
        self.decisions += 1
        for choice in (value, not value):
            reduced = assign(clauses, var if choice else -var)
            if reduced is None:
                continue
            result = self.solve(reduced, {**assignment, var: choice})
            if result is not None:
                return result
        return None


def satisfies(clauses, model):
    return all(any(model.get(abs(x), False) == (x > 0) for x in clause) for clause in clauses)


def where(exc):
    """' (at file:line)' of the innermost frame; empty when the call crossed to the submission's own process,
    whose message already names the place."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames or any("mlgym_submission_proxy" in frame.filename for frame in frames):
        return ""
    return f" (at {Path(frames[-1].filename).name}:{frames[-1].lineno})"


def load_instances(path):
    if not path.is_file():
        raise SubmissionError(
            f"instances file {path} not found (the test instances are hidden; "
            "use --instances data/dev_instances.json to score the development set)"
        )
    data = json.loads(path.read_text())
    return data["instances"]


def load_heuristic():
    try:
        module = importlib.import_module("heuristic")
    except Exception as exc:
        raise SubmissionError(f"could not import heuristic.py: {type(exc).__name__}: {exc}") from None
    fn = getattr(module, "choose_branch", None)
    if not callable(fn):
        raise SubmissionError("heuristic.py must define choose_branch(clauses, assignment, num_vars) -> (var, value)")
    return fn


def evaluate(heuristic, instances, budget, verbose=False):
    decisions, solved = [], 0
    for inst in instances:
        clauses = [tuple(c) for c in inst["clauses"]]
        solver = Solver(heuristic, inst["num_vars"], budget)
        start = time.perf_counter()
        try:
            model = solver.solve(clauses)
        except BudgetExceeded:
            decisions.append(budget)
            if verbose:
                print(f"{inst['name']:>10}: budget of {budget} decisions exceeded")
            continue
        if model is not None and not satisfies(clauses, model):
            raise SubmissionError(f"{inst['name']}: the solver returned an assignment that does not satisfy the formula")
        found = model is not None
        if "satisfiable" in inst and found != inst["satisfiable"]:
            raise SubmissionError(
                f"{inst['name']}: solver said {'SAT' if found else 'UNSAT'} but the instance is "
                f"{'SAT' if inst['satisfiable'] else 'UNSAT'} (did heuristic.py tamper with the solver?)"
            )
        solved += 1
        decisions.append(solver.decisions)
        if verbose:
            print(f"{inst['name']:>10}: {'SAT  ' if found else 'UNSAT'} {solver.decisions:6d} decisions "
                  f"{time.perf_counter() - start:6.2f}s")
    return {"Decisions": sum(decisions) / len(decisions), "Solved": solved / len(instances)}


def main() -> None:
    parser = argparse.ArgumentParser(description="Evaluate heuristic.py for sat3Heuristic")
    parser.add_argument("--instances", default=str(DEFAULT_INSTANCES), help="JSON file of instances")
    parser.add_argument("--budget", type=int, default=DECISION_BUDGET, help="decision budget per instance")
    parser.add_argument("--verbose", action="store_true", help="print one line per instance")
    args = parser.parse_args()
    try:
        metrics = evaluate(load_heuristic(), load_instances(Path(args.instances)), args.budget, args.verbose)
    except SubmissionError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        sys.exit(1)
    print(json.dumps({k: round(v, 4) for k, v in metrics.items()}))


if __name__ == "__main__":
    main()
