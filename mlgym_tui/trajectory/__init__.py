"""Recording runs (events.jsonl, MLGym-compatible .traj, results.json, config.yaml) and reading them back.

Readers accept our run directories, bare events.jsonl files and MLGym's own .traj files, and recover what a crash
or truncation left. Imports nothing of ours above `episode.events` and never textual.
"""

from mlgym_tui.trajectory.errors import TrajectoryError
from mlgym_tui.trajectory.event_tail import EventTail
from mlgym_tui.trajectory.fork import fork_meta, fork_prefix
from mlgym_tui.trajectory.load import load_run
from mlgym_tui.trajectory.loaded_run import NOT_ENDED_WARNING, LoadedRun, RunMeta
from mlgym_tui.trajectory.recorder import (
    CONFIG_FILE,
    EVENTS_FILE,
    RESULTS_FILE,
    TRANSIENT_EVENT_TYPES,
    Recorder,
    traj_file_name,
)
from mlgym_tui.trajectory.redaction import REDACTED, redact
from mlgym_tui.trajectory.run_dir import make_run_dir, sanitise_name_part

__all__ = [
    "CONFIG_FILE",
    "EVENTS_FILE",
    "NOT_ENDED_WARNING",
    "REDACTED",
    "RESULTS_FILE",
    "TRANSIENT_EVENT_TYPES",
    "EventTail",
    "LoadedRun",
    "Recorder",
    "RunMeta",
    "TrajectoryError",
    "fork_meta",
    "fork_prefix",
    "load_run",
    "make_run_dir",
    "redact",
    "sanitise_name_part",
    "traj_file_name",
]
