"""Home screen: tasks with a filter, the selected task's details and its past runs; start episodes here, return
to the ones left running (`e`, or their row in past runs), and attach (`a`) to episodes other processes run
under the runs folder (headless runs, batches, other apps)."""

from __future__ import annotations

import logging
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.actions import SkipAction
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input, Label

from mlgym_tui.tui.actions import bindings_for
from mlgym_tui.tui.episode_request import EpisodeRequest
from mlgym_tui.tui.runs_index import index_runs, rows_for
from mlgym_tui.tui.screens.start_dialog import StartDialog
from mlgym_tui.tui.widgets.running_table import RunningTable
from mlgym_tui.tui.widgets.runs_table import RunsTable
from mlgym_tui.tui.widgets.task_details import TaskDetails
from mlgym_tui.tui.widgets.task_table import TaskTable

if TYPE_CHECKING:  # read on a worker thread: its imports stay off the start-up path
    from mlgym_tui.tui.running_index import RunningEpisode, RunningIndex

log = logging.getLogger(__name__)

RUNNING_SCAN_S = 2.0  # how often the list of episodes running under the runs folder is read again
REPLAY_CHOICES = [("replay", "Open its replay"), ("cancel", "Back")]


class TaskBrowser(Screen):
    BINDINGS = bindings_for("task_browser")

    def __init__(self, tasks: dict | None, problems: list[str] | None = None) -> None:
        super().__init__()
        self.loaded = tasks is not None
        tasks = tasks or {}
        self.tasks = tasks
        self.problems = problems or []
        self.runs_by_task: dict = {}
        self.shown: list = list(tasks.values())
        self.selected = self.shown[0] if self.shown else None
        self._kept: list[int] = []  # the episode screens the `e` key was last shown for
        self.running: list[RunningEpisode] = []  # episodes other processes run under the runs folder
        self._running_index: RunningIndex | None = None
        self._scanning = False

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False, icon="◆")
        with Horizontal(id="browser-body"):
            with Vertical(id="task-column"):
                yield Input(placeholder="filter: id, name, domain, metric", id="task-filter")
                yield TaskTable(id="task-table")
            with Vertical(id="detail-column"):
                yield TaskDetails(id="task-details")
                yield Label("past runs", classes="pane-title", id="runs-title")
                yield RunsTable(id="runs-table")
                yield Label("", id="running-episodes")
                yield Label("", classes="pane-title", id="running-title")
                yield RunningTable(id="running-table")
        yield Footer()

    def on_mount(self) -> None:
        self.title = "MLGym"
        self.sub_title = f"{len(self.tasks)} tasks" if self.loaded else "loading tasks…"
        self.refilter("")
        self.query_one(TaskTable).focus()
        # after the first paint: the worker's imports (pydantic, the task models) would hold the GIL against it
        self.call_after_refresh(self.run_worker, self.load_tasks, name="task-registry", group="tasks", thread=True)
        self.show_running()
        self.set_interval(1.0, self.show_running, name="running-episodes")
        self.query_one("#running-title").display = self.query_one(RunningTable).display = False
        self.call_after_refresh(self.scan_running)
        self.set_interval(RUNNING_SCAN_S, self.scan_running, name="running-scan")

    def kept_episodes(self) -> list:
        """Episode screens left (not on the screen stack), running or ended since."""
        return [s for s in getattr(self.app, "episodes", []) if s not in self.app.screen_stack]

    def show_running(self) -> None:
        """The line naming the episodes left running, and the `e` key, when there are any."""
        kept = self.kept_episodes()
        label = self.query_one("#running-episodes", Label)
        label.display = bool(kept)
        if kept:
            names = []
            for screen in kept:
                c = screen.controller
                what = f"{c.task_id} step {c.step}" if c is not None else "starting"
                names.append(what + ("" if screen.running else f" (ended: {c.exit_status})"))
            label.update(f"left running: {'; '.join(names)} — e to return")
        if [id(s) for s in kept] != self._kept:
            self._kept = [id(s) for s in kept]
            self.refresh_bindings()

    def on_screen_resume(self) -> None:
        if not self.is_mounted:
            return
        self.show_running()
        if self.loaded:
            self.action_reload_runs()  # a run left running (or ended) since shows in past runs

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "running_episode":
            return bool(self.kept_episodes())
        if action == "attach":
            return bool(self.running)
        return True

    # ---------------------------------------------------------------- episodes other processes run

    def scan_running(self) -> None:
        """Read the running list again on a worker thread; skipped while one read is under way or the browser
        is not shown."""
        if self._scanning or not self.is_current:
            return
        self._scanning = True
        self.run_worker(partial(self._scan_running, self.own_run_dirs()), name="running-scan", group="running",
                        thread=True, exit_on_error=False)

    def own_run_dirs(self) -> list[Path]:
        """The run folders of the episodes this app runs: its `e` line, not the running list."""
        live = [s.controller for s in getattr(self.app, "episodes", [])
                if s.controller is not None and s.controller.run_dir]
        if not live:
            return []
        from mlgym_tui.control.client import RemoteEpisode

        return [Path(c.run_dir) for c in live if not isinstance(c, RemoteEpisode)]

    def _scan_running(self, own: list[Path]) -> None:
        """Worker thread: the episodes running under the runs folder but `own`."""
        try:
            if self._running_index is None:
                from mlgym_tui.tui.running_index import RunningIndex

                self._running_index = RunningIndex()
            leave_out = {path.resolve() for path in own}
            episodes = [e for e in self._running_index.scan(self.app.runs_dir()) if e.run_dir not in leave_out]
        except Exception:  # an unreadable folder must not end the app: the list stays as it was
            log.exception("reading the running episodes failed")
            return
        finally:
            self._scanning = False
        self.app.call_from_thread(self.set_running, episodes)

    def set_running(self, episodes: list[RunningEpisode]) -> None:
        try:
            table = self.query_one(RunningTable)
        except NoMatches:  # the app quit during the read
            return
        had = bool(self.running)
        self.running = episodes
        table.show(episodes)
        table.display = bool(episodes)
        title = self.query_one("#running-title", Label)
        title.display = bool(episodes)
        title.update(f"running elsewhere: {len(episodes)} — a to attach")
        if had != bool(episodes):
            self.refresh_bindings()

    def action_attach(self, run_dir: Path | None = None) -> None:
        """Attach to the highlighted running episode (or `run_dir`): its live screen, as if started here."""
        run_dir = run_dir or self.query_one(RunningTable).selected_run()
        if run_dir is None:
            self.notify("no episode is running under the runs folder", severity="warning")
            return
        screen = self.app.episode_for_run(run_dir)
        if screen is not None and self.app.return_to_episode(screen):
            return  # already open in this app
        self.run_worker(self.attach_to(run_dir), name="attach", group="attach", exclusive=True, exit_on_error=False)

    async def attach_to(self, run_dir: Path) -> None:
        from mlgym_tui.control.client import AttachError, RemoteEpisode
        from mlgym_tui.tui.screens.episode import EpisodeScreen

        try:
            remote = await RemoteEpisode.attach(run_dir)
        except AttachError as exc:
            self.attach_failed(exc)
            return
        self.app.push_screen(EpisodeScreen(controller=remote))

    def attach_failed(self, exc) -> None:
        """Say why; a run whose process is gone offers its replay."""
        self.scan_running()
        if exc.replay_dir is None:
            self.notify(str(exc), title="attach", severity="error", timeout=10)
            return
        from mlgym_tui.tui.screens.choice import ChoiceDialog

        replay_dir = exc.replay_dir

        def chosen(choice: str | None) -> None:
            if choice == "replay":
                self.open_replay(replay_dir)

        self.app.push_screen(ChoiceDialog("Cannot attach to this episode", REPLAY_CHOICES, str(exc)), chosen)

    def action_running_episode(self) -> None:
        if not self.app.return_to_episode():
            self.notify("no episode left running", severity="warning")

    def load_tasks(self) -> None:
        """Worker thread: validated settings, then the task registry (unless tasks were given)."""
        self.app.load_settings()
        import rich.markdown  # noqa: F401 (the details pane renders Markdown: its imports here, not on the loop)

        if self.loaded:
            self.app.call_from_thread(self.tasks_ready)
            return
        from mlgym_tui.tasks.registry import load_registry

        registry = load_registry()
        self.app.call_from_thread(self.set_tasks, registry.tasks, registry.problems, registry.notices)

    def set_tasks(self, tasks: dict, problems: list[str], notices: list[str] = ()) -> None:
        self.tasks, self.problems, self.loaded = tasks, problems, True
        for notice in notices:
            self.notify(notice, title="task replaced", timeout=8)
        self.sub_title = f"{len(self.tasks)} tasks"
        self.shown = list(tasks.values())
        self.selected = self.shown[0] if self.shown else None
        try:
            self.refilter(self.query_one("#task-filter", Input).value)
        except NoMatches:  # the app quit while the tasks were read: the screen's widgets are gone
            return
        self.tasks_ready()

    def tasks_ready(self) -> None:
        for problem in self.problems:
            self.notify(problem, title="task not loaded", severity="warning", timeout=8)
        self.action_reload_runs()

    def action_reload_runs(self) -> None:
        self.run_worker(self.load_runs, name="runs-index", group="runs", thread=True, exclusive=True)

    def load_runs(self) -> None:
        runs = index_runs(self.app.runs_dir())
        self.app.call_from_thread(self.set_runs, runs)

    def set_runs(self, runs: dict) -> None:
        self.runs_by_task = runs
        try:
            self.show_task(self.selected)
        except NoMatches:  # the app quit while the runs were read: the screen's widgets are gone
            pass

    def refilter(self, query: str) -> None:
        self.shown = self.query_one(TaskTable).show(list(self.tasks.values()), query)
        if self.selected not in self.shown:
            self.selected = self.shown[0] if self.shown else None
        self.show_task(self.selected)

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "task-filter":
            self.refilter(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "task-filter":
            self.query_one(TaskTable).focus()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "task-table" and event.row_key is not None:
            self.selected = self.tasks.get(event.row_key.value)
            self.show_task(self.selected)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id == "task-table":
            self.action_start()
        elif event.data_table.id == "runs-table" and event.row_key is not None:
            self.open_replay(event.row_key.value)
        elif event.data_table.id == "running-table" and event.row_key is not None:
            self.action_attach(Path(event.row_key.value))

    def show_task(self, task) -> None:
        self.query_one(TaskDetails).show(task)
        if task is None:
            self.query_one(RunsTable).show([])
            return
        metric = task.primary_metric
        rows = rows_for(self.runs_by_task.get(task.id, []), metric.name if metric else None,
                        metric.direction if metric else "maximize", task.baseline)
        self.query_one(RunsTable).show(rows)
        self.query_one("#runs-title", Label).update(f"past runs of {task.id}: {len(rows)}")

    def action_focus_filter(self) -> None:
        box = self.query_one("#task-filter", Input)
        if self.focused is box:  # (has_focus follows a moment later)
            raise SkipAction()  # a / in the filter
        self.set_focus(box)  # at once (Widget.focus waits for the keys already queued, typed after the /)

    def action_start(self) -> None:
        if self.selected is None:
            self.notify("no task selected", severity="warning")
            return
        self.app.push_screen(StartDialog(self.selected.id, engine=self.app.default_engine), self.launch)

    def action_start_human(self) -> None:
        if self.selected is None:
            self.notify("no task selected", severity="warning")
            return
        self.launch(EpisodeRequest.human(self.selected.id, engine=self.app.default_engine))

    def launch(self, request: EpisodeRequest | None) -> None:
        if request is not None:
            self.app.start_episode(request)

    def action_open_run(self) -> None:
        from mlgym_tui.tui.widgets.file_picker import FilePicker

        self.app.push_screen(FilePicker(self.app.runs_dir()), self.open_replay)

    def open_replay(self, path) -> None:
        live = self.app.episode_for_run(path) if path else None
        if live is not None and self.app.return_to_episode(live):
            return  # a run still live in this app opens its live screen, not a replay of its file
        if path:
            from mlgym_tui.tui.replay.screen import ReplayScreen

            self.app.push_screen(ReplayScreen(path))
