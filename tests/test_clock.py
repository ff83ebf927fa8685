"""The episode clock on synthetic event lists with known answers: pauses, approvals waiting for a person, rate-limit
back-off, a person's first action, a mode change while a proposal waits, and readings taken between events."""

from __future__ import annotations

import pytest

from mlgym_tui.stream import events as ev
from mlgym_tui.stream.clock import EpisodeClock, observed_by


def started(t: float = 0.0, mode: str = "auto", agent: str = "default") -> ev.EpisodeStarted:
    return ev.EpisodeStarted(t=t, run_id="r", task_id="blotto", agent=agent, model="m", mode=mode, engine="local",
                             max_steps=50, cost_limit=0.0)


def agent_step(t: float, step: int, took: float, author: str = "agent") -> list[ev.Event]:
    """A model call answered at once, then a command that runs `took` seconds."""
    return [ev.ModelQueryStarted(t=t, step=step), ev.ModelResponse(t=t, step=step, content="x"),
            ev.ActionProposed(t=t, step=step, action="ls", author=author),
            ev.CommandStarted(t=t, step=step, action="ls", author=author),
            ev.CommandFinished(t=t + took, step=step, exit_code=0, duration=took),
            ev.StepRecorded(t=t + took, step=step, author=author, action="ls", observation="")]


def ended(t: float) -> ev.EpisodeEnded:
    return ev.EpisodeEnded(t=t, exit_status="submitted")


def clock_of(events: list[ev.Event]) -> EpisodeClock:
    clock = EpisodeClock()
    for event in events:
        clock.observe(event)
    return clock


def test_auto_run_without_exclusions_is_all_active_and_stops_at_the_end():
    clock = clock_of([started(100.0), *agent_step(110.0, 1, 20.0), ended(160.0)])
    assert clock.wall_s() == 60.0 and clock.active_s() == 60.0 and clock.human_s() is None
    # after the end a reading is the same whenever it is taken
    assert clock.wall_s(1e9) == 60.0 and clock.active_s(1e9) == 60.0


def test_pause_between_steps_is_excluded_but_the_step_in_flight_is_not():
    events = [started(0.0),
              ev.ModelQueryStarted(t=1.0, step=1), ev.ActionProposed(t=2.0, step=1, action="train"),
              ev.CommandStarted(t=2.0, step=1, action="train", author="agent"),
              ev.Paused(t=3.0),  # takes effect once the command ends at 8
              ev.CommandFinished(t=8.0, step=1, exit_code=0, duration=6.0),
              ev.StepRecorded(t=8.0, step=1, author="agent", action="train", observation=""),
              ev.Resumed(t=12.0), ended(20.0)]
    clock = clock_of(events)
    assert clock.wall_s() == 20.0 and clock.active_s() == 16.0  # 8 -> 12 left out


def test_a_single_step_taken_while_paused_counts_as_work():
    events = [started(0.0), ev.Paused(t=10.0), *agent_step(20.0, 1, 10.0), ev.Resumed(t=40.0), ended(50.0)]
    clock = clock_of(events)
    assert clock.active_s() == 30.0  # 10 -> 20 and 30 -> 40 are idle, the step 20 -> 30 is not


def test_rate_limit_back_off_is_excluded_up_to_the_next_event():
    events = [started(0.0), ev.ModelQueryStarted(t=1.0, step=1),
              ev.Retry(t=2.0, step=1, attempt=1, reason="429", wait_s=10.0),
              ev.Retry(t=15.0, step=1, attempt=2, reason="429", wait_s=20.0),  # cut short by the answer at 18
              ev.ModelResponse(t=18.0, step=1, content="x"), ended(30.0)]
    clock = clock_of(events)
    assert clock.wall_s() == 30.0 and clock.active_s() == pytest.approx(30.0 - 10.0 - 3.0)


