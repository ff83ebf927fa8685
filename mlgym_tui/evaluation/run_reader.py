"""Read one run directory into a RunSummary, touching as little as possible.

A results listing opens hundreds of runs, so nothing is parsed in full when a part will do:
the first and last line of events.jsonl (and its last 64 KiB when the run did not end with a submission, for the
fatal errors that tell a configuration or infrastructure failure), results.json (small), and from the .traj only
its trailing "info" object plus a byte scan for the steps' execution times. Any defect becomes the run's one-line
`problem`; nothing here raises for bad files.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from mlgym_tui.config.directions import primary_from_declared
from mlgym_tui.evaluation.discovery import FoundRun, model_label
from mlgym_tui.evaluation.failure_kinds import read_failure
from mlgym_tui.evaluation.results_table import BASELINE
from mlgym_tui.evaluation.run_summary import RunSummary

HUMAN_LABEL = "human"
MISSING_TRAJECTORY = "missing trajectory"
UNKNOWN_EXIT = "unknown (no exit_status)"
BASELINE_AGENT_LABEL = "baseline-agent"
_TAIL_BYTES = 16384
# Inside JSON strings the quotes are escaped (\"), so this only matches real keys of trajectory steps.
_EXECUTION_TIME = re.compile(rb'"execution_time":\s*(-?[0-9][0-9.eE+-]*|null)')
_INFO_KEY = b'"info":'


class RunFileError(Exception):
    """A run's file is missing or unreadable; the message is the one line shown to the user."""


