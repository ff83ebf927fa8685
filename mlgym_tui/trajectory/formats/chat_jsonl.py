"""Training data: one JSON line per agent step, the OpenAI chat messages the model saw and its answer.

A line: {"messages": [{"role": "system" | "user" | "assistant", "content": ...}, ...], "run_id", "task_id", "step",
"author", "model", "score", "context"}. The last message is the assistant's answer for that step: the target.
Only steps by the agent are targets. A person's steps (typed, injected, in the f6 terminal) are never assistant
messages: they reach the model as user messages (the agent was told what the person ran and saw), so a line's
context may hold them and no line has them as its answer. Replayed and baseline steps are context, never targets.

The context comes from the run's history (the .traj's "history", as the agent kept it, with full observations:
the model itself may have seen older observations shortened by its history processor). Consecutive messages of
one role are merged, as the agent merges them before a call. An agent step the history does not hold (a .traj
cut short, MLGym files that keep only part of it) gets its context rebuilt from the steps before it: the prompt
from the history, then each step as answer and observation; "context" says which ("history" or "rebuilt").
`score` is the run's final score (the last scored metrics), the same on every line of a run, for filtering.
"""

from __future__ import annotations

from typing import Any

from mlgym_tui.stream.events import StepRecorded
from mlgym_tui.trajectory.formats.shared import RunSource, is_person

ROLES = ("system", "user", "assistant")


def export_chat_lines(source: RunSource) -> list[dict[str, Any]]:
    history = [e for e in source.history if e.get("role") in ROLES]
    positions = _answer_positions(history, source.run.steps)
    prompt = _prompt(history)
    score = source.final_score()
    lines = []
    for index, step in enumerate(source.run.steps):
        if step.author != "agent":
            continue
        position = positions.get(index)
        if position is not None:
            messages = _merged(history[:position]) + [_message("assistant", history[position].get("content"))]
            context = "history"
        else:
            messages = _merged(prompt + _rebuilt(source.run.steps[:index])) + [
                _message("assistant", _answer(step))]
            context = "rebuilt"
        lines.append({
            "messages": messages, "run_id": source.meta.run_id, "task_id": source.meta.task_id, "step": step.step,
            "author": step.author, "model": source.meta.model, "score": score, "context": context,
        })
    return [source.scrubber.tree(line) for line in lines]


def _answer_positions(history: list[dict[str, Any]], steps: list[StepRecorded]) -> dict[int, int]:
    """Step index -> the history position of the answer that proposed it.

    The agent keeps one assistant entry per answer, its `action` being what ran (an edited action included).
    Answers that were rejected stay in the history too; matching in order by action skips them.
    """
    out: dict[int, int] = {}
    cursor = 0
    for index, step in enumerate(steps):
        if step.author != "agent":
            continue
        wanted = {step.action.strip()} | ({step.edited_from.strip()} if step.edited_from else set())
        for position in range(cursor, len(history)):
            entry = history[position]
            if entry.get("role") == "assistant" and str(entry.get("action", "")).strip() in wanted:
                out[index] = position
                cursor = position + 1
                break
    return out


def _prompt(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for entry in history:
        if entry.get("role") == "assistant" and not entry.get("is_demo"):
            break
        out.append(entry)
    return out


def _rebuilt(steps: list[StepRecorded]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for step in steps:
        if is_person(step.author):
            out.append({"role": "user", "content": f"A person ran this command:\n```\n{step.action}\n```\n"
                                                  f"Its output:\n{step.observation}"})
        else:
            out.append({"role": "assistant", "content": _answer(step)})
            out.append({"role": "user", "content": step.observation or "(no output)"})
    return out


def _answer(step: StepRecorded) -> str:
    return step.response or (f"{step.thought}\n```\n{step.action}\n```" if step.thought else
                             f"```\n{step.action}\n```")


def _merged(entries: list[dict[str, Any]]) -> list[dict[str, str]]:
    messages: list[dict[str, str]] = []
    for entry in entries:
        message = _message(entry["role"], entry.get("content"))
        if messages and messages[-1]["role"] == message["role"] and message["role"] != "system":
            messages[-1]["content"] += "\n\n" + message["content"]
        else:
            messages.append(message)
    return messages


def _message(role: str, content: Any) -> dict[str, str]:
    return {"role": role, "content": content if isinstance(content, str) else str(content or "")}
