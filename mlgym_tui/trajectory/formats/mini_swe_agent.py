"""mini-swe-agent's trajectory JSON (`<instance>.traj.json`): export a run of ours, import theirs.

Facts of the format (mini-swe-agent's DefaultAgent.serialize, v2; save_traj in v1): {"info": {"model_stats":
{"instance_cost", "api_calls"}, "config": {"agent", "agent_type", "model", "model_type", "environment",
"environment_type"}, "mini_version", "exit_status", "submission"}, "messages": [...], "trajectory_format":
"mini-swe-agent-1.1"} ("mini-swe-agent-1" in v1). Messages are OpenAI chat messages plus an "extra" object:
system, the task as a user message, then per turn the assistant's answer (extra.actions: [{"command"}], cost,
timestamp; v1: one ```bash block in the content, v2 text models ```mswea_bash_command, v2 tool-call models
tool_calls with a `bash` function) and one observation per command (a user message, or role "tool" with
tool_call_id; extra.raw_output, returncode). A command a person typed in human mode is a user message whose
extra.actions holds it, followed by its observation. The run ends with a message of role "exit" whose extra holds
exit_status and submission.

Export writes the v2 text form: each answer keeps the model's own text and names its command in extra.actions;
observations are rendered as mini-swe-agent's default template renders them (<returncode>, <output>), with the
raw output in extra.raw_output. A person's step is written as human mode writes it. What the format has no field
for goes under "mlgym_tui" in the message's and the info's extra.

Import reads v1 and v2, text and tool calls; an answer with no command (a format error) stays in the history only.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import mlgym_tui
from mlgym_tui.stream.events import EpisodeEnded
from mlgym_tui.trajectory.formats.shared import (
    OURS,
    FormatProblem,
    ImportedRun,
    RunSource,
    command_in,
    is_person,
    load_json,
    meta_from,
    our_ended,
    our_step,
    our_validations,
    run_extra,
    step_extra,
    thought_in,
)
from mlgym_tui.trajectory.loaded_run import RunMeta
from mlgym_tui.trajectory.traj_reader import lay_out_in_time

TRAJECTORY_FORMAT = "mini-swe-agent-1.1"
# The mini-swe-agent release whose trajectory format this file follows (v2.0 introduced mini-swe-agent-1.1);
# the exporter itself is named in info.exporter.
FORMAT_RELEASE = "2.0.0"
EXPECTED = ('a mini-swe-agent trajectory: a JSON object with "messages" (a list of {role, content}), "info" and '
            '"trajectory_format" ("mini-swe-agent-1" or "mini-swe-agent-1.1")')
_RETURNCODE = re.compile(r"<returncode>\s*(-?\d+)\s*</returncode>")
_OUTPUT = re.compile(r"<output>\n?(.*?)</output>", re.DOTALL)


# -- export -----------------------------------------------------------------------------------------------------


def export_mini(source: RunSource) -> dict[str, Any]:
    meta = source.meta
    messages: list[dict[str, Any]] = [
        {"role": entry["role"], "content": str(entry.get("content") or "")} for entry in _prompt(source)
    ]
    validations = source.validations_by_step()
    for step in source.run.steps:
        ours = {OURS: step_extra(step, validations.get(step.step, []))}
        actions = [{"command": step.action}]
        if is_person(step.author):
            messages.append({"role": "user", "content": f"User command: \n```bash\n{step.action}\n```",
                             "extra": {"actions": actions, **ours}})
        else:
            usage = {"prompt_tokens": step.tokens_in, "completion_tokens": step.tokens_out}
            messages.append({"role": "assistant", "content": step.response or f"```\n{step.action}\n```",
                             "extra": {"actions": actions, "cost": step.cost, "timestamp": step.started_at,
                                       "response": {"usage": usage}, **ours}})
        messages.append({"role": "user", "content": _observation_text(step.exit_code, step.observation),
                         "extra": {"raw_output": step.observation, "returncode": step.exit_code,
                                   "timestamp": step.t, "exception_info": ""}})
    ended = source.run.ended
    exit_status = ended.exit_status if ended else ""
    submission = (ended.submission or "") if ended else ""
    if ended is not None:
        messages.append({"role": "exit", "content": submission or exit_status,
                         "extra": {"exit_status": exit_status, "submission": submission}})
    stats = ended.model_stats if ended and ended.model_stats else {}
    cost = stats.get("total_cost") if isinstance(stats.get("total_cost"), (int, float)) else sum(
        s.cost for s in source.run.steps)
    calls = stats.get("api_calls") if isinstance(stats.get("api_calls"), int) else sum(
        1 for s in source.run.steps if s.author == "agent")
    document = {
        "info": {
            "model_stats": {"instance_cost": float(cost), "api_calls": calls},
            "config": {
                "agent": {"step_limit": meta.max_steps, "cost_limit": meta.cost_limit},
                "agent_type": f"mlgym_tui ({meta.agent})",
                "model": {"model_name": meta.model},
                "model_type": "mlgym_tui",
                "environment": {"task_id": meta.task_id, "engine": meta.engine},
                "environment_type": "mlgym_tui",
                OURS: source.config or {},
            },
            "mini_version": FORMAT_RELEASE,
            "exporter": f"mlgym-tui {mlgym_tui.__version__}",
            "exit_status": exit_status,
            "submission": submission,
            OURS: {**run_extra(source), "score": source.final_score()},
        },
        "messages": messages,
        "trajectory_format": TRAJECTORY_FORMAT,
    }
    return source.scrubber.tree(document)


def _prompt(source: RunSource) -> list[dict[str, Any]]:
    prompt = []
    for entry in source.history:
        if entry.get("role") == "assistant":
            break
        if entry.get("role") in ("system", "user") and not entry.get("is_demo"):
            prompt.append(entry)
    if not any(entry["role"] == "user" for entry in prompt):
        prompt.append({"role": "user", "content": f"Task: {source.meta.task_id}"})
    return prompt


def _observation_text(exit_code: int | None, output: str) -> str:
    # mini-swe-agent's default observation template (the return code, then the output).
    code = "" if exit_code is None else exit_code
    return f"<returncode>{code}</returncode>\n<output>\n{output}</output>"


# -- import -----------------------------------------------------------------------------------------------------


def looks_like_mini(document: Any) -> bool:
    if isinstance(document, dict):
        return str(document.get("trajectory_format", "")).startswith("mini-swe-agent") or (
            isinstance(document.get("messages"), list) and isinstance(document.get("info"), dict))
    return isinstance(document, list) and bool(document) and all(
        isinstance(m, dict) and "role" in m for m in document)


def import_mini(path: Path, document: Any = None, task_id: str | None = None) -> ImportedRun:
    document = load_json(path, EXPECTED) if document is None else document
    if isinstance(document, list):  # the bare message list mini-swe-agent's inspector also reads
        document = {"messages": document, "info": {}}
    messages = _check(path, document)
    info = document.get("info") if isinstance(document.get("info"), dict) else {}
    ours_info = info.get(OURS) if isinstance(info.get(OURS), dict) else {}
    config = info.get("config") if isinstance(info.get("config"), dict) else {}
    started = ours_info.get("episode_started") if isinstance(ours_info.get("episode_started"), dict) else None
    model = (config.get("model") or {}).get("model_name") if isinstance(config.get("model"), dict) else None
    environment = config.get("environment") if isinstance(config.get("environment"), dict) else {}
    meta = RunMeta(
        task_id=task_id or (started or {}).get("task_id") or environment.get("task_id") or path.name.split(".")[0]
        or "imported",
        model=model if isinstance(model, str) and model else "unknown",
        agent="mini-swe-agent",
        run_id=path.name.split(".")[0],
    )
    meta = meta_from(started, meta)
    run = ImportedRun(source_format="mini-swe-agent", meta=meta, started=started, config=config)
    format_errors = 0
    index = 0
    while index < len(messages):
        message = messages[index]
        role, content = message.get("role"), _content(message.get("content"))
        extra = message.get("extra") if isinstance(message.get("extra"), dict) else {}
        index += 1
        if role == "exit":
            run.ended = our_ended(ours_info.get("episode_ended")) or _exit_event(extra, info, content)
            continue
        commands = _commands(role, message, extra, content)
        run.history.append({"role": role if role in ("system", "user", "assistant") else "user",
                            "content": content, "agent": "primary"})
        if role not in ("assistant", "user") or (role == "user" and not commands):
            continue
        if role == "assistant" and not commands:
            format_errors += 1
            continue
        # The observations that follow: one user or tool message per command.
        outputs: list[dict[str, Any]] = []
        while index < len(messages) and len(outputs) < len(commands) and _is_observation(messages[index]):
            outputs.append(messages[index])
            run.history.append({"role": "user", "content": _content(messages[index].get("content")),
                                "agent": "primary"})
            index += 1
        author = "agent" if role == "assistant" else "human"
        response = content
        for number, (call_id, command) in enumerate(commands):
            output = _matching(outputs, call_id, number)
            exit_code, observation = _observation(output)
            first = number == 0
            usage = ((extra.get("response") or {}).get("usage") or {}) if isinstance(extra.get("response"),
                                                                                      dict) else {}
            run.steps.append(our_step(
                len(run.steps) + 1, author, command, observation, thought=thought_in(content) if author == "agent"
                else "", response=response if author == "agent" else "",
                started_at=_clock(extra.get("timestamp")), ours=extra.get(OURS) if first else None,
                tokens_in=int(usage.get("prompt_tokens") or 0) if first else 0,
                tokens_out=int(usage.get("completion_tokens") or 0) if first else 0,
                cost=float(extra.get("cost") or 0.0) if first else 0.0, exit_code=exit_code,
            ))
        run.validations += our_validations(extra.get(OURS))
    if format_errors:
        run.notes.append(f"{format_errors} answer(s) without exactly one command (format errors) kept in the "
                         "history only")
    lay_out_in_time(run.steps)  # laid out in time as MLGym's own files are
    if run.ended is None and (info.get("exit_status") or ours_info.get("episode_ended")):
        run.ended = our_ended(ours_info.get("episode_ended")) or _exit_event({}, info, "")
    stats = info.get("model_stats") if isinstance(info.get("model_stats"), dict) else {}
    run.model_stats = {"total_cost": float(stats.get("instance_cost") or 0.0),
                       "api_calls": int(stats.get("api_calls") or 0)}
    return run


def _check(path: Path, document: Any) -> list[dict[str, Any]]:
    def bad(problem: str) -> FormatProblem:
        return FormatProblem(f"{path}: not a mini-swe-agent trajectory ({problem}); expected {EXPECTED}")

    if not isinstance(document, dict):
        raise bad(f"top level is a JSON {type(document).__name__}")
    kind = document.get("trajectory_format")
    if kind is not None and not str(kind).startswith("mini-swe-agent"):
        raise bad(f"trajectory_format is {kind!r}")
    messages = document.get("messages")
    if not isinstance(messages, list) or not messages:
        raise bad("no messages list")
    for position, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise bad(f"messages[{position}] has no role")
    return messages


def _commands(role: Any, message: dict[str, Any], extra: dict[str, Any], content: str) -> list[tuple[str | None, str]]:
    actions = extra.get("actions")
    if isinstance(actions, list) and actions:
        return [(a.get("tool_call_id"), str(a.get("command", ""))) for a in actions if isinstance(a, dict)]
    if role != "assistant":
        return []
    calls = message.get("tool_calls")
    if isinstance(calls, list) and calls:
        out = []
        for call in calls:
            function = call.get("function") if isinstance(call, dict) else None
            if not isinstance(function, dict):
                continue
            try:
                arguments = json.loads(function.get("arguments") or "{}")
            except (TypeError, ValueError):
                arguments = {}
            if isinstance(arguments, dict) and isinstance(arguments.get("command"), str):
                out.append((call.get("id"), arguments["command"]))
        return out
    command = command_in(content)
    return [(None, command)] if command else []


def _is_observation(message: Any) -> bool:
    if not isinstance(message, dict):
        return False
    extra = message.get("extra") if isinstance(message.get("extra"), dict) else {}
    if message.get("role") == "tool":
        return True
    # A user message that is itself a command (human mode) or a format error is not an output.
    return message.get("role") == "user" and not extra.get("actions") and extra.get("interrupt_type") is None


def _matching(outputs: list[dict[str, Any]], call_id: str | None, number: int) -> dict[str, Any] | None:
    if call_id is not None:
        for output in outputs:
            if output.get("tool_call_id") == call_id:
                return output
    return outputs[number] if number < len(outputs) else None


def _observation(message: dict[str, Any] | None) -> tuple[int | None, str]:
    if message is None:
        return None, ""
    extra = message.get("extra") if isinstance(message.get("extra"), dict) else {}
    content = _content(message.get("content"))
    code = extra.get("returncode")
    if not isinstance(code, int):
        found = _RETURNCODE.search(content)
        code = int(found.group(1)) if found else None
    if isinstance(extra.get("raw_output"), str):
        return code, extra["raw_output"]
    found = _OUTPUT.search(content)
    return code, found.group(1) if found and _RETURNCODE.search(content) else content


def _exit_event(extra: dict[str, Any], info: dict[str, Any], content: str) -> EpisodeEnded:
    status = extra.get("exit_status") or info.get("exit_status") or "unknown"
    submission = extra.get("submission") if "submission" in extra else info.get("submission")
    return EpisodeEnded(exit_status=str(status), submission=submission if isinstance(submission, str) and
                        submission else None)


def _content(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):  # multimodal content parts
        return "\n".join(str(p.get("text", "")) if isinstance(p, dict) else str(p) for p in value)
    return "" if value is None else str(value)


def _clock(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
