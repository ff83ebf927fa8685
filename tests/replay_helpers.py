"""A fixed run on disk for the replay tests: failures (exit 1, format error, timeout), validations, a human step."""

from __future__ import annotations

import json
from pathlib import Path

from mlgym_tui.stream import events as ev
from mlgym_tui.tui.sample_events import sample_episode

RUN_NAME = "2024-01-02T03-04-05__gpt-4o__battleOfSexes__default"


def replay_events(steps: int = 9) -> list[ev.Event]:
    """sample_episode(9): exit 1 at step 4, human step 5, validations at 3, 6, 9; plus a format error at step 7
    and a timeout at step 8."""
    out: list[ev.Event] = []
    for event in sample_episode(steps):
        if isinstance(event, ev.ModelResponse) and event.step == 7:
            out.append(ev.FormatError(t=event.t, step=7, content="no code block", reason="no command found",
                                      attempt=1))
        if isinstance(event, ev.StepRecorded) and event.step == 8:
            event.timed_out, event.exit_code = True, None
        out.append(event)
    return out


def write_run(folder: Path, events: list[ev.Event] | None = None, name: str = RUN_NAME) -> Path:
    run_dir = folder / name
    run_dir.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(e.to_dict()) + "\n" for e in (events if events is not None else replay_events())]
    (run_dir / "events.jsonl").write_text("".join(lines), encoding="utf-8")
    return run_dir
