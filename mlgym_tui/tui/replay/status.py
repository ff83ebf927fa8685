"""The replay's status line and timeline caption, as text (no UI): what the cursor, the filter, the search and
follow mode show, most telling first (the status line is cut at the terminal's width)."""

from __future__ import annotations

from pathlib import PurePath
from typing import Any

from mlgym_tui.tui.replay.cursor import ReplayCursor


def format_duration(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s"


def is_human_run(run: Any, cursor: ReplayCursor) -> bool:
    """A person's run: recorded as the human agent, or every step not replayed or rejected is a human's."""
    index = cursor.index
    return run.meta.agent == "human" or bool(index.humans and len(index.humans) == sum(
        1 for s in index.cards if s.rejected is None and s.author != "replay"))


def status_line(cursor: ReplayCursor, run: Any, *, follow: bool, warnings: list[str], exit_status: str | None,
                human: bool) -> str:
    index, meta = cursor.index, run.meta
    parts = [f"step {cursor.card}/{index.total}"]
    if follow:
        parts.append("FOLLOWING")
    if cursor.query:
        parts.append(f"/{cursor.query}: {cursor.match_position() or '-'} of {len(cursor.matches)}")
    if cursor.author_filter:
        parts.append(f"filter: {cursor.author_filter}")
    if human:
        took = index.human_seconds()
        note = getattr(run, "human", None)  # human.json: who played, the time limit, their note
        by = f" by {note.who}" if note is not None and note.who else ""
        limit = f", limit {format_duration(note.time_limit_s)}" if note is not None and note.time_limit_s else ""
        parts.append(f"HUMAN baseline{by}{limit}" + (f", first command → submission {format_duration(took)}"
                                                     if took is not None else " (not submitted)"))
        if note is not None and note.note:
            parts.append(f"note: {note.note}")
    if exit_status:
        parts.append(f"ended: {exit_status}")
    if warnings:
        parts.append(f"⚠ {len(warnings)} warning(s)")
    if meta.parent:
        parts.append(lineage(meta))
    parts.append(f"task {meta.task_id}")
    if not human:
        parts.append(f"agent {meta.agent} ({meta.model})")
    return " · ".join(parts)


def lineage(meta: Any) -> str:
    """Where a fork comes from: "fork of RUN at step N (snapshot)" (how it was made: unsaid in older runs)."""
    how = getattr(meta, "fork_by", "")
    return f"fork of {PurePath(meta.parent).name} at step {meta.fork_step}" + (f" ({how})" if how else "")


def summary(warnings: list[str]) -> str:
    """The first three warnings, and how many more."""
    return "; ".join(warnings[:3]) + (f" (+{len(warnings) - 3} more)" if len(warnings) > 3 else "")


def timeline_caption(cursor: ReplayCursor) -> str:
    index = cursor.index
    step = index.cards[cursor.card - 1] if cursor.card else None
    caption = f"step {step.step} [{step.author}]" if step else "no steps"
    return (f"{caption}   ✗ failure {len(index.failures)}  ◆ validation {len(index.validations)}  "
            f"H human {len(index.humans)}   ←/→ step  / search  x/v/u next failure/validation/human  f fork")
