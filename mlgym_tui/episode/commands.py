"""What a front end can ask of a running episode, as values.

A key in the TUI, a line typed at the CLI, a signal and a message from an attached viewer all become one of
these on the runner's queue; the runner applies them at defined points (see runner.py). They are checked for
sense when they are made (`Controller`), so the runner only has to decide whether they still apply.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlgym_tui.stream.types import LimitName, Mode


@dataclass(frozen=True)
class Approve:
    """Run the pending proposal as it is (confirm mode)."""


@dataclass(frozen=True)
class Edit:
    """Run this instead of the pending proposal (confirm mode); the agent sees its action was edited."""

    action: str


@dataclass(frozen=True)
class Reject:
    """Drop the pending proposal unrun; the agent is told, with the comment if one is given."""

    comment: str = ""


@dataclass(frozen=True)
class Inject:
    """Run a person's command at the next step boundary (in human mode: the next action)."""

    command: str


@dataclass(frozen=True)
class Message:
    """Add a person's note to the agent's next prompt."""

    text: str


@dataclass(frozen=True)
class SetMode:
    mode: Mode


@dataclass(frozen=True)
class Pause:
    """Stop starting new steps; the step in flight finishes."""


@dataclass(frozen=True)
class Resume:
    pass


@dataclass(frozen=True)
class Step:
    """While paused, let exactly one more step run (pausing first if running)."""


@dataclass(frozen=True)
class Interrupt:
    """SIGINT, then SIGKILL, to the running command; the shell and the episode go on."""


@dataclass(frozen=True)
class Stop:
    """End the episode now, interrupting the running command: scoring the last valid submission first
    (`autosubmit`, recorded as `autosubmission (early_exit)`) or without a score (early_exit)."""

    autosubmit: bool = False


@dataclass(frozen=True)
class TerminalCommand:
    """A command line a person ran in the interactive terminal (f6), reported by its prompt hook: recorded as a
    step by author "human-terminal" at the next step boundary (it has already run)."""

    command: str
    output: str
    exit_code: int | None
    duration: float
    cwd: str = ""
    started_at: float = 0.0  # time.time() when it began


@dataclass(frozen=True)
class SetLimit:
    name: LimitName
    value: float


Command = (Approve | Edit | Reject | Inject | Message | SetMode | Pause | Resume | Step | Interrupt | Stop | SetLimit
           | TerminalCommand)
