"""The viewer's side: `RemoteEpisode` mirrors a served episode and has the Controller's surface (the same reads,
the same steering methods, `subscribe`), so the episode screen shows an attached episode exactly as one it runs.

Steering methods check what they can locally (the episode has ended, nothing is pending, someone else holds
control) and raise ControllerError like the Controller does; the episode checks again, and a refusal that only it
can know arrives later as a notice (`on_notice`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mlgym_tui.agents.proposal import Proposal
from mlgym_tui.control import protocol as p
from mlgym_tui.control.endpoint import EndpointError, read_endpoint, read_token
from mlgym_tui.episode.controller import ControllerError, who_am_i
from mlgym_tui.episode.state import EpisodeInfo, EpisodeReads, EpisodeState
from mlgym_tui.stream import events as ev
from mlgym_tui.stream.types import LIMIT_NAMES, MODES

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 10.0


class AttachError(Exception):
    """Cannot attach; the message says why. `replay_dir` is set when the run exists but its process is gone."""

    def __init__(self, message: str, replay_dir: Path | None = None) -> None:
        super().__init__(message)
        self.replay_dir = replay_dir


def looks_like_address(target: str) -> bool:
    host, sep, port = target.rpartition(":")
    return bool(sep and host and port.isdigit()) and not Path(target).exists()


async def open_connection(target: str | Path, token: str | None) -> tuple[asyncio.StreamReader, asyncio.StreamWriter,
                                                                          str | None, Path | None]:
    """Connect to RUN_DIR (its Unix socket, or its TCP address when it runs on another host) or HOST:PORT."""
    limit = p.MAX_EPISODE_LINE
    text = str(target)
    if looks_like_address(text):
        host, _, port = text.rpartition(":")
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(host.strip("[]"), int(port), limit=limit), CONNECT_TIMEOUT_S)
        except (OSError, asyncio.TimeoutError) as exc:
            raise AttachError(f"{text}: cannot connect ({getattr(exc, 'strerror', None) or exc or 'timed out'}); "
                              "is the episode running with --listen on that address?") from None
        return reader, writer, token, None
    run_dir = Path(text)
    try:
        endpoint = await asyncio.to_thread(read_endpoint, run_dir)
    except EndpointError as exc:
        replay = run_dir if (run_dir / "events.jsonl").exists() else None
        raise AttachError(str(exc), replay) from None
    gone = AttachError(f"{run_dir}: the episode's process (pid {endpoint.pid}) is gone; it ended without closing "
                       f"(killed or crashed). Open what it recorded: mlgym-tui replay {run_dir}", run_dir)
    if not endpoint.alive():
        raise gone
    import socket as socket_module

    local = endpoint.host == socket_module.gethostname()
    try:
        if local and endpoint.socket:
            reader, writer = await asyncio.wait_for(
                asyncio.open_unix_connection(endpoint.socket, limit=limit), CONNECT_TIMEOUT_S)
            return reader, writer, None, run_dir
        if endpoint.listen:
            token = token or await asyncio.to_thread(read_token, run_dir)
            host, _, port = endpoint.listen.rpartition(":")
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(host.strip("[]"), int(port), limit=limit), CONNECT_TIMEOUT_S)
            return reader, writer, token, run_dir
    except (FileNotFoundError, ConnectionRefusedError):
        raise gone from None
    except (OSError, asyncio.TimeoutError) as exc:
        raise AttachError(f"{run_dir}: cannot connect ({getattr(exc, 'strerror', None) or exc or 'timed out'})",
                          run_dir) from None
    raise AttachError(f"{run_dir}: the episode runs on {endpoint.host} and listens only on its own machine; start "
                      "it with --listen HOST:PORT to attach from here", run_dir)


class RemoteEpisode(EpisodeReads):
    """An attached episode. `await RemoteEpisode.attach(target)`; then use it where a Controller is used."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, welcome: dict[str, Any],
                 run_dir: Path | None) -> None:
        self._reader, self._writer = reader, writer
        self.viewer_id: int = welcome["viewer"]
        self.who: str = welcome["who"]
        info = welcome["info"]
        self.info = EpisodeInfo(**{k: info[k] for k in EpisodeInfo.__dataclass_fields__ if k in info})
        self.run_dir = Path(welcome.get("run_dir") or run_dir or "")
        self._state: dict[str, Any] = welcome["state"]
        self._state_at = time.monotonic()
        self.control: dict[str, Any] = {"holder": welcome.get("holder"), "viewers": welcome.get("viewers", [])}
        self.lost: str | None = None  # why the connection ended, once it has
        self.history_done = asyncio.Event()
        self._subscribers: list[Callable[[ev.Event], None]] = []
        self._backlog: list[ev.Event] = []  # events before the first subscriber (the history, usually)
        self._notice: list[Callable[[str, str], None]] = []
        self._control_listeners: list[Callable[[dict[str, Any]], None]] = []
        self._replies: dict[int, asyncio.Future] = {}
        self._next_id = 1
        self._ended = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._read(), name="attach-reader")
        self._detaching = False
        self.record_commands = False
        self.env = None  # no container handle here: the interactive terminal runs in the episode's own process
        self.agent_config = None
        self.recorder = None

    @classmethod
    async def attach(cls, target: str | Path, *, token: str | None = None, who: str | None = None) -> "RemoteEpisode":
        reader, writer, token, run_dir = await open_connection(target, token)
        hello = {"op": "hello", "version": p.PROTOCOL_VERSION, "who": who or who_am_i()}
        if token:
            hello["token"] = token
        writer.write(p.encode(hello))
        try:
            await writer.drain()
            line = await asyncio.wait_for(reader.readline(), CONNECT_TIMEOUT_S)
        except (OSError, asyncio.TimeoutError) as exc:
            writer.close()
            raise AttachError(f"{target}: no answer to the hello ({exc or 'timed out'})", run_dir) from None
        if not line:
            writer.close()
            raise AttachError(f"{target}: the episode closed the connection at once", run_dir)
        message = p.decode(line)
        if message.get("op") == "error":
            writer.close()
            raise AttachError(f"{target}: refused: {message.get('error')}")
        if message.get("op") != "welcome":
            writer.close()
            raise AttachError(f"{target}: expected a welcome, got {message.get('op')!r}; is this an mlgym-tui episode?")
        return cls(reader, writer, message, run_dir)

    # ================================================================ the stream

    def subscribe(self, callback: Callable[[ev.Event], None]) -> Callable[[], None]:
        self._subscribers.append(callback)
        backlog, self._backlog = self._backlog, []
        for event in backlog:
            callback(event)
        return lambda: self._subscribers.remove(callback) if callback in self._subscribers else None

    def on_notice(self, callback: Callable[[str, str], None]) -> None:
        """callback(text, severity): a refusal or news only the episode knows (severity information|warning|error)."""
        self._notice.append(callback)

    def on_control(self, callback: Callable[[dict[str, Any]], None]) -> None:
        """callback(message): control changed ({"op": "control", holder, viewers}), someone requests control
        ({"op": "control_request", "from": {id, who}}) or a request was refused ({"op": "control_refused"})."""
        self._control_listeners.append(callback)

    def _deliver(self, event: ev.Event) -> None:
        if not self._subscribers:
            self._backlog.append(event)
            return
        for callback in list(self._subscribers):
            try:
                callback(event)
            except Exception:
                log.exception("viewer subscriber failed on %s", event.type)

    def _tell(self, text: str, severity: str = "information") -> None:
        for callback in list(self._notice):
            callback(text, severity)

    async def _read(self) -> None:
        reason = "the connection closed"
        try:
            while True:
                line = await self._reader.readline()
                if not line:
                    break
                message = p.decode(line)
                op = message["op"]
                if op == "event":
                    try:
                        event = ev.Event.from_dict(message["event"])
                    except (ValueError, TypeError):
                        continue  # a newer episode's event type: nothing here shows it
                    self._deliver(event)
                elif op == "state":
                    self._state, self._state_at = message["state"], time.monotonic()
                elif op == "history_end":
                    self.history_done.set()
                elif op == "reply":
                    future = self._replies.pop(message.get("id"), None)
                    if future is not None and not future.done():
                        future.set_result(message)
                    elif not message.get("ok"):
                        self._tell(f"refused: {message.get('error')}", "error")
                elif op in ("control", "control_request", "control_refused"):
                    if op == "control":
                        self.control = {"holder": message.get("holder"), "viewers": message.get("viewers", [])}
                    for callback in list(self._control_listeners):
                        callback(message)
                elif op == "bye":
                    reason = message.get("reason") or reason
                elif op == "error":
                    reason = message.get("error") or reason
                    if not message.get("fatal"):
                        self._tell(reason, "error")
        except (ConnectionError, OSError, asyncio.LimitOverrunError, ValueError) as exc:
            reason = f"the connection failed ({exc})"
        except asyncio.CancelledError:
            reason = "detached"
            raise
        finally:
            if self._detaching:
                reason = "detached"  # asked for: not news to tell the viewer's subscribers
            self.lost = reason
            self.history_done.set()
            for future in self._replies.values():
                if not future.done():
                    future.set_result({"op": "reply", "ok": False, "error": reason})
            self._replies.clear()
            self._writer.close()
            self._ended.set()
            if reason != "detached" and not self._state.get("done"):
                self._deliver(ev.ErrorEvent(message=f"viewer: {reason}; the episode may still run "
                                                    f"(attach again: mlgym-tui attach {self.run_dir})"))
            for callback in list(self._control_listeners):
                callback({"op": "lost", "reason": reason})

    # ================================================================ sending

    def _send(self, message: dict[str, Any]) -> int:
        if self.lost is not None:
            raise ControllerError(f"not connected to the episode any more ({self.lost}); attach again")
        ident = self._next_id
        self._next_id += 1
        self._writer.write(p.encode({**message, "id": ident}))
        return ident

    async def request(self, message: dict[str, Any], timeout: float = 10.0) -> dict[str, Any]:
        """Send and wait for the reply (tests, scripts); `{"ok": False, "error": ...}` on refusal."""
        future = asyncio.get_running_loop().create_future()
        ident = self._send(message)
        self._replies[ident] = future
        await self._writer.drain()
        return await asyncio.wait_for(future, timeout)

    def command(self, name: str, **args: Any) -> None:
        self._require_control()
        self._send({"op": "command", "name": name, "args": args})

    def _control(self, action: str, **extra: Any) -> None:
        self._send({"op": "control", "action": action, **extra})

    def take_control(self) -> None:
        self._control("take")

    def request_control(self) -> None:
        self._control("request")

    def give_control(self, to: int | None = None) -> None:
        self._control("give", **({"to": to} if to is not None else {}))

    def refuse_control(self) -> None:
        self._control("refuse")

    def release_control(self) -> None:
        self._control("release")

    async def detach(self) -> None:
        """Leave; the episode goes on (a holder's control is released at once, not after the grace period)."""
        self._detaching = True
        if self.lost is None:
            try:
                if self.holds_control:
                    self._control("release")
                self._send({"op": "detach"})
                await asyncio.wait_for(self._ended.wait(), 2.0)
            except (ControllerError, OSError, asyncio.TimeoutError):
                pass
        self._task.cancel()
        self._writer.close()

    async def wait(self) -> str:
        await self._ended.wait()
        return self.exit_status or ""

    @property
    def holder(self) -> str:
        holder = self.control.get("holder")
        return holder["who"] if holder else ""

    @property
    def holds_control(self) -> bool:
        holder = self.control.get("holder")
        return bool(holder) and holder.get("id") == self.viewer_id

    def _require_control(self) -> None:
        holder = self.control.get("holder")
        if holder and holder.get("id") != self.viewer_id:
            raise ControllerError(f"{holder['who']} holds control; you are watching (request control to steer)")

    # ================================================================ the Controller's reads

    @property
    def state(self) -> EpisodeState:
        s = self._state
        pending = s.get("pending")
        proposal = None if pending is None else Proposal(thought=pending.get("thought", ""), action=pending["action"],
                                                         step=pending.get("step", 0),
                                                         author=pending.get("author", "agent"))
        return EpisodeState(mode=s["mode"], paused=s["paused"], awaiting=s["awaiting"], step=s["step"],
                            max_steps=s["max_steps"], cost_limit=s["cost_limit"], wall_time_s=s["wall_time_s"],
                            pending=proposal, running_command=s["running_command"],
                            agent_is_person=s["agent_is_person"], done=self.done, exit_status=s["exit_status"],
                            queued_commands=s["queued_commands"])

    mode = property(lambda self: self._state["mode"])
    paused = property(lambda self: self._state["paused"])
    step = property(lambda self: self._state["step"])
    max_steps = property(lambda self: self._state["max_steps"])
    cost_limit = property(lambda self: self._state["cost_limit"])
    wall_time_s = property(lambda self: self._state["wall_time_s"])
    exit_status = property(lambda self: self._state["exit_status"])
    submission = property(lambda self: self._state.get("submission"))
    scores = property(lambda self: list(self._state.get("scores") or []))
    best_score = property(lambda self: self._state.get("best_score"))
    awaiting = property(lambda self: self._state["awaiting"])
    running_command = property(lambda self: self._state["running_command"])
    container_name = property(lambda self: self._state.get("container"))
    model_stats = property(lambda self: dict(self._state.get("model_stats") or {}))
    divergences: list = []

    @property
    def done(self) -> bool:
        """Ended, or no longer connected (nothing here can steer it any more)."""
        return bool(self._state.get("done")) or self.lost is not None

    @property
    def pending(self) -> Proposal | None:
        return self.state.pending

    def elapsed(self) -> float:
        base = float(self._state.get("elapsed") or 0.0)
        if self._state.get("done") or self.lost is not None:
            return base
        return base + time.monotonic() - self._state_at

    # ================================================================ the Controller's steering

    def _require_live(self, what: str) -> None:
        if self.lost is not None:
            raise ControllerError(f"cannot {what}: not connected to the episode ({self.lost}); attach again")
        if self._state.get("done"):
            raise ControllerError(f"cannot {what}: the episode has ended ({self.exit_status}); start or fork a new one")

    def _require_pending(self, what: str) -> None:
        if self.pending is None:
            raise ControllerError(f"nothing to {what}: no proposed action is waiting")

    def set_mode(self, mode: str) -> None:
        self._require_live("change the mode")
        if mode not in MODES:
            raise ControllerError(f"unknown mode {mode!r}; use one of: {', '.join(MODES)}")
        self.command("set_mode", mode=mode)

    def take_over(self) -> None:
        self.set_mode("human")

    def hand_back(self) -> None:
        self._require_live("hand back")
        self.command("hand_back")

    def pause(self) -> None:
        self._require_live("pause")
        self.command("pause")

    def resume(self) -> None:
        self._require_live("resume")
        self.command("resume")

    def step_once(self) -> None:
        self._require_live("step")
        self.command("step_once")

    def approve(self) -> None:
        self._require_pending("approve")
        self.command("approve")

    def approve_edited(self, new_action: str) -> None:
        self._require_pending("edit")
        if not new_action.strip():
            raise ControllerError("the edited action is empty; type a command or use reject")
        self.command("approve_edited", new_action=new_action)

    def reject(self, comment: str = "") -> None:
        self._require_pending("reject")
        self.command("reject", comment=comment)

    def inject(self, command: str) -> None:
        self._require_live("run a command")
        if not command.strip():
            raise ControllerError("the action is empty; type a command to run")
        self.command("inject", command=command)

    submit_human_action = inject

    def message(self, text: str) -> None:
        self._require_live("message the agent")
        if not text.strip():
            raise ControllerError("the message is empty; type something for the agent to read")
        self.command("message", text=text)

    def interrupt(self) -> None:
        if not self.done:
            self.command("interrupt")

    def stop(self, autosubmit: bool = False) -> None:
        if not self.done:
            self.command("stop", autosubmit=autosubmit)

    def set_limit(self, name: str, value: float) -> None:
        self._require_live("change a limit")
        if name not in LIMIT_NAMES:
            raise ControllerError(f"unknown limit {name!r}; use one of: {', '.join(LIMIT_NAMES)}")
        self.command("set_limit", name=name, value=float(value))

    def record_terminal_command(self, **_: Any) -> None:
        raise ControllerError("the interactive terminal is recorded by the episode's own process; take over and "
                              "type commands in the shell pane instead")


def viewer_name(who: str | None) -> str:
    """--who, else $MLGYM_TUI_WHO, else user@host."""
    return who or os.environ.get("MLGYM_TUI_WHO") or who_am_i()
