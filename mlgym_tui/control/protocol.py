"""The control protocol's wire format: newline-delimited JSON objects, each with an "op" (docs/control-protocol.md).

A viewer opens with `hello` (protocol version, token for TCP, who it is); the episode answers `welcome` (the
episode's facts and state, who holds control), replays the events so far, says `history_end`, then streams live
events, state changes and control changes. Viewer commands carry an `id` their `reply` echoes.
"""

from __future__ import annotations

from typing import Any

import orjson

PROTOCOL_VERSION = 1
MAX_VIEWER_LINE = 1 << 20  # a command is small; a longer line is refused and the connection closed
MAX_EPISODE_LINE = 64 << 20  # an event carries a command's output (capped by the environment well below this)

# Viewer -> episode: command name -> its arguments and their types. The names are the Controller's methods.
COMMANDS: dict[str, dict[str, type | tuple[type, ...]]] = {
    "pause": {}, "resume": {}, "step_once": {}, "take_over": {}, "hand_back": {}, "approve": {},
    "interrupt": {},
    "set_mode": {"mode": str},
    "approve_edited": {"new_action": str},
    "reject": {"comment": str},
    "inject": {"command": str},
    "message": {"text": str},
    "stop": {"autosubmit": bool},
    "set_limit": {"name": str, "value": (int, float)},
}
OPTIONAL_ARGS = {"reject": {"comment"}, "stop": {"autosubmit"}}
CONTROL_ACTIONS = ("take", "request", "give", "release", "refuse")


class ProtocolError(ValueError):
    """A line that is not a valid message; the text says what was wrong and what is expected."""


def encode(message: dict[str, Any]) -> bytes:
    return orjson.dumps(message) + b"\n"


def decode(line: bytes) -> dict[str, Any]:
    try:
        message = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise ProtocolError(f"not JSON ({exc}); send one JSON object per line") from None
    if not isinstance(message, dict):
        raise ProtocolError(f"expected a JSON object, got {type(message).__name__}; send one object per line")
    op = message.get("op")
    if not isinstance(op, str) or not op:
        raise ProtocolError('the message has no "op"; every message names its operation, e.g. {"op": "ping"}')
    return message


def check_command(message: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """A `command` message's name and arguments, checked against COMMANDS."""
    name = message.get("name")
    if name not in COMMANDS:
        raise ProtocolError(f"unknown command {name!r}; known: {', '.join(COMMANDS)}")
    args = message.get("args") or {}
    if not isinstance(args, dict):
        raise ProtocolError(f'command {name}: "args" must be an object')
    expected = COMMANDS[name]
    unknown = set(args) - set(expected)
    if unknown:
        raise ProtocolError(f"command {name}: unknown argument(s) {', '.join(sorted(unknown))}; "
                            f"it takes {', '.join(expected) or 'none'}")
    for arg, kind in expected.items():
        if arg not in args:
            if arg in OPTIONAL_ARGS.get(name, ()):
                continue
            raise ProtocolError(f"command {name}: missing argument {arg!r}")
        value = args[arg]
        if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
            raise ProtocolError(f"command {name}: argument {arg!r} has the wrong type ({type(value).__name__})")
    return name, args


def state_dict(controller: Any) -> dict[str, Any]:
    """What a viewer mirrors of the episode's moving state (EpisodeState plus the figures the screens show)."""
    s = controller.state
    pending = s.pending
    return {
        "mode": s.mode, "paused": s.paused, "awaiting": s.awaiting, "step": s.step, "max_steps": s.max_steps,
        "cost_limit": s.cost_limit, "wall_time_s": s.wall_time_s, "running_command": s.running_command,
        "agent_is_person": s.agent_is_person, "done": s.done, "exit_status": s.exit_status,
        "queued_commands": s.queued_commands,
        "pending": None if pending is None else {"step": pending.step, "action": pending.action,
                                                 "thought": pending.thought, "author": pending.author},
        "elapsed": round(controller.elapsed(), 3),
        "scores": controller.scores, "best_score": controller.best_score,
        "model_stats": controller.model_stats, "container": controller.container_name,
        "submission": controller.submission,
    }
