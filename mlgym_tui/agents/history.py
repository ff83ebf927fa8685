"""The conversation an agent has had, kept in MLGym's history shape, and the view the model gets of it.

Entries are `{role, content, agent, thought?, action?, is_demo?}` as in MLGym's .traj "history". The stored
entries always keep full observations; `for_model()` applies the history processor (older observations
shortened to a note) and merges consecutive messages of one role, which some providers reject.
"""

from __future__ import annotations

import copy
from typing import Any

from mlgym_tui.agents.templates import render_template

AGENT_NAME = "primary"  # MLGym's name for the single agent; `agent` says which agent an entry belongs to


def keep_last_observations(entries: list[dict[str, Any]], keep: int | None, note: str) -> list[dict[str, Any]]:
    """Observations older than the last `keep` become a one-line note with their line count.

    The first non-demo user message is the task and is never shortened; demonstrations are left alone.
    """
    if keep is None:
        return [dict(e) for e in entries]
    user_positions = [i for i, e in enumerate(entries) if e["role"] == "user" and not e.get("is_demo")]
    observations = user_positions[1:]
    shortened = set(observations[: max(0, len(observations) - keep)])
    processed = []
    for i, entry in enumerate(entries):
        entry = dict(entry)
        if i in shortened:
            entry["content"] = render_template(note, {"lines": len(entry["content"].splitlines())})
        processed.append(entry)
    return processed


class History:
    def __init__(self, keep_last: int | None = 5, omitted_note: str = "Old output omitted ({lines} lines)") -> None:
        self.keep_last = keep_last
        self.omitted_note = omitted_note
        self._entries: list[dict[str, Any]] = []

    def __len__(self) -> int:
        return len(self._entries)

    def view(self) -> list[dict[str, Any]]:
        """The live list, for readers that only read (the recorder): no copy per step."""
        return self._entries

    @property
    def entries(self) -> list[dict[str, Any]]:
        """A copy: callers may save or alter it without touching the live history."""
        return copy.deepcopy(self._entries)

    def add(self, role: str, content: str, *, agent: str = AGENT_NAME, **extra: Any) -> dict[str, Any]:
        entry: dict[str, Any] = {"role": role, "content": content, "agent": agent}
        entry.update({k: v for k, v in extra.items() if v is not None})
        self._entries.append(entry)
        return entry

    def drop_last(self) -> dict[str, Any]:
        """Take back the last entry (a prompt whose model call was cancelled)."""
        return self._entries.pop()

    def add_assistant(self, response: str, thought: str, action: str, *, agent: str = AGENT_NAME) -> dict[str, Any]:
        return self.add("assistant", response, agent=agent, thought=thought, action=action)

    def for_model(self) -> list[dict[str, str]]:
        processed = keep_last_observations(self._entries, self.keep_last, self.omitted_note)
        messages: list[dict[str, str]] = []
        for entry in processed:
            if messages and messages[-1]["role"] == entry["role"] and entry["role"] != "system":
                messages[-1]["content"] += "\n\n" + entry["content"]
            else:
                messages.append({"role": entry["role"], "content": entry["content"]})
        return messages
