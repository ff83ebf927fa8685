"""Find run directories under the given paths: ours and MLGym's published layout.

The walk stops descending at a run directory: its contents (workspace copies, checkpoints) can be
large and never hold further runs.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from mlgym_tui.evaluation.run_summary import Layout

# <model>__<task>__<agentcfg>__t-<t>__p-<p>__c-<c>__install-<n>[__<suffix>]_run_<i>
MLGYM_RUN_NAME = re.compile(
    r"^(?P<model>.+?)__(?P<task>[^_].*?)__(?P<agent>.+?)"
    r"__t-(?P<temperature>-?[\d.]+)__p-(?P<top_p>-?[\d.]+)__c-(?P<cost>-?[\d.]+)"
    r"__install-(?P<install>\d+)(?:__(?P<suffix>.+?))?_run_(?P<run>\d+)$"
)
# <YYYYmmdd-HHMMSS>__<model>__<task>__<agent>; only the time prefix is trusted (model names may hold "__")
OUR_RUN_PREFIX = re.compile(r"^\d{8}-\d{6}__.+__")

PUBLISHED_MODEL_PREFIX = "metagen-"


@dataclass(frozen=True)
class FoundRun:
    path: Path
    layout: Layout
    name_fields: dict[str, str]  # what the directory name tells (MLGym layout), else empty


def parse_mlgym_name(name: str) -> dict[str, str] | None:
    match = MLGYM_RUN_NAME.match(name)
    return match.groupdict() if match else None


def model_label(model: str) -> str:
    return model[len(PUBLISHED_MODEL_PREFIX):] if model.startswith(PUBLISHED_MODEL_PREFIX) else model


def _classify(path: Path, names: set[str]) -> FoundRun | None:
    if "events.jsonl" in names:
        return FoundRun(path, "ours", {})
    if OUR_RUN_PREFIX.match(path.name) and ("results.json" in names or any(n.endswith(".traj") for n in names)):
        return FoundRun(path, "ours", {})  # lost its events.jsonl: reported as a problem, not skipped
    fields = parse_mlgym_name(path.name)
    if fields is not None:
        return FoundRun(path, "mlgym", {k: v for k, v in fields.items() if v is not None})
    return None


def find_runs(paths: list[str | Path]) -> tuple[list[FoundRun], list[str]]:
    """Run directories under `paths` (sorted, no duplicates) and one line per path that could not be searched."""
    found: dict[Path, FoundRun] = {}
    errors: list[str] = []
    for raw in paths:
        root = Path(raw).resolve()  # once per root: children found by scandir are then already absolute
        if not root.is_dir():
            errors.append(f"{root}: not a directory; pass a folder that holds run directories")
            continue
        stack = [root]
        while stack:
            current = stack.pop()
            try:
                with os.scandir(current) as entries:
                    subdirs, names = [], set()
                    for entry in entries:
                        names.add(entry.name)
                        if entry.is_dir(follow_symlinks=False):
                            subdirs.append(Path(entry.path))
            except OSError as exc:
                errors.append(f"{current}: cannot list ({exc.strerror}); check its permissions")
                continue
            run = _classify(current, names)
            if run is not None:
                found.setdefault(current, run)
            else:
                stack.extend(subdirs)
    return sorted(found.values(), key=lambda r: str(r.path)), errors
