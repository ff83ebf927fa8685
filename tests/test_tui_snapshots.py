"""Snapshots at 120x40: task browser, episode screen fed a fixed event list, help. Deterministic: no cursor blink,
fixed clock and timestamps, config isolated per test (MLGYM_TUI_CONFIG_DIR), an empty runs folder.

Update after an intended change: uv run pytest tests/test_tui_snapshots.py --snapshot-update
"""

from __future__ import annotations

from mlgym_tui.tui.app import MLGymApp
from mlgym_tui.tui.sample_events import T0, sample_episode
from mlgym_tui.tui.screens.episode import EpisodeScreen

SIZE = (120, 40)


async def settle(pilot) -> None:
    while not getattr(pilot.app.screen, "loaded", True):  # the browser reads tasks on a worker thread
        await pilot.pause(0.01)
    await pilot.app.workers.wait_for_complete()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.pause()


def test_snapshot_task_browser(snap_compare, tmp_path):
    assert snap_compare(MLGymApp(deterministic=True, runs_dir=tmp_path), terminal_size=SIZE, run_before=settle)


def test_snapshot_episode_screen(snap_compare, tmp_path):
    app = MLGymApp(deterministic=True, runs_dir=tmp_path,
                   start_screen=EpisodeScreen(events=sample_episode(6), clock=lambda: T0 + 100))
    assert snap_compare(app, terminal_size=SIZE, run_before=settle)


def test_snapshot_help(snap_compare, tmp_path):
    async def open_help(pilot):
        await settle(pilot)
        await pilot.press("f1")
        await pilot.pause()

    assert snap_compare(MLGymApp(deterministic=True, runs_dir=tmp_path), terminal_size=SIZE, run_before=open_help)
