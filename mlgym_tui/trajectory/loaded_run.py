"""What every reader returns: a recorded run as an event stream plus its convenient views."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlgym_tui.stream.events import EpisodeEnded, EpisodeStarted, Event, StepRecorded, ValidationScored

NOT_ENDED_WARNING = "run has not ended (still running or crashed)"


@dataclass
class RunMeta:
    task_id: str
    model: str = "unknown"
    agent: str = "unknown"
    mode: str = "auto"
    parent: str | None = None
    fork_step: int | None = None
    fork_by: str = ""  # snapshot | reexecute ("" before it was recorded)
    baseline: dict[str, float] = field(default_factory=dict)
    metrics: list[dict[str, Any]] = field(default_factory=list)
    run_id: str = ""
    engine: str = "unknown"
    max_steps: int = 0
    cost_limit: float = 0.0

    @classmethod
    def from_started(cls, started: EpisodeStarted) -> "RunMeta":
        return cls(
            task_id=started.task_id,
            model=started.model,
            agent=started.agent,
            mode=started.mode,
            parent=started.parent,
            fork_step=started.fork_step,
            fork_by=started.fork_by,
            baseline=dict(started.baseline),
            metrics=list(started.metrics),
            run_id=started.run_id,
            engine=started.engine,
            max_steps=started.max_steps,
            cost_limit=started.cost_limit,
        )

    def to_started(self, t: float = 0.0) -> EpisodeStarted:
        return EpisodeStarted(
            t=t,
            run_id=self.run_id,
            task_id=self.task_id,
            agent=self.agent,
            model=self.model,
            mode=self.mode,
            engine=self.engine,
            max_steps=self.max_steps,
            cost_limit=self.cost_limit,
            parent=self.parent,
            fork_step=self.fork_step,
            fork_by=self.fork_by,
            baseline=dict(self.baseline),
            metrics=list(self.metrics),
        )


@dataclass
class LoadedRun:
    meta: RunMeta
    events: list[Event]
    source: Path
    source_format: str  # "events.jsonl" | "traj"
    warnings: list[str] = field(default_factory=list)
    steps: list[StepRecorded] = field(default_factory=list)
    validations: list[ValidationScored] = field(default_factory=list)
    ended: EpisodeEnded | None = None
    human: Any = None  # the run directory's HumanNote (human.json: who played, the note), if it has one

    @classmethod
    def from_events(
        cls, events: list[Event], source: Path, source_format: str, warnings: list[str], fallback_meta: RunMeta
    ) -> "LoadedRun":
        started = next((e for e in events if isinstance(e, EpisodeStarted)), None)
        if started is None:
            warnings.append(f"{source.name}: no episode_started event; run details guessed from the file name")
        meta = RunMeta.from_started(started) if started else fallback_meta
        run = cls(meta=meta, events=events, source=source, source_format=source_format, warnings=warnings)
        for event in events:
            if isinstance(event, StepRecorded):
                run.steps.append(event)
            elif isinstance(event, ValidationScored):
                run.validations.append(event)
            elif isinstance(event, EpisodeEnded):
                run.ended = event
        if run.ended is None:
            warnings.append(NOT_ENDED_WARNING)
        return run
