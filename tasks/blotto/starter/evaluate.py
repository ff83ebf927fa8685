"""Evaluation script for the blotto task (readable copy).

mlgym-tui scores a submission in an evaluation container of its own: this
script runs as `python3 evaluate.py` under a user of its own, from a private
folder; your strategy.py runs in a separate process under your user, and the
`import strategy` below gets a stand-in module whose functions forward each
call (arguments and results as plain data) to that process. What your code
prints is shown to you, never read as a score. It imports `row_strategy` from
the workspace's strategy.py and plays repeated Colonel Blotto matches against
each fixed column strategy below. Its stdout is exactly one JSON object,
e.g. {"Score": 0.12}: the row player's mean result per round over all matches
(maximise; a round is worth +1 won, 0 drawn, -1 lost, so the range is -1 .. 1).
You can run this copy yourself from the workspace.

Rules: each round both colonels split exactly SOLDIERS soldiers over
BATTLEFIELDS battlefields (non-negative integers). A battlefield goes to whoever
put more soldiers on it (equal numbers: nobody). Whoever wins more battlefields
wins the round. Every random draw is seeded, so the same strategy always gets
the same score.
"""
import argparse
import importlib
import json
import random
import sys
import traceback
from pathlib import Path

import numpy as np

BATTLEFIELDS = 6
SOLDIERS = 120
ROUNDS = 10              # rounds per match; `history` grows from 0 to 9 entries
MATCHES_PER_OPPONENT = 400
SEED = 6120


class SubmissionError(Exception):
    """A problem with the submitted strategy that the agent can fix."""


def shuffled(values, rng):
    values = list(values)
    rng.shuffle(values)
    return values


def random_composition(rng, total=SOLDIERS, parts=BATTLEFIELDS):
    """A uniformly random way to write `total` as an ordered sum of `parts` non-negative integers."""
    cuts = sorted(rng.sample(range(total + parts - 1), parts - 1))
    bounds = [-1] + cuts + [total + parts - 1]
    return [bounds[i + 1] - bounds[i] - 1 for i in range(parts)]


# --- the column player's strategies: each sees the history as (row, column) allocation pairs ---

