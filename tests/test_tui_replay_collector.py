"""The replay holds the garbage collector off while it is on screen and collects when the cursor rests."""

from __future__ import annotations

import gc

import pytest
from replay_helpers import write_run

from mlgym_tui.tui import perf
from mlgym_tui.tui.app import MLGymApp
from mlgym_tui.tui.sample_events import T0
from mlgym_tui.tui.screens.help import HelpScreen
from mlgym_tui.tui.replay.rest import COLLECT_ALL_AFTER_S, COLLECT_YOUNG_AFTER_S
from mlgym_tui.tui.replay.screen import ReplayScreen

SIZE = (120, 40)


@pytest.fixture
def collections():
    """The generations of the collections that ran, in order."""
    seen: list[int] = []

    def callback(phase, info):
        if phase == "stop":
            seen.append(info["generation"])

    gc.callbacks.append(callback)
    yield seen
    gc.callbacks.remove(callback)


def test_holds_are_counted_and_restore_what_was_there():
    assert gc.isenabled() and not perf.held()
    perf.hold()
    perf.hold()
    perf.release()
    assert not gc.isenabled() and perf.held()
    perf.release()
    assert gc.isenabled() and not perf.held()
    gc.disable()
    try:
        perf.hold()
        perf.release()
        assert not gc.isenabled()  # it was off before: it stays off
    finally:
        gc.enable()


async def test_collector_is_held_while_a_replay_is_on_screen_and_collects_at_rest(tmp_path, collections):
    app = MLGymApp(deterministic=True, start_screen=ReplayScreen(write_run(tmp_path), clock=lambda: T0 + 100))
    async with app.run_test(size=SIZE) as pilot:
        while not getattr(app.screen, "loaded", False):
            await pilot.pause(0.02)
        await pilot.pause()
        assert not gc.isenabled() and perf.held()
        await pilot.press("left")
        collections.clear()
        await pilot.pause(COLLECT_YOUNG_AFTER_S + 0.2)
        assert collections and max(collections) == 1  # the young generations, once the cursor rested a moment
        await pilot.pause(COLLECT_ALL_AFTER_S - COLLECT_YOUNG_AFTER_S)
        assert 2 in collections  # then everything
        # another screen on top hands the collector back; coming back takes it again
        app.push_screen(HelpScreen())
        await pilot.pause()
        assert gc.isenabled() and not perf.held()
        app.pop_screen()
        await pilot.pause()
        assert not gc.isenabled() and perf.held()
    assert gc.isenabled() and not perf.held()


async def test_a_long_burst_of_keys_still_collects_the_young_generations(tmp_path, collections, monkeypatch):
    monkeypatch.setattr(perf, "YOUNG_LIMIT", 0)  # every key finds the young generations over the limit
    app = MLGymApp(deterministic=True, start_screen=ReplayScreen(write_run(tmp_path), clock=lambda: T0 + 100))
    async with app.run_test(size=SIZE) as pilot:
        while not getattr(app.screen, "loaded", False):
            await pilot.pause(0.02)
        collections.clear()
        await pilot.press("left")
        assert collections and set(collections) == {1}  # at once, not after a rest
    assert gc.isenabled()
