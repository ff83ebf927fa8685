"""Your policy for the mountainCarContinuous task. Edit freely.

evaluate.py imports this module and calls `act(observation)` once per step:
  observation  np.ndarray of shape (2,): [position, velocity]
  returns      the engine force as a float (or a 1-element array); values
               outside [-1, 1] are clipped. It must be finite.
Each step costs 0.1 * action**2 reward and reaching the flag (position >= 0.45)
earns +100, so reach the goal quickly but without wasting fuel.

This baseline is a small parametrised policy,
    action = tanh(w_position * position + w_velocity * velocity + bias)
whose parameters are read from policy_params.json next to this file when it
exists (train.py writes it) and otherwise default to DEFAULT_PARAMS. You may
replace the whole thing (any NumPy code, extra files in the workspace, ...),
as long as `act` keeps its signature and stays fast (the evaluation runs
100 episodes of up to 999 steps).
"""
import json
import math
from pathlib import Path

PARAMS_FILE = Path(__file__).resolve().parent / "policy_params.json"
DEFAULT_PARAMS = {"w_position": 0.0, "w_velocity": 5.0, "bias": 0.1}


def load_params():
    if PARAMS_FILE.is_file():
        return {**DEFAULT_PARAMS, **json.loads(PARAMS_FILE.read_text())}
    return dict(DEFAULT_PARAMS)


PARAMS = load_params()


def act(observation, params=None):
    p = PARAMS if params is None else params
    position, velocity = float(observation[0]), float(observation[1])
    return math.tanh(p["w_position"] * position + p["w_velocity"] * velocity + p["bias"])
