"""The lister that runs inside the agent's container, as root, for the whole episode (environment/
workspace_snapshot.py starts it as `/usr/bin/python3 -I -S -X utf8 -c <this file's text> <config>`): standard
library only, no process started per snapshot.

It keeps what each path looked like at the last snapshot (kind, mode, size, mtime, ctime, inode) and, on each
request, walks the workspace again and answers with the paths whose look changed, each hashed and, within the caps,
with its bytes; and the paths gone. A ctime is set by the kernel only, so a file rewritten with its old mtime put
back is still seen. The walk goes through directory descriptors opened with O_NOFOLLOW, so the agent cannot
swap a folder for a link and make root read outside the workspace; it never leaves the workspace's file system.

Request (one JSON line): {"budget": bytes it may send, "budget_note": why a file past it was not sent,
"env_files": the agent shell's saved-environment files}. Answer: 8 bytes (two big-endian uint32: the JSON
header's length, the bytes' length), the header, the bytes. Header: {"candidates": [{path, kind, mode, size,
mtime, sha256, note, target, data: [offset, length] | None}], "deleted": [path], "skipped": [{path, reason}],
"complete", "full" (the first answer: every path is a candidate), "env": saved environment text when it changed}.
"""

import fnmatch
import hashlib
import json
import os
import stat
import struct
import sys
import time

CHUNK = 1 << 20
BINARY_PROBE = 8192
ENV_FILE_END = b"# mlgym-shell-env-end"
MAX_DEPTH = 64
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK  # a file swapped for a FIFO must not block the walk


class Stop(Exception):
    """The walk reached its entry or time cap."""


def ignored(path, is_dir, patterns):
    """gitignore-like: "name/" matches folders only; a pattern with a "/" before its end is anchored at the
    workspace; else it matches the name at any depth (globs allowed)."""
    name = path.rsplit("/", 1)[-1]
    for pattern in patterns:
        folder_only = pattern.endswith("/")
        body = pattern.rstrip("/")
        if not body or (folder_only and not is_dir):
            continue
        if "/" in body:
            if fnmatch.fnmatchcase(path, body.lstrip("/")):
                return True
        elif fnmatch.fnmatchcase(name, body):
            return True
    return False


def shown(name):
    """A name that is not UTF-8, with its bad bytes as \\x escapes."""
    return os.fsencode(name).decode("utf-8", "backslashreplace")


