"""What the format modules share: the run being exported, the run being imported, times, commands in answers."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml

from mlgym_tui.stream.events import EpisodeEnded, Event, StepRecorded, ValidationScored
from mlgym_tui.stream.types import PERSON_AUTHORS
from mlgym_tui.trajectory.errors import TrajectoryError
from mlgym_tui.trajectory.formats.secrets import Scrubber
from mlgym_tui.trajectory.load import load_run
from mlgym_tui.trajectory.loaded_run import LoadedRun, RunMeta
from mlgym_tui.trajectory.recorder import CONFIG_FILE
from mlgym_tui.trajectory.traj_scan import NotJsonObject, scan_traj_text

# The key under which our exports keep what the target format has no field for, so an import of our own export
# gives back the run as it was (who acted, exit codes, durations, validations).
OURS = "mlgym_tui"
# Before this, a clock reading is not a real time: MLGym's runs are laid out from t=0 (traj_reader).
_REAL_CLOCK = 1e9


class FormatProblem(TrajectoryError):
    """A file that is not the trajectory format it was taken for; the message is one line."""


def is_person(author: str) -> bool:
    return author in PERSON_AUTHORS


@dataclass
class RunSource:
    """A recorded run as the exporters need it: its events, the agent's message history, its config."""

    run: LoadedRun
    history: list[dict[str, Any]]
    config: dict[str, Any] | None
    scrubber: Scrubber

    @property
    def meta(self) -> RunMeta:
        return self.run.meta

    def final_score(self) -> dict[str, float] | None:
        ended = self.run.ended
        if ended is not None and ended.score:
            return dict(ended.score[-1])
        if self.run.validations:
            return dict(self.run.validations[-1].metrics)
        return None

    def validations_by_step(self) -> dict[int, list[ValidationScored]]:
        out: dict[int, list[ValidationScored]] = {}
        for validation in self.run.validations:
            out.setdefault(validation.step, []).append(validation)
        return out


def open_run(path: Path | str, environ: Any = None) -> RunSource:
    """Load a run (directory, events.jsonl or .traj) with the history and config kept beside it."""
    path = Path(path)
    run = load_run(path)
    folder = path if path.is_dir() else path.parent
    config = _read_config(folder / CONFIG_FILE)
    return RunSource(run=run, history=read_history(path), config=config, scrubber=Scrubber(config, environ))


def _read_config(path: Path) -> dict[str, Any] | None:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def read_history(path: Path) -> list[dict[str, Any]]:
    """The "history" of the run's .traj (the messages the agent saw), or [] when there is none to read."""
    if path.is_dir():
        candidates = sorted(p for p in path.glob("*.traj") if not p.name.startswith("."))
        if len(candidates) != 1:
            return []
        path = candidates[0]
    elif path.suffix != ".traj":
        candidates = sorted(p for p in path.parent.glob("*.traj") if not p.name.startswith("."))
        if len(candidates) != 1:
            return []
        path = candidates[0]
    try:
        text = path.read_bytes().decode("utf-8", errors="replace")
        document = scan_traj_text(text).document
    except (OSError, NotJsonObject):
        return []
    history = document.get("history") if isinstance(document, dict) else None
    if not isinstance(history, list):
        return []
    return [item for item in history if isinstance(item, dict) and isinstance(item.get("role"), str)]


def iso_time(clock: float) -> str | None:
    if not clock or clock < _REAL_CLOCK:
        return None
    return datetime.fromtimestamp(clock, timezone.utc).isoformat().replace("+00:00", "Z")


def parse_iso_time(text: Any) -> float | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def step_extra(step: StepRecorded, validations: list[ValidationScored]) -> dict[str, Any]:
    """Our fields of a step that the target format has no place for."""
    extra: dict[str, Any] = {
        "step": step.step, "author": step.author, "exit_code": step.exit_code, "duration": step.duration,
        "started_at": step.started_at, "recorded_at": step.t, "state": step.state, "thought": step.thought,
        "timed_out": step.timed_out,
    }
    if step.edited_from is not None:
        extra["edited_from"] = step.edited_from
    if validations:
        extra["validations"] = [v.to_dict() for v in validations]
    return extra


def run_extra(source: RunSource) -> dict[str, Any]:
    """Our run-level record: the real start event and the end, so an import restores them as they were."""
    started = source.run.events[0] if source.run.events and source.run.events[0].type == "episode_started" else None
    return {
        "format": 1,
        "episode_started": started.to_dict() if started else None,
        "episode_ended": source.run.ended.to_dict() if source.run.ended else None,
    }


# -- reading commands out of answers ----------------------------------------------------------------------------

