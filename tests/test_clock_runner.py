"""The runner stamps its clock on validations and the end, and the clock run again over the events it emitted gives
the same numbers (confirm mode: the time a proposal waits for a person is not active time)."""

from __future__ import annotations

import asyncio

import pytest
from test_episode_runner import Harness

from mlgym_tui.stream import events as ev
from mlgym_tui.stream.clock import EpisodeClock

WAIT = 0.3  # seconds a proposal waits for the person's approval


async def test_validations_and_the_end_carry_both_clocks_and_match_the_events():
    h = Harness(mode="confirm")
    h.c.start()
    h.policy.answer("validate")
    await h.until(lambda: h.c.awaiting == "approval", "the proposal")
    await asyncio.sleep(WAIT)
    h.c.approve()
    await h.until(lambda: h.of(ev.ValidationScored), "the validation")
    h.c.inject("ls")  # a person's command: their clock starts
    await h.until(lambda: h.c.step == 2, "the person's step")
    await h.finish()

    scored, ended = h.of(ev.ValidationScored)[0], h.of(ev.EpisodeEnded)[0]
    assert scored.wall_s is not None and scored.active_s is not None
    assert scored.wall_s - scored.active_s == pytest.approx(WAIT, abs=0.1)
    assert ended.wall_s >= scored.wall_s and ended.active_s >= scored.active_s
    assert ended.human_s is not None and 0 <= ended.human_s <= ended.active_s - scored.active_s + 0.05

    again = EpisodeClock()
    for event in h.events:
        if event is scored:
            assert again.active_s(event.t) == pytest.approx(scored.active_s, abs=0.01)
        again.observe(event)
    assert (again.wall_s(), again.active_s()) == (pytest.approx(ended.wall_s, abs=0.01),
                                                  pytest.approx(ended.active_s, abs=0.01))
    # events recorded without the clocks (older files) still load
    old = {k: v for k, v in ended.to_dict().items() if k not in ("wall_s", "active_s", "human_s")}
    assert ev.Event.from_dict(old).active_s is None
