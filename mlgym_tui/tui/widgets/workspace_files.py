"""What the workspace pane shows, without widgets: the tree at a step with its changes marked (folded incrementally,
so a cursor move costs one step's changes and a copy), and a file's preview (its text highlighted, its diff, a CSV's
first rows, an image's format and size, or why its content is not there), made on a worker thread."""

from __future__ import annotations

import bisect
import csv
import io
import itertools
import struct
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from rich.syntax import Syntax
from rich.text import Text

from mlgym_tui.stream.events import Event, WorkspaceSnapshot
from mlgym_tui.trajectory.workspace_store import Entry, WorkspaceHistory, describe

TREES_KEPT = 24  # folded trees cached (a cursor moving to and fro reuses them; a 100k-file tree is ~10 MB)
CHECKPOINT = 50  # and one every this many snapshots, so a jump folds at most that many
SYNC_WORK = 20_000  # entries a fold may apply on the event loop; more is folded on a thread
VIEWS_KEPT = 8
TEXT_LINES = 3000  # a file or diff shown is cut here (highlighting runs on a thread, painting does not)
TABLE_ROWS = 50
BINARY_SNIFF = 8192


class Fold:
    """The workspace after some snapshots: path -> Entry, and folder -> its children's paths ("" the top; folders
    that only hold files are listed too). A fold copied from another shares its folders' child sets until it
    changes one, so a step costs a copy of two dicts and its own changes, not a walk of every file."""

    __slots__ = ("tree", "listing", "_own")

    def __init__(self, tree: dict[str, Entry] | None = None, listing: dict[str, set[str]] | None = None) -> None:
        self.tree = tree if tree is not None else {}
        self.listing = listing if listing is not None else {"": set()}
        self._own: set[str] = set()  # folders whose child set is this fold's own (may change)

    def copy(self) -> "Fold":
        self._own = set()  # the child sets are shared from now on: neither side may change them in place
        return Fold(dict(self.tree), dict(self.listing))

    def _children(self, folder: str) -> set[str]:
        if folder not in self._own:
            self.listing[folder] = set(self.listing.get(folder, ()))
            self._own.add(folder)
        return self.listing[folder]

    def apply(self, snapshot: WorkspaceSnapshot) -> None:
        """As WorkspaceHistory.tree_at folds a snapshot: deletions (a folder with its contents), then changes."""
        for path in snapshot.deleted:
            self.remove(path.rstrip("/"))
        for data in snapshot.changed:
            self.add(Entry.from_dict(data))

    def add(self, entry: Entry) -> None:
        path = entry.path
        self.tree[path] = entry
        if entry.kind == "dir" and path not in self.listing:
            self._children(path)
        while path:
            parent = parent_of(path)
            if path in self.listing.get(parent, ()):
                return
            new_folder = parent not in self.listing
            self._children(parent).add(path)
            if not new_folder:
                return
            path = parent

    def remove(self, path: str) -> None:
        stack = [path]
        while stack:
            inner = stack.pop()
            self.tree.pop(inner, None)
            children = self.listing.pop(inner, None)
            self._own.discard(inner)
            if children:
                stack.extend(children)
        while path:  # out of its folder; a folder that only held it (never listed itself) goes too
            parent = parent_of(path)
            if path in self.listing.get(parent, ()):
                siblings = self._children(parent)
                siblings.discard(path)
                if siblings or not parent or parent in self.tree:
                    return
                del self.listing[parent]
                self._own.discard(parent)
            path = parent

    def under(self, path: str) -> list[str]:
        """`path` and everything under it."""
        found, stack = [], [path]
        while stack:
            inner = stack.pop()
            if inner in self.tree or inner in self.listing:
                found.append(inner)
            stack.extend(self.listing.get(inner, ()))
        return found


