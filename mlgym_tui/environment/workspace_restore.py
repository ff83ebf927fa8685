"""An exact fork's restore hook (MLGymEnvironment.restore): puts a recorded workspace back into a fresh container
through the engine's archive API (one tar built in memory, owned by the agent), removes what the fresh workspace
has that the recording does not, and gives the agent's shell its working directory and exported environment back.

Paths the recording never held (the task's ignore list such as data/, names skipped at a cap) are left as the task
gives them, and so are the evaluation files the agent cannot write. Nothing of the parent's commands runs again."""

from __future__ import annotations

import asyncio
import io
import tarfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mlgym_tui.runtime.base import AGENT_UID
from mlgym_tui.runtime.errors import RuntimeProblem
from mlgym_tui.runtime.shell import SHELL_CONTROL_VARIABLES
from mlgym_tui.runtime.text import bash_quote

if TYPE_CHECKING:
    from mlgym_tui.environment.environment import MLGymEnvironment

# Exported variables that belong to this shell or this container, not to the agent's work.
NOT_RESTORED = frozenset(SHELL_CONTROL_VARIABLES) | {"PWD", "OLDPWD", "SHLVL", "_", "HOSTNAME"}
REDACTED = "***"  # what the recorder writes for a secret (trajectory.redaction.REDACTED): never export that
RM_BATCH = 500  # paths per rm call


@dataclass(frozen=True)
class RestoredPath:
    path: str  # relative to the workspace
    kind: str  # file | dir | link
    mode: int
    data: bytes = b""
    target: str | None = None  # a link's


@dataclass
class RestorePlan:
    paths: list[RestoredPath]
    cwd: str | None = None
    env: dict[str, str] | None = None
    unrecorded: list[str] = field(default_factory=list)  # left as the fresh workspace has them
    seconds: float = 0.0  # what the restore took, once it ran


def restore_hook(plan: RestorePlan) -> Callable[["MLGymEnvironment"], Awaitable[None]]:
    """The callable to set as MLGymEnvironment.restore."""

    async def restore(env: "MLGymEnvironment") -> None:
        started = time.monotonic()
        kept = kept_paths(env, plan)
        await asyncio.to_thread(put_files, env.container, plan, kept)
        await restore_shell(env, plan)
        plan.seconds = time.monotonic() - started

    return restore


def kept_paths(env: "MLGymEnvironment", plan: RestorePlan) -> list[str]:
    """Paths the restore neither writes nor removes: the unrecorded ones, and evaluation files made read-only."""
    kept = list(plan.unrecorded)
    if env.task.evaluation_read_only:
        kept += list(env.task.evaluation_paths)
    return [p.strip("/") for p in kept if p.strip("/")]


def under(path: str, roots: list[str]) -> bool:
    return any(path == root or path.startswith(root + "/") for root in roots)


def put_files(box, plan: RestorePlan, kept: list[str]) -> None:
    """Remove what the recording does not have, then unpack the recorded tree over the fresh workspace."""
    wanted = {p.path: p.kind for p in plan.paths if not under(p.path, kept)}
    listing = box.exec(["find", box.workspace, "-mindepth", "1", "-printf", "%y %P\\0"], "root", None, None, 60)
    if not listing.ok:
        raise RuntimeProblem(f"could not list the fresh workspace: {listing.output.strip()[:200]}")
    extra = []
    for item in listing.output.split("\0"):
        kind, _, path = item.partition(" ")
        if not path or under(path, kept) or any(root.startswith(path + "/") for root in kept):
            continue  # an ancestor of a kept path stays too
        have = {"f": "file", "d": "dir", "l": "link"}.get(kind, "other")
        if wanted.get(path) != have and not under(path, extra):
            extra.append(path)  # absent from the recording, or another kind there (a file that became a folder)
    for i in range(0, len(extra), RM_BATCH):
        box.check(["rm", "-rf", "--", *(f"{box.workspace}/{p}" for p in extra[i:i + RM_BATCH])])
    archive = tar_of([p for p in plan.paths if not under(p.path, kept)])
    box.put_archive(box.workspace, archive)


def tar_of(paths: list[RestoredPath]) -> bytes:
    """One tar of the tree, folders before what they hold, everything owned by the agent."""
    buffer = io.BytesIO()
    now = time.time()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for item in sorted(paths, key=lambda p: p.path.split("/")):
            info = tarfile.TarInfo(item.path)
            info.uid = info.gid = AGENT_UID
            info.uname = info.gname = "agent"
            info.mode = item.mode & 0o7777
            info.mtime = now
            if item.kind == "dir":
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            elif item.kind == "link":
                info.type, info.linkname = tarfile.SYMTYPE, item.target or ""
                tar.addfile(info)
            else:
                info.size = len(item.data)
                tar.addfile(info, io.BytesIO(item.data))
    return buffer.getvalue()


def shell_script(plan: RestorePlan, workspace: str) -> str:
    """Export the recorded variables and cd where the parent's shell was; prints nothing."""
    lines = [f"export {name}={bash_quote(value)}" for name, value in sorted((plan.env or {}).items())
             if name.isidentifier() and name not in NOT_RESTORED and REDACTED not in value]
    cwd = plan.cwd or workspace
    lines.append(f"cd {bash_quote(cwd)} 2>/dev/null || cd {bash_quote(workspace)}")
    return "{ " + "; ".join(lines) + "; } >/dev/null 2>&1"


def skipped_variables(plan: RestorePlan) -> list[str]:
    """Recorded variables a restore leaves out (this shell's own, or redacted secrets)."""
    return sorted(name for name, value in (plan.env or {}).items()
                  if not name.isidentifier() or name in NOT_RESTORED or REDACTED in value)


async def restore_shell(env: "MLGymEnvironment", plan: RestorePlan) -> None:
    result = await env.shell.run(shell_script(plan, env.workspace))
    if result.exit_code not in (0, None):
        raise RuntimeProblem(f"could not restore the shell's working directory and environment: "
                             f"{result.output.strip()[:200]}")
