"""The small vocabularies every layer shares, defined once: how an episode is driven, who acted, what the loop
waits for, which engine runs it and how it ended. Literals for values that travel as plain strings in events and
files; `ExitStatus` is a str enum so a recorded status stays the very string MLGym writes."""

from __future__ import annotations

import enum
from typing import Literal, get_args

Mode = Literal["auto", "confirm", "human"]
"""auto: actions run as proposed; confirm: a person approves, edits or rejects each; human: a person acts."""
MODES: tuple[Mode, ...] = get_args(Mode)

Author = Literal["agent", "human", "human-terminal", "replay", "baseline"]
"""Who produced a step: the model, a person (through the command line), a person's command line in the interactive
terminal (f6), a fork re-executing its parent, or a task's scripted baseline."""
PERSON_AUTHORS: tuple[str, ...] = ("human", "human-terminal")
"""Authors whose steps a person took: the agent's proposal made before one of them is stale."""
AUTHORS: tuple[Author, ...] = get_args(Author)

Awaiting = Literal["model", "approval", "human", "command", "paused"]
"""What a running episode waits for; None (no Awaiting) while it is between two of these."""
AWAITING: tuple[Awaiting, ...] = get_args(Awaiting)

Engine = Literal["docker", "podman", "local"]
"""A container runtime (local: no isolation)."""
ENGINES: tuple[Engine, ...] = get_args(Engine)

EngineChoice = Literal["auto", "docker", "podman", "local"]
"""What a user may ask for: an engine, or auto (the first reachable one)."""
ENGINE_CHOICES: tuple[EngineChoice, ...] = get_args(EngineChoice)

LimitName = Literal["max_steps", "cost_limit", "wall_time_s"]
LIMIT_NAMES: tuple[LimitName, ...] = get_args(LimitName)


class ExitStatus(enum.StrEnum):
    """How an episode ended, in MLGym's words. A limit or a failure that still scored the last valid submission
    is recorded as `autosubmission (<reason>)`; see `autosubmission`."""

    SUBMITTED = "submitted"
    EARLY_EXIT = "early_exit"  # stopped by a person, or a scripted policy ran out of actions
    EXIT_ERROR = "exit_error"  # the environment or the loop failed
    MAX_STEPS = "max_steps"
    EXIT_TIME = "exit_time"  # the wall-time limit
    EXIT_COST = "exit_cost"
    EXIT_CONTEXT = "exit_context"
    EXIT_FORMAT = "exit_format"
    EXIT_API = "exit_api"
    # Ours, not MLGym's: the model was not usable as configured (a key missing or refused, a model unknown), so
    # the episode ended without an autosubmission and nothing in it is the agent's to score.
    EXIT_CONFIG = "exit_config"

    @staticmethod
    def autosubmission(reason: "ExitStatus | str") -> str:
        return f"autosubmission ({reason})"