class FoldedHistory(WorkspaceHistory):
    """WorkspaceHistory over a list that may grow (the live model's), whose tree at a step starts from the nearest
    fold before it instead of the first snapshot: a cursor move applies one step's changes."""

    def __init__(self, snapshots: list[WorkspaceSnapshot] | None = None, run_dir: Path | None = None) -> None:
        super().__init__((), run_dir)
        self.snapshots = snapshots if snapshots is not None else []
        self._steps: list[int] = []
        self._folds: OrderedDict[int, Fold] = OrderedDict()  # snapshots applied -> the fold
        self._checkpoints: dict[int, Fold] = {}
        self._lock = threading.Lock()  # folded on the loop and on preview/fold threads

    def extend(self, events: Iterable[Event]) -> None:
        self.snapshots.extend(e for e in events if isinstance(e, WorkspaceSnapshot))

    def _sync(self) -> list[int]:
        steps = self._steps
        if len(steps) < len(self.snapshots):
            steps.extend(s.step for s in self.snapshots[len(steps):])
        return steps

    def _count_at(self, step: int) -> int:
        """How many snapshots were taken at or before `step`."""
        return bisect.bisect_right(self._sync(), step)

    def snapshot_at(self, step: int) -> WorkspaceSnapshot | None:
        count = self._count_at(step)
        return self.snapshots[count - 1] if count and self._steps[count - 1] == step else None

    def previous_step(self, step: int) -> int | None:
        count = bisect.bisect_left(self._sync(), step)
        return self._steps[count - 1] if count else None

    def _start(self, count: int) -> int:
        """The most snapshots applied by a kept fold, at most `count` (0: none)."""
        return max((c for c in itertools.chain(self._folds, self._checkpoints) if c <= count), default=0)

    def work_to(self, step: int) -> int:
        """About how many entries folding the tree at `step` would apply (0: it is kept)."""
        count = self._count_at(step)
        return sum(len(s.changed) + len(s.deleted) for s in self.snapshots[self._start(count):count])

    def fold_at(self, step: int) -> Fold:
        count = self._count_at(step)
        with self._lock:
            folds = self._folds
            if count in folds:
                folds.move_to_end(count)
                return folds[count]
            start = self._start(count)
            kept = folds.get(start) or self._checkpoints.get(start)
            fold = kept.copy() if kept is not None else Fold()
            for at in range(start, count):
                fold.apply(self.snapshots[at])
                if (at + 1) % CHECKPOINT == 0 and at + 1 < count and at + 1 not in self._checkpoints:
                    self._checkpoints[at + 1] = fold.copy()
            folds[count] = fold
            while len(folds) > TREES_KEPT:
                folds.popitem(last=False)
            return fold

    def tree_at(self, step: int) -> dict[str, Entry]:
        return self.fold_at(step).tree


# ---------------------------------------------------------------------------------------------- the tree at a step

CREATED, MODIFIED, DELETED = "created", "modified", "deleted"


@dataclass
class StepView:
    """The workspace after `step` as the pane lists it: a folder's children on demand, changes marked, what the
    step deleted listed where it was."""

    step: int
    shown_step: int | None  # the snapshot the tree comes from (the last at or before `step`); None: none yet
    fold: Fold
    marks: dict[str, str] = field(default_factory=dict)  # path -> created | modified | deleted
    gone: dict[str, Entry] = field(default_factory=dict)  # deleted at this step: as they were before it
    gone_children: dict[str, set[str]] = field(default_factory=dict)
    gone_folders: set[str] = field(default_factory=set)
    changed_folders: set[str] = field(default_factory=set)  # folders holding a change (opened by default)
    snapshot: WorkspaceSnapshot | None = None
    _sorted: dict[str, list[str]] = field(default_factory=dict)

    @property
    def tree(self) -> dict[str, Entry]:
        return self.fold.tree

    def entry(self, path: str) -> Entry | None:
        return self.fold.tree.get(path) or self.gone.get(path)

    def is_folder(self, path: str) -> bool:
        return path in self.fold.listing or path in self.gone_folders

    def children_of(self, folder: str) -> list[str]:
        """A folder's children, folders first, by name."""
        listed = self._sorted.get(folder)
        if listed is None:
            children = set(self.fold.listing.get(folder, ())) | self.gone_children.get(folder, set())
            listed = self._sorted[folder] = sorted(
                children, key=lambda p: (not self.is_folder(p), p.rpartition("/")[2].lower()))
        return listed

    def counts(self) -> dict[str, int]:
        counts = {CREATED: 0, MODIFIED: 0, DELETED: 0}
        for mark in self.marks.values():
            counts[mark] += 1
        return counts


def parent_of(path: str) -> str:
    return path.rstrip("/").rpartition("/")[0]


def build_view(history: FoldedHistory, step: int) -> StepView:
    """The tree after `step`, the changes of that step's snapshot marked (none when it has no snapshot)."""
    fold = history.fold_at(step)
    snapshot = history.snapshot_at(step)
    shown = step if snapshot is not None else history.previous_step(step)
    view = StepView(step, shown, fold, snapshot=snapshot)
    if snapshot is not None:
        before_step = history.previous_step(step)
        before = history.fold_at(before_step) if before_step is not None else Fold()
        for data in snapshot.changed:
            path = data["path"]
            view.marks[path] = MODIFIED if path in before.tree else CREATED
        for path in snapshot.deleted:
            for old_path in before.under(path.rstrip("/")):
                if old_path in fold.tree or old_path in fold.listing:
                    continue  # deleted and made again (a file that became a folder)
                view.marks[old_path] = DELETED
                old = before.tree.get(old_path)
                view.gone[old_path] = old if old is not None else Entry(old_path, "dir", 0o755, 0)
                if old_path in before.listing:
                    view.gone_folders.add(old_path)
        for old_path in view.gone:
            view.gone_children.setdefault(parent_of(old_path), set()).add(old_path)
    for path in view.marks:
        parent = parent_of(path)
        while parent and parent not in view.changed_folders:
            view.changed_folders.add(parent)
            parent = parent_of(parent)
    return view


