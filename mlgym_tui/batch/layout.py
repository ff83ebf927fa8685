"""Where a batch keeps its runs, and which of them are finished.

    <runs-dir>/batch__<model>__<agent>/            the batch folder (same agent + model: same folder, so a
                                                   re-run of the command resumes it)
        <task>__run_<i>/                           one slot per (task, run index): a stable name
            <time>__<model>__<task>__<agent>/      the run directory start_episode made (events.jsonl, ...)

`mlgym-tui results` finds the run directories inside the slots (discovery recognises a directory holding
events.jsonl at any depth). A slot is finished when one of its run directories recorded an EpisodeEnded and the
batch did not stop that episode itself (it leaves `batch-interrupted` in the run directory before stopping one).

An episode that ended for an infrastructure reason (its cluster node was lost mid-episode) keeps its partial run
directory, labelled with `infra-interrupted` (one line: "<kind>: <detail>", e.g. "node lost: ..."), and the slot
runs again in a new run directory beside it. Such a run directory is never the slot's finished run, and a resume
keeps it (it is evidence of what happened, not a leftover to redo); only --redo deletes it with the rest of the slot.
Its scores, if any, are not the agent's: readers should skip run directories that hold the marker.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from mlgym_tui.trajectory.run_dir import sanitise_name_part

EVENTS_FILE = "events.jsonl"
INTERRUPTED_MARKER = "batch-interrupted"
INFRA_MARKER = "infra-interrupted"
_TAIL_BYTES = 65536


def batch_dir_name(model: str, agent: str) -> str:
    return "__".join(["batch", sanitise_name_part(model), sanitise_name_part(agent)])


def slot_name(task_id: str, run_index: int) -> str:
    return f"{sanitise_name_part(task_id)}__run_{run_index}"


def episode_ended(run_dir: Path) -> dict | None:
    """The EpisodeEnded record of a run directory, read from the tail of events.jsonl; None if it never ended."""
    path = Path(run_dir) / EVENTS_FILE
    try:
        with open(path, "rb") as handle:
            size = handle.seek(0, os.SEEK_END)
            handle.seek(max(0, size - _TAIL_BYTES))
            tail = handle.read()
    except OSError:
        return None
    for line in reversed(tail.splitlines()):
        if b"episode_ended" not in line:
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue  # the first, cut line of the tail, or a torn write
        if isinstance(record, dict) and record.get("type") == "episode_ended":
            return record
    return None


@dataclass
class SlotState:
    path: Path
    finished_run: Path | None = None  # the run directory that completed this slot
    exit_status: str | None = None
    unfinished: list[Path] = field(default_factory=list)  # run directories to clear before redoing the slot
    infra: list[Path] = field(default_factory=list)  # partial runs ended by the infrastructure: kept, never finished

    @property
    def finished(self) -> bool:
        return self.finished_run is not None


def inspect_slot(slot: Path) -> SlotState:
    state = SlotState(slot)
    if not slot.is_dir():
        return state
    for child in sorted(p for p in slot.iterdir() if p.is_dir()):
        if (child / INFRA_MARKER).exists():
            state.infra.append(child)
            continue
        ended = episode_ended(child)
        if ended is not None and not (child / INTERRUPTED_MARKER).exists() and state.finished_run is None:
            state.finished_run = child
            state.exit_status = str(ended.get("exit_status"))
        else:
            state.unfinished.append(child)
    if state.finished_run is not None:
        state.unfinished = [p for p in state.unfinished if p != state.finished_run]
    return state


def clear_slot(slot: Path) -> list[Path]:
    """Delete every run directory in the slot (for --redo, or the leftovers of an unfinished run)."""
    removed = []
    if slot.is_dir():
        for child in sorted(p for p in slot.iterdir() if p.is_dir()):
            shutil.rmtree(child, ignore_errors=True)
            removed.append(child)
    return removed


def mark_interrupted(run_dir: Path, reason: str) -> None:
    try:
        (Path(run_dir) / INTERRUPTED_MARKER).write_text(reason + "\n")
    except OSError:
        pass  # the run directory is gone: nothing to mark


def mark_infra(run_dir: Path, kind: str, detail: str = "") -> None:
    """Label a partial run that the infrastructure ended (kind: "node lost", "worker lost", ...)."""
    text = f"{kind}: {detail}" if detail else kind
    try:
        (Path(run_dir) / INFRA_MARKER).write_text(" ".join(text.split()) + "\n")
    except OSError:
        pass  # the run directory is gone: nothing to label


def infra_reason(run_dir: Path) -> str | None:
    """What `mark_infra` wrote, or None for a run the infrastructure did not end."""
    try:
        return (Path(run_dir) / INFRA_MARKER).read_text().strip()
    except OSError:
        return None
