"""What one run directory contributes to a results table (read cheaply, see run_reader)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from mlgym_tui.config.directions import MetricDirection

Layout = Literal["ours", "mlgym"]

# Trust labels of a run's scores, as results.json records them (mlgym_tui/environment/evaluation.py decides them);
# spelled out here so reading results does not import the environment.
ISOLATED, IN_PROCESS, UNISOLATED = "isolated", "in-process", "unisolated"


@dataclass
class RunSummary:
    path: Path
    layout: Layout
    task_id: str
    model: str  # the label runs are grouped by: "metagen-" dropped, "human" for human baselines
    agent: str = ""
    run_index: int | None = None
    finished: bool = True
    exit_status: str | None = None
    scores: list[dict[str, Any]] = field(default_factory=list)  # results.json "agent", in order
    baseline: dict[str, Any] = field(default_factory=dict)
    declared_metric: MetricDirection | None = None  # primary metric from our episode_started event
    cost: float | None = None
    steps: int | None = None
    wall_time: float | None = None  # seconds
    problem: str | None = None  # one line; a run with a problem is left out of the scores
    warning: str | None = None  # one line; the run still counts (as in MLGym, which reads results.json only)
    trust: str = ""  # results.json "trust"; "" when not recorded (older runs, MLGym's): unknown, never guessed
    trust_reason: str = ""
    # Not the agent's run (failure_kinds.py): "configuration", "infrastructure" or "interrupted"; counted apart,
    # never scored. None: the agent's, however it ended.
    failure: str | None = None
    failure_reason: str = ""

    def less_trusted(self) -> bool:
        """Scores the agent's code could have influenced: any recorded label but isolated."""
        return bool(self.trust) and self.trust != ISOLATED

    def label(self) -> str:
        return f"{self.model} / {self.task_id} ({self.path.name})"
