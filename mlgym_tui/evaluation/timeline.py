"""When each validation of a run happened, on the one clock (stream/clock.py), and whether a person played it.

Budgets and score-over-time curves need this; a plain results listing does not, so events.jsonl is read in full
only then. A validation's stored clocks are used as recorded; a run recorded before they were kept is timed by
running the clock over its events again (the same function, so the same numbers).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlgym_tui.evaluation.run_reader import HUMAN_LABEL, RunFileError
from mlgym_tui.stream import events as ev
from mlgym_tui.stream.clock import EpisodeClock
from mlgym_tui.stream.types import PERSON_AUTHORS

# The bulk of a long run and nothing the clock or the scores need: skipped before parsing.
_SKIPPED_PREFIXES = (b'{"type": "token"', b'{"type": "output_chunk"')
_NOBODY = ("replay", "baseline")  # a fork's re-executed steps, a scripted baseline


@dataclass(frozen=True)
class TimedValidation:
    step: int
    metrics: dict[str, Any]
    wall_s: float
    active_s: float


@dataclass
class RunTimeline:
    validations: list[TimedValidation] = field(default_factory=list)
    wall_s: float = 0.0  # at the end, or at the last event of a run that did not end
    active_s: float = 0.0
    human_s: float | None = None  # active time from a person's first action
    steps: int = 0  # steps someone took (a fork's replayed prefix not counted)
    person_steps: int = 0
    human_agent: bool = False  # the run's agent was a person (`--agent human`, `play`)
    who: str = ""  # the person who played (`play --who`), as the run's start recorded it

    @property
    def human(self) -> bool:
        """A human run: played by a person, or every step of it taken by people."""
        return self.human_agent or (self.steps > 0 and self.person_steps == self.steps)


def _events(path: Path):
    try:
        handle = open(path, "rb")
    except FileNotFoundError:
        raise RunFileError("events.jsonl is missing; the run cannot be placed in time")
    except OSError as exc:
        raise RunFileError(f"events.jsonl cannot be read ({exc.strerror}); check the file")
    with handle:
        for line in handle:
            if line.startswith(_SKIPPED_PREFIXES):
                continue
            try:
                yield ev.Event.from_dict(json.loads(line))
            except (ValueError, TypeError, AttributeError):
                continue  # a line cut by a crash, or an event type this version does not know


def read_timeline(run_dir: Path) -> RunTimeline:
    """Every scored validation of the run with both clocks; raises RunFileError when events.jsonl is unusable."""
    clock = EpisodeClock()
    timeline = RunTimeline()
    for event in _events(run_dir / "events.jsonl"):
        clock.observe(event)
        if isinstance(event, ev.EpisodeStarted):
            timeline.human_agent = event.agent == HUMAN_LABEL
            timeline.who = getattr(event, "who", "") or ""
        elif isinstance(event, ev.StepRecorded) and event.author not in _NOBODY:
            timeline.steps += 1
            timeline.person_steps += event.author in PERSON_AUTHORS
        elif isinstance(event, ev.ValidationScored) and event.metrics:
            wall = event.wall_s if event.wall_s is not None else clock.wall_s(event.t)
            active = event.active_s if event.active_s is not None else clock.active_s(event.t)
            timeline.validations.append(TimedValidation(event.step, dict(event.metrics), wall, active))
        elif isinstance(event, ev.EpisodeEnded):
            timeline.wall_s = event.wall_s if event.wall_s is not None else clock.wall_s()
            timeline.active_s = event.active_s if event.active_s is not None else clock.active_s()
            timeline.human_s = event.human_s if event.human_s is not None else clock.human_s()
    if clock.started_at is None:
        raise RunFileError("events.jsonl holds no readable event; the run cannot be placed in time")
    if clock.ended_at is None:  # still running or crashed: as far as its last event
        last = clock.last_at
        timeline.wall_s, timeline.active_s, timeline.human_s = clock.wall_s(last), clock.active_s(last), clock.human_s(last)
    return timeline
