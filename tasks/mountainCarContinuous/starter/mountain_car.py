"""Continuous mountain car, NumPy/stdlib only - the same dynamics evaluate.py uses.

An under-powered car sits in a valley between two hills and must reach the flag
on top of the right hill (position >= 0.45). The engine alone cannot climb the
slope; the car has to rock back and forth to build momentum.

    observation  [position, velocity], position in [-1.2, 0.6], velocity in [-0.07, 0.07]
    action       a float, clipped to [-1, 1] (the engine force)
    dynamics     velocity += action * 0.0015 - 0.0025 * cos(3 * position), clipped to +-0.07
                 position += velocity, clipped to [-1.2, 0.6]; hitting the left wall stops the car
    reward       -0.1 * action**2 per step (clipped action), +100 on reaching the goal
    episode end  position >= 0.45 (goal), or after 999 steps
    start        position uniform in [-0.6, -0.4], velocity 0
"""
import math

import numpy as np

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


def run_episode(act, seed):
    """Total reward of one episode of policy `act` (observation -> action) from the start drawn with `seed`."""
    env = MountainCarContinuous(seed)
    obs, total, done = env.reset(), 0.0, False
    while not done:
        obs, reward, done = env.step(act(obs))
        total += reward
    return total
