"""The replay's cursor, author filter and search, and its status text, without a UI: a ReplayIndex of the fixed
replay run (failures at cards 4, 7, 8; validations at 3, 6, 9; a human step at 5)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from replay_helpers import replay_events

from mlgym_tui.stream.model import EpisodeModel
from mlgym_tui.stream.replay_index import ReplayIndex
from mlgym_tui.tui.replay.cursor import ReplayCursor
from mlgym_tui.tui.replay.status import format_duration, is_human_run, status_line, timeline_caption


@pytest.fixture
def cursor() -> ReplayCursor:
    c = ReplayCursor(ReplayIndex.build(replay_events()))
    c.go(9)
    return c


def test_no_index_means_no_moves():
    c = ReplayCursor()
    assert c.total == 0 and c.go(5) == 0
    assert c.step(1) is None and c.first() is None and c.last() is None
    assert c.jump("failure", 1) is None and c.card_of_step(1) is None
    assert c.search("x") is None and c.matches == []
    c.project(EpisodeModel())  # nothing to show: no error


def test_go_keeps_the_cursor_within_the_run(cursor):
    assert cursor.go(42) == 9 and cursor.card == 9
    assert cursor.go(-3) == 1
    assert cursor.go(4) == 4


def test_steps_first_last_and_step_numbers(cursor):
    assert cursor.step(-1) == 8 and cursor.step(1) is None  # the cursor does not move by itself
    assert cursor.card == 9
    cursor.go(1)
    assert cursor.step(-1) is None and cursor.step(1) == 2 and cursor.step(3) == 4
    assert cursor.first() == 1 and cursor.last() == 9
    assert cursor.card_of_step(6) == 6 and cursor.card_of_step(42) is None
    assert cursor.card_of_text(" 6 ") == 6 and cursor.note is None
    assert cursor.card_of_text("42") is None and cursor.note == ("no step 42 (the run has steps 1..9)", "warning")
    assert cursor.card_of_text("six") is None and cursor.note == ("not a step number: 'six'", "error")


def test_jumps_to_failures_validations_and_human_steps(cursor):
    cursor.go(1)
    assert cursor.jump("failure", 1) == 4
    cursor.go(4)
    assert cursor.jump("failure", 1) == 7 and cursor.note is None
    assert cursor.jump("failure", -1) is None and cursor.note.text == "no earlier failure step"
    cursor.go(9)
    assert cursor.jump("failure", -1) == 8 and cursor.jump("failure", 1) is None
    assert cursor.jump("validation", -1) == 6 and cursor.jump("human", -1) == 5
    cursor.go(5)
    assert cursor.jump("human", 1) is None and cursor.jump("validation", 1) == 6


def test_author_filter_cycles_through_present_authors_and_moves_a_hidden_cursor(cursor):
    assert cursor.author_filter is None
    assert cursor.cycle_author() == "agent" and cursor.card == 9  # card 9 is the agent's: stays
    cursor.go(5)
    assert cursor.step(1) == 6 and cursor.step(-1) == 4  # the human card is skipped over... (cursor on it)
    cursor.go(4)
    assert cursor.step(1) == 6  # ...and stepped over
    assert cursor.jump("human", 1) is None  # no human step the filter shows
    assert cursor.cycle_author() == "human" and cursor.card == 5  # card 4 hidden: the next shown card
    assert cursor.first() == 5 and cursor.last() == 5 and cursor.step(1) is None
    assert cursor.cycle_author() is None  # no 'replay' steps in this run: back to every author
    cursor.go(9)
    cursor.cycle_author()
    cursor.cycle_author()  # human, from card 9: no later human card, so the one before
    assert cursor.card == 5


def test_search_finds_from_the_cursor_and_wraps(cursor):
    cursor.go(3)
    assert cursor.search("evaluate") == 4  # matches 1, 2, 4, 5, 7, 8: from the cursor on
    assert cursor.matches == [1, 2, 4, 5, 7, 8] and cursor.query == "evaluate"
    cursor.go(4)
    assert cursor.match_position() == 3 and cursor.highlight() == "evaluate"
    assert cursor.next_match(1) == 5 and cursor.next_match(-1) == 2 and cursor.note is None
    cursor.go(8)
    assert cursor.next_match(1) == 1 and cursor.note.text == "search wrapped around"  # to the first
    cursor.go(1)
    assert cursor.next_match(-1) == 8 and cursor.note.text == "search wrapped around"
    cursor.go(3)
    assert cursor.match_position() is None and cursor.highlight() == ""
    cursor.go(9)
    assert cursor.search("evaluate") == 1  # none at or after the cursor: the first


def test_search_without_a_match_or_hidden_by_the_filter(cursor):
    assert cursor.search("no such text") is None and cursor.matches == []
    assert cursor.note == ("no step matches 'no such text'", "warning")
    assert cursor.search("") is None and cursor.note is None  # an empty query clears the search, silently
    cursor.cycle_author()
    cursor.cycle_author()  # human only: card 5
    assert cursor.search("round 3") is None and cursor.matches == [3]  # a match, but not by a human
    assert cursor.note == ("1 match(es), none by human", "warning")
    assert cursor.next_match(1) is None and cursor.note.text == "no step matches 'round 3'"
    cursor.clear_search()
    assert cursor.query == "" and cursor.matches == [] and cursor.highlight() == ""


def test_search_takes_in_steps_appended_since(cursor):
    events = replay_events()
    cut = next(i for i, e in enumerate(events) if getattr(e, "step", 0) == 4)
    c = ReplayCursor(ReplayIndex.build(events[:cut]))
    c.go(3)
    assert c.search("evaluate") == 1 and c.matches == [1, 2]
    c.index.extend(events[cut:])  # follow mode: the run grew
    c.go(2)
    assert c.next_match(1) == 4 and c.matches == [1, 2, 4, 5, 7, 8]


def test_project_shows_the_run_as_it_was_at_the_cursor(cursor):
    model = EpisodeModel()
    cursor.go(3)
    cursor.project(model)
    assert [s.step for s in model.steps] == [1, 2, 3]
    assert model.validations == [(3, {"Score": 1.01})] and model.exit_status is None
    assert model.task_id == "battleOfSexes" and model.live is None and model.tokens_in == 2706
    cursor.go(9)
    cursor.project(model)
    assert len(model.steps) == 9 and model.exit_status == "submitted" and len(model.validations) == 3
    cursor.cycle_author()
    cursor.cycle_author()  # human
    cursor.project(model)
    assert [s.step for s in model.steps] == [5]


def test_status_line_and_caption(cursor):
    run = SimpleNamespace(meta=SimpleNamespace(agent="default", model="gpt-4o", task_id="battleOfSexes", parent=None,
                                               fork_step=None))
    cursor.go(4)
    cursor.search("evaluate")
    assert not is_human_run(run, cursor)
    line = status_line(cursor, run, follow=True, warnings=["lost"], exit_status=None, human=False)
    assert line == ("step 4/9 · FOLLOWING · /evaluate: 3 of 6 · ⚠ 1 warning(s) · task battleOfSexes"
                    " · agent default (gpt-4o)")
    cursor.cycle_author()
    cursor.go(6)
    line = status_line(cursor, run, follow=False, warnings=[], exit_status="submitted", human=False)
    assert line.startswith("step 6/9 · /evaluate: - of 6 · filter: agent · ended: submitted")
    caption = timeline_caption(cursor)
    assert caption.startswith("step 6 [agent]   ✗ failure 3  ◆ validation 3  H human 1")
    assert format_duration(59.6) == "1m00s" and format_duration(3725) == "1h02m05s"
