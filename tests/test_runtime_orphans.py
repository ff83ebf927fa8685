"""Start-up clean-up through the real engines: a container whose owning process (pid label, this host) is gone is
removed; one whose owner lives, one of another host and one without an owner pid are kept (doctor --cleanup's)."""

from __future__ import annotations

import socket
import subprocess
import time

from mlgym_tui.config.runtime import RuntimeConfig
from mlgym_tui.runtime.base import LABEL, ContainerSpec
from mlgym_tui.runtime.orphans import describe, remove_orphans


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def start(engine, **labels: str):
    return engine.start(ContainerSpec(image=RuntimeConfig().image, memory="256m", labels=labels))


def gone(engine, name: str) -> bool:
    return name not in [c.name for c in engine._labelled()]  # lists again when a container goes mid-listing


def test_labels_name_the_owner(engine):
    box = start(engine)
    try:
        labels = engine.client.api.inspect_container(box.id)["Config"]["Labels"]
        assert labels[f"{LABEL}.host"] == socket.gethostname() and labels[f"{LABEL}.pid"].isdigit()
    finally:
        box.remove()


def test_orphans_of_a_dead_pid_go_the_rest_stay(engine):
    orphan = start(engine, **{f"{LABEL}.pid": str(dead_pid())})
    live = start(engine)  # this test's process owns it
    elsewhere = start(engine, **{f"{LABEL}.pid": str(dead_pid()), f"{LABEL}.host": "another-machine"})
    try:
        removed = engine.remove_orphans()
        assert gone(engine, orphan.name)  # (a clean-up running beside this test may have taken it first)
        assert live.name not in removed and elsewhere.name not in removed
        assert live.is_running() and elsewhere.is_running()
    finally:
        for box in (orphan, live, elsewhere):
            box.remove()


def test_remove_orphans_finds_the_engines_itself(engine):
    orphan = start(engine, **{f"{LABEL}.pid": str(dead_pid())})
    try:
        removed = remove_orphans(RuntimeConfig())
        assert engine.name in removed and gone(engine, orphan.name)
        if orphan.name in removed[engine.name]:
            assert orphan.name in describe(removed)
    finally:
        orphan.remove()


async def test_the_app_removes_orphans_at_start_up_off_the_loop(engine, tmp_path):
    from mlgym_tui.tui.app import MLGymApp

    orphan = start(engine, **{f"{LABEL}.pid": str(dead_pid())})
    live = start(engine)
    try:
        app = MLGymApp(deterministic=True, runs_dir=tmp_path, remove_orphans=True)
        async with app.run_test(size=(120, 40)) as pilot:
            deadline = time.monotonic() + 60
            while not gone(engine, orphan.name):
                assert time.monotonic() < deadline, "the orphan was not removed at start-up"
                await pilot.pause(0.1)
            assert live.is_running()
    finally:
        orphan.remove()
        live.remove()
