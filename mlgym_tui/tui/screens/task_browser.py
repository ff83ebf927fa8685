"""Home screen: tasks with a filter, the selected task's details and its past runs; start episodes here, and
return to the ones left running (`e`, or their row in past runs)."""

from __future__ import annotations

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
from mlgym_tui.tui.widgets.runs_table import RunsTable
from mlgym_tui.tui.widgets.task_details import TaskDetails
from mlgym_tui.tui.widgets.task_table import TaskTable


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
        return True

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
