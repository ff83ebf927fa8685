"""The replay's dialogs: who continues a fork (ForkDialog) and a scrollable text report (TextReport)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Grid, Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from mlgym_tui.tui.actions import bindings_for


class ForkDialog(ModalScreen[dict | None]):
    """How a fork starts (the parent's workspace snapshot restored, or its first commands run again), who continues
    it (the agent with a config and model, or a person) and on which engine. `unavailable` says why the snapshot
    cannot be restored; re-execution is then the one way offered."""

    BINDINGS = bindings_for("fork_dialog")

    def __init__(self, task_id: str, steps: int, engine: str = "auto", agent: str = "default",
                 unavailable: str | None = None) -> None:
        super().__init__()
        self.task_id, self.steps, self.engine, self.agent = task_id, steps, engine, agent
        self.unavailable = unavailable

    def compose(self) -> ComposeResult:
        from mlgym_tui.tui.episode_request import ENGINES, agent_choices

        agents = [a for a in agent_choices() if a not in ("human", "replay")]
        agent = self.agent if self.agent in agents else ("default" if "default" in agents else Select.BLANK)
        ways = [(f"re-execute the first {self.steps} action(s)", "reexecute")]
        if self.unavailable is None:
            ways.insert(0, (f"restore the workspace at step {self.steps} (exact)", "snapshot"))
        how = ("restore the parent's workspace, directory and environment after it in a fresh container"
               if self.unavailable is None else
               f"re-execute the first {self.steps} action(s) in a fresh container")
        with Vertical(id="start-box"):
            yield Label(f"Fork [b]{self.task_id}[/b] at step {self.steps}: {how}, then continue "
                        "(ctrl+a: agent, ctrl+u: human)", id="start-title")
            if self.unavailable is not None:
                yield Static(Text(f"No exact fork: {self.unavailable}", style="italic"), id="fork-unavailable")
            with Grid(id="start-grid"):
                yield Label("start by")
                yield Select(ways, value=ways[0][1], id="fork-how", allow_blank=False)
                yield Label("continue as")
                yield Select([("the agent", "agent"), ("a human (me)", "human")], value="agent", id="fork-who",
                             allow_blank=False)
                yield Label("agent config")
                yield Select([(a, a) for a in agents], value=agent, id="fork-agent", allow_blank=not agents)
                yield Label("model")
                yield Input(placeholder="(from the agent config)", id="fork-model")
                yield Label("engine")
                yield Select([(e, e) for e in ENGINES], value=self.engine if self.engine in ENGINES else "auto",
                             id="fork-engine", allow_blank=False)
            with Horizontal(id="start-buttons"):
                yield Button("Agent continues", variant="success", id="fork-agent-go")
                yield Button("Human continues", variant="primary", id="fork-human-go")
                yield Button("Cancel", id="fork-cancel")

    def choice(self, who: str) -> dict:
        agent = self.query_one("#fork-agent", Select).value
        return {"who": who, "agent": "human" if who == "human" else (str(agent) if agent is not Select.BLANK
                                                                      else "default"),
                "model": self.query_one("#fork-model", Input).value.strip(),
                "engine": str(self.query_one("#fork-engine", Select).value),
                "how": str(self.query_one("#fork-how", Select).value)}

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "fork-agent-go":
            self.dismiss(self.choice("agent"))
        elif event.button.id == "fork-human-go":
            self.dismiss(self.choice("human"))
        else:
            self.dismiss(None)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(self.choice(str(self.query_one("#fork-who", Select).value)))

    def action_choose(self, who: str) -> None:
        self.dismiss(self.choice(who))

    def action_cancel(self) -> None:
        self.dismiss(None)


class TextReport(ModalScreen[None]):
    """A scrollable text report (the fork's divergences); escape closes it."""

    BINDINGS = bindings_for("report")
    CSS = "TextReport { align: center middle; } #report-box { width: 100; height: 80%; border: thick $warning; " \
          "background: $surface; padding: 0 1; }"

    def __init__(self, title: str, text: str) -> None:
        super().__init__()
        self.title_text, self.text = title, text

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="report-box"):
            yield Label(self.title_text, classes="pane-title")
            yield Static(Text(self.text), id="report-text")

    def action_close(self) -> None:
        self.dismiss(None)
