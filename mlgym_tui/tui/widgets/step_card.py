"""One transcript card per step: badges, thought (Markdown), action (shell syntax), observation (folded)."""

from __future__ import annotations

import re
from typing import Any

from rich.console import Group
from rich.markdown import Markdown
from rich.syntax import Syntax
from rich.text import Text
from textual.widgets import Static

from mlgym_tui.runtime.text import strip_escapes
from mlgym_tui.stream.model import EpisodeModel, StepView
from mlgym_tui.tui.actions import bindings_for

FOLD_LINES = 8  # a folded observation shows this many lines from the start...
FOLD_TAIL = 3  # ...and this many from the end
FOLD_CHARS = 4000
EXPANDED_MAX_LINES = 2000  # even expanded, a huge observation is capped on screen
AUTHOR_STYLE = {"agent": "bold cyan", "human": "bold magenta", "human-terminal": "bold magenta",
                "replay": "bold blue", "baseline": "bold green"}


def badge(text: str, style: str) -> Text:
    return Text(f" {text} ", style=f"{style} reverse")


MATCH_CONTEXT = 1  # lines shown either side of a search match that the fold would hide
FOLD = "\x00FOLD\x00"  # a folded line's marker, followed by how many lines it stands for


def fold_observation(observation: str, expanded: bool, around: str = "") -> tuple[str, int]:
    """The text to show and how many lines are hidden (0 when nothing is). Folded, the first lines and the last
    are shown; with `around`, so is the first line holding it (ignoring case) and its neighbours."""
    lines = observation.split("\n")
    if expanded:
        if len(lines) > EXPANDED_MAX_LINES:
            return "\n".join(lines[:EXPANDED_MAX_LINES]), len(lines) - EXPANDED_MAX_LINES
        return observation, 0
    if len(lines) <= FOLD_LINES + FOLD_TAIL and len(observation) <= FOLD_CHARS:
        return observation, 0
    kept = set(range(min(FOLD_LINES, len(lines))))
    if len(lines) > FOLD_LINES + FOLD_TAIL:
        kept.update(range(len(lines) - FOLD_TAIL, len(lines)))
    needle = around.lower()
    match = next((i for i, line in enumerate(lines) if needle in line.lower()), None) if needle else None
    if match is not None and match not in kept:
        kept.update(range(max(0, match - MATCH_CONTEXT), min(len(lines), match + MATCH_CONTEXT + 1)))
    shown: list[str] = []
    gap = 0
    for i, line in enumerate(lines):
        if i in kept:
            if gap:
                shown.append(f"{FOLD}{gap}")
                gap = 0
            shown.append(line[:300])
        else:
            gap += 1
    if gap:
        shown.append(f"{FOLD}{gap}")
    hidden = len(lines) - len(kept)
    if not hidden:  # short of lines but long in characters: the lines were cut at 300 characters
        shown.append(f"{FOLD}1")
        hidden = 1
    return "\n".join(shown), hidden


MARKDOWN_SIGNS = re.compile(r"[*_`#>\[\]|~<&\\]|^\s*([-+=]|\d+[.)])|^ {4}|\t", re.MULTILINE)


def thought_renderable(thought: str) -> Markdown | Text:
    """Markdown where the thought uses any, else the same paragraphs as plain Text: most thoughts are plain
    prose, and parsing them as Markdown was a tenth of a card's cost on every replay step."""
    if MARKDOWN_SIGNS.search(thought):
        return Markdown(thought)
    paragraphs = [" ".join(line.strip() for line in block.splitlines() if line.strip())
                  for block in re.split(r"\n\s*\n", thought.strip())]
    return Text("\n\n".join(p for p in paragraphs if p))


