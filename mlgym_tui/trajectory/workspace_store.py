"""A run's workspace history: the blob store (`runs/<run>/workspace/<sha[:2]>/<sha256>`, each content stored once)
and `WorkspaceHistory`, which folds WorkspaceSnapshot events into the tree at any step, what a step changed, a
file's bytes and its diff against the previous step. Readers (the workspace pane, exact forks, compare, export)
all go through here; the writer side is environment/workspace_snapshot.py."""

from __future__ import annotations

import difflib
import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlgym_tui.stream.events import Event, WorkspaceSnapshot

STORE_DIR = "workspace"


@dataclass(frozen=True)
class Entry:
    path: str
    kind: str  # file | dir | link
    mode: int
    size: int
    sha256: str | None = None
    stored: bool = False
    target: str | None = None  # a link's target
    note: str = ""  # why its bytes are not stored (too large, binary, the run's cap reached)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Entry":
        return cls(path=data["path"], kind=data.get("kind", "file"), mode=int(data.get("mode", 0o644)),
                   size=int(data.get("size", 0)), sha256=data.get("sha256"), stored=bool(data.get("stored")),
                   target=data.get("target"), note=data.get("note", ""))

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"path": self.path, "kind": self.kind, "mode": self.mode, "size": self.size,
                                "sha256": self.sha256, "stored": self.stored}
        if self.target is not None:
            data["target"] = self.target
        if self.note:
            data["note"] = self.note
        return data

    def same_content(self, other: "Entry | None") -> bool:
        return other is not None and (self.kind, self.mode, self.size, self.sha256, self.target) == (
            other.kind, other.mode, other.size, other.sha256, other.target)


class BlobStore:
    """Content-addressed bytes under run_dir/workspace/. Writes are atomic (a temp file renamed into place)."""

    def __init__(self, run_dir: Path) -> None:
        self.root = Path(run_dir) / STORE_DIR

    def path(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256

    def has(self, sha256: str) -> bool:
        return self.path(sha256).exists()

    def put(self, data: bytes) -> str:
        sha = hashlib.sha256(data).hexdigest()
        target = self.path(sha)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{sha}.{os.getpid()}.tmp")
            tmp.write_bytes(data)
            os.replace(tmp, target)
        return sha

    def get(self, sha256: str) -> bytes | None:
        try:
            return self.path(sha256).read_bytes()
        except OSError:
            return None

    def size(self) -> int:
        if not self.root.exists():
            return 0
        return sum(p.stat().st_size for p in self.root.glob("*/*") if p.is_file())


class WorkspaceHistory:
    """The workspace at every recorded step, folded from a run's WorkspaceSnapshot events (in order)."""

    def __init__(self, events: Iterable[Event], run_dir: Path | None = None) -> None:
        self.snapshots: list[WorkspaceSnapshot] = [e for e in events if isinstance(e, WorkspaceSnapshot)]
        self.store = BlobStore(run_dir) if run_dir is not None else None
        self._trees: dict[int, dict[str, Entry]] = {}

    @property
    def recorded(self) -> bool:
        return bool(self.snapshots)

    def steps(self) -> list[int]:
        return [s.step for s in self.snapshots]

    def snapshot_at(self, step: int) -> WorkspaceSnapshot | None:
        """The snapshot taken after `step` (None when that step has none)."""
        for snapshot in self.snapshots:
            if snapshot.step == step:
                return snapshot
        return None

    def tree_at(self, step: int) -> dict[str, Entry]:
        """Path -> Entry as the workspace was after `step` (the last snapshot at or before it)."""
        cached = self._trees.get(step)
        if cached is not None:
            return cached
        tree: dict[str, Entry] = {}
        for snapshot in self.snapshots:
            if snapshot.step > step:
                break
            for path in snapshot.deleted:
                tree.pop(path, None)
                prefix = path.rstrip("/") + "/"
                for inner in [p for p in tree if p.startswith(prefix)]:
                    del tree[inner]  # a deleted folder takes its contents
            for data in snapshot.changed:
                entry = Entry.from_dict(data)
                tree[entry.path] = entry
        self._trees[step] = tree
        return tree

    def changes_at(self, step: int) -> tuple[list[Entry], list[str]]:
        """What `step` changed: entries created or modified, and paths deleted."""
        snapshot = self.snapshot_at(step)
        if snapshot is None:
            return [], []
        return [Entry.from_dict(d) for d in snapshot.changed], list(snapshot.deleted)

    def previous_step(self, step: int) -> int | None:
        earlier = [s.step for s in self.snapshots if s.step < step]
        return earlier[-1] if earlier else None

    def bytes_of(self, entry: Entry | None) -> bytes | None:
        if entry is None or entry.kind != "file":
            return None
        if entry.size == 0:
            return b""
        if not entry.stored or entry.sha256 is None or self.store is None:
            return None
        return self.store.get(entry.sha256)

    def text_at(self, path: str, step: int) -> str | None:
        """The file's text after `step`; None when it is absent, not stored or not UTF-8 text."""
        data = self.bytes_of(self.tree_at(step).get(path))
        if data is None or b"\0" in data[:8192]:
            return None
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return None

    def diff(self, path: str, step: int, against: int | None = None) -> str:
        """A unified diff of `path` from `against` (default: the previous snapshot's step) to `step`."""
        before_step = self.previous_step(step) if against is None else against
        before = self.tree_at(before_step).get(path) if before_step is not None else None
        after = self.tree_at(step).get(path)
        return diff_entries(path, before, after, self.bytes_of(before), self.bytes_of(after),
                            f"step {before_step}" if before_step is not None else "nothing",
                            f"step {step}")

    def missing_blobs(self, step: int) -> list[Entry]:
        """Files of the tree at `step` whose bytes cannot be restored (not stored, or the blob is gone)."""
        missing = []
        for entry in self.tree_at(step).values():
            if entry.kind == "file" and entry.size > 0 and self.bytes_of(entry) is None:
                missing.append(entry)
        return missing


def diff_entries(path: str, before: Entry | None, after: Entry | None, old: bytes | None, new: bytes | None,
                 old_label: str, new_label: str) -> str:
    """A unified diff between two versions of a file, or one line saying why there is no text diff."""
    if before is None and after is None:
        return f"{path}: not in either version"
    if before is not None and after is not None and before.same_content(after):
        return f"{path}: unchanged"
    for entry, data in ((before, old), (after, new)):
        if entry is not None and entry.kind == "file" and data is None:
            return (f"{path}: {describe(before)} -> {describe(after)} (content not stored: "
                    f"{entry.note or 'not recorded'})")
        if data is not None and b"\0" in data[:8192]:
            return f"{path}: binary, {describe(before)} -> {describe(after)}"
    try:
        old_lines = (old or b"").decode("utf-8").splitlines(keepends=True)
        new_lines = (new or b"").decode("utf-8").splitlines(keepends=True)
    except UnicodeDecodeError:
        return f"{path}: not UTF-8 text, {describe(before)} -> {describe(after)}"
    lines = difflib.unified_diff(old_lines, new_lines, f"a/{path} ({old_label})", f"b/{path} ({new_label})")
    text = "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines)
    if not text and before is not None and after is not None and before.mode != after.mode:
        return f"{path}: mode {before.mode:o} -> {after.mode:o}"
    return text


def describe(entry: Entry | None) -> str:
    if entry is None:
        return "absent"
    if entry.kind == "dir":
        return "a folder"
    if entry.kind == "link":
        return f"a link to {entry.target}"
    return f"{entry.size} bytes, sha256 {entry.sha256[:12] if entry.sha256 else '?'}"
