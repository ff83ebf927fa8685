"""The workspace pane (toggle 4) on a recorded run with workspace snapshots and blobs: the tree at the cursor's
step with its changes marked, a file (Enter), its diff (d), a CSV's rows, a binary, an image's size, a file stored
by hash only, what a snapshot skipped; the live screen fed the same events; one snapshot at 120x40.

Update the snapshot after an intended change: uv run pytest tests/test_workspace_pane.py --snapshot-update
"""

from __future__ import annotations

import struct
import time
import zlib
from pathlib import Path

from replay_helpers import write_run

from mlgym_tui.stream import events as ev
from mlgym_tui.trajectory.workspace_store import BlobStore
from mlgym_tui.tui.app import MLGymApp
from mlgym_tui.tui.replay.screen import ReplayScreen
from mlgym_tui.tui.sample_events import T0, sample_episode
from mlgym_tui.tui.screens.episode import EpisodeScreen
from mlgym_tui.tui.widgets.file_preview import FilePreview
from mlgym_tui.tui.widgets.workspace_files import FoldedHistory, build_view, image_shape
from mlgym_tui.tui.widgets.workspace_pane import WorkspacePane
from mlgym_tui.tui.widgets.workspace_tree import WorkspaceTree

SIZE = (120, 40)

TRAIN_V1 = "import torch\n\n\ndef train():\n    lr = 0.1\n    return lr\n"
TRAIN_V2 = "import torch\n\n\ndef train():\n    lr = 0.01  # smaller\n    return lr * 2\n"
RESULTS = "epoch,loss,accuracy\n1,0.9,0.51\n2,0.7,0.62\n3,0.5,0.74\n"


def png(width: int, height: int) -> bytes:
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(header)) + b"IHDR" + header + \
        struct.pack(">I", zlib.crc32(b"IHDR" + header))


def entry(store: BlobStore | None, path: str, data: bytes, **extra) -> dict:
    """A changed entry as the producer records it; its bytes stored when `store` is given."""
    import hashlib

    sha = store.put(data) if store is not None else hashlib.sha256(data).hexdigest()
    return {"path": path, "kind": "file", "mode": 0o644, "size": len(data), "sha256": sha,
            "stored": store is not None, **extra}


def snapshots(store: BlobStore) -> dict[int, ev.WorkspaceSnapshot]:
    """Step 0: the task's files (data/ ignored); 1: train.py created; 2: edited, src/model.py; 3: results.csv;
    4: README.md deleted, a binary; 5: a 3 GB checkpoint recorded by hash only, a PNG; 6: the listing hit its cap."""
    folder = {"path": "src", "kind": "dir", "mode": 0o755, "size": 0, "sha256": None, "stored": False}
    return {
        0: ev.WorkspaceSnapshot(t=T0, step=0, files=2, changed=[
            entry(store, "README.md", b"# Battle of sexes\n"), entry(store, "evaluate.py", b"print('score')\n")],
            skipped=[{"path": "data/", "reason": "ignored by the task"}]),
        1: ev.WorkspaceSnapshot(t=T0 + 1.5, step=1, files=3, changed=[entry(store, "train.py", TRAIN_V1.encode())]),
        2: ev.WorkspaceSnapshot(t=T0 + 2.5, step=2, files=5, changed=[
            entry(store, "train.py", TRAIN_V2.encode()), folder, entry(store, "src/model.py", b"class Model: ...\n")]),
        3: ev.WorkspaceSnapshot(t=T0 + 3.5, step=3, files=6, changed=[entry(store, "results.csv", RESULTS.encode())]),
        4: ev.WorkspaceSnapshot(t=T0 + 4.5, step=4, files=6, deleted=["README.md"],
                                changed=[entry(store, "weights.bin", b"\x00\x01\x02binary\x00" * 10)]),
        5: ev.WorkspaceSnapshot(t=T0 + 5.5, step=5, files=8, changed=[
            {"path": "checkpoint.pt", "kind": "file", "mode": 0o644, "size": 3 * 1024 ** 3,
             "sha256": None, "stored": False, "note": "over the per-file cap (10 MB)"},
            entry(store, "plot.png", png(640, 480))]),
        6: ev.WorkspaceSnapshot(t=T0 + 6.5, step=6, files=9, complete=False, changed=[
            entry(store, "log.txt", b"done\n")], skipped=[{"path": "cache/", "reason": "over the run's cap"}]),
    }


