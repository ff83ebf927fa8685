"""The action registry (tui/actions.py): every BINDINGS list in the tui package comes from it, every binding has an
id, and the help screen and the command palette show what it registers."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path

from textual.binding import Binding
from textual.dom import DOMNode

import mlgym_tui.tui
from mlgym_tui.tui.actions import ACTIONS, BY_ID, CONTEXTS, bindings_for, keys_of

TUI = Path(mlgym_tui.tui.__file__).parent


def tui_modules():
    for info in pkgutil.walk_packages([str(TUI)], prefix="mlgym_tui.tui."):
        yield importlib.import_module(info.name)


def fields(binding: Binding) -> tuple:
    return binding.key, binding.action, binding.description, binding.show, binding.priority, binding.id


def test_ids_are_unique_and_contexts_known():
    assert len(BY_ID) == len(ACTIONS)
    for action in ACTIONS:
        assert action.contexts and set(action.contexts) <= set(CONTEXTS), action
        assert action.description, action


def test_every_bindings_list_in_the_tui_package_comes_from_the_registry():
    owners, used = [], set()
    for module in tui_modules():
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != module.__name__ or not issubclass(cls, DOMNode) or "BINDINGS" not in cls.__dict__:
                continue
            bindings = cls.__dict__["BINDINGS"]
            assert bindings, f"{cls.__name__}: an empty BINDINGS list"
            assert all(isinstance(b, Binding) and b.id in BY_ID for b in bindings), cls
            contexts = {c for b in bindings for c in BY_ID[b.id].contexts}
            matched = [c for c in contexts if [fields(b) for b in bindings] == [fields(b) for b in bindings_for(c)]]
            assert matched, f"{cls.__name__}.BINDINGS is not bindings_for(<its context>)"
            owners.append(cls.__name__)
            used.update(matched)
    for expected in ("MLGymApp", "TaskBrowser", "EpisodeScreen", "ReplayScreen", "ForkEpisodeScreen", "ResultsScreen",
                     "ForkDialog", "TextReport", "StepCard", "Transcript", "PromptScreen", "StartDialog",
                     "FilePicker", "HelpScreen"):
        assert expected in owners
    assert used == set(CONTEXTS)  # every context is someone's BINDINGS


def test_no_binding_is_made_outside_the_registry():
    for path in TUI.rglob("*.py"):
        if path.name == "actions.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) == "Binding":
                raise AssertionError(f"{path.relative_to(TUI)}:{node.lineno} makes a Binding outside actions.py")


async def test_help_lists_every_registered_action_and_the_palette_the_screens_own(tmp_path):
    from rich.console import Console

    from replay_helpers import write_run

    from mlgym_tui.tui.app import MLGymApp
    from mlgym_tui.tui.replay.screen import ReplayScreen
    from mlgym_tui.tui.sample_events import T0
    from mlgym_tui.tui.screens.help import HelpScreen

    run_dir = write_run(tmp_path)
    app = MLGymApp(deterministic=True, start_screen=ReplayScreen(run_dir, clock=lambda: T0 + 100))
    async with app.run_test(size=(120, 40)) as pilot:
        while not app.screen.loaded:
            await pilot.pause(0.02)
        names = {c.title for c in app.get_system_commands(app.screen)}
        for wanted in ("Next", "Previous", "Go to step", "Search", "Next failure", "Author filter", "Follow",
                       "Fork here", "Theme", "Results across runs", "Help: all keys"):
            assert wanted in names, wanted
        assert "Pause/resume" not in names  # a live episode's key, not the replay's
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        console = Console(width=200, record=True, color_system=None)
        console.print(app.screen.table())
        rows = console.export_text().splitlines()
        for action in ACTIONS:
            row = next((r for r in rows if r.rstrip().endswith(" " + action.id)), None)
            assert row is not None, f"{action.id} missing from the help"
            assert keys_of(action, {}) in row and action.description in row
