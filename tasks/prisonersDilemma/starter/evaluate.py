"""Evaluation script for the prisonersDilemma task (readable copy).

mlgym-tui scores a submission in an evaluation container of its own: this
script runs as `python3 evaluate.py` under a user of its own, from a private
folder; your strategy.py runs in a separate process under your user, and the
`import strategy` below gets a stand-in module whose functions forward each
call (arguments and results as plain data) to that process. What your code
prints is shown to you, never read as a score. It imports `row_strategy` from
the workspace's strategy.py and plays iterated prisoner's dilemma games against
each fixed column strategy below. Its stdout is exactly one JSON object,
e.g. {"Score": 2.4}: the row player's mean payoff per round over all games
(maximise). You can run this copy yourself from the workspace.

Moves: 0 = cooperate, 1 = defect. Payoffs (row, column):
    (0, 0) -> (3, 3)   (0, 1) -> (0, 5)   (1, 0) -> (5, 0)   (1, 1) -> (1, 1)
A game lasts between MIN_ROUNDS and MAX_ROUNDS rounds (uniformly random, not
told to the players). Every random draw is seeded, so the same strategy always
gets the same score.
"""
import argparse
import importlib
import json
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
