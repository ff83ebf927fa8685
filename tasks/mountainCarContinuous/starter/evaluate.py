"""Evaluation script for the mountainCarContinuous task (readable copy).

mlgym-tui scores a submission in an evaluation container of its own: this
script runs as `python3 evaluate.py` under a user of its own, from a private
folder; your policy.py runs in a separate process under your user, and the
`import policy` below gets a stand-in module whose functions forward each call
(arguments and results as plain data) to that process. What your code prints is
shown to you, never read as a score. It imports `act` from the workspace's
policy.py and runs EPISODES episodes of the continuous mountain car below (the
same dynamics as mountain_car.py), each from a start drawn with its own fixed
seed. Its stdout is exactly one JSON object, e.g. {"Reward Mean": 80.1,
"Reward Std": 30.2}:

  Reward Mean (primary, maximise): mean total reward per episode.
  Reward Std: standard deviation of the total reward across episodes.

Dynamics, reward and limits are documented in mountain_car.py. Your policy must
return a finite number (or a 1-element array) for every observation; values
outside [-1, 1] are clipped. You can run this copy yourself from the workspace.
"""
import argparse
import importlib
import json
import math
import random
import sys
import traceback
from pathlib import Path

import numpy as np

EPISODES = 100
SEED_BASE = 900_000  # evaluation episodes use seeds SEED_BASE .. SEED_BASE + EPISODES - 1
POLICY_SEED = 7     # seeds `random` and `numpy.random` in case the policy samples its actions


class SubmissionError(Exception):
    """A problem with the submitted policy that the agent can fix."""


MIN_POSITION, MAX_POSITION = -1.2, 0.6
MAX_SPEED = 0.07
GOAL_POSITION = 0.45
GOAL_VELOCITY = 0.0
POWER = 0.0015
GRAVITY = 0.0025
MAX_STEPS = 999


class MountainCarContinuous:
    def __init__(self, seed=None):
        self.rng = np.random.default_rng(seed)
        self.position = 0.0
        self.velocity = 0.0
        self.steps = 0

    def reset(self):
        self.position = float(self.rng.uniform(-0.6, -0.4))
        self.velocity = 0.0
        self.steps = 0
        return np.array([self.position, self.velocity])

    def step(self, action):
        """Advance one step; returns (observation, reward, done)."""
        force = min(max(float(action), -1.0), 1.0)
        velocity = self.velocity + force * POWER - GRAVITY * math.cos(3 * self.position)
        velocity = min(max(velocity, -MAX_SPEED), MAX_SPEED)
        position = min(max(self.position + velocity, MIN_POSITION), MAX_POSITION)
        if position == MIN_POSITION and velocity < 0:
            velocity = 0.0
        self.position, self.velocity = position, velocity
        self.steps += 1
        reached = position >= GOAL_POSITION and velocity >= GOAL_VELOCITY
        reward = -0.1 * force * force + (100.0 if reached else 0.0)
        done = reached or self.steps >= MAX_STEPS
        return np.array([position, velocity]), reward, done


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


def load_policy():
    try:
        module = importlib.import_module("policy")
    except Exception as exc:
        raise SubmissionError(f"could not import policy.py: {type(exc).__name__}: {exc}") from None
    fn = getattr(module, "act", None)
    if not callable(fn):
        raise SubmissionError("policy.py must define a function act(observation) -> float")
    return fn


def checked_action(act, obs):
    try:
        action = act(obs.copy())
    except Exception as exc:
        raise SubmissionError(
            f"act raised {type(exc).__name__}: {exc}{where(exc)}"
        ) from None
    try:
        value = np.asarray(action, dtype=float)
    except (TypeError, ValueError):
        raise SubmissionError(f"act must return a number, got {action!r} ({type(action).__name__})") from None
    if value.size != 1:
        raise SubmissionError(f"act must return a single number, got an array of shape {value.shape}")
    value = float(value.reshape(-1)[0])
    if not math.isfinite(value):
        raise SubmissionError(f"act returned a non-finite action {value!r} for observation {obs.tolist()}")
    return value


def run_episode(act, seed):
    env = MountainCarContinuous(seed)
    obs, total, done = env.reset(), 0.0, False
    while not done:
        obs, reward, done = env.step(checked_action(act, obs))
        total += reward
    return total, env.steps


def main() -> None:
    parser = argparse.ArgumentParser(description="Evaluate policy.py for mountainCarContinuous")
    parser.add_argument("--episodes", type=int, default=EPISODES)
    parser.add_argument("--verbose", action="store_true", help="print one line per episode")
    args = parser.parse_args()
    try:
        act = load_policy()
        seed_submission(POLICY_SEED)
        returns = []
        for i in range(args.episodes):
            total, steps = run_episode(act, SEED_BASE + i)
            returns.append(total)
            if args.verbose:
                print(f"episode {i:3d}: reward {total:8.3f} in {steps} steps")
    except SubmissionError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        sys.exit(1)
    returns = np.array(returns)
    print(json.dumps({"Reward Mean": round(float(returns.mean()), 4), "Reward Std": round(float(returns.std()), 4)}))


if __name__ == "__main__":
    main()
