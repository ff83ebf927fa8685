"""`human.json` in a run directory: who played a human-baseline session, the time limit they had and the note they
left at the end. Written once, when the session ends (the events are closed by then), atomically; replay and
`results` read it beside events.jsonl."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from mlgym_tui.trajectory.atomic_write import atomic_write_text

HUMAN_FILE = "human.json"


@dataclass(frozen=True)
class HumanNote:
    who: str
    note: str = ""
    time_limit_s: float | None = None


def write_human_note(run_dir: Path, note: HumanNote) -> Path:
    """Blocking (fsync): call it on a worker thread."""
    path = Path(run_dir) / HUMAN_FILE
    atomic_write_text(path, json.dumps(asdict(note), indent=2, ensure_ascii=False) + "\n")
    return path


def read_human_note(run_dir: Path) -> HumanNote | None:
    """The note of a run directory, or None when there is none or it is unreadable (a run is still a run)."""
    try:
        data = json.loads((Path(run_dir) / HUMAN_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    limit = data.get("time_limit_s")
    return HumanNote(who=str(data.get("who") or ""), note=str(data.get("note") or ""),
                     time_limit_s=float(limit) if isinstance(limit, (int, float)) else None)
