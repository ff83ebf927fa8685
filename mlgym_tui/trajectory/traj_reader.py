"""A `<task>.traj` (ours or MLGym's) as a recorded event stream.

MLGym's files carry steps, history and a final info block but no event stream, so the stream is synthesised:
EpisodeStarted, one StepRecorded per entry, a ValidationScored per score, and EpisodeEnded if the run finished.
Our own .traj adds a "mlgym_tui" block with the real EpisodeStarted and the step of each validation.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from mlgym_tui.stream.events import EpisodeEnded, EpisodeStarted, Event, StepRecorded, ValidationScored
from mlgym_tui.trajectory.errors import TrajectoryError
from mlgym_tui.trajectory.loaded_run import LoadedRun, RunMeta
from mlgym_tui.trajectory.run_dir import parse_run_dir_name
from mlgym_tui.trajectory.traj_format import OUR_META_KEY, traj_entry_to_step
from mlgym_tui.trajectory.traj_scan import NotJsonObject, scan_traj_text

EXPECTED = 'expected an MLGym trajectory: a JSON object with "environment", "trajectory", "history" and "info"'
_SCORING_COMMANDS = ("validate", "submit")


def read_traj_file(path: Path) -> LoadedRun:
    try:
        text = path.read_bytes().decode("utf-8", errors="replace")
    except OSError as exc:
        raise TrajectoryError(f"{path}: cannot be read ({exc.strerror})") from exc
    if not text.strip():
        raise TrajectoryError(f"{path}: file is empty; {EXPECTED}")
    try:
        scan = scan_traj_text(text)
    except NotJsonObject as exc:
        raise TrajectoryError(f"{path}: not a trajectory ({exc}); {EXPECTED}") from None
    document = scan.document
    if not scan.complete and not document:
        raise TrajectoryError(f"{path}: not a trajectory (no complete JSON value in it); {EXPECTED}")
    if scan.complete and not isinstance(document.get("trajectory"), list):
        raise TrajectoryError(f'{path}: not a trajectory (no "trajectory" list); {EXPECTED}')

    warnings = [f"{path.name}: {note}" for note in scan.notes]
    entries = document.get("trajectory") or []
    if not scan.complete:
        where = f'inside "{scan.cut_in}"' if scan.cut_in else "between keys"
        warnings.append(
            f"{path.name}: file truncated {where} ({scan.dropped_bytes} bytes unreadable); "
            f"recovered {len(entries)} complete step(s)"
        )
    steps = []
    for index, entry in enumerate(entries):
        try:
            steps.append(traj_entry_to_step(entry, index))
        except (TypeError, ValueError) as exc:
            warnings.append(f"{path.name}: trajectory entry {index} skipped ({exc})")

    ours = document.get(OUR_META_KEY) if isinstance(document.get(OUR_META_KEY), dict) else {}
    info = document.get("info") if isinstance(document.get("info"), dict) else {}
    started = _our_started(ours)
    if not started:
        lay_out_in_time(steps)
    meta = RunMeta.from_started(started) if started else _guess_meta(path, document.get("history"))
    validations = _our_validations(ours) if ours else _mlgym_validations(steps, info, meta.baseline, warnings, path)
    events = _stream(started or meta.to_started(t=steps[0].started_at if steps else 0.0), steps, validations, info)
    return LoadedRun.from_events(events, path, "traj", warnings, meta)


def _history_agent(history: Any) -> str | None:
    # MLGym tags each history message with the agent's name (e.g. "primary_0"): better than nothing.
    for item in history if isinstance(history, list) else []:
        if isinstance(item, dict) and isinstance(item.get("agent"), str):
            return item["agent"]
    return None


def _our_started(ours: dict[str, Any]) -> EpisodeStarted | None:
    data = ours.get("episode_started")
    if not isinstance(data, dict):
        return None
    try:
        event = Event.from_dict(data)
    except (TypeError, ValueError):
        return None
    return event if isinstance(event, EpisodeStarted) else None


def lay_out_in_time(steps: list[StepRecorded]) -> None:
    """MLGym records how long each action ran but no clock: place the steps one after another from t=0, so the
    elapsed time of a replayed MLGym run is the time its actions took (model time is not recorded)."""
    if any(step.started_at for step in steps):
        return
    clock = 0.0
    for step in steps:
        step.started_at, step.t = clock, clock + step.duration
        clock += step.duration


_STEP_COUNTER = re.compile(r"Current Step: (\d+), Remaining Steps: (\d+)")


def _guess_meta(path: Path, history: Any) -> RunMeta:
    guessed = parse_run_dir_name(path.parent.name)
    meta = RunMeta(
        task_id=path.stem,
        model=guessed.get("model", "unknown"),
        agent=guessed.get("agent") or _history_agent(history) or "unknown",
        run_id=path.parent.name if guessed else path.stem,
    )
    meta.baseline = _sibling_baseline(path)
    meta.max_steps = _mlgym_max_steps(path, history)
    return meta


def _mlgym_max_steps(path: Path, history: Any) -> int:
    """The run's step limit: args.yaml's environment.max_steps, else what MLGym told the agent after a step
    ("Current Step: 3, Remaining Steps: 47"); 0 when neither is there."""
    try:
        args = yaml.safe_load((path.parent / "args.yaml").read_text())
        limit = args["environment"]["max_steps"]
        if isinstance(limit, int) and limit > 0:
            return limit
    except (OSError, yaml.YAMLError, KeyError, TypeError):
        pass
    for item in history if isinstance(history, list) else []:
        content = item.get("content") if isinstance(item, dict) else None
        found = _STEP_COUNTER.search(content) if isinstance(content, str) else None
        if found:
            return int(found.group(1)) + int(found.group(2))
    return 0


def _sibling_baseline(path: Path) -> dict[str, float]:
    results = path.parent / "results.json"
    try:
        baseline = json.loads(results.read_text()).get("baseline")
    except (OSError, ValueError, AttributeError):
        return {}
    return baseline if isinstance(baseline, dict) else {}


def _our_validations(ours: dict[str, Any]) -> list[ValidationScored]:
    out = []
    for item in ours.get("validations") or []:
        if not isinstance(item, dict):
            continue
        try:
            event = Event.from_dict(item)
        except (TypeError, ValueError):
            continue
        if isinstance(event, ValidationScored):
            out.append(event)
    return out


def _mlgym_validations(
    steps: list[StepRecorded], info: dict[str, Any], baseline: dict[str, float], warnings: list[str], path: Path
) -> list[ValidationScored]:
    """MLGym keeps scores without their step; pair the k-th score with the k-th validate/submit action.

    Scores left over (an autosubmission at a limit has no submit action) go to the last step.
    """
    scores = [s for s in (info.get("score") or []) if isinstance(s, dict)]
    if not scores:
        return []
    scoring_steps = [s for s in steps if _is_scoring(s.action)]
    last_step = steps[-1].step if steps else 0
    exit_status = str(info.get("exit_status") or "")
    submitted = "submi" in exit_status and "not_found" not in exit_status
    out = []
    for k, metrics in enumerate(scores):
        step = scoring_steps[k].step if k < len(scoring_steps) else last_step
        final = submitted and k == len(scores) - 1
        out.append(
            ValidationScored(
                t=steps[min(step, len(steps)) - 1].t if steps and step else 0.0,
                step=step,
                metrics=metrics,
                baseline=dict(baseline),
                submission=info.get("submission") if final else None,
                final=final,
            )
        )
    if len(scores) > len(scoring_steps) + 1:
        warnings.append(f"{path.name}: {len(scores)} scores but {len(scoring_steps)} validate/submit steps; "
                        "steps of the extra scores are a guess")
    return out


def _is_scoring(action: str) -> bool:
    words = action.split(maxsplit=1)
    return bool(words) and words[0] in _SCORING_COMMANDS


def _stream(
    started: EpisodeStarted, steps: list[StepRecorded], validations: list[ValidationScored], info: dict[str, Any]
) -> list[Event]:
    events: list[Event] = [started]
    pending = sorted(validations, key=lambda v: v.step)
    index = 0
    for step in steps:
        events.append(step)
        while index < len(pending) and pending[index].step <= step.step:
            events.append(pending[index])
            index += 1
    events.extend(pending[index:])
    if info.get("exit_status"):
        events.append(
            EpisodeEnded(
                t=steps[-1].t if steps else 0.0,
                exit_status=str(info["exit_status"]),
                submission=info.get("submission"),
                score=[s for s in (info.get("score") or []) if isinstance(s, dict)],
                model_stats=info.get("model_stats") if isinstance(info.get("model_stats"), dict) else {},
            )
        )
    return events