def col_uniform(history, rng):
    """20 soldiers everywhere."""
    return [SOLDIERS // BATTLEFIELDS] * BATTLEFIELDS


def col_random(history, rng):
    """A uniformly random allocation."""
    return random_composition(rng)


def col_three_fronts(history, rng):
    """40 soldiers on three random battlefields."""
    return shuffled([40, 40, 40, 0, 0, 0], rng)


def col_four_fronts(history, rng):
    """30 soldiers on four random battlefields."""
    return shuffled([30, 30, 30, 30, 0, 0], rng)


def col_tiered(history, rng):
    """A fixed uneven profile in random order."""
    return shuffled([35, 30, 25, 15, 10, 5], rng)


def col_noisy_uniform(history, rng):
    """About 20 everywhere, with soldiers moved between random battlefields."""
    alloc = [20] * BATTLEFIELDS
    for _ in range(15):
        src, dst = rng.randrange(BATTLEFIELDS), rng.randrange(BATTLEFIELDS)
        if alloc[src] > 0:
            alloc[src] -= 1
            alloc[dst] += 1
    return alloc


def col_counter(history, rng):
    """Beats the row player's previous allocation on its four cheapest battlefields, spreads the rest."""
    if not history:
        return random_composition(rng)
    last_row = list(history[-1][0])
    order = sorted(range(BATTLEFIELDS), key=lambda i: (last_row[i], rng.random()))
    alloc = [0] * BATTLEFIELDS
    for i in order[:4]:
        alloc[i] = last_row[i] + 1
    spare = SOLDIERS - sum(alloc)
    if spare < 0:  # cannot afford four wins: fall back to a random allocation
        return random_composition(rng)
    for k in range(spare):
        alloc[order[k % 4]] += 1
    return alloc


OPPONENTS = [col_uniform, col_random, col_three_fronts, col_four_fronts, col_tiered, col_noisy_uniform, col_counter]


# --- harness ---

def seed_submission(seed):
    """Seed the global generators your code draws from. Under mlgym-tui your module runs in a process of its
    own, so that process is seeded through the harness; run by hand, it shares this one."""
    random.seed(seed)
    np.random.seed(seed)
    try:
        import mlgym_submission_proxy  # present only beside the scorer in mlgym-tui's evaluation container
    except ImportError:
        return
    mlgym_submission_proxy.seed(seed)


def where(exc):
    """' (at file:line)' of the innermost frame; empty when the call crossed to the submission's own process,
    whose message already names the place."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames or any("mlgym_submission_proxy" in frame.filename for frame in frames):
        return ""
    return f" (at {Path(frames[-1].filename).name}:{frames[-1].lineno})"


def load_strategy():
    try:
        module = importlib.import_module("strategy")
    except Exception as exc:
        raise SubmissionError(f"could not import strategy.py: {type(exc).__name__}: {exc}") from None
    fn = getattr(module, "row_strategy", None)
    if not callable(fn):
        raise SubmissionError("strategy.py must define a function row_strategy(history) -> list of 6 ints")
    return fn


def validate_allocation(alloc):
    """Return the allocation as a list of ints, or raise SubmissionError saying what is wrong."""
    if isinstance(alloc, np.ndarray):
        if alloc.ndim != 1:
            raise SubmissionError(f"row_strategy returned an array of shape {alloc.shape}, expected ({BATTLEFIELDS},)")
        alloc = alloc.tolist()
    if not isinstance(alloc, (list, tuple)):
        raise SubmissionError(f"row_strategy must return a list of {BATTLEFIELDS} ints, got {type(alloc).__name__}")
    if len(alloc) != BATTLEFIELDS:
        raise SubmissionError(f"row_strategy returned {len(alloc)} numbers, expected {BATTLEFIELDS}: {list(alloc)}")
    out = []
    for value in alloc:
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise SubmissionError(f"allocation entries must be integers, got {value!r} in {list(alloc)}")
        if not float(value).is_integer():
            raise SubmissionError(f"allocation entries must be whole numbers of soldiers, got {value!r} in {list(alloc)}")
        if value < 0:
            raise SubmissionError(f"allocation entries must be non-negative, got {value!r} in {list(alloc)}")
        out.append(int(value))
    if sum(out) != SOLDIERS:
        raise SubmissionError(f"allocation must use exactly {SOLDIERS} soldiers, {out} uses {sum(out)}")
    return out


def checked_allocation(fn, history):
    try:
        alloc = fn([(list(r), list(c)) for r, c in history])
    except SubmissionError:
        raise
    except Exception as exc:
        raise SubmissionError(
            f"row_strategy raised {type(exc).__name__}: {exc}{where(exc)}"
        ) from None
    return validate_allocation(alloc)


def round_result(row, col):
    row_fields = sum(1 for r, c in zip(row, col) if r > c)
    col_fields = sum(1 for r, c in zip(row, col) if c > r)
    return (row_fields > col_fields) - (row_fields < col_fields)


def simulate(fn, matches_per_opponent):
    seed_submission(SEED)
    rng = random.Random(SEED + 1)  # the opponents' private randomness
    per_opponent = {}
    for opponent in OPPONENTS:
        total = 0
        for _ in range(matches_per_opponent):
            history = []
            for _ in range(ROUNDS):
                row = checked_allocation(fn, history)
                col = opponent(history, rng)
                total += round_result(row, col)
                history.append((row, col))
        per_opponent[opponent.__name__] = total / (matches_per_opponent * ROUNDS)
    return per_opponent


def main() -> None:
    parser = argparse.ArgumentParser(description="Evaluate strategy.py for blotto")
    parser.add_argument("--matches", type=int, default=MATCHES_PER_OPPONENT, help="matches per opponent")
    parser.add_argument("--verbose", action="store_true", help="also print the score against each opponent")
    args = parser.parse_args()
    try:
        per_opponent = simulate(load_strategy(), args.matches)
    except SubmissionError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        sys.exit(1)
    if args.verbose:
        for name, value in per_opponent.items():
            print(f"{name:>18}: {value:.4f}")
    score = sum(per_opponent.values()) / len(per_opponent)
    print(json.dumps({"Score": round(score, 6)}))


if __name__ == "__main__":
    main()