class Views:
    """The last few StepViews, by step; cleared when the history grows (a new snapshot changes the latest)."""

    def __init__(self) -> None:
        self._views: OrderedDict[int, StepView] = OrderedDict()
        self._snapshots = 0

    def get(self, history: WorkspaceHistory, step: int) -> StepView:
        if len(history.snapshots) != self._snapshots:
            self._views.clear()
            self._snapshots = len(history.snapshots)
        view = self._views.get(step)
        if view is None:
            view = self._views[step] = build_view(history, step)
            while len(self._views) > VIEWS_KEPT:
                self._views.popitem(last=False)
        else:
            self._views.move_to_end(step)
        return view


def skipped_line(snapshot: WorkspaceSnapshot | None) -> str:
    """What the snapshot left out, in one line ("" when nothing)."""
    if snapshot is None:
        return ""
    parts = []
    if snapshot.skipped:
        by_reason: dict[str, list[str]] = {}
        for item in snapshot.skipped:
            by_reason.setdefault(item.get("reason", "skipped"), []).append(item.get("path", "?"))
        described = []
        for reason, paths in by_reason.items():
            more = f" +{len(paths) - 2}" if len(paths) > 2 else ""
            described.append(f"{', '.join(paths[:2])}{more} ({reason})")
        parts.append(f"skipped {len(snapshot.skipped)}: " + "; ".join(described))
    if not snapshot.complete:
        parts.append("the listing stopped at its cap: changes past it are unknown")
    return " · ".join(parts)


def skips_at(history: FoldedHistory, step: int) -> str:
    """What the snapshot at `step` skipped, else what the last one before it that skipped anything did (an ignore
    list holds for the whole run), said as of its step."""
    snapshots = history.snapshots
    for at in range(history._count_at(step) - 1, -1, -1):
        line = skipped_line(snapshots[at])
        if line:
            return line if snapshots[at].step == step else f"as of step {snapshots[at].step}: {line}"
    return ""


def human_size(size: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size} B"


# ---------------------------------------------------------------------------------------------- a file's preview


@dataclass
class Preview:
    """What the preview shows: highlighted text (a file or a diff), a table, or lines saying what there is."""

    title: str
    kind: str  # text | table | info
    text: Text | None = None
    rows: list[list[str]] = field(default_factory=list)  # a table: the header row first
    note: str = ""  # under the title: cut, why there is no content


LANGUAGES = {".py": "python", ".sh": "bash", ".yaml": "yaml", ".yml": "yaml", ".json": "json", ".md": "markdown",
             ".toml": "toml", ".txt": "text", ".log": "text", ".cfg": "ini", ".ini": "ini", ".js": "javascript",
             ".ts": "typescript", ".c": "c", ".h": "c", ".cpp": "cpp", ".rs": "rust", ".go": "go",
             ".html": "html", ".css": "css", ".sql": "sql", ".r": "r", ".ipynb": "json", ".jsonl": "json"}
TABLES = {".csv": ",", ".tsv": "\t"}


def language_of(path: str) -> str:
    name = PurePosixPath(path).name
    if name == "Dockerfile":
        return "docker"
    if name == "Makefile":
        return "make"
    return LANGUAGES.get(PurePosixPath(path).suffix.lower(), "text")


def highlight(text: str, language: str, numbers: bool = True) -> tuple[Text, str]:
    """`text` highlighted (pygments, on the calling thread), cut at TEXT_LINES; the note saying so."""
    lines = text.splitlines()
    note = f"the first {TEXT_LINES} of {len(lines)} lines" if len(lines) > TEXT_LINES else ""
    code = "\n".join(lines[:TEXT_LINES])
    highlighted = Syntax(code, language, theme="ansi_dark").highlight(code)
    highlighted.rstrip()
    if not numbers:
        return highlighted, note
    width = len(str(min(len(lines), TEXT_LINES)))
    numbered = Text()
    for number, line in enumerate(highlighted.split("\n", allow_blank=True), 1):
        numbered.append(f"{number:>{width}} ", style="dim")
        numbered.append_text(line)
        numbered.append("\n")
    numbered.rstrip()
    return numbered, note