def _load_json(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RunFileError(f"{path.name} is missing; the run did not finish writing it (rerun or remove the run)")
    except (OSError, UnicodeDecodeError) as exc:
        raise RunFileError(f"{path.name} cannot be read ({exc}); check the file")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise RunFileError(f"{path.name} is not valid JSON (line {exc.lineno}: {exc.msg}); restore or remove the file")


def read_results_json(path: Path) -> tuple[list[dict[str, Any]], dict[str, Any], str, str]:
    """(agent scores, baseline, trust, trust_reason); trust is "" when the file does not say (MLGym's, older runs)."""
    data = _load_json(path)
    agent = data.get("agent") if isinstance(data, dict) else None
    baseline = data.get("baseline", {}) if isinstance(data, dict) else None
    if not isinstance(agent, list) or not all(isinstance(e, dict) for e in agent) or not isinstance(baseline, (dict, type(None))):
        raise RunFileError(f'{path.name} is not {{"agent": [metrics...], "baseline": {{metrics}}}}; restore or remove the file')
    return agent, baseline or {}, _one_line(data.get("trust")), _one_line(data.get("trust_reason"))


def _one_line(value: Any) -> str:
    # Shown in tables and one-line notes: anything but a string counts as not recorded.
    return " ".join(value.split()) if isinstance(value, str) else ""


def read_first_last_lines(path: Path) -> tuple[bytes, bytes]:
    """First line and last non-empty line, reading only the two ends of the file."""
    with open(path, "rb") as handle:
        first = handle.readline()
        size = handle.seek(0, os.SEEK_END)
        block, tail = 4096, b""
        while True:
            start = max(0, size - block)
            handle.seek(start)
            tail = handle.read(size - start)
            lines = tail.rstrip(b"\r\n").rsplit(b"\n", 1)
            if len(lines) == 2 or start == 0:
                return first.strip(), lines[-1].strip()
            block *= 4


def read_traj_facts(path: Path) -> tuple[dict[str, Any], int, float]:
    """(info, number of steps, summed execution_time) of an MLGym-format .traj."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise RunFileError(f"{path.name} is missing; the trajectory was not saved (rerun or remove the run)")
    except OSError as exc:
        raise RunFileError(f"{path.name} cannot be read ({exc.strerror}); check the file")
    times = _EXECUTION_TIME.findall(data)
    steps = len(times)
    wall = sum(float(t) for t in times if t != b"null")
    info = _info_from_tail(data)
    if info is None:  # "info" not last, or unusually large: parse it all once
        try:
            whole = json.loads(data)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            where = f"line {exc.lineno}: {exc.msg}" if isinstance(exc, json.JSONDecodeError) else str(exc)
            raise RunFileError(f"{path.name} is not valid JSON ({where}); restore or remove the file")
        info = whole.get("info") if isinstance(whole, dict) else None
        if not isinstance(info, dict):
            raise RunFileError(f'{path.name} has no "info" object; it is not an MLGym trajectory')
        if isinstance(whole.get("trajectory"), list):
            steps = len(whole["trajectory"])
    return info, steps, wall


def _info_from_tail(data: bytes) -> dict[str, Any] | None:
    tail = data[-_TAIL_BYTES:]
    at = tail.rfind(_INFO_KEY)
    if at < 0:
        return None
    text = tail[at + len(_INFO_KEY):].decode("utf-8", errors="replace").lstrip()
    try:
        info, end = json.JSONDecoder().raw_decode(text)
    except json.JSONDecodeError:
        return None
    if not isinstance(info, dict) or text[end:].strip() != "}":  # must be the file's last value
        return None
    return info


def _cost(model_stats: Any) -> float | None:
    if isinstance(model_stats, dict) and isinstance(model_stats.get("total_cost"), (int, float)):
        return float(model_stats["total_cost"])
    return None


def read_run(found: FoundRun) -> RunSummary:
    reader = _read_ours if found.layout == "ours" else _read_mlgym
    return reader(found)


def _read_mlgym(found: FoundRun) -> RunSummary:
    fields = found.name_fields
    task = fields.get("task", "")
    run = RunSummary(
        path=found.path, layout="mlgym", task_id=task, model=model_label(fields.get("model", "")),
        agent=fields.get("agent", ""), run_index=int(fields["run"]) if "run" in fields else None,
    )
    # MLGym's own aggregation reads results.json only, so a run counts whenever that file holds its scores; what
    # its trajectory says (missing, or no exit_status after a crash or kill) only becomes a warning.
    try:
        run.scores, run.baseline, run.trust, run.trust_reason = read_results_json(found.path / "results.json")
    except RunFileError as exc:
        run.problem = str(exc)
    traj = found.path / f"{task}.traj"
    try:
        info, run.steps, run.wall_time = read_traj_facts(traj)
    except RunFileError as exc:
        run.finished = False
        run.exit_status = MISSING_TRAJECTORY if not traj.exists() else UNKNOWN_EXIT
        run.warning = f"{exc}; counted from results.json, as MLGym counts it"
        return run
    run.exit_status = info.get("exit_status") or None
    run.cost = _cost(info.get("model_stats"))
    if run.exit_status is None:
        run.finished = False
        run.exit_status = UNKNOWN_EXIT
        run.warning = (f"{task}.traj has no exit_status (still running, or it crashed); "
                       "counted from results.json, as MLGym counts it")
    return run


def _read_ours(found: FoundRun) -> RunSummary:
    run = RunSummary(path=found.path, layout="ours", task_id="", model="")
    try:
        first, last = read_first_last_lines(found.path / "events.jsonl")
    except FileNotFoundError:
        run.problem = "events.jsonl is missing; this run cannot be attributed (remove the directory)"
        return run
    except OSError as exc:
        run.problem = f"events.jsonl cannot be read ({exc.strerror}); check the file"
        return run
    try:
        started = json.loads(first)
        if not isinstance(started, dict) or started.get("type") != "episode_started":
            raise ValueError
    except ValueError:
        run.problem = "events.jsonl does not start with an episode_started event; the file is damaged"
        return run
    run.task_id = str(started.get("task_id", ""))
    run.agent = str(started.get("agent", ""))
    run.model = HUMAN_LABEL if run.agent == HUMAN_LABEL else model_label(str(started.get("model", "")))
    if run.model == BASELINE:
        # Runs of the baseline policy must not merge with the task's own baseline score column.
        run.model = BASELINE_AGENT_LABEL
    run.declared_metric = primary_from_declared(started.get("metrics") or [])
    run.baseline = started.get("baseline") or {}
    try:
        ended = json.loads(last)
    except ValueError:
        ended = None
    if not isinstance(ended, dict) or ended.get("type") != "episode_ended":
        run.finished = False
        run.exit_status = UNKNOWN_EXIT
        run.warning = ("no episode_ended in events.jsonl (still running, or it crashed); its scores so far are "
                       "counted, as MLGym counts every results.json")
        ended = {}
    else:
        run.exit_status = ended.get("exit_status") or None
    if failure := read_failure(found.path, run.exit_status if ended else None):
        run.failure, run.failure_reason = failure.kind, failure.reason
    run.cost = _cost(ended.get("model_stats"))
    if isinstance(started.get("t"), (int, float)) and isinstance(ended.get("t"), (int, float)):
        run.wall_time = float(ended["t"]) - float(started["t"])
    try:
        run.scores, baseline, run.trust, run.trust_reason = read_results_json(found.path / "results.json")
    except RunFileError as exc:
        run.problem = str(exc)
        return run
    run.baseline = baseline or run.baseline
    try:
        _info, run.steps, _exec = read_traj_facts(found.path / f"{run.task_id}.traj")
    except RunFileError as exc:
        run.warning = run.warning or f"{exc}; counted from results.json, as MLGym counts it"
    return run