class Walker:
    def __init__(self, config):
        self.root = config["root"]
        self.ignore = config.get("ignore", [])
        self.max_file = config["max_file_bytes"]
        self.max_binary = config["max_binary_bytes"]
        self.max_hash = config["max_hash_bytes"]
        self.max_entries = config["max_entries"]
        self.max_seconds = config["max_seconds"]
        self.prev = None  # path -> look, at the last snapshot
        self.reported = {}  # path -> reason: skips already said (each is said once, again if it comes back)
        self.env_text = None

    def snapshot(self, request):
        self.deadline = time.monotonic() + self.max_seconds
        self.budget = int(request.get("budget", 0))
        self.budget_note = request.get("budget_note", "")
        self.looks, self.candidates, self.skipped, self.blobs, self.size = {}, [], {}, [], 0
        self.listed_dirs, self.count = set(), 0
        complete = True
        try:
            root_fd = os.open(self.root, DIR_FLAGS)
        except OSError as exc:
            root_fd = None
            self.skipped[""] = f"the workspace could not be read ({exc.strerror})"
            complete = False
        if root_fd is not None:
            try:
                self.root_dev = os.fstat(root_fd).st_dev
                self.walk(root_fd, "", 0)
            except Stop as stop:
                complete = False
                self.skipped[""] = str(stop)
            finally:
                os.close(root_fd)
        full = self.prev is None
        prev = self.prev or {}
        deleted = []
        for path in prev:
            if path in self.looks:
                continue
            parent = path.rsplit("/", 1)[0] if "/" in path else ""
            if complete or parent in self.listed_dirs or not self.ancestors_present(parent):
                deleted.append(path)
            else:
                self.looks[path] = prev[path]  # not reached by a stopped walk: unknown, kept as it was
        self.prev = self.looks
        skipped = [{"path": p, "reason": r} for p, r in sorted(self.skipped.items()) if self.reported.get(p) != r]
        self.reported = {p: r for p, r in self.skipped.items() if p}
        header = {"candidates": self.candidates, "deleted": sorted(deleted), "skipped": skipped,
                  "complete": complete, "full": full, "env": self.read_env(request.get("env_files") or [])}
        return header, b"".join(self.blobs)

    def ancestors_present(self, folder):
        while folder:
            if folder not in self.looks:
                return False
            folder = folder.rsplit("/", 1)[0] if "/" in folder else ""
        return True

    def walk(self, fd, rel, depth):
        with os.scandir(fd) as entries:
            for entry in entries:
                name = entry.name
                path = f"{rel}/{name}" if rel else name
                try:
                    path.encode("utf-8")
                except UnicodeEncodeError:
                    self.skipped[shown(path)] = "the name is not UTF-8"
                    continue
                if self.count >= self.max_entries:
                    raise Stop(f"listing stopped at {self.max_entries:,} entries (workspace.max_entries): "
                               "changes past them are not known")
                if time.monotonic() > self.deadline:
                    raise Stop(f"listing stopped after {self.max_seconds:g} s (workspace.max_seconds): "
                               "changes past that point are not known")
                try:
                    info = entry.stat(follow_symlinks=False)
                except OSError:
                    continue  # gone since the folder was read
                mode = info.st_mode
                is_dir = stat.S_ISDIR(mode)
                if ignored(path, is_dir, self.ignore):
                    self.skipped[path + ("/" if is_dir else "")] = "ignored by the task (workspace_ignore)"
                    continue
                self.count += 1
                if is_dir:
                    if info.st_dev != self.root_dev:
                        self.skipped[path + "/"] = "another file system mounted here"
                        continue
                    self.note(path, ("dir", stat.S_IMODE(mode), info.st_ino), fd, name, info)
                    if depth >= MAX_DEPTH:
                        self.skipped[path + "/"] = f"deeper than {MAX_DEPTH} folders"
                        continue
                    try:
                        child = os.open(name, DIR_FLAGS, dir_fd=fd)
                    except OSError:
                        continue
                    try:
                        self.walk(child, path, depth + 1)
                    finally:
                        os.close(child)
                elif stat.S_ISREG(mode):
                    self.note(path, ("file", stat.S_IMODE(mode), info.st_size, info.st_mtime_ns, info.st_ctime_ns,
                                     info.st_ino), fd, name, info)
                elif stat.S_ISLNK(mode):
                    self.note(path, ("link", info.st_mtime_ns, info.st_ctime_ns, info.st_ino), fd, name, info)
                else:
                    kind = ("a FIFO" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) else "a device")
                    self.skipped[path] = f"{kind}: not recorded"
        self.listed_dirs.add(rel)

    def note(self, path, look, fd, name, info):
        self.looks[path] = look
        if self.prev is not None and self.prev.get(path) == look:
            return
        kind = look[0]
        item = {"path": path, "kind": kind, "mode": stat.S_IMODE(info.st_mode), "size": 0, "sha256": None,
                "mtime": info.st_mtime}
        if kind == "link":
            try:
                target = os.readlink(name, dir_fd=fd)
                target.encode("utf-8")
            except (OSError, UnicodeEncodeError):
                self.skipped[path] = "a link whose target is not UTF-8 or unreadable"
                del self.looks[path]
                return
            item.update(target=target, size=len(os.fsencode(target)))
        elif kind == "file":
            self.read_file(item, fd, name, info.st_size)
        self.candidates.append(item)

    def read_file(self, item, fd, name, size):
        item["size"] = size
        if size > self.max_hash:
            item["note"] = (f"over the hash cap ({self.max_hash:,} bytes, workspace.max_hash_bytes): recorded by "
                            "size and mtime only")
            return
        try:
            handle = os.open(name, FILE_FLAGS, dir_fd=fd)
        except OSError as exc:
            item["note"] = f"could not be read ({exc.strerror})"
            return
        try:
            if not stat.S_ISREG(os.fstat(handle).st_mode):
                item["note"] = "replaced while it was read"
                return
            digest, kept, total, first = hashlib.sha256(), [], 0, b""
            while True:
                chunk = os.read(handle, CHUNK)
                if not chunk:
                    break
                if not first:
                    first = chunk[:BINARY_PROBE]
                total += len(chunk)
                if total > self.max_hash:
                    item.update(size=total, note=(f"grew past the hash cap ({self.max_hash:,} bytes) while it was "
                                                  "read: recorded by size and mtime only"))
                    return
                digest.update(chunk)
                if total <= self.max_file:
                    kept.append(chunk)
                if time.monotonic() > self.deadline:
                    item["note"] = (f"not hashed: the snapshot's time cap ({self.max_seconds:g} s, "
                                    "workspace.max_seconds) was reached")
                    return
        except OSError as exc:
            item["note"] = f"could not be read ({exc.strerror})"
            return
        finally:
            os.close(handle)
        item.update(size=total, sha256=digest.hexdigest())
        binary = b"\0" in first
        if total > self.max_file:
            item["note"] = f"over the per-file cap ({self.max_file:,} bytes, workspace.max_file_bytes): hash only"
        elif binary and total > self.max_binary:
            item["note"] = (f"binary, over {self.max_binary:,} bytes (workspace.max_binary_bytes): hash only")
        elif total > self.budget:
            item["note"] = self.budget_note or "over the snapshot's transfer cap: hash only"
        else:
            self.budget -= total
            item["data"] = [self.size, total]
            self.blobs.extend(kept)
            self.size += total

    def read_env(self, files):
        """The agent shell's last complete saved environment, when it differs from the one sent last."""
        for path in reversed(files):  # /tmp first: the shell writes there only once /dev/shm failed it
            try:
                handle = os.open(path, FILE_FLAGS)
            except OSError:
                continue
            try:
                if not stat.S_ISREG(os.fstat(handle).st_mode):
                    continue
                data = os.read(handle, 4 << 20)
            finally:
                os.close(handle)
            if data.rstrip(b"\n").endswith(ENV_FILE_END):
                text = data.decode("utf-8", "replace")
                if text == self.env_text:
                    return None
                self.env_text = text
                return text
        return None


def main():
    walker = Walker(json.loads(sys.argv[1]))
    out = sys.stdout.buffer
    for line in sys.stdin.buffer:
        if not line.strip():
            continue
        header, data = walker.snapshot(json.loads(line))
        encoded = json.dumps(header).encode()
        out.write(struct.pack(">II", len(encoded), len(data)) + encoded + data)
        out.flush()


if __name__ == "__main__":
    main()
