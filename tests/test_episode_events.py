"""Events survive the trip to a line of events.jsonl and back, whatever shape the line has."""

from __future__ import annotations

import json

import pytest

from mlgym_tui.stream import events as ev
from mlgym_tui.stream.events import Event


def sample_events() -> list[Event]:
    return [
        ev.EpisodeStarted(t=1.0, run_id="r", task_id="blotto", agent="default", model="m", mode="auto",
                          engine="docker", max_steps=10, cost_limit=1.0, baseline={"Score": 0.5},
                          metrics=[{"name": "Score", "direction": "maximize", "primary": True}]),
        ev.OutputChunk(t=2.0, step=1, data="\x1b[31mred\x1b[0m\r\n"),
        ev.StepRecorded(t=3.0, step=1, author="human", action="ls", observation="a\nb", exit_code=0,
                        state={"cwd": "/home/agent"}, edited_from="ls -la"),
        ev.ValidationScored(t=4.0, step=1, metrics={"Score": 0.7}, final=True),
        ev.EpisodeEnded(t=5.0, exit_status="submitted", score=[{"Score": 0.7}]),
    ]


def test_every_event_round_trips_through_json_twice():
    # the second pass takes the cached fast path for key layouts already seen
    for _ in range(2):
        for event in sample_events():
            back = Event.from_dict(json.loads(json.dumps(event.to_dict())))
            assert type(back) is type(event)
            assert back == event


def test_missing_optional_fields_take_their_defaults_and_factories_are_not_shared():
    one = Event.from_dict({"type": "step", "step": 1, "author": "agent", "action": "ls", "observation": ""})
    two = Event.from_dict({"type": "step", "step": 2, "author": "agent", "action": "ls", "observation": ""})
    assert one.exit_code is None and one.thought == "" and one.timed_out is False
    assert one.state == {} and one.state is not two.state
    one.state["x"] = 1
    assert two.state == {}


def test_unknown_fields_are_dropped_and_the_layout_is_not_taken_for_a_complete_one():
    data = ev.OutputChunk(t=1.0, step=3, data="x").to_dict() | {"written_by": "a newer version"}
    for _ in range(2):
        chunk = Event.from_dict(data)
        assert chunk == ev.OutputChunk(t=1.0, step=3, data="x")
        assert not hasattr(chunk, "written_by")


def test_a_missing_required_field_is_a_type_error_every_time():
    data = {"type": "step", "step": 1, "author": "agent"}
    for _ in range(2):
        with pytest.raises(TypeError, match="observation"):
            Event.from_dict(data)


def test_an_unknown_type_is_a_value_error():
    with pytest.raises(ValueError, match="unknown event type 'teleport'"):
        Event.from_dict({"type": "teleport", "t": 1.0})
    with pytest.raises(ValueError):
        Event.from_dict({"t": 1.0})


def test_a_complete_layout_of_one_type_is_not_reused_for_another():
    chunk = Event.from_dict({"type": "output_chunk", "t": 1.0, "step": 1, "data": "x"})
    token = Event.from_dict({"type": "token", "t": 1.0, "step": 1, "text": "x"})
    assert isinstance(chunk, ev.OutputChunk) and isinstance(token, ev.Token)
    with pytest.raises(TypeError):
        Event.from_dict({"type": "token", "t": 1.0, "step": 1, "data": "x"})
