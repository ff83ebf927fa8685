"""Records an episode's event stream into its run directory.

Files written (see ARCHITECTURE.md, "Files a run leaves"):
- events.jsonl: every event (but the high-frequency transient ones unless asked), one JSON object per line,
  written (one write(2)) before the call returns and fsync'd in groups on a thread (see event_log.py). This is
  the source of truth.
- <task>.traj: MLGym's format plus our extra fields, rewritten atomically after steps, validations and the end.
- results.json: MLGym's `{"agent": [metrics...], "baseline": {...}}`, rewritten atomically.
- config.yaml: the resolved config, secrets redacted, written once.

By default no fsync and no file rewrite runs on the caller's thread (the event loop): they run on the recorder's
sync and writer threads. EpisodeEnded, `flush()` and `close()` wait for those threads until every file is current
and on disk (`aclose()` does that wait off the loop).

Crash guarantee. A killed process (SIGKILL, OOM) loses nothing the recorder was handed: every event is in the
kernel before the call returns, so events.jsonl holds every finished step and at most a cut last line, which
readers drop. A crash of the machine (power loss, kernel panic) loses at most the step in flight and the events of
the last sync group: the events that close a step (StepRecorded, ValidationScored, EpisodeEnded) are synced at
once on the sync thread, so every step that ended more than one fsync before the crash is on disk; other events
wait at most `sync_delay_s`. For the strict form, "a machine crash loses at most the step in flight", a runner
awaits `step_synced()` before it runs a command (the loop keeps running), or the recorder is made with
`durable_steps=True` (CommandStarted then blocks until the previous step is on disk: up to one fsync on the
loop per step, nothing when a model call came in between). The .traj and results.json are rewritten atomically
off the loop, after events.jsonl is synced up to their content: they may lag behind it, never run ahead of it or
be half-written.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from mlgym_tui.stream.events import (
    CommandStarted,
    EpisodeEnded,
    EpisodeStarted,
    Event,
    OutputChunk,
    StepRecorded,
    Token,
    ValidationScored,
)
from mlgym_tui.trajectory.atomic_write import atomic_write_bytes, atomic_write_text
from mlgym_tui.trajectory.background_writer import BackgroundWriter
from mlgym_tui.trajectory.event_log import EventLog
from mlgym_tui.trajectory.redaction import redact, scrub_text, secret_config_values, secret_env_values
from mlgym_tui.trajectory.run_dir import sanitise_name_part
from mlgym_tui.trajectory.traj_document import TrajDocument
from mlgym_tui.trajectory.traj_format import ENVIRONMENT_NAME, OUR_FORMAT_VERSION

EVENTS_FILE = "events.jsonl"
RESULTS_FILE = "results.json"
CONFIG_FILE = "config.yaml"
TRANSIENT_EVENT_TYPES = frozenset({Token.type, OutputChunk.type})
# The events after which a step is complete: synced at once, and on disk before the next command starts.
STEP_CLOSING_TYPES = frozenset({StepRecorded.type, ValidationScored.type, EpisodeEnded.type})


def traj_file_name(task_id: str) -> str:
    return f"{sanitise_name_part(task_id)}.traj"


class Recorder:
    """An event subscriber: `controller.subscribe(recorder)`; call `close()` when the episode is over.

    events.jsonl is written inline, before the call returns, and fsync'd in groups on a thread of its own
    (`sync_in_background`; `sync_delay_s` / `sync_every` bound a group; see the crash guarantee above). The .traj
    is rewritten after every step, validation and the end, and results.json after the start, validations and the
    end, by default on a background thread (`traj_in_background`): at 5,000 steps / 50 MB one rewrite takes
    ~0.25 s, which must not block the event loop. Requests that pile up while a rewrite runs collapse into one;
    `flush()` waits until the files on disk are current, and the end of the episode always waits.
    `traj_min_interval_s` additionally caps how often plain steps trigger a rewrite (0 = every step).
    `durable_steps=True` makes CommandStarted wait until the step before is on disk (see the crash guarantee).
    With `sync_in_background=False` events.jsonl is fsync'd per event, inline (the benchmark's reference).
    """

    def __init__(
        self,
        run_dir: Path,
        task_id: str,
        config: dict[str, Any],
        environment: str = ENVIRONMENT_NAME,
        *,
        record_transient: bool = False,
        traj_min_interval_s: float = 0.0,
        traj_in_background: bool = True,
        sync_in_background: bool = True,
        sync_delay_s: float = 0.05,
        sync_every: int = 64,
        durable_steps: bool = False,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.task_id = task_id
        self.record_transient = record_transient
        self.traj_min_interval_s = traj_min_interval_s
        self.events_path = self.run_dir / EVENTS_FILE
        self.traj_path = self.run_dir / traj_file_name(task_id)
        self.results_path = self.run_dir / RESULTS_FILE
        self.config_path = self.run_dir / CONFIG_FILE

        self._secrets = sorted(
            set(secret_env_values(environ)) | set(secret_config_values(config)), key=len, reverse=True
        )
        self._document = TrajDocument(environment, scrub=self._scrub)
        self._started: EpisodeStarted | None = None
        self._validations: list[ValidationScored] = []
        self._ended: EpisodeEnded | None = None
        self._model_stats: dict[str, Any] = {}
        self._traj_dirty = False
        self._last_traj_write = 0.0
        self.traj_rewrites = 0  # rewrites requested; in the background, piled-up requests are written once
        self._writer = BackgroundWriter(f"traj-writer:{self.run_dir.name}") if traj_in_background else None

        config_text = yaml.safe_dump(redact(config, environ), sort_keys=False, allow_unicode=True)
        if self._writer is None:
            atomic_write_text(self.config_path, config_text)
        else:
            config_path = self.config_path
            self._writer.submit(lambda: atomic_write_text(config_path, config_text), key="config")
        self._events = EventLog(self.events_path, background=sync_in_background, delay_s=sync_delay_s,
                                max_unsynced=sync_every, name=f"events-sync:{self.run_dir.name}")
        self._step_closed_mark = 0  # the events.jsonl line that closed the last step: on disk before a new command
        self.durable_steps = durable_steps

    # -- subscriber -------------------------------------------------------------------------------------------

    def __call__(self, event: Event) -> None:
        if event.type in TRANSIENT_EVENT_TYPES and not self.record_transient:
            return
        if self.durable_steps and isinstance(event, CommandStarted) and self._step_closed_mark > self._events.synced:
            self._events.wait_synced(self._step_closed_mark)  # the sync began at the step's end: little or no wait
        mark = self._append_event(event)
        if event.type in STEP_CLOSING_TYPES:
            self._step_closed_mark = mark
        if isinstance(event, EpisodeStarted):
            self._started = event
            self._write_traj()
            self._write_results()
        elif isinstance(event, StepRecorded):
            self._document.add_step(event)
            self._traj_dirty = True
            if time.monotonic() - self._last_traj_write >= self.traj_min_interval_s:
                self._write_traj()
        elif isinstance(event, ValidationScored):
            self._validations.append(event)
            self._write_traj()
            self._write_results()
        elif isinstance(event, EpisodeEnded):
            self._ended = event
            if event.model_stats:
                self._model_stats = dict(event.model_stats)
            self._write_traj()
            self._write_results()  # close() / aclose() wait for these; the loop goes on meanwhile

    def set_history(self, history: list[dict[str, Any]]) -> None:
        """The policy's message history, as MLGym keeps it; included from the next .traj rewrite on."""
        self._document.set_history(history)
        self._traj_dirty = True

    def set_model_stats(self, stats: dict[str, Any]) -> None:
        self._model_stats = dict(stats)
        self._traj_dirty = True

    def flush(self) -> None:
        """Bring events.jsonl and the .traj on disk up to date now, and wait for it (re-raises a failed background
        write or sync)."""
        if self._traj_dirty:
            self._write_traj()
        self._wait_for_writer()
        self._events.wait_synced()

    def close(self) -> None:
        """Bring every file up to date and onto the disk, stop the threads, release the file."""
        if self._events.closed:
            return
        try:
            self.flush()
        finally:
            try:
                if self._writer is not None:
                    self._writer.close()
            finally:
                self._events.close()

    async def step_synced(self) -> None:
        """Wait, without blocking the event loop, until the events that closed the last step are on disk. A runner
        that awaits this before it runs a command makes a crash of the machine lose at most the step in flight."""
        mark = self._step_closed_mark
        if mark > self._events.synced:
            import asyncio

            await asyncio.to_thread(self._events.wait_synced, mark)

    async def aclose(self) -> None:
        """`close()` on a worker thread, for a caller on the event loop (the final rewrite of a long run takes a
        moment)."""
        import asyncio

        await asyncio.to_thread(self.close)

    def __enter__(self) -> "Recorder":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- writing ----------------------------------------------------------------------------------------------

    def _scrub(self, text: str) -> str:
        return scrub_text(text, self._secrets) if self._secrets else text

    def _append_event(self, event: Event) -> int:
        # Event.to_dict goes through dataclasses.asdict, which deep-copies every field first: a shallow dict gives
        # the same JSON (events hold only JSON values) for a fraction of the cost, paid on the loop per event.
        data = {"type": event.type, **vars(event)}
        line = self._scrub(json.dumps(data, ensure_ascii=False)) + "\n"
        # One write call per line, so a crash can cut at most the last line, which the reader then drops.
        return self._events.append(line.encode("utf-8"), urgent=event.type in STEP_CLOSING_TYPES)

    def _write_traj(self) -> None:
        our_meta = {
            "format": OUR_FORMAT_VERSION,
            "episode_started": self._started.to_dict() if self._started else None,
            "validations": [v.to_dict() for v in self._validations],
        }
        render = self._document.snapshot(our_meta, self._info())
        path = self.traj_path
        if self._writer is None:
            atomic_write_bytes(path, render())
        else:
            self._writer.submit(self._after_events(lambda: atomic_write_bytes(path, render())), key="traj")
        self._traj_dirty = False
        self._last_traj_write = time.monotonic()
        self.traj_rewrites += 1

    def _after_events(self, write: Callable[[], None]) -> Callable[[], None]:
        """A rewrite for the writer thread that first lets events.jsonl reach the disk up to now, so that even
        after a crash of the machine the .traj and results.json never run ahead of the source of truth."""
        mark, events = self._events.written, self._events

        def job() -> None:
            events.wait_synced(mark, raise_error=False)  # a failed sync is the loop's to report
            write()

        return job

    def _wait_for_writer(self) -> None:
        if self._writer is not None:
            self._writer.wait_idle()

    def _info(self) -> dict[str, Any]:
        stats = {"total_cost": 0.0, "task_cost": 0.0, "tokens_sent": 0, "tokens_received": 0, "api_calls": 0}
        stats.update(self._model_stats)
        info: dict[str, Any] = {"model_stats": stats}
        scores = self._scores()
        if self._ended is not None:
            info["exit_status"] = self._ended.exit_status
            info["submission"] = self._ended.submission
        elif self._validations and self._validations[-1].submission:
            info["submission"] = self._validations[-1].submission
        info["score"] = scores
        info["summarizer"] = {}
        return info

    def _scores(self) -> list[dict[str, float]]:
        if self._ended is not None and self._ended.score:
            return list(self._ended.score)
        return [dict(v.metrics) for v in self._validations]

    def _baseline(self) -> dict[str, float]:
        for validation in reversed(self._validations):
            if validation.baseline:
                return dict(validation.baseline)
        return dict(self._started.baseline) if self._started else {}

    def _write_results(self) -> None:
        results = {"agent": self._scores(), "baseline": self._baseline()}
        if self._started is not None and self._started.trust:
            # Not part of MLGym's shape; MLGym's readers ignore it. Says whether the scores could have been forged.
            results["trust"] = self._started.trust
            results["trust_reason"] = self._started.trust_reason
        text = self._scrub(json.dumps(results, indent=2, ensure_ascii=False)) + "\n"
        path = self.results_path
        if self._writer is None:
            atomic_write_text(path, text)
        else:
            self._writer.submit(self._after_events(lambda: atomic_write_text(path, text)), key="results")
