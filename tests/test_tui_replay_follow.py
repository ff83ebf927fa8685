"""Follow mode's FollowTail on its own: a burst of file changes is one read, and what was appended arrives as one
Appended message at the screen."""

from __future__ import annotations

import json

from replay_helpers import replay_events, write_run
from textual.app import App, ComposeResult

from mlgym_tui.tui.replay.follow import FollowTail


class Host(App):
    def __init__(self, path) -> None:
        super().__init__()
        self.path = path
        self.appended: list[list] = []

    def compose(self) -> ComposeResult:
        yield FollowTail(self.path)

    def on_follow_tail_appended(self, message: FollowTail.Appended) -> None:
        self.appended.append(message.events)


async def test_a_burst_of_changes_is_read_once_and_posted_as_one_message(tmp_path, monkeypatch):
    events = replay_events()
    cut = next(i for i, e in enumerate(events) if getattr(e, "step", 0) == 4)
    path = write_run(tmp_path, events[:cut]) / "events.jsonl"
    reads = []
    app = Host(path)
    async with app.run_test() as pilot:
        follower = app.query_one(FollowTail)
        follower.start()  # from the end: nothing already there is new
        read_new = follower.tail.read_new
        monkeypatch.setattr(follower.tail, "read_new", lambda: reads.append(1) or read_new())
        with open(path, "a", encoding="utf-8") as out:
            out.write("".join(json.dumps(e.to_dict()) + "\n" for e in events[cut:]))
        for _ in range(50):  # a burst: the watcher and the poll both report, many times
            follower.changed()
        await pilot.pause(0.1)
        assert 1 <= len(reads) <= 3  # one for the burst (the file watcher or the poll may add one of their own)
        assert len(app.appended) == 1 and len(app.appended[0]) == len(events) - cut
        follower.stop()
        assert not follower.following
        before = len(reads)
        follower.changed()
        await pilot.pause(0.1)
        assert len(reads) == before  # stopped: nothing is read
