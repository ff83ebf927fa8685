"""Typed events: an episode is a stream of these.

The live view, the headless printer, the recorder and the replay view all read the same stream.
Each event serialises to one JSON object with a "type" field (a line of events.jsonl) and back.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar

from mlgym_tui.stream.types import AUTHORS, Author, Engine, Mode  # noqa: F401 (AUTHORS: readers check recorded authors)

_REGISTRY: dict[str, type["Event"]] = {}


@dataclass(kw_only=True)
class Event:
    type: ClassVar[str] = "event"
    t: float = field(default_factory=time.time)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _REGISTRY[cls.type] = cls

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        return {"type": self.type, **data}

    @staticmethod
    def from_dict(data: dict[str, Any]) -> "Event":
        """Rebuild an event; unknown fields are dropped so newer files still load.

        Raises ValueError for an unknown type and TypeError when a required field is missing.
        """
        kind = data.get("type", "")
        keys = tuple(data)
        cls = _COMPLETE.get((kind, keys))
        if cls is not None:
            # Every field and nothing else, as to_dict writes them: fill the instance the way the generated
            # __init__ would (no event has __post_init__). Opening a long run rebuilds ~100k events; this
            # takes about half as long as calling __init__ with keywords.
            values = dict(data)
            del values["type"]
            event = object.__new__(cls)
            event.__dict__ = values
            return event
        cls = _REGISTRY.get(kind)
        if cls is None:
            raise ValueError(f"unknown event type {kind!r}")
        names = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in names}
        if len(values) == len(names) and len(data) == len(names) + 1:
            _COMPLETE[(kind, keys)] = cls
        return cls(**values)


# (type, key order) of dicts that hold exactly that event type's fields plus "type"
_COMPLETE: dict[tuple[str, tuple[str, ...]], type[Event]] = {}


@dataclass(kw_only=True)
class EpisodeStarted(Event):
    type: ClassVar[str] = "episode_started"
    run_id: str
    task_id: str
    agent: str
    model: str
    mode: Mode
    engine: Engine | str  # a recorded run may name another engine
    max_steps: int
    cost_limit: float
    parent: str | None = None
    fork_step: int | None = None
    fork_by: str = ""  # a fork's first steps: "snapshot" (restored) or "reexecute" (run again); "" in older runs
    baseline: dict[str, float] = field(default_factory=dict)
    metrics: list[dict[str, Any]] = field(default_factory=list)  # [{name, direction, primary}]
    trust: str = ""  # how scores are computed: isolated | in-process | unisolated ("" in older runs)
    trust_reason: str = ""
    who: str = ""  # the person who played a human baseline (`play --who`, default the login name)
    wall_time_s: float | None = None  # the episode's time limit, if any


@dataclass(kw_only=True)
class EpisodeEnded(Event):
    type: ClassVar[str] = "episode_ended"
    exit_status: str
    submission: str | None = None
    score: list[dict[str, float]] = field(default_factory=list)
    model_stats: dict[str, Any] = field(default_factory=dict)
    # The episode's clock at the end (stream/clock.py); None in runs recorded before it was kept.
    wall_s: float | None = None
    active_s: float | None = None  # less pauses, approvals waiting for a person, rate-limit back-off
    human_s: float | None = None  # active time from a person's first action; None when no person acted


@dataclass(kw_only=True)
class ModelQueryStarted(Event):
    type: ClassVar[str] = "model_query_started"
    step: int


@dataclass(kw_only=True)
class ModelLibraryLoading(Event):
    """The model call of `step` waits for the model library (litellm), still being imported on a worker thread:
    once with done=False when the wait begins, once with done=True and how long it took."""

    type: ClassVar[str] = "model_library_loading"
    step: int
    done: bool = False
    seconds: float = 0.0


@dataclass(kw_only=True)
class Token(Event):
    type: ClassVar[str] = "token"
    step: int
    text: str


@dataclass(kw_only=True)
class ModelResponse(Event):
    type: ClassVar[str] = "model_response"
    step: int
    content: str
    tokens_in: int = 0
    tokens_out: int = 0
    cost: float = 0.0


@dataclass(kw_only=True)
class Retry(Event):
    type: ClassVar[str] = "retry"
    step: int
    attempt: int
    reason: str
    wait_s: float


@dataclass(kw_only=True)
class FormatError(Event):
    type: ClassVar[str] = "format_error"
    step: int
    content: str
    reason: str
    attempt: int


@dataclass(kw_only=True)
class ActionProposed(Event):
    type: ClassVar[str] = "action_proposed"
    step: int
    action: str
    thought: str = ""
    author: Author = "agent"


@dataclass(kw_only=True)
class ProposalDiscarded(Event):
    """The agent's proposal was dropped unrun because a person acted first (a step of theirs, a take-over): the
    agent proposes again from what it sees now. `action` is empty when the model was still thinking."""

    type: ClassVar[str] = "proposal_discarded"
    step: int
    action: str
    reason: str


@dataclass(kw_only=True)
class ActionApproved(Event):
    type: ClassVar[str] = "action_approved"
    step: int
    action: str
    by: Author = "human"


@dataclass(kw_only=True)
class ActionEdited(Event):
    type: ClassVar[str] = "action_edited"
    step: int
    original: str
    action: str


@dataclass(kw_only=True)
class ActionRejected(Event):
    type: ClassVar[str] = "action_rejected"
    step: int
    action: str
    comment: str = ""


@dataclass(kw_only=True)
class CommandStarted(Event):
    type: ClassVar[str] = "command_started"
    step: int
    action: str
    author: Author


@dataclass(kw_only=True)
class OutputChunk(Event):
    """Raw shell output as decoded text, escape sequences intact (the shell pane renders them)."""

    type: ClassVar[str] = "output_chunk"
    step: int
    data: str


@dataclass(kw_only=True)
class CommandFinished(Event):
    type: ClassVar[str] = "command_finished"
    step: int
    exit_code: int | None
    duration: float
    timed_out: bool = False
    interrupted: bool = False


@dataclass(kw_only=True)
class StepRecorded(Event):
    """One complete step: what the trajectory keeps. `edited_from` is set when a person changed the action."""

    type: ClassVar[str] = "step"
    step: int
    author: Author
    action: str
    observation: str
    thought: str = ""
    response: str = ""
    state: dict[str, Any] = field(default_factory=dict)
    exit_code: int | None = None
    started_at: float = 0.0
    duration: float = 0.0
    tokens_in: int = 0
    tokens_out: int = 0
    cost: float = 0.0
    edited_from: str | None = None
    timed_out: bool = False


@dataclass(kw_only=True)
class ValidationScored(Event):
    type: ClassVar[str] = "validation_scored"
    step: int
    metrics: dict[str, float]
    baseline: dict[str, float] = field(default_factory=dict)
    submission: str | None = None
    final: bool = False
    trust: str = ""
    artefacts: str = ""  # sha256 of the scored files (submissions/<step>/manifest.json)
    wall_s: float | None = None  # the episode's clock when scored (stream/clock.py); None in older runs
    active_s: float | None = None


@dataclass(kw_only=True)
class ModeChanged(Event):
    type: ClassVar[str] = "mode_changed"
    mode: Mode


@dataclass(kw_only=True)
class Paused(Event):
    type: ClassVar[str] = "paused"


@dataclass(kw_only=True)
class Resumed(Event):
    type: ClassVar[str] = "resumed"


@dataclass(kw_only=True)
class LimitChanged(Event):
    type: ClassVar[str] = "limit_changed"
    name: str
    value: float


@dataclass(kw_only=True)
class MessageToAgent(Event):
    type: ClassVar[str] = "message_to_agent"
    text: str


@dataclass(kw_only=True)
class ErrorEvent(Event):
    type: ClassVar[str] = "error"
    message: str
    fatal: bool = False


@dataclass(kw_only=True)
class ControlChanged(Event):
    """Who steers the episode from an attached viewer changed (mlgym_tui/control): `holder` is "user@host", or ""
    when nobody holds control. `reason`: taken, handed over, released, or the holder's connection was lost."""

    type: ClassVar[str] = "control_changed"
    holder: str
    reason: str


