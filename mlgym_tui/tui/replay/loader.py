"""Reading a recorded run for the replay, on a thread of its own (no widgets here): started as the screen is made,
so the file is read and folded while the app starts and paints."""

from __future__ import annotations

import gc
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple

from mlgym_tui.stream.replay_index import ReplayIndex
from mlgym_tui.tui import perf


class Loaded(NamedTuple):
    run: Any  # LoadedRun, or None when it could not be read
    index: ReplayIndex | None
    tail: Any  # the EventTail that read it (follow mode), or None
    error: str | None


def events_path(path: Path | None) -> Path | None:
    """The events.jsonl a run can be followed through: in a run folder (unless it holds only a .traj), or the path
    itself; None for a .traj (rewritten whole, never appended)."""
    if path is None:
        return None
    if path.is_dir():
        return path / "events.jsonl" if (path / "events.jsonl").exists() or not list(path.glob("*.traj")) else None
    return path if path.suffix == ".jsonl" else None


def read_run(path: Path, follow: bool) -> Loaded:
    """Read and fold the run (any thread)."""
    from mlgym_tui.trajectory import EventTail, LoadedRun, TrajectoryError, load_run
    from mlgym_tui.trajectory.loaded_run import RunMeta

    tail = None
    perf.hold()  # ~100k small objects per 50 MB, none of them garbage: collections would only walk them
    try:
        followed = events_path(path) if follow else None
        if followed is not None:
            tail = EventTail(followed)
            events = tail.read_new()
            run = LoadedRun.from_events(events, followed, "events.jsonl", list(tail.warnings),
                                        RunMeta(task_id="unknown", run_id=followed.parent.name))
        else:
            run = load_run(path)
        index = ReplayIndex.build(run.events)
        from mlgym_tui.trajectory.human_note import read_human_note

        run.human = read_human_note(path if path.is_dir() else path.parent)
    except (TrajectoryError, OSError) as exc:
        return Loaded(None, None, None, str(exc))
    finally:
        # Freeze first: re-enabled with ~1M new objects counted, the collector would otherwise walk them all at
        # once (a pause of 100 ms or more, on whichever thread allocates next).
        gc.freeze()
        perf.release()
    return Loaded(run, index, tail, None)


def append(run: Any, index: ReplayIndex, events: list[Any]) -> None:
    """Events appended to a followed run: into its index, and its facts from its start when the reading began
    before the recorder had written it."""
    index.extend(events)
    if run is not None and run.meta.task_id in ("", "unknown"):
        from mlgym_tui.stream import events as ev
        from mlgym_tui.trajectory.loaded_run import RunMeta

        started = next((e for e in events if isinstance(e, ev.EpisodeStarted)), None)
        if started is not None:
            run.meta = RunMeta.from_started(started)


def start_reading(path: Path, follow: bool) -> Future:
    """`read_run` on a thread of its own, started now; the future's result is a `Loaded`."""
    pool = ThreadPoolExecutor(1, thread_name_prefix="replay-read")
    future = pool.submit(read_run, path, follow)
    pool.shutdown(wait=False)
    return future
