"""One clock for people and agents, read from the event stream alone.

The runner feeds it every event it emits, and a reader feeds it a recorded events.jsonl: the same events give the
same numbers. Three readings:

- wall time: from the first event (EpisodeStarted) to now, or to EpisodeEnded;
- active time: wall time less the time nobody worked on the task: a pause of the agent (once the step in flight
  has finished: a pause takes effect at a step boundary, and a single step taken while paused is work; a pause
  never stops a person's clock: in a human run or while a person has taken over, a pause leaves them free to work
  in the terminal), a proposal waiting for a person's decision in confirm mode, and the model's rate-limit
  back-off (a Retry's `wait_s`, cut short by the next event);
- a person's time: active time from their first action (a command or step by a person; in a human run, the first
  command or step at all), None until then.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from mlgym_tui.stream import events as ev
from mlgym_tui.stream.types import PERSON_AUTHORS, Mode

# Steps a fork re-executes and a task's scripted baseline are nobody's action.
_NOBODY = ("replay", "baseline")
# What settles an agent's proposal: decided, dropped, or run (a change out of confirm mode ends the wait too).
_DECIDED = (ev.ActionApproved, ev.ActionEdited, ev.ActionRejected, ev.ProposalDiscarded, ev.CommandStarted)
# What ends a model call (ProposalDiscarded: cancelled because a person acted).
_ANSWERED = (ev.ModelResponse, ev.ActionProposed, ev.ProposalDiscarded, ev.ErrorEvent)


class EpisodeClock:
    def __init__(self) -> None:
        self.started_at: float | None = None  # t of the first event
        self.ended_at: float | None = None  # t of EpisodeEnded
        self.person_started_at: float | None = None  # t of a person's first action
        self._last: float = 0.0  # t of the last event observed: everything before it is accounted for
        self._excluded = 0.0  # seconds left out of active time up to _last
        self._person_from: float | None = None  # active seconds at a person's first action
        self._mode: Mode = "auto"
        self._human_run = False
        self._paused = False
        self._command = False  # a command is running
        self._thinking = False  # a model call is in flight
        self._proposal = False  # an agent's proposal is waiting to run or for a decision
        self._backoff_until: float | None = None
        self._seen: ev.Event | None = None  # the last event observed

    # ---------------------------------------------------------------- readings

    def wall_s(self, now: float | None = None) -> float:
        if self.started_at is None:
            return 0.0
        return self._at(now) - self.started_at

    def active_s(self, now: float | None = None) -> float:
        if self.started_at is None:
            return 0.0
        at = self._at(now)
        return at - self.started_at - self._excluded - self._excluded_between(self._last, at)

    def human_s(self, now: float | None = None) -> float | None:
        if self._person_from is None:
            return None
        return max(0.0, self.active_s(now) - self._person_from)

    @property
    def last_at(self) -> float | None:
        """t of the last event observed: where the readings of a run that never ended stop."""
        return None if self.started_at is None else self._last

    def _at(self, now: float | None) -> float:
        if self.ended_at is not None:
            return self.ended_at
        # Never before the last event: a reading taken between two events cannot undo time already counted.
        return max(time.time() if now is None else now, self._last)

    # ---------------------------------------------------------------- what is excluded

    def _idle(self) -> bool:
        """Nobody works on the task: paused between steps, or a proposal waits for a person in confirm mode."""
        person_in_charge = self._human_run or self._mode == "human"
        paused_idle = self._paused and not self._command and not self._thinking and not person_in_charge
        return paused_idle or (self._mode == "confirm" and self._proposal)

    def _excluded_between(self, start: float, end: float) -> float:
        if end <= start:
            return 0.0
        if self._idle():
            return end - start
        if self._backoff_until is not None:
            return max(0.0, min(self._backoff_until, end) - start)
        return 0.0

    # ---------------------------------------------------------------- events

    def observe(self, event: ev.Event) -> None:
        if self.ended_at is not None or event is self._seen:
            return  # nothing after the end counts; an event passed on through two emitters counts once
        self._seen = event
        t = event.t
        if self.started_at is None:
            self.started_at = self._last = t
        t = max(t, self._last)  # events arrive in order; a clock stepping back must not count time twice
        self._excluded += self._excluded_between(self._last, t)
        self._last = t
        self._backoff_until = None  # a back-off ends at the next event, whatever it is
        self._apply(event, t)

    def _apply(self, event: ev.Event, t: float) -> None:
        match event:
            case ev.EpisodeStarted():
                self._mode = event.mode
                self._human_run = event.agent == "human"
            case ev.ModeChanged():
                self._mode = event.mode
            case ev.Paused():
                self._paused = True
            case ev.Resumed():
                self._paused = False
            case ev.ModelQueryStarted():
                self._thinking = True
            case ev.Retry():
                self._backoff_until = t + max(0.0, float(event.wait_s))
            case ev.CommandFinished():
                self._command = False
            case ev.EpisodeEnded():
                self.ended_at = t
                self._paused = self._command = self._thinking = self._proposal = False
        if isinstance(event, _ANSWERED):
            self._thinking = False
        if isinstance(event, ev.ActionProposed) and event.author not in PERSON_AUTHORS:
            self._proposal = True
        elif isinstance(event, _DECIDED):
            self._proposal = False
        if isinstance(event, ev.CommandStarted):
            self._command = True
            self._person_acted(event.author, t)
        elif isinstance(event, ev.StepRecorded):
            self._command = False
            started = event.started_at if 0 < event.started_at < t else t
            self._person_acted(event.author, started)

    def _person_acted(self, author: str, at: float) -> None:
        if self._person_from is not None:
            return
        if author in PERSON_AUTHORS or (self._human_run and author not in _NOBODY):
            # A step recorded after the fact (a command typed in the interactive terminal) began at `at`, a
            # little before now; no pause or approval can have come in between, as the person was acting.
            self.person_started_at = at
            self._person_from = max(0.0, self.active_s(self._last) - (self._last - at))


def observed_by(clock: EpisodeClock, emit: Callable[[ev.Event], None]) -> Callable[[ev.Event], None]:
    """`emit`, showing each event to `clock` first: readings taken while building the next event include it."""

    def emit_observed(event: ev.Event) -> None:
        clock.observe(event)
        emit(event)

    return emit_observed
