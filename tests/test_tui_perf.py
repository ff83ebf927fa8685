"""Textual's private API is used in mlgym_tui/tui/perf.py only, which checks the Textual it was written for."""

from __future__ import annotations

import ast
import logging
from pathlib import Path

import pytest
from textual.app import App
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Label

import mlgym_tui
from mlgym_tui.tui import perf

PACKAGE = Path(mlgym_tui.__file__).resolve().parent


def textual_private_names() -> set[str]:
    names: set[str] = set()
    for cls in (App, Widget, Screen):
        for klass in cls.__mro__:
            names |= {k for k in vars(klass) if k.startswith("_") and not k.startswith("__")}
    for instance in (App(), Widget()):
        names |= {k for k in vars(instance) if k.startswith("_") and not k.startswith("__")}
    return names


def test_textual_private_names_are_used_in_perf_only():
    """`thing._name` where _name is one of Textual's private names, outside perf.py (self._x is the class's own)."""
    names = textual_private_names()
    assert "_check_refresh" in names and "_display" in names
    uses = []
    for path in sorted((PACKAGE / "tui").rglob("*.py")):
        if path.name == "perf.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Attribute) and node.attr in names
                    and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))):
                uses.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {ast.unparse(node)}")
    assert not uses, "Textual private API outside tui/perf.py: " + "; ".join(uses)


def test_the_pinned_textual_is_the_one_perf_was_written_for():
    assert perf.installed_textual() == perf.TEXTUAL_VERSION, (
        "Textual changed: check each private use in mlgym_tui/tui/perf.py, then update TEXTUAL_VERSION")


def test_another_textual_warns_once(monkeypatch, caplog):
    monkeypatch.setattr(perf, "installed_textual", lambda: "99.0.0")
    monkeypatch.setattr(perf, "_version_checked", False)
    with caplog.at_level(logging.WARNING, logger="mlgym_tui.tui.perf"):
        assert perf.check_textual_version() is False
        assert perf.check_textual_version() is False
    warnings = [r for r in caplog.records if "written for Textual" in r.getMessage()]
    assert len(warnings) == 1 and "99.0.0" in warnings[0].getMessage()


async def test_flush_refreshes_falls_back_when_the_private_method_is_gone(monkeypatch):
    class One(App):
        def compose(self):
            yield Label("a")

    app = One()
    async with app.run_test() as pilot:
        label = app.query_one(Label)
        label.update("b")
        perf.flush_refreshes(app.screen)  # the real method: no error, nothing left pending for the screen
        monkeypatch.delattr(Widget, "_check_refresh")
        label.update("c")
        perf.flush_refreshes(app.screen)  # gone: nothing happens now, the repaint comes with Textual's own idle
        monkeypatch.undo()
        await pilot.pause()
        assert str(label.render()) == "c"


def test_watch_frames_sees_composited_frames():
    pytest.importorskip("textual")
    frames = []

    class One(App):
        def compose(self):
            yield Label("a")

    async def auto_pilot(pilot):
        await pilot.pause()
        pilot.app.exit()

    app = One()
    perf.watch_frames(app, lambda screen, renderable: frames.append(renderable))
    app.run(headless=True, size=(40, 5), auto_pilot=auto_pilot)
    assert any(r is not None for r in frames)


FIRST_PAINT = r"""
import sys
import mlgym_tui.cli
from mlgym_tui.tui.app import MLGymApp
from mlgym_tui.tui.perf import watch_frames
from mlgym_tui.tui.screens.task_browser import TaskBrowser

app = MLGymApp(deterministic=True)
seen = []

def on_frame(screen, renderable):
    if renderable is not None and not seen and isinstance(screen, TaskBrowser):
        seen.append(sorted({name.split(".")[0] for name in sys.modules}))

watch_frames(app, on_frame)

async def auto_pilot(pilot):
    while not seen:
        await pilot.pause(0.01)
    pilot.app.exit()

app.run(headless=True, size=(120, 40), auto_pilot=auto_pilot)
print(" ".join(seen[0]))
"""


def test_the_first_paint_imports_only_what_the_browser_needs():
    """Without a settings file, the task browser paints before pydantic (settings, task models), the task YAML,
    Markdown, charts, engines or litellm are imported: they come in on its worker thread, or when used."""
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", FIRST_PAINT], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    loaded = set(proc.stdout.split())
    assert "textual" in loaded
    heavy = {"pydantic", "docker", "litellm", "markdown_it", "pygments", "plotext", "textual_plotext", "pyte",
             "orjson", "watchfiles"}
    assert not loaded & heavy, f"imported before the first paint: {sorted(loaded & heavy)}"


def test_the_start_hold_is_taken_once_and_ends_with_a_freeze():
    import gc

    assert gc.isenabled() and not perf.held()
    perf.hold_for_start()
    perf.hold_for_start()  # `mlgym-tui` takes it before the imports, the app again on load: one hold
    assert not gc.isenabled() and perf.held()
    perf.end_start_hold()
    assert gc.isenabled() and not perf.held() and gc.get_freeze_count() > 0
    perf.end_start_hold()  # the app's unmount after its first frame: nothing more
    assert gc.isenabled()
    perf.unfreeze()
    assert gc.get_freeze_count() == 0
