"""`load_run`: one entry point for every form a recorded run comes in."""

from __future__ import annotations

from pathlib import Path

from mlgym_tui.trajectory.errors import TrajectoryError
from mlgym_tui.trajectory.events_file import read_events_file
from mlgym_tui.trajectory.loaded_run import LoadedRun, RunMeta
from mlgym_tui.trajectory.recorder import EVENTS_FILE
from mlgym_tui.trajectory.run_dir import parse_run_dir_name
from mlgym_tui.trajectory.traj_reader import read_traj_file


def load_run(path: Path | str) -> LoadedRun:
    """Load a run directory (events.jsonl preferred, .traj as fallback), an events.jsonl, or a .traj file.

    Damaged files yield what they still hold, with the losses listed in `.warnings`; a path that holds no
    trajectory at all raises TrajectoryError with a one-line message.
    """
    path = Path(path)
    if path.is_dir():
        return _load_dir(path)
    if not path.exists():
        raise TrajectoryError(f"{path}: no such file or directory; expected a run directory, events.jsonl or .traj")
    if path.suffix == ".traj":
        return read_traj_file(path)
    if path.suffix == ".jsonl" or _looks_like_jsonl(path):
        return _load_events(path)
    return read_traj_file(path)


def _load_dir(directory: Path) -> LoadedRun:
    events_path = directory / EVENTS_FILE
    traj_files = sorted(p for p in directory.glob("*.traj") if not p.name.startswith("."))
    if events_path.exists():
        try:
            return _load_events(events_path)
        except TrajectoryError as exc:
            if not traj_files:
                raise
            fallback_reason = str(exc)
    elif not traj_files:
        raise TrajectoryError(
            f"{directory}: no {EVENTS_FILE} or .traj file; expected a run directory written by mlgym-tui or MLGym"
        )
    else:
        fallback_reason = f"{directory}: no {EVENTS_FILE}"
    if len(traj_files) > 1:
        names = ", ".join(p.name for p in traj_files)
        raise TrajectoryError(f"{directory}: several .traj files ({names}); pass the one to open")
    run = read_traj_file(traj_files[0])
    run.warnings.insert(0, f"{fallback_reason}; read {traj_files[0].name} instead")
    return run


def _load_events(path: Path) -> LoadedRun:
    events, warnings = read_events_file(path)
    guessed = parse_run_dir_name(path.parent.name)
    fallback = RunMeta(
        task_id=guessed.get("task_id", "unknown"),
        model=guessed.get("model", "unknown"),
        agent=guessed.get("agent", "unknown"),
        run_id=path.parent.name,
    )
    return LoadedRun.from_events(events, path, "events.jsonl", warnings, fallback)


def _looks_like_jsonl(path: Path) -> bool:
    with open(path, "rb") as handle:
        head = handle.read(4096)
    first_line = head.split(b"\n", 1)[0].strip()
    return first_line.startswith(b"{") and b'"type"' in first_line and b"\n" in head
