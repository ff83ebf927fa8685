"""Per-step workspace snapshots, the writer side of trajectory/workspace_store.py.

A root helper lives in the agent's container for the whole episode (environment/workspace_walker.py, over the
engine's attached exec stream: no process is started per step and the agent's shell never sees it). Each snapshot
asks it for what changed since the last one; the bytes of changed files come back in the same answer, within the
caps, and are stored once by their sha256 in the run's workspace/ folder. Measured with bench/bench_workspace.py.

What is kept (runtime.workspace in the settings):
- a file up to max_file_bytes (1 MiB): its bytes; larger, up to max_hash_bytes (64 MiB): its hash only; larger
  still: size and mtime only (a 2 GB file costs nothing to list);
- a binary file (a NUL in its first 8 KiB) only up to max_binary_bytes (64 KiB): small binary inputs and configs
  are worth keeping, model weights and arrays are not;
- at most max_run_bytes (200 MiB) of blobs per run, then hashes only ("run cap reached");
- at most max_entries (20,000) listed per snapshot and max_seconds of walking and hashing: past either, the
  snapshot says complete=False and what stopped it;
- the task's workspace_ignore paths (data/ by default) are not listed at all, said once in `skipped`.
"""

from __future__ import annotations

import asyncio
import json
import re
import struct
import sys
import time
from pathlib import Path
from typing import Any, Protocol

from mlgym_tui.config.runtime import WorkspaceSnapshots
from mlgym_tui.runtime.base import ByteStream, Container
from mlgym_tui.runtime.errors import RuntimeProblem
from mlgym_tui.stream.events import WorkspaceSnapshot

WALKER = Path(__file__).with_name("workspace_walker.py")
CONTAINER_PYTHON = "/usr/bin/python3"  # root's own interpreter: the agent cannot write it or its library
LARGE_ANSWER = 256 * 1024  # answers past this are parsed on a worker thread, off the event loop
ANSWER_GRACE = 30.0  # seconds past max_seconds before a silent helper is given up
# `export -p` lines: declare -x NAME, NAME="value" (\" \\ \$ \` escaped, newlines literal) or, for a value with
# control characters, NAME=$'value' (ANSI-C escapes).
_EXPORT = re.compile(r"""^declare -x ([A-Za-z_][A-Za-z0-9_]*)(?:="((?:[^"\\]|\\.)*)"|=\$'((?:[^'\\]|\\.)*)')?$""",
                     re.MULTILINE | re.DOTALL)
_UNESCAPE = re.compile(r'\\([\\"$`])')
_ANSI_C = re.compile(rb"\\(x[0-9A-Fa-f]{1,2}|[0-7]{1,3}|.)", re.DOTALL)
_ANSI_C_NAMED = {b"n": b"\n", b"t": b"\t", b"r": b"\r", b"a": b"\a", b"b": b"\b", b"f": b"\f", b"v": b"\v",
                 b"e": b"\x1b", b"E": b"\x1b"}


class BlobSink(Protocol):
    """Where blobs go: trajectory.workspace_store.BlobStore (the environment layer does not import it)."""

    def has(self, sha256: str) -> bool: ...

    def put(self, data: bytes) -> str: ...

    def size(self) -> int: ...


class HelperGone(Exception):
    """The lister's stream ended or it stopped answering."""


def parse_exports(text: str) -> dict[str, str]:
    """NAME -> value from `export -p` output (a name exported without a value maps to "")."""
    exported = {}
    for match in _EXPORT.finditer(text):
        name, quoted, ansi = match.groups()
        exported[name] = _ansi_c(ansi) if ansi is not None else _UNESCAPE.sub(r"\1", quoted or "")
    return exported


def _ansi_c(body: str) -> str:
    def one(match: re.Match) -> bytes:
        code = match.group(1)
        if code[:1] == b"x":
            return bytes([int(code[1:], 16)])
        if code[:1].isdigit():
            return bytes([int(code, 8) & 0xFF])
        return _ANSI_C_NAMED.get(code, code)  # \\ \' \" and anything else: the character itself

    return _ANSI_C.sub(one, body.encode("utf-8")).decode("utf-8", "replace")