def image_shape(data: bytes) -> tuple[str, int, int] | None:
    """(format, width, height) read from a PNG, GIF or JPEG header; None for anything else."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return "PNG", width, height
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        width, height = struct.unpack("<HH", data[6:10])
        return "GIF", width, height
    if data[:2] == b"\xff\xd8":
        at = 2
        while at + 9 <= len(data) and data[at] == 0xFF:
            marker, length = data[at + 1], struct.unpack(">H", data[at + 2:at + 4])[0]
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):  # a frame header: its size
                height, width = struct.unpack(">HH", data[at + 5:at + 9])
                return "JPEG", width, height
            at += 2 + length
        return "JPEG", 0, 0
    return None


def table_rows(text: str, delimiter: str) -> list[list[str]]:
    """The header and the first TABLE_ROWS rows, padded to the header's width."""
    rows = list(itertools.islice(csv.reader(io.StringIO(text), delimiter=delimiter), TABLE_ROWS + 1))
    width = max((len(r) for r in rows), default=0)
    return [r + [""] * (width - len(r)) for r in rows]


def unreadable(history: WorkspaceHistory) -> str:
    """Why no stored content can be read here ("" when it can): the run folder is elsewhere or unknown."""
    if history.store is None:
        return "the run folder is not known here, so file contents cannot be shown"
    if not history.store.root.parent.is_dir():
        return f"the run folder {history.store.root.parent} is not on this machine: file contents cannot be shown"
    return ""


def why_absent(history: WorkspaceHistory, entry: Entry) -> str:
    if not entry.stored:
        return f"content not stored: {entry.note or 'recorded by hash only'}"
    reason = unreadable(history)
    if reason:
        return reason
    return f"its blob is missing from {history.store.path(entry.sha256 or '?')}"


def info(title: str, *lines: str, note: str = "") -> Preview:
    return Preview(title, "info", Text("\n".join(line for line in lines if line)), note=note)


def load_file(history: WorkspaceHistory, view: StepView, path: str) -> Preview:
    """The file `path` as it was after the view's step (any thread: reads the blob)."""
    step = view.step
    title = f"{path} · step {step}"
    entry = view.tree.get(path)
    if entry is None:
        old = view.gone.get(path)
        return info(title, f"deleted at step {step}; it was {describe(old)}" if old else "not in the workspace",
                    "d: its diff against the previous step")
    facts = f"{human_size(entry.size)} · mode {entry.mode:o}" + (f" · sha256 {entry.sha256}" if entry.sha256 else "")
    if entry.kind == "dir":
        return info(title, "a folder")
    if entry.kind == "link":
        return info(title, f"a link to {entry.target}")
    data = history.bytes_of(entry)
    if data is None:
        shape = image_by_name(path)
        return info(title, facts, f"{shape} (by its name)" if shape else "", why_absent(history, entry))
    shape = image_shape(data[:65536])
    if shape is not None:
        kind, width, height = shape
        size = f"{width} x {height} pixels" if width else "size not in its header"
        return info(title, f"{kind} image, {size}", facts,
                    "(no thumbnail: shown by format and size in every terminal)")
    if b"\0" in data[:BINARY_SNIFF]:
        return info(title, "binary", facts)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return info(title, "not UTF-8 text", facts)
    delimiter = TABLES.get(PurePosixPath(path).suffix.lower())
    if delimiter is not None:
        rows = table_rows(text, delimiter)
        total = text.count("\n") + (0 if text.endswith("\n") or not text else 1)
        note = f"{max(total - 1, 0)} rows" + (f", the first {TABLE_ROWS} shown" if total - 1 > TABLE_ROWS else "")
        if rows:
            return Preview(title, "table", rows=rows, note=f"{note} · {facts}")
    highlighted, note = highlight(text, language_of(path))
    return Preview(title, "text", highlighted, note=" · ".join(n for n in (note, facts) if n))


def image_by_name(path: str) -> str:
    suffix = PurePosixPath(path).suffix.lower()
    return {".png": "PNG image", ".jpg": "JPEG image", ".jpeg": "JPEG image", ".gif": "GIF image"}.get(suffix, "")


def load_diff(history: WorkspaceHistory, view: StepView, path: str) -> Preview:
    """`path`'s unified diff from the previous snapshot to the view's step (any thread: reads two blobs)."""
    step = view.step
    before = history.previous_step(step)
    title = f"{path} · diff step {before if before is not None else '-'} → {step}"
    if view.snapshot is None:
        return info(title, f"no snapshot was taken at step {step}: nothing changed here")
    text = history.diff(path, step)
    if not text.startswith("---"):  # one line saying why there is no text diff
        return info(title, text, unreadable(history) if "content not stored" in text else "")
    highlighted, note = highlight(text, "diff", numbers=False)
    return Preview(title, "text", highlighted, note=note)
