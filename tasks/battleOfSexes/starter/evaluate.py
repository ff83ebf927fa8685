"""Evaluation script for the battleOfSexes task (readable copy).

mlgym-tui scores a submission in an evaluation container of its own: this
script runs as `python3 evaluate.py` under a user of its own, from a private
folder; your strategy.py runs in a separate process under your user, and the
`import strategy` below gets a stand-in module whose functions forward each
call (arguments and results as plain data) to that process. What your code
prints is shown to you, never read as a score. It imports `row_strategy` from
the workspace's strategy.py and plays repeated Battle of the Sexes games
against each fixed column strategy below. Its stdout is exactly one JSON
object, e.g. {"Score": 1.02}: the row player's mean payoff per round over all
games (maximise). You can run this copy yourself from the workspace.

Payoffs (row, column); moves are 0 or 1:
    both 0 -> (2, 1)    both 1 -> (1, 2)    different -> (0, 0)

Every random draw is seeded, so the same strategy always gets the same score.
"""
import argparse
import importlib
import json
import random
import sys
import traceback
from pathlib import Path

import numpy as np

ROUNDS = 10            # rounds per game; `history` grows from 0 to 9 entries
GAMES_PER_OPPONENT = 2000
SEED = 4242
PAYOFF = {(0, 0): (2, 1), (1, 1): (1, 2), (0, 1): (0, 0), (1, 0): (0, 0)}


class SubmissionError(Exception):
    """A problem with the submitted strategy that the agent can fix."""


# --- the column player's strategies: each sees the history as (row, column) pairs ---

def col_stubborn(history, rng):
    """Insists on its favourite outcome (1), giving in one time in ten."""
    return 0 if rng.random() < 0.1 else 1


def col_follower(history, rng):
    """Copies the row player's previous move; opens at random."""
    return history[-1][0] if history else rng.randint(0, 1)


def col_alternator(history, rng):
    """Plays 1, 0, 1, 0, ... regardless of the row player."""
    return 1 if len(history) % 2 == 0 else 0


def col_loyal(history, rng):
    """Opens with 1; keeps a move that coordinated, else moves to the row's last move 70% of the time."""
    if not history:
        return 1
    row_last, col_last = history[-1]
    if row_last == col_last:
        return col_last
    return row_last if rng.random() < 0.7 else col_last


def col_majority(history, rng):
    """Plays the row player's most frequent move so far (ties: 1)."""
    zeros = sum(1 for row, _ in history if row == 0)
    return 0 if zeros > len(history) - zeros else 1


def col_random(history, rng):
    """Uniformly random."""
    return rng.randint(0, 1)


OPPONENTS = [col_stubborn, col_follower, col_alternator, col_loyal, col_majority, col_random]


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
        raise SubmissionError("strategy.py must define a function row_strategy(history) -> 0 or 1")
    return fn


def checked_move(fn, history):
    try:
        move = fn([tuple(h) for h in history])
    except Exception as exc:
        raise SubmissionError(
            f"row_strategy raised {type(exc).__name__}: {exc}{where(exc)}"
        ) from None
    if isinstance(move, (bool, np.bool_)) or not isinstance(move, (int, np.integer)) or move not in (0, 1):
        raise SubmissionError(f"row_strategy must return the int 0 or 1, got {move!r} ({type(move).__name__})")
    return int(move)


def simulate(fn, games_per_opponent):
    seed_submission(SEED)
    rng = random.Random(SEED + 1)  # the opponents' private randomness
    per_opponent = {}
    for opponent in OPPONENTS:
        total = 0
        for _ in range(games_per_opponent):
            history = []
            for _ in range(ROUNDS):
                row = checked_move(fn, history)
                col = opponent(history, rng)
                total += PAYOFF[(row, col)][0]
                history.append((row, col))
        per_opponent[opponent.__name__] = total / (games_per_opponent * ROUNDS)
    return per_opponent


def main() -> None:
    parser = argparse.ArgumentParser(description="Evaluate strategy.py for battleOfSexes")
    parser.add_argument("--games", type=int, default=GAMES_PER_OPPONENT, help="games per opponent")
    parser.add_argument("--verbose", action="store_true", help="also print the score against each opponent")
    args = parser.parse_args()
    try:
        per_opponent = simulate(load_strategy(), args.games)
    except SubmissionError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        sys.exit(1)
    if args.verbose:
        for name, value in per_opponent.items():
            print(f"{name:>16}: {value:.4f}")
    score = sum(per_opponent.values()) / len(per_opponent)
    print(json.dumps({"Score": round(score, 6)}))


if __name__ == "__main__":
    main()