# mini-swe-agent v1 fenced its command as ```bash, v2 as ```mswea_bash_command (its action_regex); MLGym and we
# use a bare ``` fence, taken when neither is there.
_MINI_BLOCKS = re.compile(r"```(?:bash|mswea_bash_command)\s*\n(.*?)\n```", re.DOTALL)
_ANY_BLOCK = re.compile(r"```[\w.+-]*[ \t]*\n(.*?)\n```", re.DOTALL)


def command_in(text: str) -> str | None:
    """The one command of an answer, as mini-swe-agent reads it (exactly one block); None otherwise."""
    for pattern in (_MINI_BLOCKS, _ANY_BLOCK):
        found = [block.strip() for block in pattern.findall(text or "")]
        if len(found) == 1:
            return found[0]
        if found:
            return None
    return None


def thought_in(text: str) -> str:
    """An answer without its command block (and a leading THOUGHT: label)."""
    without = _MINI_BLOCKS.sub("", text or "")
    if without == (text or ""):
        without = _ANY_BLOCK.sub("", without)
    without = without.strip()
    return without[len("THOUGHT:"):].strip() if without.startswith("THOUGHT:") else without


# -- the run an import builds -----------------------------------------------------------------------------------


@dataclass
class ImportedRun:
    """A trajectory read from another format, as events of ours, before it is written as a run directory."""

    source_format: str
    meta: RunMeta
    steps: list[StepRecorded] = field(default_factory=list)
    validations: list[ValidationScored] = field(default_factory=list)
    ended: EpisodeEnded | None = None
    started: dict[str, Any] | None = None  # our own EpisodeStarted, when the file is an export of ours
    history: list[dict[str, Any]] = field(default_factory=list)
    model_stats: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)  # the source's config, written (redacted) to config.yaml
    notes: list[str] = field(default_factory=list)


def our_step(
    number: int, author: str, action: str, observation: str, *, thought: str = "", response: str = "",
    started_at: float | None = None, ours: dict[str, Any] | None = None, tokens_in: int = 0, tokens_out: int = 0,
    cost: float = 0.0, exit_code: int | None = None,
) -> StepRecorded:
    """A StepRecorded from what a format says, our own fields (`ours`, from an export of ours) winning."""
    ours = ours if isinstance(ours, dict) else {}
    recorded_author = ours.get("author")
    if isinstance(recorded_author, str) and recorded_author in ("agent", "human", "human-terminal", "replay",
                                                                  "baseline"):
        author = recorded_author
    start = _number(ours.get("started_at"), started_at or 0.0)
    duration = _number(ours.get("duration"), 0.0)
    state = ours.get("state") if isinstance(ours.get("state"), dict) else {}
    recorded_exit = ours.get("exit_code", exit_code)
    return StepRecorded(
        t=_number(ours.get("recorded_at"), start + duration),
        step=int(ours.get("step") or number),
        author=author,  # type: ignore[arg-type]
        action=action,
        observation=observation,
        thought=ours["thought"] if isinstance(ours.get("thought"), str) else thought,
        response=response,
        state=state,
        exit_code=recorded_exit if isinstance(recorded_exit, int) else None,
        started_at=start,
        duration=duration,
        tokens_in=tokens_in,
        tokens_out=tokens_out,
        cost=cost,
        edited_from=ours.get("edited_from") if isinstance(ours.get("edited_from"), str) else None,
        timed_out=bool(ours.get("timed_out") or False),
    )


def meta_from(started: dict[str, Any] | None, fallback: RunMeta) -> RunMeta:
    """The run's details from our own EpisodeStarted when the file is an export of ours, else `fallback`."""
    event = _event(started)
    if event is None or event.type != "episode_started":
        return fallback
    meta = RunMeta.from_started(event)  # type: ignore[arg-type]
    meta.task_id = fallback.task_id  # already the --task given, else this event's
    return meta


def our_validations(ours: dict[str, Any] | None) -> list[ValidationScored]:
    out = []
    for item in (ours or {}).get("validations") or []:
        event = _event(item)
        if isinstance(event, ValidationScored):
            out.append(event)
    return out


def our_ended(data: Any) -> EpisodeEnded | None:
    event = _event(data)
    return event if isinstance(event, EpisodeEnded) else None


def _event(data: Any) -> Event | None:
    if not isinstance(data, dict):
        return None
    try:
        return Event.from_dict(data)
    except (TypeError, ValueError):
        return None


def _number(value: Any, default: float) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else default


def load_json(path: Path, expected: str) -> Any:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise FormatProblem(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if not raw.strip():
        raise FormatProblem(f"{path}: file is empty; expected {expected}")
    try:
        return json.loads(raw.decode("utf-8", errors="replace"))
    except ValueError as exc:
        raise FormatProblem(f"{path}: not JSON ({exc.args[0] if exc.args else exc}); expected {expected}") from None
