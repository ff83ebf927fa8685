"""Start an episode: agent config, model, engine, mode, max steps, cost limit."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Grid, Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select

from mlgym_tui.tui.actions import bindings_for
from mlgym_tui.tui.episode_request import ENGINES, MODES, EpisodeRequest, agent_choices


class StartDialog(ModalScreen[EpisodeRequest | None]):
    BINDINGS = bindings_for("start_dialog")

    def __init__(self, task_id: str, engine: str = "auto", mode: str = "auto") -> None:
        super().__init__()
        self.task_id = task_id
        self.engine = engine if engine in ENGINES else "auto"
        self.mode = mode

    def compose(self) -> ComposeResult:
        agents = agent_choices()
        with Vertical(id="start-box"):
            yield Label(f"Start an episode on [b]{self.task_id}[/b]", id="start-title")
            with Grid(id="start-grid"):
                yield Label("agent config")
                yield Select([(a, a) for a in agents], value="human" if self.mode == "human" and "human" in agents
                             else ("default" if "default" in agents else Select.BLANK), id="start-agent",
                             allow_blank=False if agents else True)
                yield Label("model")
                yield Input(placeholder="(from the agent config)", id="start-model")
                yield Label("engine")
                yield Select([(e, e) for e in ENGINES], value=self.engine, id="start-engine", allow_blank=False)
                yield Label("mode")
                yield Select([(m, m) for m in MODES], value=self.mode, id="start-mode", allow_blank=False)
                yield Label("max steps")
                yield Input(placeholder="(from the agent config)", id="start-max-steps", type="integer")
                yield Label("cost limit ($)")
                yield Input(placeholder="(from the agent config)", id="start-cost-limit", type="number")
            with Horizontal(id="start-buttons"):
                yield Button("Start", variant="success", id="start-go")
                yield Button("Cancel", id="start-cancel")

    def request(self) -> EpisodeRequest:
        def value(selector: str) -> str:
            return self.query_one(selector, Input).value.strip()

        agent = self.query_one("#start-agent", Select).value
        return EpisodeRequest(
            task_id=self.task_id,
            agent=str(agent) if agent is not Select.BLANK else "default",
            model=value("#start-model"),
            engine=str(self.query_one("#start-engine", Select).value),
            mode=str(self.query_one("#start-mode", Select).value),
            max_steps=int(value("#start-max-steps")) if value("#start-max-steps") else None,
            cost_limit=float(value("#start-cost-limit")) if value("#start-cost-limit") else None,
        )

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "start-agent" and event.value == "human":
            self.query_one("#start-mode", Select).value = "human"

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "start-go":
            try:
                self.dismiss(self.request())
            except ValueError as exc:
                self.notify(f"check the numbers: {exc}", severity="error")
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)
