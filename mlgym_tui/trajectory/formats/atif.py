"""Harbor's Agent Trajectory Interchange Format (ATIF): export a run of ours, import any ATIF trajectory.

Facts of the format (Harbor's RFC 0001 and its pydantic models, in our words): a root object with schema_version
("ATIF-v1.x"), session_id, agent {name, version, model_name?, extra?}, steps (at least one), notes?,
final_metrics {total_prompt_tokens, total_completion_tokens, total_cached_tokens, total_cost_usd, total_steps,
extra}? and extra?. A step has step_id (1, 2, 3, ... in order), timestamp (ISO 8601)?, source (system | user |
agent), message, and for agent steps only: model_name, reasoning_effort, reasoning_content, tool_calls
[{tool_call_id, function_name, arguments{}}], metrics {prompt_tokens, completion_tokens, cached_tokens, cost_usd,
...}; observation {results: [{source_call_id?, content?}]} on any step, extra on any. Every object rejects keys it
does not define, and an observation's source_call_id must name a tool call of its own step.

Export: the agent's system prompt and task (from the history) open as a system and a user step; each agent step
is an agent step whose one tool call `bash_command {command}` (the name Harbor's own mini-swe-agent converter
uses) holds the action, its result the observation; a person's step is a user step whose message is the command
and whose observation is its output (ATIF has no source for a person acting in the environment, and an agent
step would make it a training target). What ATIF has no field for (who acted, exit code, duration, state,
validations, the start and end events) goes under "mlgym_tui" in the step's and the root's extra.

Import: agent steps with tool calls become one step per call (a `command` argument is the action, other tools
read as `name {arguments}`); without tool calls the command is read from the message's code block as
mini-swe-agent does; an agent message with no command is kept in the history only. A user step with an
observation is a person's step; other system and user steps are the history.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import mlgym_tui
from mlgym_tui.trajectory.formats.shared import (
    OURS,
    FormatProblem,
    ImportedRun,
    RunSource,
    command_in,
    is_person,
    iso_time,
    load_json,
    meta_from,
    our_ended,
    our_step,
    our_validations,
    parse_iso_time,
    run_extra,
    step_extra,
    thought_in,
)
from mlgym_tui.trajectory.loaded_run import RunMeta
from mlgym_tui.trajectory.traj_reader import lay_out_in_time

# The lowest version that defines every field we write (root `extra` came in v1.1, observations on any step in
# v1.2): readers of v1.4 and later all accept it. Imports take any ATIF-v1.x.
SCHEMA_VERSION = "ATIF-v1.4"
TOOL_NAME = "bash_command"
EXPECTED = ('an ATIF trajectory: a JSON object with "schema_version" ("ATIF-v1.x"), "session_id", '
            '"agent" {name, version} and a non-empty "steps" list')
SOURCES = ("system", "user", "agent")


# -- export -----------------------------------------------------------------------------------------------------


def export_atif(source: RunSource) -> dict[str, Any]:
    meta = source.meta
    steps: list[dict[str, Any]] = []

    def add(step: dict[str, Any]) -> None:
        steps.append({"step_id": len(steps) + 1, **step})

    for entry in _prompt_entries(source.history):
        add({"source": entry["role"], "message": str(entry.get("content") or "")})
    validations = source.validations_by_step()
    for step in source.run.steps:
        ours = {OURS: step_extra(step, validations.get(step.step, []))}
        stamp = iso_time(step.started_at)
        timed = {"timestamp": stamp} if stamp else {}
        if is_person(step.author):
            add({**timed, "source": "user", "message": step.action,
                 "observation": {"results": [{"content": step.observation}]}, "extra": ours})
            continue
        call_id = f"call_{step.step}"
        agent_step: dict[str, Any] = {
            **timed, "source": "agent", "message": step.response or f"```\n{step.action}\n```",
            "tool_calls": [{"tool_call_id": call_id, "function_name": TOOL_NAME,
                            "arguments": {"command": step.action}}],
            "observation": {"results": [{"source_call_id": call_id, "content": step.observation}]},
        }
        if step.thought:
            agent_step["reasoning_content"] = step.thought
        metrics = _step_metrics(step.tokens_in, step.tokens_out, step.cost)
        if metrics:
            agent_step["metrics"] = metrics
        agent_step["extra"] = ours
        add(agent_step)
    if not steps:
        # ATIF requires at least one step: say what the run was.
        add({"source": "user", "message": f"mlgym-tui run {meta.run_id} of task {meta.task_id} (no steps)"})
    ended = source.run.ended
    document: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "session_id": meta.run_id or source.run.source.parent.name,
        "agent": {"name": "mlgym-tui", "version": mlgym_tui.__version__, "model_name": meta.model,
                  "extra": {"agent_config": meta.agent, "task_id": meta.task_id, "mode": meta.mode}},
        "steps": steps,
        "final_metrics": _final_metrics(source, len(steps)),
        "extra": {OURS: {**run_extra(source), "exit_status": ended.exit_status if ended else None,
                         "submission": ended.submission if ended else None, "score": source.final_score()}},
    }
    return source.scrubber.tree(document)


def _prompt_entries(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The system prompt and the task: the history before the agent's first answer (demonstrations left out)."""
    out = []
    for entry in history:
        if entry.get("role") == "assistant":
            break
        if entry.get("role") in ("system", "user") and not entry.get("is_demo"):
            out.append(entry)
    return out


