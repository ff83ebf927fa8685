"""A recorded run folded once for random access: a snapshot of the scalar state at every step boundary, each
step's shell output, the steps that failed, scored or were a person's, and a text index for search. Pure data:
the replay screen, a remote viewer and tests all read it."""

from __future__ import annotations

import bisect
import dataclasses
from dataclasses import dataclass, field

from mlgym_tui.stream import events as ev
from mlgym_tui.stream.model import EpisodeModel, LiveStep, StepView
from mlgym_tui.stream.types import PERSON_AUTHORS, Mode

SHELL_STEPS = 6  # the shell pane shows at most this many steps' output before the cursor...
SHELL_CHARS = 24_000  # ...and at most about this much of it


@dataclass
class Snapshot:
    """The scalar part of the episode model at a step boundary (the lists are prefixes, given by lengths)."""

    n_validations: int = 0
    n_errors: int = 0
    n_messages: int = 0
    cost: float = 0.0
    tokens_in: int = 0
    tokens_out: int = 0
    mode: Mode = "auto"
    paused: bool = False
    max_steps: int = 0
    cost_limit: float = 0.0
    exit_status: str | None = None
    ended_at: float | None = None
    last_event_t: float | None = None
    live: LiveStep | None = None


SCALARS = [f.name for f in dataclasses.fields(Snapshot) if not f.name.startswith("n_") and f.name != "live"]
STATIC = ("task_id", "model", "agent", "engine", "container", "started_at", "baseline", "primary_metric", "direction",
          "trust", "trust_reason")


