"""Builds the bytes of a `<task>.traj` file from cached per-step fragments.

A run's .traj is rewritten after every step. Serialising 5,000 steps again each time would make the per-step cost
grow with everything recorded so far, so each step (and history item) is serialised once and the file is the join
of those fragments: the remaining per-step cost is copying bytes, which the write itself needs anyway.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from mlgym_tui.stream.events import StepRecorded
from mlgym_tui.trajectory.traj_format import ENVIRONMENT_NAME, OUR_META_KEY, step_to_traj_entry


def _dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8")


class TrajDocument:
    def __init__(self, environment: str = ENVIRONMENT_NAME, scrub: Callable[[str], str] = lambda text: text) -> None:
        self.environment = environment
        self._scrub = scrub
        self._step_fragments: list[bytes] = []
        self._history_items: list[Any] = []
        self._history_fragments: list[bytes] = []

    @property
    def step_count(self) -> int:
        return len(self._step_fragments)

    def add_step(self, step: StepRecorded) -> None:
        self._step_fragments.append(self._fragment(step_to_traj_entry(step)))

    def set_history(self, items: Sequence[dict[str, Any]]) -> None:
        """Reuse the fragment of every leading item that is the very same object as last time.

        Policies append to their history; identity (not equality) keeps this check O(1) per item. An item mutated
        in place after being handed over is therefore not re-serialised: pass a new dict instead.
        """
        items = list(items)
        reused = 0
        for old, new in zip(self._history_items, items):
            if old is not new:
                break
            reused += 1
        fragments = self._history_fragments[:reused]
        fragments.extend(self._fragment(item) for item in items[reused:])
        self._history_items = items
        self._history_fragments = fragments

    def render(self, our_meta: dict[str, Any], info: dict[str, Any]) -> bytes:
        return self.snapshot(our_meta, info)()

    def snapshot(self, our_meta: dict[str, Any], info: dict[str, Any]) -> Callable[[], bytes]:
        """Freeze the current content cheaply (copies of the fragment lists, not of the bytes) for rendering later,
        possibly on another thread, while steps keep being added."""
        head = b"".join(
            [b'{"environment": ', _dumps(self.environment), b',\n"' + OUR_META_KEY.encode() + b'": ',
             self._fragment(our_meta), b',\n"trajectory": [\n']
        )
        steps = list(self._step_fragments)
        history = list(self._history_fragments)
        tail = b'\n],\n"info": ' + self._fragment(info) + b"}\n"

        def render() -> bytes:
            # One step per line keeps the file greppable and shows where a truncated file was cut.
            return b"".join([head, b",\n".join(steps), b'\n],\n"history": [\n', b",\n".join(history), tail])

        return render

    def _fragment(self, value: Any) -> bytes:
        return self._scrub(json.dumps(value, ensure_ascii=False)).encode("utf-8")
