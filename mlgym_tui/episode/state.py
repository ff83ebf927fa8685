"""What a front end may read about an episode: fixed facts (`EpisodeInfo`) and a read-only view of the runner's
moving state (`EpisodeState`). Front ends read these and nothing private."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mlgym_tui.agents.proposal import Proposal
from mlgym_tui.stream.types import Awaiting, Engine, ExitStatus, Mode


@dataclass(frozen=True)
class EpisodeInfo:
    """Set when the episode is made; what `EpisodeStarted` announces."""

    run_id: str
    task_id: str
    agent: str
    model: str
    engine: Engine | str
    baseline: dict[str, float] = field(default_factory=dict)
    metrics: list[dict[str, Any]] = field(default_factory=list)  # the task's metric declarations
    parent: str | None = None  # the run a fork was made from
    fork_step: int | None = None  # how many of the parent's steps the fork starts from
    fork_by: str = ""  # "snapshot" (restored from the parent's workspace snapshots) or "reexecute"
    who: str = ""  # the person playing a human baseline

    @property
    def primary_metric(self) -> dict[str, Any] | None:
        return primary_metric(self.metrics)


def primary_metric(metrics: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The metric declared primary, else the first; None when the task declares none."""
    for metric in metrics:
        if metric.get("primary"):
            return metric
    return metrics[0] if metrics else None


@dataclass(frozen=True)
class EpisodeState:
    """A snapshot of the runner's state, taken when read."""

    mode: Mode
    paused: bool
    awaiting: Awaiting | None  # what the runner waits for; None while it works
    step: int  # steps completed
    max_steps: int
    cost_limit: float
    wall_time_s: float | None
    pending: Proposal | None  # the proposal waiting to run (in confirm mode: for approval)
    running_command: str | None
    agent_is_person: bool  # the policy is a person (human agent): there is no model to hand back to
    done: bool
    exit_status: str | None
    queued_commands: int  # commands sent but not yet applied


class EpisodeReads:
    """Reads every front end's episode handle derives the same way from its `info`, `model_stats`, `scores` and
    `exit_status`: the Controller and an attached viewer's mirror (control/client.py) share them."""

    info: EpisodeInfo

    task_id = property(lambda self: self.info.task_id)
    agent = property(lambda self: self.info.agent)
    model = property(lambda self: self.info.model)
    engine = property(lambda self: self.info.engine)
    run_id = property(lambda self: self.info.run_id)
    baseline = property(lambda self: dict(self.info.baseline))
    metrics = property(lambda self: list(self.info.metrics))
    parent = property(lambda self: self.info.parent)
    fork_step = property(lambda self: self.info.fork_step)
    primary_metric = property(lambda self: self.info.primary_metric)
    cost = property(lambda self: float(self.model_stats.get("total_cost", 0.0)))
    tokens_in = property(lambda self: int(self.model_stats.get("tokens_sent", 0)))
    tokens_out = property(lambda self: int(self.model_stats.get("tokens_received", 0)))

    @property
    def succeeded(self) -> bool:
        """Submitted or auto-submitted with a score."""
        status = self.exit_status or ""
        return bool(self.scores) and (status == ExitStatus.SUBMITTED or status.startswith("autosubmission"))
