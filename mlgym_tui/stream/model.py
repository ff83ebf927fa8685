"""What the episode screen shows, folded from the event stream (no widgets here).

Every view of an episode (live, replay, a recorded list in a test) feeds events into an EpisodeModel;
`apply` returns which parts of the screen need a repaint so the screen can coalesce updates.
"""

from __future__ import annotations

import enum
import functools
from dataclasses import dataclass, field
from typing import Any

from mlgym_tui.stream import events as ev
from mlgym_tui.stream.types import Author, Mode

class Changed(enum.Flag):
    """Which parts of an episode's view an event changed; a screen repaints only those, once per burst."""

    NOTHING = 0
    TRANSCRIPT = enum.auto()
    SHELL = enum.auto()
    METRICS = enum.auto()
    STATUS = enum.auto()
    PENDING = enum.auto()
    WORKSPACE = enum.auto()
    ALL = TRANSCRIPT | SHELL | METRICS | STATUS | PENDING | WORKSPACE


TRANSCRIPT, SHELL, METRICS, STATUS, PENDING = (Changed.TRANSCRIPT, Changed.SHELL, Changed.METRICS, Changed.STATUS,
                                               Changed.PENDING)
WORKSPACE = Changed.WORKSPACE


@dataclass
class StepView:
    """One transcript card."""

    step: int
    author: Author = "agent"
    thought: str = ""
    action: str = ""
    observation: str = ""
    exit_code: int | None = None
    duration: float = 0.0
    tokens_in: int = 0
    tokens_out: int = 0
    cost: float = 0.0
    edited_from: str | None = None
    timed_out: bool = False
    rejected: str | None = None  # why the proposal did not run: the reviewer's comment, or why it was discarded
    discarded: bool = False  # dropped unrun because a person acted first (not a reviewer's rejection)
    validation: dict[str, float] | None = None
    final: bool = False
    revision: int = 0  # bumped on every change so a card knows when to re-render


@dataclass
class LiveStep:
    """The step in progress: the model's answer streaming in, then its command running."""

    step: int
    streaming: str = ""
    thinking: bool = False  # a model call is in flight
    retry: str | None = None
    loading_library: bool = False  # the model call waits for the model library's import (first call of a session)
    action: str = ""
    author: Author = "agent"
    running: bool = False


@dataclass
class Pending:
    step: int
    action: str
    thought: str = ""


