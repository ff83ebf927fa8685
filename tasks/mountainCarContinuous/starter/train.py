"""Tune the parameters of policy.py by random-search hill climbing and save them.

Run from the workspace:  python3 train.py [--iterations 150] [--episodes 10]
Each iteration perturbs the current parameters, scores the candidate on the
same training episodes (seeds 0 .. episodes-1, disjoint from the evaluation
seeds), keeps it if it is better, and finally writes policy_params.json, which
policy.py loads automatically. Delete policy_params.json to return to the
defaults. This is a starting point, not a tuned trainer.
"""
import argparse
import json
import random

import numpy as np

import policy
from mountain_car import run_episode


def score(params, seeds):
    return float(np.mean([run_episode(lambda obs: policy.act(obs, params), seed) for seed in seeds]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=150)
    parser.add_argument("--episodes", type=int, default=10)
    parser.add_argument("--step", type=float, default=1.0, help="initial perturbation scale")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    rng = random.Random(args.seed)
    seeds = range(args.episodes)
    best = policy.load_params()
    best_score = score(best, seeds)
    print(f"start: {best_score:.3f} {best}")
    step = args.step
    for it in range(args.iterations):
        candidate = {k: v + rng.gauss(0.0, step) for k, v in best.items()}
        candidate_score = score(candidate, seeds)
        if candidate_score > best_score:
            best, best_score = candidate, candidate_score
            print(f"iteration {it}: {best_score:.3f} {json.dumps({k: round(v, 3) for k, v in best.items()})}")
        else:
            step = max(0.05, step * 0.98)
    policy.PARAMS_FILE.write_text(json.dumps(best, indent=2) + "\n")
    print(f"saved {policy.PARAMS_FILE.name}: training score {best_score:.3f}")


if __name__ == "__main__":
    main()
