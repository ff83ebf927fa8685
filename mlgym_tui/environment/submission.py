"""A submission read out of the agent's container by value: regular files only, hashed, kept, re-scorable.

Nothing is followed: a symbolic link, a hard link, a device or a FIFO where the task expects the submission is
refused with a message the agent can act on, and the episode goes on. The read goes through the engine's archive
API, so a container that is out of processes, memory or disk still gives up its last submission.
"""

from __future__ import annotations

import hashlib
import io
import json
import posixpath
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

from mlgym_tui.config.task import SubmissionSpec, TaskConfig
from mlgym_tui.runtime.base import Container, PathStat
from mlgym_tui.runtime.errors import CopyFailed, RuntimeProblem, TooLarge

MANIFEST = "manifest.json"
FILES = "files"


class SubmissionRefused(Exception):
    """The submission cannot be scored as it is; `status` is MLGym's exit status family for it."""

    def __init__(self, status: str, reason: str) -> None:
        self.status = status  # "submission_not_found" | "evaluation_format_error"
        self.reason = reason
        super().__init__(f"{status} ({reason})")


@dataclass
class Artefacts:
    """The submission's files, workspace-relative path -> (bytes, mode)."""

    files: dict[str, tuple[bytes, int]] = field(default_factory=dict)
    primary: str = ""  # the path MLGym reports as the submission (submission.csv, the config, the workspace)

    @property
    def digest(self) -> str:
        h = hashlib.sha256()
        for path in sorted(self.files):
            data, mode = self.files[path]
            h.update(f"{path}\0{mode & 0o777:o}\0{len(data)}\0".encode())
            h.update(data)
        return h.hexdigest()

    def entries(self) -> list[dict]:
        return [{"path": p, "size": len(d), "mode": f"{m & 0o777:o}", "sha256": hashlib.sha256(d).hexdigest()}
                for p, (d, m) in sorted(self.files.items())]

    def save(self, folder: Path, record: dict) -> None:
        """Write the files and a manifest (hashes plus `record`: the step, the scores) into folder."""
        for path, (data, mode) in self.files.items():
            target = folder / FILES / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        manifest = {"digest": self.digest, "primary": self.primary, "files": self.entries(), **record}
        (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")

    @classmethod
    def load(cls, folder: Path) -> tuple["Artefacts", dict]:
        """The artefacts kept in folder and their manifest; raises SubmissionRefused if a file was changed."""
        manifest = json.loads((folder / MANIFEST).read_text())
        artefacts = cls(primary=manifest.get("primary", ""))
        for entry in manifest["files"]:
            data = (folder / FILES / entry["path"]).read_bytes()
            artefacts.files[entry["path"]] = (data, int(entry["mode"], 8))
        if artefacts.digest != manifest["digest"]:
            raise SubmissionRefused("evaluation_format_error", f"the files in {folder} do not match their manifest's hash")
        return artefacts, manifest


def spec_for(task: TaskConfig) -> SubmissionSpec:
    """The task's declared submission, or MLGym's convention for its entrypoint."""
    if task.submission is not None:
        return task.submission
    if task.task_entrypoint == "CSVSubmissionTasks":
        return SubmissionSpec(files=["submission.csv"])
    # MLGym's Python, model and LM tasks name no submission files: the starter files the agent may have changed
    # are the submission (evaluation files come fresh from the task), and they run inside the scorer.
    evaluation = {Path(p).name for p in task.evaluation_paths}
    names = [Path(p).name for p in task.starter_code if Path(p).name not in evaluation]
    return SubmissionSpec(optional=names + ["checkpoints"])


def read_submission(task: TaskConfig, box: Container) -> Artefacts:
    spec = spec_for(task)
    artefacts = Artefacts()
    wanted = [(name, True) for name in spec.files] + [(name, False) for name in spec.optional]
    if task.task_entrypoint in ("ModelSubmissionTasks", "LMSubmissionTasks"):
        config = _first_yaml(box)
        if config is None:
            raise SubmissionRefused("submission_not_found", "no .yaml config in the workspace")
        wanted.insert(0, (config, True))
        artefacts.primary = f"{box.workspace}/{config}"
    budget = spec.max_bytes
    for name, required in wanted:
        path = posixpath.join(box.workspace, name)
        found = box.stat_path(path)
        if found is None:
            if required:
                hint = "; write one, then validate again" if name == "submission.csv" else ""
                raise SubmissionRefused("submission_not_found", f"no {name} in the workspace{hint}")
            continue
        if found.kind not in ("file", "dir"):
            raise SubmissionRefused("evaluation_format_error", f"{name} is {_describe_kind(found)}; the submission must be "
                                    "regular files (write the content itself, e.g. cp --remove-destination)")
        if found.kind == "dir" and posixpath.splitext(name)[1]:
            # A name with a suffix (strategy.py, submission.csv) is a file; folders are named without one.
            raise SubmissionRefused("evaluation_format_error", f"{name} is a directory; write a regular file")
        if found.kind == "file" and found.size > budget:
            raise SubmissionRefused("evaluation_format_error",
                                    f"{name} is too large to score ({found.size} bytes; the limit is {spec.max_bytes})")
        try:
            data = box.read_archive(path, budget)
        except TooLarge as exc:
            raise SubmissionRefused("evaluation_format_error", f"{name} is too large to score ({exc.problem})") from None
        except CopyFailed as exc:  # it changed between the two looks, e.g. into a link
            raise SubmissionRefused("evaluation_format_error", f"{name} could not be read by value: {exc.problem}") from None
        if data is None:
            raise SubmissionRefused("submission_not_found", f"{name} disappeared while it was being read")
        for relative, content, mode in _regular_files(data, name):
            budget -= len(content)
            artefacts.files[relative] = (content, mode)
        if budget < 0:
            raise SubmissionRefused("evaluation_format_error", f"the submission is over {spec.max_bytes} bytes")
    _refuse_hard_links(box, [p for p in artefacts.files])
    if not artefacts.primary:
        artefacts.primary = f"{box.workspace}/submission.csv" if task.task_entrypoint == "CSVSubmissionTasks" else box.workspace
    return artefacts


def _regular_files(data: bytes, name: str):
    """(workspace-relative path, bytes, mode) of each file in the tar of `name`; SubmissionRefused otherwise."""
    parent = posixpath.dirname(name)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        for member in tar.getmembers():
            relative = posixpath.normpath(posixpath.join(parent, member.name))
            if relative.startswith("..") or posixpath.isabs(relative):
                raise SubmissionRefused("evaluation_format_error", f"{member.name!r} is not a path inside the workspace")
            if member.isdir():
                continue
            if not member.isreg():
                raise SubmissionRefused("evaluation_format_error", f"{relative} is {_kind(member)}; the submission must be "
                                        "regular files (write the content itself, e.g. cp --remove-destination)")
            yield relative, tar.extractfile(member).read(), member.mode


def _kind(member: tarfile.TarInfo) -> str:
    if member.issym():
        return f"a symbolic link (to {member.linkname})"
    if member.islnk():
        return f"a hard link (to {member.linkname})"
    if member.ischr() or member.isblk():
        return "a device"
    if member.isfifo():
        return "a FIFO"
    return "not a regular file"


def _describe_kind(found: PathStat) -> str:
    if found.kind == "symlink":
        return f"a symbolic link (to {found.link_target})"
    return {"fifo": "a FIFO", "device": "a device", "socket": "a socket"}.get(found.kind, "not a regular file")


def _first_yaml(box: Container) -> str | None:
    listing = box.exec(["find", box.workspace, "-maxdepth", "1", "-name", "*.yaml", "-type", "f"], user="root", timeout=20)
    names = sorted(Path(line).name for line in listing.output.splitlines() if line.strip()) if listing.ok else []
    return names[0] if names else None


def _refuse_hard_links(box: Container, relatives: list[str]) -> None:
    """A file with more than one name may be a door to a file outside the workspace: refuse it.

    The archive cannot show a link count, so this asks the container. In a container too broken to run a command
    the check is skipped: the content was read by value, and the agent's container holds nothing but its own
    files (no answers, no evaluation files), so a link there can only lead to what the agent could copy anyway."""
    if not relatives:
        return
    script = 'for f in "$@"; do n=$(stat -c %h -- "$f") && [ "$n" -gt 1 ] && echo "$f"; done; true'
    try:
        result = box.exec(["sh", "-c", script, "sh", *relatives], user="root", workdir=box.workspace, timeout=10)
    except RuntimeProblem:
        return
    linked = [line for line in result.output.splitlines() if line in relatives] if result.ok else []
    if linked:
        raise SubmissionRefused("evaluation_format_error",
                                f"{linked[0]} is a hard link (it has other names); the submission must be a file of "
                                "its own (copy the content instead)")