def test_confirm_mode_waits_for_a_person_are_excluded():
    events = [started(0.0, mode="confirm"),
              ev.ModelQueryStarted(t=1.0, step=1), ev.ActionProposed(t=5.0, step=1, action="ls"),
              ev.ActionApproved(t=9.0, step=1, action="ls"),  # 4 s waiting
              ev.CommandStarted(t=9.0, step=1, action="ls", author="agent"),
              ev.CommandFinished(t=10.0, step=1, exit_code=0, duration=1.0),
              ev.StepRecorded(t=10.0, step=1, author="agent", action="ls", observation=""),
              ev.ActionProposed(t=12.0, step=2, action="rm x"),
              ev.ActionRejected(t=20.0, step=2, action="rm x", comment="no"),  # 8 s waiting
              ev.ActionProposed(t=25.0, step=2, action="cat x"),
              ev.ActionEdited(t=26.0, step=2, original="cat x", action="cat y"),  # 1 s waiting
              ev.CommandStarted(t=26.0, step=2, action="cat y", author="agent"),
              ended(30.0)]
    clock = clock_of(events)
    assert clock.wall_s() == 30.0 and clock.active_s() == 30.0 - 4.0 - 8.0 - 1.0


def test_a_mode_change_ends_the_wait_and_a_change_back_to_confirm_resumes_it():
    events = [started(0.0, mode="confirm"),
              ev.ActionProposed(t=10.0, step=1, action="ls"),
              ev.ModeChanged(t=15.0, mode="auto"),  # 5 s waited; in auto the proposal is due to run
              ev.Paused(t=15.0),  # ... but a pause holds it (idle from 15)
              ev.ModeChanged(t=17.0, mode="confirm"),
              ev.Resumed(t=19.0),  # no longer paused, but now it waits for a decision again
              ev.ActionApproved(t=22.0, step=1, action="ls"),
              ev.CommandStarted(t=22.0, step=1, action="ls", author="agent"),
              ended(40.0)]
    clock = clock_of(events)
    assert clock.active_s() == 40.0 - 5.0 - 7.0  # 10 -> 15, then 15 -> 22


def test_a_proposal_discarded_or_the_end_ends_the_wait():
    events = [started(0.0, mode="confirm"), ev.ActionProposed(t=10.0, step=1, action="ls"),
              ev.ProposalDiscarded(t=13.0, step=1, action="ls", reason="a person ran a command first"),
              ev.CommandStarted(t=13.0, step=1, action="pwd", author="human"),
              ev.ActionProposed(t=20.0, step=2, action="ls"), ended(26.0)]
    clock = clock_of(events)
    assert clock.active_s() == 26.0 - 3.0 - 6.0
    assert clock.human_s() == 26.0 - 13.0 - 6.0  # from the person's command at 13


def test_overlapping_pause_and_approval_are_left_out_once():
    events = [started(0.0, mode="confirm"), ev.ActionProposed(t=10.0, step=1, action="ls"),
              ev.Paused(t=12.0), ev.Resumed(t=14.0), ev.ActionApproved(t=20.0, step=1, action="ls"),
              ev.CommandStarted(t=20.0, step=1, action="ls", author="agent"), ended(30.0)]
    assert clock_of(events).active_s() == 20.0


def test_a_human_run_counts_from_the_first_command():
    events = [started(0.0, agent="human", mode="human"),
              *agent_step(90.0, 1, 10.0, author="human"),  # reading the task for 90 s first
              ev.Paused(t=100.0), ev.Resumed(t=130.0),  # a person's pause stops nothing: they may work meanwhile
              ev.ValidationScored(t=200.0, step=2, metrics={"Score": 1.0}), ended(300.0)]
    clock = clock_of(events)
    assert clock.wall_s() == 300.0 and clock.active_s() == 300.0
    assert clock.human_s() == 210.0 and clock.person_started_at == 90.0


