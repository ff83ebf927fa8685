"""Snapshot of the replay screen at 120x40 on a fixed run, cursor moved back to step 6 and a search active.

Update after an intended change: uv run pytest tests/test_tui_replay_snapshots.py --snapshot-update
"""

from __future__ import annotations

from replay_helpers import write_run

from mlgym_tui.tui.app import MLGymApp
from mlgym_tui.tui.sample_events import T0
from mlgym_tui.tui.replay.screen import ReplayScreen

SIZE = (120, 40)


def test_snapshot_replay_screen(snap_compare, tmp_path):
    run_dir = write_run(tmp_path)

    async def at_step_six(pilot):
        while not getattr(pilot.app.screen, "loaded", False):
            await pilot.pause(0.01)
        await pilot.press("slash", *"payoff", "enter")  # every step matches: the first is step 1
        await pilot.press("colon", *"6", "enter")
        await pilot.pause(0.4)  # the charts redraw once the cursor rests (CHARTS_AFTER_S)
        await pilot.pause()

    app = MLGymApp(deterministic=True, runs_dir=tmp_path,
                   start_screen=ReplayScreen(run_dir, clock=lambda: T0 + 100))
    assert snap_compare(app, terminal_size=SIZE, run_before=at_step_six)