@dataclass(kw_only=True)
class CommandSent(Event):
    """A front end steered the episode: which command, with its arguments, and who sent it ("user@host", with
    " (local)" for the process that runs the episode). Refused commands are recorded too, with the refusal."""

    type: ClassVar[str] = "command_sent"
    who: str
    command: str
    args: dict[str, Any] = field(default_factory=dict)
    refused: str = ""


@dataclass(kw_only=True)
class WorkspaceSnapshot(Event):
    """What the workspace's files became at a step (step 0: as the task gave them, before the first step): only
    what changed since the previous snapshot. Each `changed` entry is {path, kind (file|dir|link), mode, size,
    sha256 (None when not hashed: too large, or a dir), stored (the bytes are in the run's workspace/ blob store),
    target (a link's), note (why not stored)}; paths are relative to the workspace. `skipped` says what was left out
    and why ({path, reason}: ignored by the task, a name that is not UTF-8, over a cap); `complete` is False when
    the listing stopped at its cap, so changes past it are unknown. See trajectory/workspace_store.py."""

    type: ClassVar[str] = "workspace_snapshot"
    step: int
    changed: list[dict[str, Any]] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    files: int = 0  # entries listed in the workspace after this step
    cost_ms: float = 0.0  # what taking this snapshot cost the episode
    complete: bool = True
    cwd: str | None = None  # the agent shell's working directory; None: unchanged since the previous snapshot
    env: dict[str, str] | None = None  # its exported variables (secrets redacted); None: unchanged