def events_with_snapshots(store: BlobStore) -> list[ev.Event]:
    by_step = snapshots(store)
    out: list[ev.Event] = []
    for event in sample_episode(6):
        if isinstance(event, ev.ModelQueryStarted) and event.step == 1:
            out.append(by_step[0])
        out.append(event)
        if isinstance(event, ev.StepRecorded):
            out.append(by_step[event.step])
    return out


def recorded_run(tmp_path: Path) -> Path:
    run_dir = tmp_path / "run"
    store = BlobStore(run_dir)
    return write_run(tmp_path, events_with_snapshots(store), name="run")


async def opened(pilot) -> ReplayScreen:
    while not getattr(pilot.app.screen, "loaded", False):
        await pilot.pause(0.01)
    return pilot.app.screen


async def settled(pilot) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def labels(tree: WorkspaceTree) -> dict[str, str]:
    """Path -> label text of every node listed."""
    out: dict[str, str] = {}

    def walk(node) -> None:
        for child in node.children:
            out[child.data] = child.label.plain
            walk(child)

    walk(tree.root)
    return out


def preview_text(pane: WorkspacePane) -> str:
    preview = pane.query_one(FilePreview)
    return preview.shown.title + "\n" + preview.shown.note + "\n" + (preview.shown.text.plain
                                                                    if preview.shown.text else "")


