"""The MLGym Textual app: task browser at home, episode screens on top, help, themes and the user keymap."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from textual.app import App, SystemCommand
from textual.events import DescendantFocus
from textual.screen import Screen

from mlgym_tui.stream.types import ENGINES
from mlgym_tui.tui import perf
from mlgym_tui.tui.actions import bindings_for, palette_entries
from mlgym_tui.tui.episode_request import EpisodeRequest, make_starter
from mlgym_tui.tui.themes import DEFAULT_THEME, discover_themes


class MLGymApp(App):
    CSS_PATH = "app.tcss"
    TITLE = "MLGym"
    BINDINGS = bindings_for("app")

    def __init__(self, *, request: EpisodeRequest | None = None, tasks: dict | None = None,
                 runs_dir: Path | None = None, deterministic: bool = False, theme_folders: list[Path] | None = None,
                 start_screen: Screen | None = None, episode_options: dict | None = None) -> None:
        super().__init__()
        self.request = request
        self._tasks = tasks
        self._runs_dir = runs_dir
        self.runs_dir_given = runs_dir is not None  # by the caller (--runs-dir), not from settings
        self.deterministic = deterministic
        self.theme_folders = theme_folders
        self.start_screen = start_screen
        self.episode_options = dict(episode_options or {})  # extra start_episode arguments (tests: engine, runtime)
        self.keymap_settings: dict[str, str] = {}
        self.default_engine = "auto"
        self.startup_problems: list[str] = []
        self._settings_problems: set[str] = set()  # each malformed-settings message is shown once
        if deterministic:
            self.animation_level = "none"
        # the theme before the stylesheet is first parsed: set in on_mount it cost a second parse (~30 ms)
        self.theme = self.load_config()

    # ---------------------------------------------------------------- start-up

    def load_config(self) -> str:
        """Theme and keymap, before the first paint; every problem becomes a notification.

        The settings (pydantic, ~0.1 s to import) are read here only when a settings file exists, so that its
        theme is in the first frame; without one there is nothing to read, the defaults hold, and the settings
        object is built on the task browser's worker thread after the first paint."""
        from mlgym_tui.config.paths import settings_path

        theme = DEFAULT_THEME
        if settings_path().is_file():
            current = self.load_settings()
            if current is not None:
                theme = current.theme
        themes, problems = discover_themes(self.theme_folders)
        self.startup_problems += problems
        for found in themes:
            self.register_theme(found)
        if theme not in self.available_themes:
            self.startup_problems.append(f"theme {theme!r} not found; using {DEFAULT_THEME}")
            theme = DEFAULT_THEME if DEFAULT_THEME in self.available_themes else "textual-dark"
        return theme

    def load_settings(self):
        """The settings (get_settings: read once, cached) applied: runs folder, engine default, keymap.

        Safe from a worker thread; a malformed file becomes one notification and the defaults hold."""
        import threading

        from mlgym_tui.config.settings import ConfigError, get_settings, runs_dir

        try:
            current = get_settings()
        except ConfigError as exc:
            if str(exc) not in self._settings_problems:
                self._settings_problems.add(str(exc))
                if threading.current_thread() is threading.main_thread():
                    self.startup_problems.append(str(exc))
                else:
                    self.call_from_thread(self.notify, str(exc), title="config", severity="warning", timeout=10)
            return None
        self.default_engine = current.runtime.engine or "auto"
        self.keymap_settings = dict(current.keymap)
        if self._runs_dir is None:
            self._runs_dir = runs_dir()
        return current

    def runs_dir(self) -> Path:
        if self._runs_dir is None:
            self.load_settings()
        return self._runs_dir or Path("runs")

    def on_load(self) -> None:
        perf.hold_for_start()  # no garbage collection until the first frame (`mlgym-tui` holds it from its start)

    def release_collector(self) -> None:
        perf.end_start_hold()

    def on_unmount(self) -> None:
        perf.end_start_hold()
        perf.unfreeze()  # an app in a longer process (tests) leaves its objects collectable

    def on_mount(self) -> None:
        self.call_after_refresh(self.release_collector)  # after the first frame
        if self.keymap_settings:
            self.set_keymap(self.keymap_settings)
        if self.start_screen is not None:
            self.push_screen(self.start_screen)
        else:
            self.push_screen(self.make_browser())
            if self.request is not None:
                self.start_episode(self.request)
        for problem in self.startup_problems:
            self.notify(problem, title="config", severity="warning", timeout=10)

    def make_browser(self) -> Screen:
        from mlgym_tui.tui.screens.task_browser import TaskBrowser

        # tasks=None: the browser reads the registry on a worker thread after its first paint
        return TaskBrowser(self._tasks)

    def start_episode(self, request: EpisodeRequest) -> None:
        from mlgym_tui.tui.screens.episode import EpisodeScreen

        runs_dir = self.runs_dir()
        if request.engine == "auto":  # `play` without --engine: the settings' engine, as the browser does
            self.load_settings()
            if self.default_engine in ENGINES:
                request = replace(request, engine=self.default_engine)
        self.push_screen(EpisodeScreen(starter=make_starter(request, runs_dir, **self.episode_options)))

    # ---------------------------------------------------------------- actions

    def action_help(self) -> None:
        from mlgym_tui.tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_results(self) -> None:
        from mlgym_tui.tui.screens.results import ResultsScreen

        if not isinstance(self.screen, ResultsScreen):
            self.push_screen(ResultsScreen([self.runs_dir()]))

    def action_pick_theme(self) -> None:
        self.search_themes()

    def on_descendant_focus(self, event: DescendantFocus) -> None:
        if self.deterministic and hasattr(event.widget, "cursor_blink"):
            event.widget.cursor_blink = False

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Help: all keys", "List every binding and its id", self.action_help)
        for action, key, node in palette_entries(screen.active_bindings.items()):  # the registry's, active here

            def run(node=node, action=action.action) -> None:
                self.call_later(self.run_action, action, node)

            yield SystemCommand(action.description, f"key: {key}", run)
