"""Evaluation script for the prisonersDilemma task (readable copy).

The environment runs `python3 evaluate.py` (as root, from a private directory)
with MLGYM_WORKSPACE pointing at your workspace; it imports `row_strategy`
from the workspace's strategy.py and plays iterated prisoner's dilemma games
against each fixed column strategy below. The last line of stdout is one JSON
object, e.g. {"Score": 2.4}: the row player's mean payoff per round over all
games (maximise). You can run this copy yourself from the workspace.

Moves: 0 = cooperate, 1 = defect. Payoffs (row, column):
    (0, 0) -> (3, 3)   (0, 1) -> (0, 5)   (1, 0) -> (5, 0)   (1, 1) -> (1, 1)
A game lasts between MIN_ROUNDS and MAX_ROUNDS rounds (uniformly random, not
told to the players). Every random draw is seeded, so the same strategy always
gets the same score.
"""
import argparse
import importlib
import json
import os
import random
import sys
import traceback
from pathlib import Path

import numpy as np

MIN_ROUNDS, MAX_ROUNDS = 20, 40
GAMES_PER_OPPONENT = 600
SEED = 1984
PAYOFF = {(0, 0): (3, 3), (0, 1): (0, 5), (1, 0): (5, 0), (1, 1): (1, 1)}


class SubmissionError(Exception):
    """A problem with the submitted strategy that the agent can fix."""


# --- the column player's strategies: each sees the history as (row, column) pairs ---

def col_always_cooperate(history, rng):
    return 0


def col_always_defect(history, rng):
    return 1


def col_tit_for_tat(history, rng):
    """Cooperates first, then repeats the row player's last move."""
    return history[-1][0] if history else 0


def col_suspicious_tit_for_tat(history, rng):
    """Defects first, then repeats the row player's last move."""
    return history[-1][0] if history else 1


def col_grim_trigger(history, rng):
    """Cooperates until the row player defects once, then defects for ever."""
    return 1 if any(row == 1 for row, _ in history) else 0


def col_pavlov(history, rng):
    """Win-stay, lose-shift: keeps its move after a payoff of 3 or 5, switches after 0 or 1."""
    if not history:
        return 0
    row, col = history[-1]
    return col if PAYOFF[(row, col)][1] >= 3 else 1 - col


def col_tit_for_two_tats(history, rng):
    """Defects only after two row defections in a row."""
    return 1 if len(history) >= 2 and history[-1][0] == 1 and history[-2][0] == 1 else 0


def col_noisy_tit_for_tat(history, rng):
    """Tit for tat whose move is flipped 10% of the time."""
    move = history[-1][0] if history else 0
    return 1 - move if rng.random() < 0.1 else move


def col_random(history, rng):
    return rng.randint(0, 1)


def col_prober(history, rng):
    """Opens D, C, C; if the row player never retaliated, defects for ever, else plays tit for tat."""
    opening = (1, 0, 0)
    if len(history) < 3:
        return opening[len(history)]
    if history[1][0] == 0 and history[2][0] == 0:
        return 1
    return history[-1][0]


OPPONENTS = [
    col_always_cooperate, col_always_defect, col_tit_for_tat, col_suspicious_tit_for_tat, col_grim_trigger,
    col_pavlov, col_tit_for_two_tats, col_noisy_tit_for_tat, col_random, col_prober,
]


# --- harness ---

def load_strategy():
    workspace = os.environ.get("MLGYM_WORKSPACE", os.getcwd())
    sys.path.insert(0, workspace)
    try:
        module = importlib.import_module("strategy")
    except Exception as exc:
        raise SubmissionError(f"could not import strategy.py from {workspace}: {type(exc).__name__}: {exc}") from None
    fn = getattr(module, "row_strategy", None)
    if not callable(fn):
        raise SubmissionError("strategy.py must define a function row_strategy(history) -> 0 or 1")
    return fn


def checked_move(fn, history):
    try:
        move = fn([tuple(h) for h in history])
    except Exception as exc:
        where = traceback.extract_tb(exc.__traceback__)[-1]
        raise SubmissionError(
            f"row_strategy raised {type(exc).__name__}: {exc} (at {Path(where.filename).name}:{where.lineno})"
        ) from None
    if isinstance(move, (bool, np.bool_)) or not isinstance(move, (int, np.integer)) or move not in (0, 1):
        raise SubmissionError(f"row_strategy must return the int 0 or 1, got {move!r} ({type(move).__name__})")
    return int(move)


def simulate(fn, games_per_opponent):
    random.seed(SEED)              # the agent's own randomness, if any
    np.random.seed(SEED)
    rng = random.Random(SEED + 1)  # the opponents' and the game lengths' private randomness
    per_opponent = {}
    for opponent in OPPONENTS:
        total = rounds = 0
        for _ in range(games_per_opponent):
            history = []
            for _ in range(rng.randint(MIN_ROUNDS, MAX_ROUNDS)):
                row = checked_move(fn, history)
                col = opponent(history, rng)
                total += PAYOFF[(row, col)][0]
                history.append((row, col))
            rounds += len(history)
        per_opponent[opponent.__name__] = total / rounds
    return per_opponent


def main() -> None:
    parser = argparse.ArgumentParser(description="Evaluate strategy.py for prisonersDilemma")
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
            print(f"{name:>28}: {value:.4f}")
    score = sum(per_opponent.values()) / len(per_opponent)
    print(json.dumps({"Score": round(score, 6)}))


if __name__ == "__main__":
    main()