class StepCard(Static, can_focus=True):
    """A rendered step. Enter (or a click) folds or unfolds a long observation."""

    BINDINGS = bindings_for("step_card")

    def __init__(self, step: StepView, model: EpisodeModel, index: int) -> None:
        super().__init__(classes="step-card")
        self.model = model
        self.point(step, index, render=False)

    def point(self, step: StepView, index: int, render: bool = True) -> None:
        """Show another step (a replay re-uses its cards as the cursor moves): folded, unmarked, unhighlighted."""
        self.step_view = step
        self.index = index
        self.expanded = False
        self.search = ""  # text highlighted wherever it occurs (a replay's search match)
        self.rendered_revision = -1
        self.set_class(step.author in ("human", "human-terminal"), "-human")
        self.set_class(step.rejected is not None, "-rejected")
        self.remove_class("-cursor")
        if render:
            self.rerender()

    def on_mount(self) -> None:
        self.rerender()

    def toggle(self) -> None:
        self.expanded = not self.expanded
        self.rerender()

    def on_click(self) -> None:
        self.toggle()

    def action_toggle(self) -> None:
        self.toggle()

    def rerender(self) -> None:
        self.rendered_revision = self.step_view.revision
        self.set_class(self.step_view.validation is not None, "-validated")
        self.update(highlighted(self.build(), self.search) if self.search else self.build())

    def header(self) -> Text:
        s = self.step_view
        text = Text()
        text.append(f"step {s.step}  ", style="bold")
        text.append_text(badge(s.author, AUTHOR_STYLE.get(s.author, "bold")))
        if s.edited_from is not None:
            text.append(" ")
            text.append_text(badge("edited", "bold yellow"))
        if s.rejected is not None:
            text.append(" ")
            text.append_text(badge("discarded", "bold yellow") if s.discarded else badge("rejected", "bold red"))
        if s.exit_code is not None or s.rejected is None:
            code = s.exit_code
            style = "bold green" if code == 0 else "bold red" if code is not None else "dim"
            text.append(" ")
            text.append_text(badge(f"exit {code if code is not None else '?'}", style))
        if s.timed_out:
            text.append(" ")
            text.append_text(badge("timed out", "bold red"))
        if s.rejected is None:
            text.append(f"  {s.duration:.1f}s", style="dim")
        if s.tokens_in or s.tokens_out:
            text.append(f"  tok {s.tokens_in}/{s.tokens_out}", style="dim")
        if s.cost:
            text.append(f"  ${s.cost:.4f}", style="dim")
        return text

    def build(self) -> Group:
        s = self.step_view
        parts: list = [self.header()]
        if s.thought.strip():
            parts.append(thought_renderable(strip_escapes(s.thought)))
        action = strip_escapes(s.action)
        if s.edited_from is not None:
            parts.append(Text(f"agent proposed: {strip_escapes(s.edited_from)}", style="dim strike"))
        if action:
            parts.append(Syntax(action, "bash", theme="ansi_dark", word_wrap=True, background_color="default"))
            if (note := memory_note(action)) is not None:
                parts.append(note)
        if s.rejected is not None:
            if s.discarded:
                parts.append(Text(f"not run: {strip_escapes(s.rejected)}", style="yellow"))
            else:
                parts.append(Text(f"rejected: {strip_escapes(s.rejected)}", style="red"))
        if s.observation:
            shown, hidden = fold_observation(strip_escapes(s.observation), self.expanded, around=self.search)
            obs = Text(style="")
            for i, line in enumerate(shown.split("\n")):
                if i:
                    obs.append("\n")
                if line.startswith(FOLD):
                    obs.append(f"… {line[len(FOLD):]} more lines (enter or click to expand)", style="italic dim")
                else:
                    obs.append(line)
            if self.expanded and hidden:
                obs.append(f"\n… {hidden} more lines not shown", style="italic dim")
            parts.append(obs)
        if s.validation is not None:
            parts.append(self.score_line(s.validation, s.final))
        return Group(*parts)

    def score_line(self, metrics: dict[str, float], final: bool) -> Text:
        text = Text()
        text.append(" SUBMITTED " if final else " VALIDATED ", style="bold reverse")
        for name, value in metrics.items():
            text.append(f"  {name} {EpisodeModel.describe(value)}", style="bold")
            base = self.model.baseline.get(name)
            if base is not None:
                text.append(f" (baseline {EpisodeModel.describe(base)})", style="dim")
        primary = self.model.primary_metric
        if primary in metrics:
            against = self.model.against_baseline(metrics[primary])
            if against == 1:
                text.append("  ▲ beats baseline", style="bold green")
            elif against == 0:
                text.append("  = matches baseline", style="bold")
            elif against == -1:
                text.append("  ▼ below baseline", style="bold red")
        return text


MEMORY_NOTES = {
    "memory_write": "memory: saves this text to the agent's persistent memory (~/memory.json), kept across steps "
                    "and shown to it as records and key words",
    "memory_read": "memory: searches the agent's persistent memory for the two records most similar to this query",
}


def memory_note(action: str) -> Text | None:
    """What MLGym's memory commands do, for a reader of a trajectory that uses them."""
    name = action.split(maxsplit=1)[0] if action.strip() else ""
    note = MEMORY_NOTES.get(name)
    return Text(note, style="italic cyan") if note else None


def highlighted(group: Group, query: str) -> Group:
    """A card's content with every occurrence of the query highlighted (the thought shown as plain text)."""
    pattern = re.compile(re.escape(query), re.IGNORECASE)
    style = "bold black on yellow"
    parts: list[Any] = []
    for part in group.renderables:
        if isinstance(part, Markdown):
            part = Text(part.markup)
        if isinstance(part, Text):
            part.highlight_regex(pattern, style)
        elif isinstance(part, Syntax):
            lines = part.code.split("\n")
            for n, line in enumerate(lines, start=1):
                for m in pattern.finditer(line):
                    part.stylize_range(style, (n, m.start()), (n, m.end()))
        parts.append(part)
    return Group(*parts)