def _step_metrics(tokens_in: int, tokens_out: int, cost: float) -> dict[str, Any]:
    metrics: dict[str, Any] = {}
    if tokens_in:
        metrics["prompt_tokens"] = tokens_in
    if tokens_out:
        metrics["completion_tokens"] = tokens_out
    if cost:
        metrics["cost_usd"] = cost
    return metrics


def _final_metrics(source: RunSource, total_steps: int) -> dict[str, Any]:
    steps = source.run.steps
    stats = source.run.ended.model_stats if source.run.ended and source.run.ended.model_stats else {}
    cost = stats.get("total_cost") if isinstance(stats.get("total_cost"), (int, float)) else sum(s.cost for s in steps)
    return {
        "total_prompt_tokens": int(stats.get("tokens_sent") or sum(s.tokens_in for s in steps)),
        "total_completion_tokens": int(stats.get("tokens_received") or sum(s.tokens_out for s in steps)),
        "total_cost_usd": float(cost),
        "total_steps": total_steps,
        "extra": {"model_stats": dict(stats)} if stats else {},
    }


# -- import -----------------------------------------------------------------------------------------------------


def looks_like_atif(document: Any) -> bool:
    return isinstance(document, dict) and str(document.get("schema_version", "")).startswith("ATIF-")


def import_atif(path: Path, document: Any = None, task_id: str | None = None) -> ImportedRun:
    document = load_json(path, EXPECTED) if document is None else document
    _check(path, document)
    root_ours = (document.get("extra") or {}).get(OURS) or {}
    agent = document["agent"]
    started = root_ours.get("episode_started") if isinstance(root_ours.get("episode_started"), dict) else None
    meta = RunMeta(
        task_id=task_id or (started or {}).get("task_id") or _text((agent.get("extra") or {}).get("task_id"))
        or "imported",
        model=_text(agent.get("model_name")) or "unknown",
        agent=_text((agent.get("extra") or {}).get("agent_config")) or _text(agent.get("name")) or "unknown",
        run_id=_text(document.get("session_id")),
    )
    meta = meta_from(started, meta)
    run = ImportedRun(source_format="atif", meta=meta, started=started,
                      config={"atif_agent": agent, "schema_version": document["schema_version"]})
    skipped_answers = 0
    for raw in document["steps"]:
        kind, message = raw["source"], _message_text(raw.get("message"))
        ours = (raw.get("extra") or {}).get(OURS) if isinstance(raw.get("extra"), dict) else None
        stamp = parse_iso_time(raw.get("timestamp"))
        results = _results(raw.get("observation"))
        if kind == "system" or (kind == "user" and not results and not ours):
            run.history.append({"role": kind, "content": message, "agent": "primary"})
            continue
        if kind == "user":
            observation = "\n".join(content for _, content in results)
            run.steps.append(our_step(len(run.steps) + 1, "human", message, observation, started_at=stamp,
                                      ours=ours))
            run.history.append({"role": "user", "content": message, "agent": "primary"})
            run.validations += our_validations(ours)
            continue
        run.history.append({"role": "assistant", "content": message, "agent": "primary"})
        commands = _commands(raw, message)
        if not commands:
            skipped_answers += 1
            continue
        metrics = raw.get("metrics") if isinstance(raw.get("metrics"), dict) else {}
        for index, (call_id, command) in enumerate(commands):
            observation = "\n".join(c for source_id, c in results if source_id in (call_id, None))
            first = index == 0  # a turn's tokens and cost are counted once, on its first command
            run.steps.append(our_step(
                len(run.steps) + 1, "agent", command, observation, thought=_text(raw.get("reasoning_content"))
                or thought_in(message), response=message, started_at=stamp, ours=ours if first else None,
                tokens_in=int(metrics.get("prompt_tokens") or 0) if first else 0,
                tokens_out=int(metrics.get("completion_tokens") or 0) if first else 0,
                cost=float(metrics.get("cost_usd") or 0.0) if first else 0.0,
            ))
            run.history.append({"role": "user", "content": observation, "agent": "primary"})
        run.validations += our_validations(ours)
    if skipped_answers:
        run.notes.append(f"{skipped_answers} agent message(s) without a command kept in the history only")
    lay_out_in_time(run.steps)  # laid out in time as MLGym's own files are
    run.ended = our_ended(root_ours.get("episode_ended"))
    final = document.get("final_metrics") if isinstance(document.get("final_metrics"), dict) else {}
    run.model_stats = {
        "total_cost": float(final.get("total_cost_usd") or 0.0),
        "tokens_sent": int(final.get("total_prompt_tokens") or 0),
        "tokens_received": int(final.get("total_completion_tokens") or 0),
    }
    return run