class Lister:
    """The helper in the container, one request at a time."""

    def __init__(self, stream: ByteStream, timeout: float) -> None:
        self.stream = stream
        self.timeout = timeout
        self._buffer = bytearray()

    @classmethod
    async def start(cls, container: Container, settings: WorkspaceSnapshots, ignore: list[str]) -> "Lister":
        config = {"root": container.workspace, "ignore": list(ignore), "max_file_bytes": settings.max_file_bytes,
                  "max_binary_bytes": settings.max_binary_bytes, "max_hash_bytes": settings.max_hash_bytes,
                  "max_entries": settings.max_entries, "max_seconds": settings.max_seconds}
        python = sys.executable if container.engine_name == "local" else CONTAINER_PYTHON
        # -I: no user site, no PYTHON* variables, no current folder on the path; -S: not even the site module.
        source = await asyncio.to_thread(WALKER.read_text)
        stream = await container.open_stream([python, "-I", "-S", "-X", "utf8", "-c", source, json.dumps(config)],
                                             user="root")
        return cls(stream, settings.max_seconds + ANSWER_GRACE)

    async def ask(self, request: dict[str, Any]) -> tuple[bytes, bytes]:
        """(the JSON header, the bytes) of one answer."""
        await self.stream.write(json.dumps(request).encode() + b"\n")
        head = await self._take(8)
        header_len, data_len = struct.unpack(">II", head)
        header = await self._take(header_len)
        return header, await self._take(data_len)

    async def _take(self, size: int) -> bytes:
        while len(self._buffer) < size:
            try:
                chunk = await asyncio.wait_for(self.stream.read(), self.timeout)
            except asyncio.TimeoutError:
                raise HelperGone(f"the workspace lister did not answer within {self.timeout:g} s") from None
            if not chunk:
                raise HelperGone("the workspace lister ended (killed, out of memory, or no /usr/bin/python3?)")
            self._buffer += chunk
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    async def close(self) -> None:
        await self.stream.close()


