"""Forking: a new run starts from the first n steps of a recorded one, then continues live. An exact fork restores
the parent's workspace after step n from its snapshots (`workspace_at`); a re-executing one runs the n commands again."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlgym_tui.stream.events import StepRecorded, WorkspaceSnapshot
from mlgym_tui.trajectory.errors import TrajectoryError
from mlgym_tui.trajectory.load import load_run
from mlgym_tui.trajectory.loaded_run import LoadedRun
from mlgym_tui.trajectory.workspace_store import Entry, WorkspaceHistory


def fork_prefix(run: LoadedRun, n: int) -> list[StepRecorded]:
    """The first n steps to replay; n = 0 forks from the very start (same task, fresh workspace)."""
    total = len(run.steps)
    if not isinstance(n, int) or isinstance(n, bool) or not 0 <= n <= total:
        raise TrajectoryError(f"{run.source}: cannot fork at step {n!r}; the run has {total} step(s), choose 0..{total}")
    return list(run.steps[:n])


def fork_meta(parent_dir: Path | str, n: int) -> dict[str, Any]:
    """Keyword arguments for the forked run's EpisodeStarted that come from its parent."""
    parent = load_run(parent_dir)
    fork_prefix(parent, n)
    return {
        "parent": str(Path(parent_dir).resolve()),
        "fork_step": n,
        "task_id": parent.meta.task_id,
        "baseline": dict(parent.meta.baseline),
        "metrics": list(parent.meta.metrics),
    }


FORK_BY = ("snapshot", "reexecute")  # how a fork's first n steps are made: restored from the parent, or run again
SHOWN_MISSING = 3  # files a refusal names before "+N more"


class SnapshotUnavailable(TrajectoryError):
    """An exact fork cannot be made (no snapshots, bytes missing); re-execution still can."""


@dataclass
class WorkspaceAtStep:
    """What an exact fork puts back: the parent's files after step n (with their bytes), the agent shell's working
    directory and exported environment then, and the paths the parent never recorded (left as the task gives them)."""

    step: int
    files: list[tuple[Entry, bytes]]  # folders, links and files; a file's bytes (b"" for the others)
    cwd: str | None
    env: dict[str, str] | None
    unrecorded: list[str]  # ignored by the task or skipped at a cap: a fresh workspace keeps its own


def run_folder(run: LoadedRun) -> Path | None:
    """The run directory whose workspace/ blob store goes with `run` (None for a bare .traj)."""
    return run.source.parent if run.source_format == "events.jsonl" else None


def workspace_at(run: LoadedRun, n: int) -> WorkspaceAtStep:
    """The parent's workspace after step n, ready to restore; SnapshotUnavailable says why not in one line."""
    fork_prefix(run, n)
    history = WorkspaceHistory(run.events, run_folder(run))
    taken = _check(run, history, n)
    tree = history.tree_at(n)
    files: list[tuple[Entry, bytes]] = []
    missing: list[Entry] = []
    for path in sorted(tree):
        entry = tree[path]
        data = history.bytes_of(entry) if entry.kind == "file" else b""
        if data is None:
            missing.append(entry)
        else:
            files.append((entry, data))
    if missing:
        raise SnapshotUnavailable(_missing_message(run, n, missing))
    cwd = next((s.cwd for s in reversed(taken) if s.cwd is not None), None)
    env = next((s.env for s in reversed(taken) if s.env is not None), None)
    unrecorded = sorted({item["path"] for s in taken for item in s.skipped if item.get("path")})
    return WorkspaceAtStep(step=n, files=files, cwd=cwd, env=dict(env) if env is not None else None,
                           unrecorded=unrecorded)


def _hint(n: int) -> str:
    return f"fork with --reexecute to run its first {n} command(s) again instead"


def _check(run: LoadedRun, history: WorkspaceHistory, n: int) -> list[WorkspaceSnapshot]:
    """The snapshots up to step n, when they describe the whole workspace there."""
    if not history.recorded:
        raise SnapshotUnavailable(f"{run.source}: this run has no workspace snapshots (recorded before they were "
                                  f"kept); {_hint(n)}")
    taken = [s for s in history.snapshots if s.step <= n]
    if not taken:
        raise SnapshotUnavailable(f"{run.source}: no workspace snapshot at or before step {n}; {_hint(n)}")
    cut = [s.step for s in taken if not s.complete]
    if cut:
        raise SnapshotUnavailable(f"{run.source}: the snapshot of step {cut[-1]} stopped at its file cap, so the "
                                  f"workspace at step {n} is not fully known; {_hint(n)}")
    return taken


def _missing_message(run: LoadedRun, n: int, missing: list[Entry]) -> str:
    return (f"{run.source}: cannot restore the workspace at step {n}: {len(missing)} file(s) have no stored bytes "
            f"({describe_missing(missing)}); {_hint(n)}")


def describe_missing(missing: list[Entry]) -> str:
    shown = [f"{e.path} ({e.note or 'blob gone'})" for e in missing[:SHOWN_MISSING]]
    more = len(missing) - SHOWN_MISSING
    return ", ".join(shown) + (f", +{more} more" if more > 0 else "")


def unavailable_reason(run: LoadedRun, n: int) -> str | None:
    """Why an exact fork at step n cannot be made (one line), or None when it can. Stats blobs, reads none."""
    try:
        fork_prefix(run, n)
    except TrajectoryError as exc:
        return str(exc)
    history = WorkspaceHistory(run.events, run_folder(run))
    try:
        _check(run, history, n)
    except SnapshotUnavailable as exc:
        return str(exc)
    store = history.store
    missing = [e for e in history.tree_at(n).values() if e.kind == "file" and e.size > 0
               and not (e.stored and e.sha256 and store is not None and store.has(e.sha256))]
    if missing:
        return _missing_message(run, n, missing)
    return None