def _check(path: Path, document: Any) -> None:
    """The fields ATIF requires, checked enough to read the file; each failure names the first problem."""
    def bad(problem: str) -> FormatProblem:
        return FormatProblem(f"{path}: not an ATIF trajectory ({problem}); expected {EXPECTED}")

    if not isinstance(document, dict):
        raise bad(f"top level is a JSON {type(document).__name__}")
    version = document.get("schema_version")
    if not isinstance(version, str) or not version.startswith("ATIF-v1"):
        raise bad(f"schema_version is {version!r}")
    if not isinstance(document.get("session_id"), str):
        raise bad("no session_id string")
    agent = document.get("agent")
    if not isinstance(agent, dict) or not isinstance(agent.get("name"), str) or not isinstance(agent.get("version"),
                                                                                              str):
        raise bad("agent needs name and version strings")
    steps = document.get("steps")
    if not isinstance(steps, list) or not steps:
        raise bad("steps is not a non-empty list")
    for index, step in enumerate(steps):
        if not isinstance(step, dict):
            raise bad(f"steps[{index}] is a {type(step).__name__}")
        if step.get("source") not in SOURCES:
            raise bad(f"steps[{index}].source is {step.get('source')!r}, not system, user or agent")
        if not isinstance(step.get("step_id"), int):
            raise bad(f"steps[{index}] has no integer step_id")
        if "message" not in step:
            raise bad(f"steps[{index}] has no message")


def _commands(raw: dict[str, Any], message: str) -> list[tuple[str | None, str]]:
    calls = raw.get("tool_calls") if isinstance(raw.get("tool_calls"), list) else []
    out: list[tuple[str | None, str]] = []
    for call in calls:
        if not isinstance(call, dict):
            continue
        arguments = call.get("arguments") if isinstance(call.get("arguments"), dict) else {}
        command = arguments.get("command") or arguments.get("cmd")
        if isinstance(command, str):
            out.append((call.get("tool_call_id"), command))
        else:
            out.append((call.get("tool_call_id"), f"{call.get('function_name', 'tool')} {json.dumps(arguments)}"))
    if out:
        return out
    command = command_in(message)
    return [(None, command)] if command else []


def _results(observation: Any) -> list[tuple[str | None, str]]:
    results = observation.get("results") if isinstance(observation, dict) else None
    out = []
    for result in results if isinstance(results, list) else []:
        if isinstance(result, dict):
            source_id = result.get("source_call_id")
            out.append((source_id if isinstance(source_id, str) else None, _message_text(result.get("content"))))
    return out


def _message_text(value: Any) -> str:
    """A message or result: a string, or (v1.6) a list of content parts whose text parts are kept."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        parts = []
        for part in value:
            if isinstance(part, dict) and part.get("type") == "text":
                parts.append(str(part.get("text") or ""))
            elif isinstance(part, dict):
                parts.append(f"[{part.get('type', 'content')}]")
        return "\n".join(parts)
    return "" if value is None else json.dumps(value)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""
