"""Runs that ended for a reason that is not the agent's: they are counted apart and never scored as its runs.

An episode whose model key was missing still ran, once, until its policy failed; MLGym then auto-submits the
starter code, and the baseline's score would count as the agent's. Such runs, and those whose container or node
failed, are told apart here from what the run directory recorded.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from mlgym_tui.stream.types import ExitStatus

CONFIGURATION, INFRASTRUCTURE, INTERRUPTED = "configuration", "infrastructure", "interrupted"
KINDS = (CONFIGURATION, INFRASTRUCTURE, INTERRUPTED)

# mlgym_tui/batch/layout.py's markers (evaluation may not import batch), each holding its reason as text:
# INFRA_MARKER, a partial run the infrastructure ended ("node lost: ..."), and INTERRUPTED_MARKER, an episode the
# batch stopped itself (e.g. "SIGINT received").
INFRA_MARKER = "infra-interrupted"
INTERRUPTED_MARKER = "batch-interrupted"
_NODE_LOST = ("node lost", "node died", "worker died", "node failed")
# What the episode runner writes when the environment failed (its ErrorEvent messages), and the runtime's error
# types (runtime/errors.py) as they appear in "episode failed: <type>: ..." messages.
_ENVIRONMENT_FAILED = "the environment did not start"
_RUNTIME_ERRORS = ("RuntimeProblem", "EngineUnavailable", "ImageMissing", "ContainerGone", "CopyFailed", "ShellDied",
                   "MissingPackage")
# How agents/model.py words a configuration failure; runs recorded before exit_config existed ended in
# "autosubmission (exit_api)" with one of these in their fatal error.
_CONFIG_API_ERRORS = ("api_key_env names", "AuthenticationError", "PermissionDeniedError", "NotFoundError",
                      "LLM Provider NOT provided", "(401)", "(403)", "(404)", "cannot be imported")
_TAIL_BYTES = 65536


@dataclass(frozen=True)
class Failure:
    kind: str  # one of KINDS
    reason: str  # one line


def failure_kind(exit_status: str | None, fatal_errors: list[str], interrupted: str | None = None,
                 infra: str | None = None) -> Failure | None:
    """Why a run is not the agent's to score, or None when it is. The rules, first match wins:

    1. the batch labelled it ended by the infrastructure (`infra`, e.g. "node lost: ...") is infrastructure;
       the batch marked it interrupted (`interrupted`, the marker's reason): a lost node or worker is
       infrastructure, any other reason (the batch was stopped by a person) is interrupted;
    2. exit status exit_config (the model was not usable as configured) is configuration;
    3. a fatal error saying the environment did not start, or an "episode failed" error raised by the runtime
       (engine gone, image missing, container gone, ...) is infrastructure;
    4. a fatal exit_api error caused by configuration (a key missing or refused, a model unknown, litellm
       missing) is configuration, whatever the exit status: runs recorded before exit_config existed were
       auto-submitted with the starter code's score.
    """
    if infra is not None:
        return Failure(INFRASTRUCTURE, " ".join(infra.split()) or "ended by the infrastructure")
    if interrupted is not None:
        reason = " ".join(interrupted.split()) or "interrupted by the batch"
        lost = any(words in reason.lower() for words in _NODE_LOST)
        return Failure(INFRASTRUCTURE if lost else INTERRUPTED, reason)
    if exit_status == ExitStatus.EXIT_CONFIG:
        return Failure(CONFIGURATION, _first(fatal_errors) or "the model was not usable as configured")
    for message in fatal_errors:
        if message.startswith(_ENVIRONMENT_FAILED):
            return Failure(INFRASTRUCTURE, message)
        if message.startswith("episode failed: ") and message[len("episode failed: "):].split(":", 1)[0] in _RUNTIME_ERRORS:
            return Failure(INFRASTRUCTURE, message)
        if message.startswith(f"{ExitStatus.EXIT_API}: ") and any(sign in message for sign in _CONFIG_API_ERRORS):
            return Failure(CONFIGURATION, message)
    return None


def read_failure(run_dir: Path, exit_status: str | None) -> Failure | None:
    """`failure_kind` of one of our run directories: the batch's markers and the fatal errors at the end of
    events.jsonl (read only for statuses the rules can match)."""
    infra, interrupted = _marker(run_dir, INFRA_MARKER), _marker(run_dir, INTERRUPTED_MARKER)
    errors: list[str] = []
    status = exit_status or ""
    if (infra is None and interrupted is None
            and (not status.startswith(("submitted", "autosubmission")) or ExitStatus.EXIT_API in status)):
        errors = fatal_errors(Path(run_dir) / "events.jsonl")
    return failure_kind(exit_status, errors, interrupted, infra)


def _marker(run_dir: Path, name: str) -> str | None:
    try:
        return (Path(run_dir) / name).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def fatal_errors(events: Path) -> list[str]:
    """The fatal error messages in the last 64 KiB of events.jsonl, in order (the ones that ended the run)."""
    try:
        with open(events, "rb") as handle:
            size = handle.seek(0, os.SEEK_END)
            handle.seek(max(0, size - _TAIL_BYTES))
            tail = handle.read()
    except OSError:
        return []
    found = []
    for line in tail.splitlines():
        if b'"error"' not in line:
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue  # the tail's first, cut line
        if isinstance(record, dict) and record.get("type") == "error" and record.get("fatal"):
            found.append(" ".join(str(record.get("message", "")).split()))
    return found


def _first(messages: list[str]) -> str:
    return messages[0] if messages else ""
