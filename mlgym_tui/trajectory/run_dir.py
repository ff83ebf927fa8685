"""Where a run's files go: runs/<YYYYmmdd-HHMMSS>__<model>__<task>__<agent>/."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

TIMESTAMP_FORMAT = "%Y%m%d-%H%M%S"
_UNSAFE = re.compile(r"[^A-Za-z0-9._+=-]+")
_TIMESTAMP = re.compile(r"^\d{8}-\d{6}$")


def sanitise_name_part(value: str) -> str:
    """Make `value` safe as one `__`-separated part of a directory name.

    `/`, spaces and other shell- or path-hostile characters become `-`; runs of `_` collapse to one so that
    `__` stays an unambiguous separator when the name is parsed back.
    """
    cleaned = _UNSAFE.sub("-", value)
    cleaned = re.sub(r"_{2,}", "_", cleaned)
    cleaned = re.sub(r"-{2,}", "-", cleaned).strip("-._")
    return cleaned or "unknown"


def make_run_dir(runs_root: Path, model: str, task_id: str, agent: str, now: datetime | None = None) -> Path:
    """Create and return a fresh run directory; a numeric suffix (-2, -3, ...) avoids clobbering an existing one."""
    stamp = (now or datetime.now()).strftime(TIMESTAMP_FORMAT)
    base = "__".join([stamp, sanitise_name_part(model), sanitise_name_part(task_id), sanitise_name_part(agent)])
    return fresh_dir(Path(runs_root), base)


def fresh_dir(parent: Path, name: str) -> Path:
    """Create parent/name, or parent/name-2, -3, ... when taken, and return it."""
    parent.mkdir(parents=True, exist_ok=True)
    suffix = 1
    while True:
        candidate = parent / (name if suffix == 1 else f"{name}-{suffix}")
        try:
            # mkdir without exist_ok is the race-free existence check: two runs started in the same second
            # both get their own directory.
            candidate.mkdir()
            return candidate
        except FileExistsError:
            suffix += 1


def parse_run_dir_name(name: str) -> dict[str, str]:
    """Best-effort model/task/agent from a directory name: ours (time first) or MLGym's (model first)."""
    parts = name.split("__")
    if parts and _TIMESTAMP.match(parts[0]):
        parts = parts[1:]
    if len(parts) < 3:
        return {}  # not a run directory name (e.g. a folder the user keeps .traj files in)
    keys = ("model", "task_id", "agent")
    return {key: value for key, value in zip(keys, parts) if value}
