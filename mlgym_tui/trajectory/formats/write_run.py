"""Write an imported trajectory as a run directory of ours (events.jsonl, <task>.traj, results.json, config.yaml),
through the Recorder, so replay, fork, export and the task browser read it like any recorded run."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from mlgym_tui.stream.events import EpisodeEnded, EpisodeStarted, Event, ValidationScored
from mlgym_tui.trajectory.formats.secrets import Scrubber
from mlgym_tui.trajectory.formats.shared import ImportedRun
from mlgym_tui.trajectory.recorder import Recorder
from mlgym_tui.trajectory.run_dir import make_run_dir


def write_imported_run(run: ImportedRun, runs_dir: Path, origin: Path) -> Path:
    scrubber = Scrubber(run.config)
    first_clock = run.steps[0].started_at if run.steps else 0.0
    when = datetime.fromtimestamp(first_clock) if first_clock > 1e9 else None
    run_dir = make_run_dir(runs_dir, run.meta.model, run.meta.task_id, run.meta.agent, now=when)
    started = _started(run, run_dir.name, first_clock)
    config = {
        "imported_from": {"path": str(origin), "format": run.source_format, "notes": list(run.notes)},
        "source_config": run.config,
    }
    # The source's secret values (those under secret-named keys) are scrubbed from every event by the recorder.
    recorder = Recorder(run_dir, run.meta.task_id, scrubber.tree(config), traj_in_background=False,
                        sync_in_background=False)
    try:
        recorder(started)
        for event in _in_order(run):
            recorder(_scrubbed(event, scrubber))
        recorder.set_history([scrubber.tree(entry) for entry in run.history])
        if run.model_stats:
            recorder.set_model_stats(run.model_stats)
        last = run.steps[-1].t if run.steps else first_clock
        ended = run.ended or EpisodeEnded(t=last, exit_status=f"imported ({run.source_format})")
        if not run.ended or ended.t < last:
            ended.t = last
        if run.model_stats and not ended.model_stats:
            ended.model_stats = dict(run.model_stats)
        recorder(_scrubbed(ended, scrubber))
    finally:
        recorder.close()
    return run_dir


def _started(run: ImportedRun, run_id: str, clock: float) -> EpisodeStarted:
    if run.started:
        try:
            event = Event.from_dict(run.started)
        except (TypeError, ValueError):
            event = None
        if isinstance(event, EpisodeStarted):
            event.run_id, event.task_id = run_id, run.meta.task_id
            return event
    started = run.meta.to_started(t=clock)
    started.run_id, started.mode, started.engine = run_id, "auto", "imported"
    return started


def _in_order(run: ImportedRun) -> list[Event]:
    """Steps, each followed by the validations scored at it."""
    pending: list[ValidationScored] = sorted(run.validations, key=lambda v: v.step)
    events: list[Event] = []
    for step in run.steps:
        events.append(step)
        while pending and pending[0].step <= step.step:
            events.append(pending.pop(0))
    return events + list(pending)


def _scrubbed(event: Event, scrubber: Scrubber) -> Event:
    data: dict[str, Any] = scrubber.tree(event.to_dict())
    return Event.from_dict(data)