async def test_replay_pane_follows_the_cursor_and_shows_files_diffs_tables(tmp_path):
    run_dir = recorded_run(tmp_path)
    app = MLGymApp(deterministic=True, runs_dir=tmp_path, start_screen=ReplayScreen(run_dir, clock=lambda: T0 + 100))
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(pilot)
        pane = screen.query_one(WorkspacePane)
        assert not pane.display  # hidden until 4
        await pilot.press("4")
        await pilot.pause()
        assert pane.display and pane.files.has_focus
        title = pane.query_one("#workspace-title").render().plain
        assert "step 6" in title and "+1" in title  # the cursor opens on the last step
        assert "listing stopped at its cap" in pane.query_one("#workspace-skipped").render().plain

        screen.go(1)  # step 1: train.py created
        await pilot.pause()
        shown = labels(pane.files)
        assert shown["train.py"].startswith("+ train.py") and shown["README.md"].startswith("  README.md")

        screen.go(2)  # step 2: train.py edited, a folder with a new file opened by itself
        await pilot.pause()
        shown = labels(pane.files)
        assert shown["train.py"].startswith("~ train.py") and shown["src/model.py"].startswith("+ model.py")
        assert pane.files.cursor_node.data == "train.py"  # kept on the same path across the move
        await pilot.press("enter")
        await settled(pilot)
        assert "lr = 0.01  # smaller" in preview_text(pane) and "train.py · step 2" in preview_text(pane)
        await pilot.press("d")
        await settled(pilot)
        diff = preview_text(pane)
        assert "-    lr = 0.1\n" in diff and "+    lr = 0.01  # smaller\n" in diff and "step 1 → 2" in diff

        screen.go(1)  # the preview follows the cursor: step 1's diff is the creation
        await settled(pilot)
        assert "+    lr = 0.1\n" in preview_text(pane) and "step 0 → 1" in preview_text(pane)

        screen.go(3)  # the CSV as a table
        await pilot.pause()
        pane.files.move_cursor(pane.files.nodes_by_path["results.csv"])
        await pilot.press("enter")
        await settled(pilot)
        table = pane.query_one("#preview-table")
        assert table.display and table.row_count == 3
        assert [str(c.label) for c in table.columns.values()] == ["epoch", "loss", "accuracy"]
        assert table.get_row_at(2) == ["3", "0.5", "0.74"]

        screen.go(4)  # a deletion and a binary
        await settled(pilot)
        shown = labels(pane.files)
        assert shown["README.md"].startswith("- README.md") and shown["weights.bin"].startswith("+ weights.bin")
        assert "-1" in pane.query_one("#workspace-title").render().plain
        pane.files.move_cursor(pane.files.nodes_by_path["README.md"])
        await pilot.press("d")
        await settled(pilot)
        assert "-# Battle of sexes" in preview_text(pane)
        pane.files.move_cursor(pane.files.nodes_by_path["weights.bin"])
        await pilot.press("enter")
        await settled(pilot)
        assert "binary" in preview_text(pane) and "sha256" in preview_text(pane)

        screen.go(5)  # hash only, and an image by its header
        await pilot.pause()
        assert "(hash only)" in labels(pane.files)["checkpoint.pt"]
        pane.files.move_cursor(pane.files.nodes_by_path["checkpoint.pt"])
        await pilot.press("enter")
        await settled(pilot)
        text = preview_text(pane)
        assert "3.0 GB" in text and "content not stored: over the per-file cap (10 MB)" in text
        pane.files.move_cursor(pane.files.nodes_by_path["plot.png"])
        await pilot.press("enter")
        await settled(pilot)
        assert "PNG image, 640 x 480 pixels" in preview_text(pane)

        screen.go(1)  # what the task's snapshot (step 0) skipped holds until another snapshot skips something
        await pilot.pause()
        assert pane.query_one("#workspace-skipped").render().plain == \
            "as of step 0: skipped 1: data/ (ignored by the task)"

        await pilot.press("escape")  # closes the preview, not the screen
        await pilot.pause()
        assert not pane.preview.display and app.screen is screen
        await pilot.press("4")
        await pilot.pause()
        assert not pane.display
        assert screen.focused is None or pane not in screen.focused.ancestors_with_self
        await pilot.press("right")  # the replay's keys move the cursor again
        await pilot.pause()
        assert screen.state.card == 2


async def test_blobs_on_another_machine_are_said_so(tmp_path):
    run_dir = recorded_run(tmp_path)
    events = events_with_snapshots(BlobStore(run_dir))
    history = FoldedHistory([e for e in events if isinstance(e, ev.WorkspaceSnapshot)], tmp_path / "elsewhere")
    from mlgym_tui.tui.widgets.workspace_files import load_diff, load_file

    view = build_view(history, 2)
    assert "is not on this machine" in load_file(history, view, "train.py").text.plain
    assert "is not on this machine" in load_diff(history, view, "train.py").text.plain
    assert image_shape(png(3, 2)) == ("PNG", 3, 2)


def test_folded_history_matches_the_store_and_stays_cheap(tmp_path):
    """The incremental fold gives WorkspaceHistory's trees; 300 steps of a 5,000-file workspace: a move is cheap."""
    from mlgym_tui.trajectory.workspace_store import WorkspaceHistory

    store = BlobStore(tmp_path)
    events = list(snapshots(store).values())
    plain, folded = WorkspaceHistory(events, tmp_path), FoldedHistory(list(events), tmp_path)
    for step in (6, 2, 4, 0, 5, 3, 1):
        assert folded.tree_at(step) == plain.tree_at(step)
        assert folded.diff("train.py", step) == plain.diff("train.py", step)
    big = [ev.WorkspaceSnapshot(step=0, changed=[{"path": f"d{i % 50}/f{i}.txt", "kind": "file", "mode": 0o644,
                                                  "size": 10, "sha256": "0" * 64} for i in range(5000)])]
    big += [ev.WorkspaceSnapshot(step=n, changed=[{"path": f"d{n % 50}/f{n}.txt", "kind": "file", "mode": 0o644,
                                                   "size": n, "sha256": f"{n:064x}"}]) for n in range(1, 300)]
    history = FoldedHistory(big)
    build_view(history, 150)
    started = time.perf_counter()
    for step in range(151, 171):
        view = build_view(history, step)
    per_move = (time.perf_counter() - started) / 20
    assert view.marks == {"d20/f170.txt": "modified"} and view.changed_folders == {"d20"}
    assert per_move < 0.05, per_move