def test_a_person_taking_over_an_agent_run_and_a_terminal_step_recorded_after_the_fact():
    take_over = [started(0.0), *agent_step(0.0, 1, 10.0), ev.ModeChanged(t=50.0, mode="human"),
                 *agent_step(60.0, 2, 5.0, author="human"), ended(100.0)]
    assert clock_of(take_over).human_s() == 40.0
    # a command typed in the interactive terminal is recorded when it finished; the person began at started_at
    terminal = [started(0.0), *agent_step(0.0, 1, 10.0),
                ev.StepRecorded(t=70.0, step=2, author="human-terminal", action="make", observation="",
                                started_at=55.0, duration=15.0), ended(100.0)]
    clock = clock_of(terminal)
    assert clock.person_started_at == 55.0 and clock.human_s() == 45.0
    # replayed steps of a fork are nobody's action, even in a human run
    fork = [started(0.0, agent="human"), *agent_step(0.0, 1, 5.0, author="replay"), ended(20.0)]
    assert clock_of(fork).human_s() is None


def test_readings_between_events_follow_the_state_they_are_in():
    clock = clock_of([started(0.0), ev.ModelQueryStarted(t=1.0, step=1)])
    assert clock.wall_s(5.0) == 5.0 and clock.active_s(5.0) == 5.0
    clock.observe(ev.Retry(t=6.0, step=1, attempt=1, reason="429", wait_s=4.0))
    assert clock.active_s(8.0) == 6.0  # in the back-off
    assert clock.active_s(12.0) == 8.0  # the back-off was over at 10
    clock.observe(ev.ModelResponse(t=12.0, step=1, content="x"))
    clock.observe(ev.Paused(t=13.0))
    assert clock.active_s(20.0) == 9.0 and clock.wall_s(20.0) == 20.0
    # a reading never goes back before an event already observed
    assert clock.active_s(0.0) == clock.active_s(13.0) == 9.0


def test_recorded_events_give_the_same_numbers():
    events = [started(0.0, mode="confirm"), ev.ActionProposed(t=10.0, step=1, action="ls"),
              ev.ActionApproved(t=20.0, step=1, action="ls"), *agent_step(20.0, 1, 5.0),
              ev.Retry(t=30.0, step=2, attempt=1, reason="429", wait_s=2.0), ended(40.0)]
    again = [ev.Event.from_dict(e.to_dict()) for e in events]
    assert clock_of(events).active_s() == clock_of(again).active_s() == 28.0
    assert EpisodeClock().wall_s() == 0.0 and EpisodeClock().human_s() is None


def test_an_emitter_observed_by_the_clock_passes_every_event_on_and_counts_it_once():
    clock, seen = EpisodeClock(), []
    emit = observed_by(clock, seen.append)
    events = [started(0.0), ev.Paused(t=5.0), ev.Resumed(t=9.0), ended(10.0)]
    for event in events:
        emit(event)
        clock.observe(event)  # a second emitter down the line shows it again: no effect
    assert seen == events and clock.active_s() == 6.0


def test_a_pause_never_stops_a_persons_clock():
    """In a human run (or while a person has taken over) a pause leaves the person free to work in the terminal:
    pausing cannot take an hour of work out of a budget."""
    t = 1_000.0
    for agent, mode in (("human", "human"), ("default", "human")):
        clock = EpisodeClock()
        for event in [
            ev.EpisodeStarted(t=t, run_id="r", task_id="x", agent=agent, model="m", mode=mode, engine="docker",
                              max_steps=10, cost_limit=0.0),
            ev.Paused(t=t + 10),
            ev.StepRecorded(t=t + 1800, step=1, author="human-terminal", action="python train.py", observation="",
                            started_at=t + 1790, duration=10.0),
            ev.CommandStarted(t=t + 3600, step=2, action="validate", author="human"),
            ev.CommandFinished(t=t + 3660, step=2, exit_code=0, duration=60.0),
        ]:
            clock.observe(event)
        assert clock.active_s(t + 3660) == clock.wall_s(t + 3660) == 3660, (agent, mode)