@dataclass
class EpisodeModel:
    task_id: str = ""
    model: str = ""
    agent: str = ""
    engine: str = ""
    container: str = ""
    mode: Mode = "auto"
    paused: bool = False
    max_steps: int = 0
    cost_limit: float = 0.0
    cost: float = 0.0
    tokens_in: int = 0
    tokens_out: int = 0
    started_at: float | None = None
    ended_at: float | None = None
    exit_status: str | None = None
    baseline: dict[str, float] = field(default_factory=dict)
    primary_metric: str | None = None
    direction: str = "maximize"
    trust: str = ""  # how the episode's scores are computed (EpisodeStarted.trust); "" in older runs
    trust_reason: str = ""
    steps: list[StepView] = field(default_factory=list)
    live: LiveStep | None = None
    pending: Pending | None = None
    validations: list[tuple[int, dict[str, float]]] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    shell_chunks: list[str] = field(default_factory=list)  # not kept: drained by the shell pane
    control_holder: str = ""  # the attached viewer steering the episode ("user@host"); "" when none
    # the workspace's snapshots as they arrive, only kept (the workspace pane folds them when it is shown)
    workspace: list[ev.WorkspaceSnapshot] = field(default_factory=list)
    last_event_t: float | None = None

    # ---------------------------------------------------------------- folding

    def apply(self, event: ev.Event) -> Changed:
        self.last_event_t = event.t
        handler = _handlers(type(self)).get(event.type)
        if handler is None:
            return Changed.NOTHING
        return handler(self, event) or Changed.NOTHING

    def apply_all(self, events: list[ev.Event]) -> Changed:
        dirty = Changed.NOTHING
        for event in events:
            dirty |= self.apply(event)
        return dirty

    def _live(self, step: int) -> LiveStep:
        if self.live is None or self.live.step != step:
            self.live = LiveStep(step=step)
        return self.live

    def _on_episode_started(self, e: ev.EpisodeStarted) -> Changed:
        self.task_id, self.model, self.agent, self.engine = e.task_id, e.model, e.agent, e.engine
        self.mode, self.max_steps, self.cost_limit = e.mode, e.max_steps, e.cost_limit
        self.baseline = dict(e.baseline)
        self.started_at = e.t
        self.trust, self.trust_reason = e.trust, e.trust_reason
        primary = next((m for m in e.metrics if m.get("primary")), e.metrics[0] if e.metrics else None)
        if primary:
            self.primary_metric = primary.get("name")
            self.direction = primary.get("direction", "maximize")
        elif self.baseline:
            self.primary_metric = next(iter(self.baseline))
        return STATUS | METRICS | TRANSCRIPT

    def _on_episode_ended(self, e: ev.EpisodeEnded) -> Changed:
        self.exit_status = e.exit_status
        self.ended_at = e.t
        self.live = None
        self.pending = None
        return STATUS | METRICS | TRANSCRIPT | PENDING

    def _on_model_query_started(self, e: ev.ModelQueryStarted) -> Changed:
        live = self._live(e.step)
        live.thinking, live.streaming, live.retry = True, "", None
        return TRANSCRIPT | STATUS

    def _on_model_library_loading(self, e: ev.ModelLibraryLoading) -> Changed:
        self._live(e.step).loading_library = not e.done
        return TRANSCRIPT | STATUS

    def _on_token(self, e: ev.Token) -> Changed:
        live = self._live(e.step)
        live.streaming += e.text
        return TRANSCRIPT

    def _on_model_response(self, e: ev.ModelResponse) -> Changed:
        live = self._live(e.step)
        live.thinking = live.loading_library = False
        live.streaming = e.content
        self.tokens_in += e.tokens_in
        self.tokens_out += e.tokens_out
        self.cost += e.cost
        return TRANSCRIPT | METRICS | STATUS

    def _on_retry(self, e: ev.Retry) -> Changed:
        self._live(e.step).retry = f"retry {e.attempt}: {e.reason} (waiting {e.wait_s:.0f}s)"
        return TRANSCRIPT

    def _on_format_error(self, e: ev.FormatError) -> Changed:
        self._live(e.step).retry = f"format error (attempt {e.attempt}): {e.reason}"
        return TRANSCRIPT

    def _on_action_proposed(self, e: ev.ActionProposed) -> Changed:
        live = self._live(e.step)
        live.action, live.author, live.thinking = e.action, e.author, False
        self.pending = Pending(e.step, e.action, e.thought) if self.mode == "confirm" else None
        return TRANSCRIPT | PENDING

    def _clear_pending(self) -> Changed:
        self.pending = None
        return PENDING | TRANSCRIPT

    def _on_action_approved(self, e: ev.ActionApproved) -> Changed:
        return self._clear_pending()

    def _on_action_edited(self, e: ev.ActionEdited) -> Changed:
        if self.live is not None:
            self.live.action = e.action
        return self._clear_pending()

    def _on_action_rejected(self, e: ev.ActionRejected) -> Changed:
        self.steps.append(StepView(step=e.step, action=e.action, rejected=e.comment or "(no comment)",
                                   thought=self.pending.thought if self.pending else ""))
        self.live = None
        return self._clear_pending()

    def _on_proposal_discarded(self, e: ev.ProposalDiscarded) -> Changed:
        self.steps.append(StepView(step=e.step, action=e.action, rejected=e.reason, discarded=True,
                                   thought=self.pending.thought if self.pending else ""))
        self.live = None
        return self._clear_pending()

    def _on_command_started(self, e: ev.CommandStarted) -> Changed:
        live = self._live(e.step)
        live.action, live.author, live.running, live.thinking = e.action, e.author, True, False
        self.pending = None
        self.shell_chunks.append(f"\r\n\x1b[1;36m$ {e.action.splitlines()[0] if e.action else ''}\x1b[0m\r\n")
        return TRANSCRIPT | SHELL | STATUS | PENDING

    def _on_output_chunk(self, e: ev.OutputChunk) -> Changed:
        self.shell_chunks.append(e.data)
        return SHELL

    def _on_command_finished(self, e: ev.CommandFinished) -> Changed:
        if self.live is not None:
            self.live.running = False
        return TRANSCRIPT | STATUS

    def _on_step(self, e: ev.StepRecorded) -> Changed:
        self.steps.append(StepView(
            step=e.step, author=e.author, thought=e.thought, action=e.action, observation=e.observation,
            exit_code=e.exit_code, duration=e.duration, tokens_in=e.tokens_in, tokens_out=e.tokens_out,
            cost=e.cost, edited_from=e.edited_from, timed_out=e.timed_out,
        ))
        if self.live is not None and self.live.step <= e.step:
            self.live = None
        return TRANSCRIPT | METRICS | STATUS

    def _on_validation_scored(self, e: ev.ValidationScored) -> Changed:
        self.validations.append((e.step, dict(e.metrics)))
        if e.baseline and not self.baseline:
            self.baseline = dict(e.baseline)
        if self.primary_metric is None and e.metrics:
            self.primary_metric = next(iter(e.metrics))
        for card in reversed(self.steps):
            if card.step == e.step:
                card.validation, card.final = dict(e.metrics), e.final
                card.revision += 1
                break
        return TRANSCRIPT | METRICS

    def _on_mode_changed(self, e: ev.ModeChanged) -> Changed:
        self.mode = e.mode
        if e.mode != "confirm":
            self.pending = None
        return STATUS | PENDING

    def _on_paused(self, e: ev.Paused) -> Changed:
        self.paused = True
        return STATUS

    def _on_resumed(self, e: ev.Resumed) -> Changed:
        self.paused = False
        return STATUS

    def _on_limit_changed(self, e: ev.LimitChanged) -> Changed:
        if e.name == "max_steps":
            self.max_steps = int(e.value)
        elif e.name == "cost_limit":
            self.cost_limit = float(e.value)
        return METRICS | STATUS

    def _on_message_to_agent(self, e: ev.MessageToAgent) -> Changed:
        self.messages.append(e.text)
        return TRANSCRIPT

    def _on_control_changed(self, e: ev.ControlChanged) -> Changed:
        self.control_holder = e.holder
        return STATUS

    def _on_workspace_snapshot(self, e: ev.WorkspaceSnapshot) -> Changed:
        self.workspace.append(e)
        return WORKSPACE

    def _on_error(self, e: ev.ErrorEvent) -> Changed:
        self.errors.append(e.message)
        return STATUS | TRANSCRIPT

    # ---------------------------------------------------------------- derived figures

    def best_score(self) -> float | None:
        name = self.primary_metric
        values = [m[name] for _, m in self.validations if name in m]
        if not values:
            return None
        return max(values) if self.direction == "maximize" else min(values)

    def against_baseline(self, value: float) -> int | None:
        """1 when value beats the baseline, 0 when it matches, -1 when it is worse; None without a baseline."""
        base = self.baseline.get(self.primary_metric or "")
        if base is None:
            return None
        if abs(value - base) <= 1e-9 * max(1.0, abs(base)):
            return 0
        better = value > base if self.direction == "maximize" else value < base
        return 1 if better else -1

    def elapsed(self, now: float) -> float:
        if self.started_at is None:
            return 0.0
        return max(0.0, (self.ended_at or now) - self.started_at)

    def durations(self, last: int | None = None) -> list[tuple[int, float]]:
        """(step, seconds) of the steps that ran, oldest first; with `last`, only the last that many (read from
        the end: a long run has thousands)."""
        picked: list[tuple[int, float]] = []
        for s in reversed(self.steps):
            if last is not None and len(picked) >= last:
                break
            if s.rejected is None:
                picked.append((s.step, s.duration))
        picked.reverse()
        return picked

    def drain_shell(self) -> str:
        data = "".join(self.shell_chunks)
        self.shell_chunks.clear()
        return data

    @staticmethod
    def describe(value: Any) -> str:
        return f"{value:.4g}" if isinstance(value, float) else str(value)


@functools.cache
def _handlers(cls: type[EpisodeModel]) -> dict[str, Any]:
    """Event type -> `_on_<type>` method: looked up once per class, not by name on every event (a replay folds
    ~100k events when it opens a long run)."""
    return {name[len("_on_"):]: getattr(cls, name) for name in dir(cls) if name.startswith("_on_")}