async def test_live_screen_shows_the_latest_snapshot(tmp_path):
    run_dir = tmp_path / "live"
    events = events_with_snapshots(BlobStore(run_dir))
    screen = EpisodeScreen(events=events[: events.index(next(e for e in events if getattr(e, "step", -1) == 3
                                                             and isinstance(e, ev.WorkspaceSnapshot))) + 1],
                           clock=lambda: T0 + 100)
    app = MLGymApp(deterministic=True, runs_dir=tmp_path, start_screen=screen)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("4")
        await pilot.pause()
        pane = screen.query_one(WorkspacePane)
        assert "step 3" in pane.query_one("#workspace-title").render().plain
        assert labels(pane.files)["results.csv"].startswith("+ results.csv")
        await pilot.press("enter")  # no run folder for a list of events: the tree, and why there is no content
        await settled(pilot)
        screen.feed([snapshots(BlobStore(run_dir))[4]], flush=True)
        await pilot.pause()
        assert "step 4" in pane.query_one("#workspace-title").render().plain


def test_snapshot_workspace_pane(snap_compare, tmp_path):
    run_dir = recorded_run(tmp_path)

    async def at_step_two_with_a_diff(pilot):
        screen = await opened(pilot)
        await pilot.press("1", "3", "4")  # transcript and metrics closed: shell and workspace side by side
        await pilot.press("colon", *"2", "enter")
        await pilot.pause()
        tree = screen.query_one(WorkspaceTree)
        tree.move_cursor(tree.nodes_by_path["train.py"])
        await pilot.press("d")
        await settled(pilot)
        await pilot.pause()

    app = MLGymApp(deterministic=True, runs_dir=tmp_path, start_screen=ReplayScreen(run_dir, clock=lambda: T0 + 100))
    assert snap_compare(app, terminal_size=SIZE, run_before=at_step_two_with_a_diff)


async def test_the_live_pane_on_a_real_episode_shows_what_a_command_made(tmp_path):
    """A human episode on Docker: a command writes a CSV; the pane lists it as new and previews it as a table."""
    from conftest import get_engine
    from test_tui_terminal import human_app, live_episode, until

    app = human_app(tmp_path, get_engine("docker"))
    async with app.run_test(size=SIZE) as pilot:
        screen = await live_episode(app, pilot)
        screen.query_one("#shell-input").focus()
        await pilot.press(*"printf 'a,b\\n1,2\\n' > made.csv", "enter")
        await until(pilot, lambda: any(s.action.startswith("printf") for s in screen.model.steps), "the step")
        await pilot.press("escape")  # out of the command line: keys are keys again
        await pilot.press("4")
        pane = screen.query_one(WorkspacePane)
        await until(pilot, lambda: labels(pane.files).get("made.csv", "").startswith("+ made.csv"),
                    "the new file marked in the pane")
        tree = pane.query_one(WorkspaceTree)
        tree.focus()
        tree.move_cursor(tree.nodes_by_path["made.csv"])
        await pilot.press("enter")  # (not `settled`: the episode itself is a worker that runs until it ends)
        await until(pilot, lambda: pane.query_one("#preview-table").display and "made.csv" in preview_text(pane),
                    "the CSV shown as a table")
        assert pane.query_one("#preview-table").row_count == 1  # a header and one row
        screen.controller.stop()
        await until(pilot, lambda: screen.controller.done, "the end")
