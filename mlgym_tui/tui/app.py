"""The MLGym Textual app: task browser at home, episode screens on top, help, themes and the user keymap.

A live episode's screen is installed: leaving it keeps it (and its episode) running, and the task browser brings
it back. Quitting with episodes running asks how to end them first.
"""

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


QUIT_CHOICES = [("submit", "Submit the last valid submission of each, then quit"),
                ("end", "End them without a score and quit"), ("cancel", "Keep going")]
QUIT_WAIT_S = 300.0  # the longest quit waits for the scoring of the last valid submissions


class MLGymApp(App):
    CSS_PATH = "app.tcss"
    TITLE = "MLGym"
    BINDINGS = bindings_for("app")

    def __init__(self, *, request: EpisodeRequest | None = None, tasks: dict | None = None,
                 runs_dir: Path | None = None, deterministic: bool = False, theme_folders: list[Path] | None = None,
                 start_screen: Screen | None = None, episode_options: dict | None = None,
                 remove_orphans: bool | None = None) -> None:
        super().__init__()
        # containers of runs whose process is gone are removed at start-up (tests ask for it explicitly)
        self.remove_orphans = not deterministic if remove_orphans is None else remove_orphans
        self.episodes: list[Screen] = []  # live episode screens, installed so that leaving keeps them running
        self._quitting = False
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
        if self.remove_orphans:
            # after the first frames: the engine client's imports would hold the GIL against them
            self.set_timer(1.0, self.start_orphan_cleanup)

    def start_orphan_cleanup(self) -> None:
        self.run_worker(self.clean_orphans, name="orphan-cleanup", thread=True, exit_on_error=False)

    def clean_orphans(self) -> None:
        """Worker thread: remove the containers of runs whose process is gone (killed, crashed)."""
        from mlgym_tui.runtime.orphans import describe, remove_orphans

        current = self.load_settings()
        note = describe(remove_orphans(current.runtime if current is not None else None))
        if note:
            self.call_from_thread(self.notify, note, title="clean-up", timeout=8)

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
        self.push_screen(EpisodeScreen(starter=make_starter(request, runs_dir, **self.episode_options),
                                       ask_note=request.baseline_session))

    # ---------------------------------------------------------------- live episodes

    def keep_episode(self, screen: Screen) -> None:
        """A live episode's screen (a fork's too) registers here as it mounts: installed, leaving it keeps it."""
        if screen not in self.episodes:
            self.install_screen(screen, name=f"episode-{id(screen)}")
            self.episodes.append(screen)

    def running_episodes(self) -> list[Screen]:
        return [s for s in self.episodes if s.running]

    def leave_episode(self, screen: Screen) -> None:
        """Back to the screen below; a running episode's screen is kept for `return_to_episode`, an ended one
        is let go."""
        self.pop_screen()
        if screen in self.episodes and not screen.running:
            self.episodes.remove(screen)
            self.call_later(self._let_go, screen)
        elif screen in self.episodes:
            self.notify("the episode keeps running: e in the task browser brings it back", timeout=5)

    async def _let_go(self, screen: Screen) -> None:
        if screen not in self.screen_stack:
            self.uninstall_screen(screen)
            await screen.remove()

    def return_to_episode(self, screen: Screen | None = None) -> bool:
        """Show a kept episode screen again (the most recently started one by default); False when none."""
        kept = [s for s in self.episodes if s not in self.screen_stack]
        if screen is None:
            screen = kept[-1] if kept else None
        if screen is None or screen not in kept:
            return False
        self.push_screen(screen)
        return True

    def episode_for_run(self, run_dir: Path) -> Screen | None:
        """The kept live screen whose run directory is `run_dir`, if any."""
        wanted = Path(run_dir).resolve()
        for screen in self.episodes:
            c = screen.controller
            if c is not None and c.run_dir is not None and Path(c.run_dir).resolve() in (wanted, wanted.parent):
                return screen
        return None

    # ---------------------------------------------------------------- actions

    def action_help(self) -> None:
        from mlgym_tui.tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_results(self) -> None:
        from mlgym_tui.tui.screens.results import ResultsScreen

        if not isinstance(self.screen, ResultsScreen):
            self.push_screen(ResultsScreen([self.runs_dir()]))

    async def action_quit(self) -> None:
        """Quit; with episodes running, first ask how to end them (the default scores the last valid
        submission of each)."""
        screen = self.screen
        if getattr(screen, "attached", False) and screen.running:
            screen.ask_detach(then_quit=True)  # an attached episode keeps running: detach, then quit
            return
        running = self.running_episodes()
        if not running:
            self.exit()
            return
        if self._quitting:
            return
        from mlgym_tui.tui.screens.choice import ChoiceDialog

        self._quitting = True
        count = f"{len(running)} episodes are" if len(running) > 1 else "An episode is"
        self.push_screen(ChoiceDialog(f"{count} still running. Quit?", QUIT_CHOICES,
                                      "Quitting ends them. Leaving an episode's screen (Escape) keeps it running."),
                         self._quit_chosen)

    def _quit_chosen(self, choice: str | None) -> None:
        if choice not in ("submit", "end"):
            self._quitting = False
            return
        running = [s for s in self.running_episodes() if s.controller is not None]
        for screen in running:
            screen.controller.stop(choice == "submit")
        if choice == "submit" and running:
            self.notify("scoring the last valid submission before quitting…", timeout=30)
        self.run_worker(self._quit_when_ended(running), name="quit", exit_on_error=False)

    async def _quit_when_ended(self, screens: list[Screen]) -> None:
        import asyncio
        import contextlib

        from mlgym_tui.tui.screens.end_note import EndNoteDialog

        waits = [asyncio.ensure_future(s.controller.wait()) for s in screens]
        if waits:
            await asyncio.wait(waits, timeout=QUIT_WAIT_S)
        await asyncio.sleep(0.2)  # the screens see the end (their flush) and a human session asks for its note
        while any(isinstance(screen, EndNoteDialog) for screen in self.screen_stack):
            await asyncio.sleep(0.1)
        for worker in [w for w in self.workers if w.name == "human-note"]:
            with contextlib.suppress(Exception):  # a failed write has told the person already
                await worker.wait()  # human.json is on disk before the app goes
        self.exit()

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
