"""Which metric ranks a task's runs, and which way is better.

MLGym's 13 benchmark tasks are built in (the paper's priority metrics). Other tasks declare their primary
metric in the episode_started event of our runs, or the caller passes a mapping.
"""

from __future__ import annotations

from typing import Literal, Mapping

Direction = Literal["maximize", "minimize"]
MetricDirection = tuple[str, Direction]

MLGYM_DIRECTIONS: dict[str, MetricDirection] = {
    "regressionKaggleHousePrice": ("r2", "maximize"),
    "3SATTime": ("Time", "minimize"),
    "imageClassificationCifar10": ("accuracy", "maximize"),
    "imageClassificationFMnist": ("accuracy", "maximize"),
    "imageCaptioningCOCO": ("BLEU Score", "maximize"),
    "languageModelingFineWeb": ("val_loss", "minimize"),
    "naturalLanguageInferenceMNLI": ("validation_accuracy", "maximize"),
    "battleOfSexes": ("Score", "maximize"),
    "prisonersDilemma": ("Score", "maximize"),
    "blotto": ("Score", "maximize"),
    "rlBreakoutMinAtar": ("Reward Mean", "maximize"),
    "rlMetaMazeMisc": ("Reward Mean", "maximize"),
    "rlMountainCarContinuous": ("Reward Mean", "maximize"),
}

_ALIASES = {"max": "maximize", "maximise": "maximize", "maximize": "maximize", "higher": "maximize",
            "min": "minimize", "minimise": "minimize", "minimize": "minimize", "lower": "minimize"}


def normalize_direction(word: str) -> Direction | None:
    return _ALIASES.get(str(word).strip().lower())  # type: ignore[return-value]


def primary_from_declared(metrics: list[dict]) -> MetricDirection | None:
    """The first metric marked primary in an episode_started event, if its direction is readable."""
    for entry in metrics or []:
        if isinstance(entry, dict) and entry.get("primary"):
            direction = normalize_direction(entry.get("direction", ""))
            name = entry.get("name")
            if direction and isinstance(name, str) and name:
                return (name, direction)
    return None


def resolve_direction(
    task_id: str,
    declared: MetricDirection | None = None,
    overrides: Mapping[str, MetricDirection] | None = None,
) -> MetricDirection | None:
    """Caller's mapping wins (it is the explicit choice), then MLGym's table, then what the run declared."""
    if overrides and task_id in overrides:
        metric, direction = overrides[task_id]
        norm = normalize_direction(direction)
        if norm is None:
            raise ValueError(f"direction for task {task_id!r} is {direction!r}; use 'maximize' or 'minimize'")
        return (metric, norm)
    if task_id in MLGYM_DIRECTIONS:
        return MLGYM_DIRECTIONS[task_id]
    return declared


def parse_direction_option(text: str) -> tuple[str, MetricDirection]:
    """Parse the CLI form TASK=METRIC:max (the metric itself may contain spaces or colons)."""
    task, sep, rest = text.partition("=")
    metric, colon, word = rest.rpartition(":")
    direction = normalize_direction(word) if colon else None
    if not sep or not task or not metric or direction is None:
        raise ValueError(f"--direction {text!r} is not TASK=METRIC:max or TASK=METRIC:min (e.g. myTask=accuracy:max)")
    return task, (metric, direction)
