"""Your strategy for the battleOfSexes task. Edit `row_strategy`.

You are the row player in a 10-round repeated Battle of the Sexes. Each round
both players pick 0 or 1 at the same time. Payoffs (you, opponent):
    both 0 -> (2, 1)    both 1 -> (1, 2)    different -> (0, 0)
So you prefer meeting on 0, the opponent prefers meeting on 1, and missing each
other is worth nothing to either.

`history` is a list of (your_move, opponent_move) tuples for the rounds already
played in the current game (empty on the first round). Return 0 or 1 (an int).
You may use the `random` module and NumPy; keep each call fast.
"""
import random


def row_strategy(history):
    """Baseline: open with 0, then echo the opponent's last move, exploring at random 20% of the time."""
    if not history:
        return 0
    if random.random() < 0.2:
        return random.randint(0, 1)
    return history[-1][1]
