"""MLGym's `<task>.traj` step entries <-> our StepRecorded.

MLGym writes per step: action, observation, response, state (a JSON *string*), thought, execution_time. We add
who acted and what it cost (author, started_at, exit_code, tokens_in, tokens_out, cost, edited_from, plus step,
timed_out and recorded_at, the event's time); MLGym ignores keys it does not know, and reading MLGym's own files fills our fields with defaults.
"""

from __future__ import annotations

import json
from typing import Any

from mlgym_tui.stream.events import AUTHORS, StepRecorded

ENVIRONMENT_NAME = "mlgym_main"
# Top-level key of our own .traj files holding what MLGym's format has no place for (run metadata, the step of
# each validation); placed before "trajectory" so it survives when the file is cut short.
OUR_META_KEY = "mlgym_tui"
OUR_FORMAT_VERSION = 1


def step_to_traj_entry(step: StepRecorded) -> dict[str, Any]:
    return {
        "action": step.action,
        "observation": step.observation,
        "response": step.response,
        "state": json.dumps(step.state),
        "thought": step.thought,
        "execution_time": step.duration,
        "step": step.step,
        "author": step.author,
        "started_at": step.started_at,
        "exit_code": step.exit_code,
        "tokens_in": step.tokens_in,
        "tokens_out": step.tokens_out,
        "cost": step.cost,
        "edited_from": step.edited_from,
        "timed_out": step.timed_out,
        "recorded_at": step.t,
    }


def traj_entry_to_step(entry: Any, index: int) -> StepRecorded:
    """`index` is the 0-based position in the trajectory list; steps are numbered from 1."""
    if not isinstance(entry, dict):
        raise ValueError(f"trajectory entry {index} is a {type(entry).__name__}, expected an object")
    author = entry.get("author") or "agent"
    if author not in AUTHORS:
        author = "agent"
    started_at = float(entry.get("started_at") or 0.0)
    return StepRecorded(
        t=float(entry.get("recorded_at") or started_at or 0.0),
        step=int(entry.get("step") or index + 1),
        author=author,
        action=_text(entry.get("action")),
        observation=_text(entry.get("observation")),
        thought=_text(entry.get("thought")),
        response=_text(entry.get("response")),
        state=parse_state(entry.get("state")),
        exit_code=entry.get("exit_code"),
        started_at=started_at,
        duration=float(entry.get("execution_time") or 0.0),
        tokens_in=int(entry.get("tokens_in") or 0),
        tokens_out=int(entry.get("tokens_out") or 0),
        cost=float(entry.get("cost") or 0.0),
        edited_from=entry.get("edited_from"),
        timed_out=bool(entry.get("timed_out") or False),
    )


def parse_state(raw: Any) -> dict[str, Any]:
    """MLGym stores state as a JSON string, sometimes empty; keep anything unparseable rather than drop it."""
    if isinstance(raw, dict):
        return raw
    if not raw:
        return {}
    try:
        parsed = json.loads(raw)
    except (TypeError, ValueError):
        return {"raw": str(raw)}
    return parsed if isinstance(parsed, dict) else {"raw": str(raw)}


def _text(value: Any) -> str:
    # MLGym leaves observation as null when a step crashed before the environment answered.
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value)