@dataclass
class ReplayIndex:
    """Everything the replay needs to show any step quickly, folded once from the event stream."""

    fold: EpisodeModel = field(default_factory=EpisodeModel)
    frozen: list[Snapshot] = field(default_factory=list)  # frozen[c]: state with c cards, before card c+1 began
    shell: list[str] = field(default_factory=list)  # shell output of card i (0-based)
    failures: list[int] = field(default_factory=list)  # 1-based card numbers, sorted
    validations: list[int] = field(default_factory=list)
    humans: list[int] = field(default_factory=list)
    format_errors: set[int] = field(default_factory=set)  # step numbers with a format error
    human_first: float | None = None  # first human command's start time
    submitted_at: float | None = None
    events_seen: int = 0
    _chunks_seen: bool = False  # the current card's output arrived as output_chunk events
    _haystack: list[str] = field(default_factory=list)

    @classmethod
    def build(cls, events: list[ev.Event]) -> "ReplayIndex":
        index = cls()
        index.extend(events)
        return index

    @property
    def cards(self) -> list[StepView]:
        return self.fold.steps

    @property
    def total(self) -> int:
        return len(self.fold.steps)

    def _snapshot(self) -> Snapshot:
        m = self.fold
        return Snapshot(n_validations=len(m.validations), n_errors=len(m.errors), n_messages=len(m.messages),
                        **{name: getattr(m, name) for name in SCALARS})

    def extend(self, events: list[ev.Event]) -> None:
        fold, frozen, steps = self.fold, self.frozen, self.fold.steps
        for event in events:
            kind = event.type  # compared as strings: this loop runs ~100k times when a long run opens
            if len(frozen) == len(steps) and kind != "validation_scored":
                step = getattr(event, "step", None)
                if step is not None and step > (steps[-1].step if steps else 0):
                    frozen.append(self._snapshot())  # the next card begins: the current one is complete
            before = len(steps)
            if kind == "command_started":
                self._chunks_seen = True
            fold.apply(event)
            if kind == "format_error":
                self.format_errors.add(event.step)
            if len(steps) > before:
                self._new_card(steps[-1], event)
            elif kind == "validation_scored":
                card = self._card_of_step(event.step)
                if card and (not self.validations or self.validations[-1] != card):
                    self.validations.append(card)
                if event.final and self.submitted_at is None:
                    self.submitted_at = event.t
            elif kind == "episode_ended" and event.exit_status.startswith("submitted"):
                self.submitted_at = self.submitted_at or event.t
        self.events_seen += len(events)

    def _card_of_step(self, step: int) -> int | None:
        for i in range(len(self.fold.steps) - 1, max(-1, len(self.fold.steps) - 4), -1):
            if self.fold.steps[i].step == step:
                return i + 1
        return None

    def _new_card(self, card: StepView, event: ev.Event) -> None:
        number = len(self.fold.steps)
        chunks = self.fold.drain_shell()
        if not self._chunks_seen and card.rejected is None:
            # a .traj (or a stream without output events): draw the step as a shell would have shown it
            first = card.action.splitlines()[0] if card.action else ""
            chunks = f"\r\n\x1b[1;36m$ {first}\x1b[0m\r\n" + card.observation.replace("\n", "\r\n") + "\r\n"
        self.shell.append(chunks)
        self._chunks_seen = False
        if card.rejected is None and (card.exit_code not in (0, None) or card.timed_out
                                      or card.step in self.format_errors):
            self.failures.append(number)
        if card.author in PERSON_AUTHORS:
            self.humans.append(number)
            if self.human_first is None and isinstance(event, ev.StepRecorded):
                self.human_first = event.started_at or (event.t - event.duration)
        if card.validation is not None:
            self.validations.append(number)

    # ---------------------------------------------------------------- queries

    def snapshot(self, cards: int) -> Snapshot:
        return self.frozen[cards] if cards < len(self.frozen) else self._snapshot()

    def shell_at(self, cards: int, lines: int = 60, columns: int = 200) -> str:
        """The end of the output up to card `cards`: its last `lines` lines (pyte is slow; more would scroll
        out of the pane's screen anyway), cut at a line start, colours reset."""
        parts: list[str] = []
        size, newlines = 0, 0
        limit = lines * columns
        for i in range(cards - 1, max(-1, cards - 1 - SHELL_STEPS), -1):
            parts.append(self.shell[i])
            size += len(self.shell[i])
            newlines += self.shell[i].count("\n")
            if size >= limit or newlines > lines:
                break
        text = "".join(reversed(parts))
        cut = len(text)
        for _ in range(lines + 1):
            cut = text.rfind("\n", 0, cut)
            if cut < 0:
                return text[-limit:]
        return "\x1b[0m" + text[cut + 1:][-limit:]

    def haystack(self, i: int) -> str:
        while len(self._haystack) < len(self.fold.steps):
            s = self.fold.steps[len(self._haystack)]
            self._haystack.append(f"{s.thought}\n{s.action}\n{s.observation}".lower())
        return self._haystack[i]

    def search(self, query: str, start: int = 0) -> list[int]:
        """Cards (1-based) whose thought, action or observation holds the query, ignoring case; from card
        `start` + 1 on."""
        needle = query.lower()
        if not needle:
            return []
        return [i + 1 for i in range(start, self.total) if needle in self.haystack(i)]

    def marks(self) -> dict[str, set[int]]:
        return {"failure": set(self.failures), "validation": set(self.validations), "human": set(self.humans)}

    def human_seconds(self) -> float | None:
        if self.human_first is None or self.submitted_at is None:
            return None
        return max(0.0, self.submitted_at - self.human_first)

    def recorded_steps_before(self, cards: int) -> int:
        """Steps a fork at card `cards` re-executes (rejected proposals are cards, not steps)."""
        return sum(1 for s in self.fold.steps[:cards] if s.rejected is None)


def next_in(sorted_cards: list[int], cursor: int, direction: int, allowed=None) -> int | None:
    """The first card after (direction 1) or before (-1) the cursor in a sorted list, if any."""
    if direction > 0:
        i = bisect.bisect_right(sorted_cards, cursor)
        candidates = sorted_cards[i:]
    else:
        i = bisect.bisect_left(sorted_cards, cursor)
        candidates = reversed(sorted_cards[:i])
    for card in candidates:
        if allowed is None or allowed(card):
            return card
    return None
