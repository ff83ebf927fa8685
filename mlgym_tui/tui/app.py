"""The MLGym Textual app: task browser at home, episode screens on top, help, themes and the user keymap."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.events import DescendantFocus
from textual.screen import Screen

from mlgym_tui.stream.types import ENGINES
from mlgym_tui.tui.episode_request import EpisodeRequest, make_starter
from mlgym_tui.tui.themes import DEFAULT_THEME, discover_themes


class MLGymApp(App):
    CSS_PATH = "app.tcss"
    TITLE = "MLGym"
    BINDINGS = [
        Binding("q", "quit", "Quit", id="quit"),
        Binding("ctrl+q", "quit", "Quit", id="quit_now", show=False, priority=True),
        Binding("f1", "help", "Help", id="help", priority=True),
        Binding("question_mark", "help", "Help", id="help_alt", show=False),
        Binding("ctrl+t", "pick_theme", "Theme", id="theme", show=False),
        Binding("R", "results", "Results across runs", id="results", show=False),
    ]

    def __init__(self, *, request: EpisodeRequest | None = None, tasks: dict | None = None,
                 runs_dir: Path | None = None, deterministic: bool = False, theme_folders: list[Path] | None = None,
                 start_screen: Screen | None = None, episode_options: dict | None = None) -> None:
        super().__init__()
        self.request = request
        self._tasks = tasks
        self._runs_dir = runs_dir
        self.deterministic = deterministic
        self.theme_folders = theme_folders
        self.start_screen = start_screen
        self.episode_options = dict(episode_options or {})  # extra start_episode arguments (tests: engine, runtime)
        self.keymap_settings: dict[str, str] = {}
        self.default_engine = "auto"
        self.startup_problems: list[str] = []
        if deterministic:
            self.animation_level = "none"

    # ---------------------------------------------------------------- start-up

    def load_config(self) -> str:
        """Theme and keymap, read before the first paint; every problem becomes a notification.

        Only `theme` and `keymap` are read here, straight from the YAML (cheap); the full, validated settings
        (pydantic) are loaded on the task browser's worker thread by `apply_settings`.
        """
        theme = DEFAULT_THEME
        raw = self._raw_settings()
        if isinstance(raw.get("theme"), str):
            theme = raw["theme"]
        keymap = raw.get("keymap")
        if isinstance(keymap, dict):
            self.keymap_settings = {str(k): str(v) for k, v in keymap.items()}
        themes, problems = discover_themes(self.theme_folders)
        self.startup_problems += problems
        for found in themes:
            self.register_theme(found)
        if theme not in self.available_themes:
            self.startup_problems.append(f"theme {theme!r} not found; using {DEFAULT_THEME}")
            theme = DEFAULT_THEME if DEFAULT_THEME in self.available_themes else "textual-dark"
        return theme

    def _raw_settings(self) -> dict:
        import yaml

        from mlgym_tui.tui.themes import user_theme_dir

        path = user_theme_dir().parent / "settings.yaml"
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else {}
        except (OSError, yaml.YAMLError):
            return {}  # the validated load reports it
        return data if isinstance(data, dict) else {}

    def load_settings(self) -> None:
        """Validated settings (worker thread): runs folder and engine default; problems are notified."""
        from mlgym_tui.config.settings import ConfigError, load_settings

        try:
            settings = load_settings()
        except ConfigError as exc:
            self.call_from_thread(self.notify, str(exc), title="config", severity="warning", timeout=10)
            return
        self.default_engine = settings.runtime.engine or "auto"
        if self._runs_dir is None:
            self._runs_dir = Path(settings.runs_dir).expanduser()

    def runs_dir(self) -> Path:
        return self._runs_dir or Path("runs")

    def on_mount(self) -> None:
        self.theme = self.load_config()
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

        runs_dir = self._runs_dir or self._settings_runs_dir()
        if request.engine == "auto":  # `play` without --engine: the engine settings.yaml names, as the browser does
            runtime = self._raw_settings().get("runtime")
            engine = runtime.get("engine") if isinstance(runtime, dict) else None
            if isinstance(engine, str) and engine in ENGINES:
                request = replace(request, engine=engine)
        self.push_screen(EpisodeScreen(starter=make_starter(request, runs_dir, **self.episode_options)))

    def _settings_runs_dir(self) -> Path:
        """settings.yaml's runs_dir (read cheaply: `play` starts its episode before the validated settings load)."""
        value = self._raw_settings().get("runs_dir")
        return Path(value).expanduser() if isinstance(value, str) and value else Path("runs")

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
        seen: set[str] = set()
        for key, active in screen.active_bindings.items():
            binding = active.binding
            if not binding.description or binding.id in seen or binding.action in ("quit", "help", "command_palette"):
                continue
            seen.add(binding.id or binding.action)
            node, action = active.node, binding.action

            def run(node=node, action=action) -> None:
                self.call_later(self.run_action, action, node)

            yield SystemCommand(binding.description, f"key: {key}", run)