class WorkspaceSnapshotter:
    """Takes the snapshots of one episode. `take` after reset (step 0) and after every step."""

    def __init__(self, container: Container, store: BlobSink, settings: WorkspaceSnapshots,
                 ignore: list[str]) -> None:
        self.container = container
        self.store = store
        self.settings = settings
        self.ignore = list(ignore)
        self.tree: dict[str, dict[str, Any]] = {}  # path -> entry as last recorded
        self.stored_bytes: int | None = None  # blobs this run has stored (counted once, at the first snapshot)
        self.lister: Lister | None = None
        self.cwd: str | None = None
        self.env: dict[str, str] | None = None
        self._failed = ""  # why the lister could not start: not tried again (one that died later is restarted)

    async def take(self, step: int, cwd: str | None = None, env_files: tuple[str, ...] = ()) -> WorkspaceSnapshot:
        started = time.perf_counter()
        try:
            snapshot = await self._take(step, env_files)
        except (HelperGone, RuntimeProblem, OSError, ValueError, RuntimeError) as exc:
            # A snapshot never ends the episode: it says why it is missing and the next one starts a fresh lister.
            await self._drop_lister()
            snapshot = WorkspaceSnapshot(step=step, complete=False, files=len(self.tree),
                                         skipped=[{"path": "", "reason": f"no snapshot: {exc}"}])
        if cwd and cwd != self.cwd:
            snapshot.cwd = self.cwd = cwd
        snapshot.cost_ms = round((time.perf_counter() - started) * 1000, 3)
        return snapshot

    async def _take(self, step: int, env_files: tuple[str, ...]) -> WorkspaceSnapshot:
        if self.stored_bytes is None:
            self.stored_bytes = await asyncio.to_thread(self.store.size)
        if self._failed:
            raise HelperGone(self._failed)
        if self.lister is None:
            try:
                self.lister = await Lister.start(self.container, self.settings, self.ignore)
            except (RuntimeProblem, NotImplementedError, OSError) as exc:
                self._failed = f"the workspace lister could not start ({exc})"  # not tried again every step
                raise HelperGone(self._failed) from None
        room = max(0, self.settings.max_run_bytes - self.stored_bytes)
        if room < self.settings.max_step_bytes:
            budget, note = room, (f"the run's blob cap reached ({self.settings.max_run_bytes:,} bytes, "
                                  "workspace.max_run_bytes): hash only")
        else:
            budget, note = self.settings.max_step_bytes, (
                f"over this snapshot's transfer cap ({self.settings.max_step_bytes:,} bytes, "
                "workspace.max_step_bytes): hash only")
        header, data = await self.lister.ask({"budget": budget, "budget_note": note, "env_files": list(env_files)})
        if len(header) > LARGE_ANSWER:
            answer = await asyncio.to_thread(json.loads, header)
            snapshot, blobs = await asyncio.to_thread(self._fold, step, answer, data)
        else:
            snapshot, blobs = self._fold(step, json.loads(header), data)
        if blobs:
            await asyncio.to_thread(self._store, snapshot, blobs)
        return snapshot

    def _fold(self, step: int, answer: dict[str, Any], data: bytes
              ) -> tuple[WorkspaceSnapshot, dict[str, bytes]]:
        """The lister's answer against the tree recorded so far: what really changed, and the bytes to store."""
        changed: list[dict[str, Any]] = []
        deleted: set[str] = set()
        blobs: dict[str, bytes] = {}
        seen: set[str] = set()
        for item in answer["candidates"]:
            path = item["path"]
            seen.add(path)
            entry = {"path": path, "kind": item["kind"], "mode": item["mode"], "size": item["size"],
                     "sha256": item.get("sha256"), "stored": False}
            if item.get("target") is not None:
                entry["target"] = item["target"]
            if entry["kind"] == "file" and entry["sha256"] is None:
                entry["mtime"] = item.get("mtime")  # the only sign of a change left for an unhashed file
            if item.get("note"):
                entry["note"] = item["note"]
            before = self.tree.get(path)
            if before is not None and _same(before, entry):
                continue  # only its ctime or inode moved (a chmod back, a hard link, a copy over itself)
            if before is not None and before["kind"] != entry["kind"]:
                deleted.add(path)  # replaced by another kind: what it held goes with it
            span = item.get("data")
            if span is not None:
                blobs[entry["sha256"]] = data[span[0]:span[0] + span[1]]
                entry["stored"] = True  # settled by _store: a blob past the run's cap is not
            changed.append(entry)
            self.tree[path] = entry
        gone = list(answer["deleted"])
        if answer.get("full") and answer.get("complete"):
            gone += [p for p in self.tree if p not in seen]  # a fresh lister: every path it did not list is gone
        for path in gone:
            if path in self.tree and path not in seen:
                deleted.add(path)
        outermost = _outermost(deleted)
        if outermost:
            # One pass over the tree (a folder of 20,000 files deleted is one path here, not 20,000 scans).
            roots = set(outermost)
            for path in [p for p in self.tree if p not in seen and _under(p, roots)]:
                del self.tree[path]
        env = None
        if answer.get("env") is not None:
            exported = parse_exports(answer["env"])
            if exported != self.env:
                env = self.env = exported
        snapshot = WorkspaceSnapshot(step=step, changed=sorted(changed, key=lambda e: e["path"]),
                                     deleted=outermost, skipped=list(answer["skipped"]),
                                     files=len(self.tree), complete=bool(answer["complete"]), env=env)
        return snapshot, blobs

    def _store(self, snapshot: WorkspaceSnapshot, blobs: dict[str, bytes]) -> None:
        """Each blob once, within the run's cap (on a worker thread: disk writes)."""
        cap_note = (f"the run's blob cap reached ({self.settings.max_run_bytes:,} bytes, workspace.max_run_bytes): "
                    "hash only")
        kept: dict[str, bool] = {}
        for sha, data in blobs.items():
            if self.store.has(sha):
                kept[sha] = True
            elif self.stored_bytes + len(data) > self.settings.max_run_bytes:
                kept[sha] = False
            else:
                self.store.put(data)
                self.stored_bytes += len(data)
                kept[sha] = True
        for entry in snapshot.changed:
            if entry["stored"] and not kept.get(entry["sha256"], False):
                entry["stored"] = False
                entry["note"] = cap_note

    async def _drop_lister(self) -> None:
        lister, self.lister = self.lister, None
        if lister is not None:
            try:
                await lister.close()
            except Exception:  # noqa: BLE001 - it is being replaced either way
                pass

    async def close(self) -> None:
        await self._drop_lister()


def _same(before: dict[str, Any], after: dict[str, Any]) -> bool:
    keys = ("kind", "mode", "size", "sha256", "target")
    if any(before.get(k) != after.get(k) for k in keys):
        return False
    if after["kind"] == "file" and after["sha256"] is None:
        return before.get("mtime") == after.get("mtime")
    return True


def _under(path: str, roots: set[str]) -> bool:
    """Whether path is one of roots or inside one."""
    parts = path.split("/")
    return any("/".join(parts[:i]) in roots for i in range(1, len(parts) + 1))


def _outermost(paths: set[str]) -> list[str]:
    """Deleted paths without those inside a deleted folder (removing the folder takes them)."""
    def inside_another(path: str) -> bool:
        parts = path.split("/")
        return any("/".join(parts[:i]) in paths for i in range(1, len(parts)))

    return sorted(p for p in paths if not inside_another(p))
