"""The episode's side of the control protocol: one asyncio server per episode, beside its runner on the same loop.

Viewers get the events so far on connect, then every event as the Controller emits it, coalesced state
snapshots and control changes. Their commands go through the Arbiter (one controller at a time) and then the
Controller's own checks, so a remote key behaves as a local one. Each connection has its own bounded send queue
and a rate limit: a slow, stuck or flooding viewer is refused or dropped; the episode and the other viewers never
wait for it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hmac
import logging
import os
import secrets
import socket
import time
from pathlib import Path
from typing import Any

from mlgym_tui.control import protocol as p
from mlgym_tui.control.arbiter import Arbiter, Before, ControlRefused, Viewer
from mlgym_tui.control.endpoint import (Endpoint, is_loopback, parse_listen, remove_endpoint, socket_path_for,
                                        write_endpoint, write_token)
from mlgym_tui.episode.controller import Controller, ControllerError
from mlgym_tui.stream import events as ev

log = logging.getLogger(__name__)

HELLO_TIMEOUT_S = 10.0
MAX_BACKLOG = 64 << 20  # bytes queued for one viewer before it is dropped as too slow
MAX_PROTOCOL_ERRORS = 20  # bad lines tolerated on one connection before it is closed
MAX_WHO = 80


class ListenError(Exception):
    """The endpoint cannot listen as asked; the message names the address and the fix."""


class Connection:
    """One attached viewer: its send queue (drained by a writer task) and its rate limit."""

    def __init__(self, writer: asyncio.StreamWriter, rate: float, burst: float) -> None:
        self.writer = writer
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.backlog = 0
        self.closed = False
        self.viewer: Viewer | None = None
        self.rate, self.burst = rate, burst
        self.allowance, self.last = burst, time.monotonic()
        self.errors = 0

    def send(self, data: bytes) -> None:
        if self.closed:
            return
        self.backlog += len(data)
        if self.backlog > MAX_BACKLOG:
            self.closed = True  # the writer ends after what is queued; the reader sees the close
            self.queue.put_nowait(p.encode({"op": "error", "fatal": True, "error": (
                f"this viewer fell {MAX_BACKLOG >> 20} MB behind the episode and was dropped; attach again")}))
            self.queue.put_nowait(None)
            return
        self.queue.put_nowait(data)

    def message(self, message: dict[str, Any]) -> None:
        self.send(p.encode(message))

    def finish(self, message: dict[str, Any] | None = None) -> None:
        """Send a last message and close after everything queued."""
        if self.closed:
            return
        if message is not None:
            self.message(message)
        self.closed = True
        self.queue.put_nowait(None)

    def allowed(self) -> bool:
        now = time.monotonic()
        self.allowance = min(self.burst, self.allowance + (now - self.last) * self.rate)
        self.last = now
        if self.allowance < 1:
            return False
        self.allowance -= 1
        return True

    async def drain_forever(self) -> None:
        try:
            while True:
                data = await self.queue.get()
                if data is None:
                    break
                self.backlog -= len(data)
                self.writer.write(data)
                await self.writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            self.closed = True
            self.writer.close()


class ControlServer:
    """Serve `controller` to attached viewers. `start()` before the episode starts, so history is complete."""

    def __init__(self, controller: Controller, *, listen: str | None = None, token: str | None = None,
                 grace_s: float = 10.0, rate: float = 50.0, burst: float = 200.0, unix: bool = True) -> None:
        if controller.run_dir is None:
            raise ValueError("an episode without a run directory cannot be served")
        self.controller = controller
        self.run_dir = Path(controller.run_dir)
        self.listen = listen
        self.token = token
        self.unix = unix
        self.rate, self.burst = rate, burst
        self.socket_path: Path | None = None
        self.address: str | None = None  # HOST:PORT actually bound
        self.connections: set[Connection] = set()
        self._servers: list[asyncio.AbstractServer] = []
        self._history: list[bytes | None] = []
        self._token_lines: list[int] = []
        self._state_due = False
        self._last_state: dict[str, Any] | None = None
        self._ticker: asyncio.Task | None = None
        self._tasks: set[asyncio.Task] = set()
        self._next_id = 1
        self._unsubscribe = None
        self.arbiter = Arbiter(grace_s=grace_s, changed=self._control_changed, restore=self._restore,
                               snapshot=lambda: Before(controller.mode, controller.paused))

    # ================================================================ lifetime

    async def start(self) -> "ControlServer":
        loop = asyncio.get_running_loop()
        self.controller.record_commands = True
        self._unsubscribe = self.controller.subscribe(self._on_event)
        if self.unix:
            path = await asyncio.to_thread(socket_path_for, self.run_dir)
            try:
                path.unlink()
            except FileNotFoundError:
                pass
            server = await asyncio.start_unix_server(self._serve, path=str(path), limit=p.MAX_VIEWER_LINE)
            os.chmod(path, 0o600)  # the socket file's permissions are its access control
            self.socket_path = path
            self._servers.append(server)
        if self.listen:
            host, port = parse_listen(self.listen)
            self.token = self.token or secrets.token_urlsafe(24)
            try:
                server = await asyncio.start_server(self._serve, host, port, limit=p.MAX_VIEWER_LINE)
            except OSError as exc:
                await self.close()
                raise ListenError(f"--listen {self.listen}: cannot listen ({exc.strerror or exc}); "
                                  "pick another port (0 picks a free one) or a local address") from None
            bound = server.sockets[0].getsockname()
            self.address = f"{'[' + bound[0] + ']' if ':' in bound[0] else bound[0]}:{bound[1]}"
            self._servers.append(server)
            await asyncio.to_thread(write_token, self.run_dir, self.token)
            if not is_loopback(host):
                log.warning("control endpoint listening on %s (not loopback): viewers need its token", self.address)
        endpoint = Endpoint(run_dir=str(self.run_dir), pid=os.getpid(), host=socket.gethostname(),
                            socket=str(self.socket_path) if self.socket_path else None, listen=self.address,
                            version=p.PROTOCOL_VERSION)
        await asyncio.to_thread(write_endpoint, endpoint)
        self._ticker = loop.create_task(self._tick(), name=f"control-state:{self.controller.run_id}")
        return self

    async def close(self, reason: str = "") -> None:
        """Say goodbye to every viewer, stop listening and remove the endpoint files."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._ticker is not None:
            self._ticker.cancel()
        self.arbiter.close()
        status = self.controller.exit_status
        reason = reason or (f"the episode ended ({status})" if status else "the episode's process is closing")
        for conn in list(self.connections):
            conn.finish({"op": "bye", "reason": reason})
        for server in self._servers:
            server.close()
        self._servers.clear()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=2.0)
        await asyncio.to_thread(remove_endpoint, self.run_dir, self.socket_path)

    # ================================================================ episode -> viewers

    def _on_event(self, event: ev.Event) -> None:
        line = p.encode({"op": "event", "event": event.to_dict()})
        if event.type == "token":
            self._token_lines.append(len(self._history))
        elif event.type in ("model_response", "format_error", "action_proposed", "step") and self._token_lines:
            # a model answer is whole now: its streamed tokens need not be replayed to a viewer attaching later
            for index in self._token_lines:
                self._history[index] = None
            self._token_lines.clear()
        self._history.append(line)
        for conn in self.connections:
            if conn.viewer is not None:
                conn.send(line)
        self._schedule_state()

    def _schedule_state(self) -> None:
        if not self._state_due:
            self._state_due = True
            asyncio.get_running_loop().call_soon(self._send_state)

    def _send_state(self) -> None:
        self._state_due = False
        state = p.state_dict(self.controller)
        comparable = {k: v for k, v in state.items() if k != "elapsed"}
        if comparable == self._last_state:
            return
        self._last_state = comparable
        self._broadcast({"op": "state", "state": state})

    async def _tick(self) -> None:
        """Some state changes without an event (a command queued, the runner starting to wait)."""
        while True:
            await asyncio.sleep(0.25)
            self._send_state()

    def _broadcast(self, message: dict[str, Any]) -> None:
        data = p.encode(message)
        for conn in self.connections:
            if conn.viewer is not None:
                conn.send(data)

    def _control_changed(self, holder: str, reason: str) -> None:
        self.controller.emit(ev.ControlChanged(holder=holder, reason=reason))
        self._broadcast_control()

    def _broadcast_control(self) -> None:
        self._broadcast({"op": "control", **self.arbiter.summary()})

    def _restore(self, before: Before) -> None:
        """A lost holder's grace is over: the episode goes back to how it was when they took control."""
        c = self.controller
        if c.done:
            return
        with c.sent_by("control (holder disconnected)"):
            if c.mode != before.mode:
                c.set_mode(before.mode)
            if c.paused and not before.paused:
                c.resume()
            elif before.paused and not c.paused:
                c.pause()

    # ================================================================ one viewer

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = Connection(writer, self.rate, self.burst)
        self.connections.add(conn)
        drain = asyncio.get_running_loop().create_task(conn.drain_forever())
        self._tasks.add(drain)
        drain.add_done_callback(self._tasks.discard)
        try:
            if await self._greet(conn, reader, writer):
                await self._read_commands(conn, reader)
        except (ConnectionError, OSError):
            pass
        finally:
            self.connections.discard(conn)
            if conn.viewer is not None:
                self.arbiter.leave(conn.viewer)
                self._broadcast_control()
            conn.finish()

    async def _greet(self, conn: Connection, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        try:
            line = await asyncio.wait_for(reader.readline(), HELLO_TIMEOUT_S)
        except asyncio.TimeoutError:
            conn.finish(_fatal(f"no hello within {HELLO_TIMEOUT_S:g} s; open with "
                               f'{{"op": "hello", "version": {p.PROTOCOL_VERSION}, "who": "user@host"}}'))
            return False
        except (ValueError, asyncio.LimitOverrunError):
            conn.finish(_fatal("the hello line is too long"))
            return False
        if not line:
            return False
        try:
            hello = p.decode(line)
        except p.ProtocolError as exc:
            conn.finish(_fatal(f"{exc}; the first message must be a hello"))
            return False
        if hello.get("op") != "hello":
            conn.finish(_fatal(f'the first message must be {{"op": "hello", ...}}, got op {hello.get("op")!r}'))
            return False
        version = hello.get("version")
        if version != p.PROTOCOL_VERSION:
            conn.finish(_fatal(f"protocol version {version!r} is not spoken here (this episode speaks "
                               f"{p.PROTOCOL_VERSION}); use the same mlgym-tui version on both sides"))
            return False
        if self._needs_token(writer):
            given = hello.get("token")
            if not isinstance(given, str) or not hmac.compare_digest(given.encode(), (self.token or "").encode()):
                await asyncio.sleep(0.5)  # slows guessing down
                conn.finish(_fatal(f"wrong or missing token; it is in {self.run_dir / 'control.token'} "
                                   "on the episode's machine (attach --token TOKEN)"))
                return False
        who = hello.get("who")
        who = who.strip()[:MAX_WHO] if isinstance(who, str) and who.strip() else "anonymous"
        who = "".join(ch for ch in who if ch.isprintable())
        viewer = Viewer(id=self._next_id, who=who, notify=conn.message)
        self._next_id += 1
        # Everything below runs without an await: no event can slip between the history and the live stream.
        c = self.controller
        conn.message({"op": "welcome", "version": p.PROTOCOL_VERSION, "viewer": viewer.id, "who": who,
                      "info": dataclasses.asdict(c.info), "run_dir": str(self.run_dir),
                      "state": p.state_dict(c), **self.arbiter.summary()})
        count = 0
        for data in self._history:
            if data is not None:
                conn.send(data)
                count += 1
        conn.message({"op": "history_end", "events": count})
        conn.viewer = viewer  # live from here; joining may record a control change, which it then sees live
        self.arbiter.join(viewer)
        self._broadcast_control()
        return True

    def _needs_token(self, writer: asyncio.StreamWriter) -> bool:
        sock = writer.get_extra_info("socket")
        return sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6)

    async def _read_commands(self, conn: Connection, reader: asyncio.StreamReader) -> None:
        while not conn.closed:
            try:
                line = await reader.readline()
            except (ValueError, asyncio.LimitOverrunError):
                conn.finish(_fatal(f"a line longer than {p.MAX_VIEWER_LINE >> 20} MB; connection closed"))
                return
            if not line:
                return
            if not line.strip():
                continue
            self._handle_line(conn, line)
            if conn.errors >= MAX_PROTOCOL_ERRORS:
                conn.finish(_fatal(f"{conn.errors} bad messages; connection closed (see docs/control-protocol.md)"))
                return

    def _handle_line(self, conn: Connection, line: bytes) -> None:
        viewer = conn.viewer
        assert viewer is not None
        ident = None
        try:
            message = p.decode(line)
            ident = message.get("id")
            if not conn.allowed():
                raise p.ProtocolError(f"too many messages: at most {self.rate:g} per second; slow down")
            op = message["op"]
            if op == "ping":
                conn.message({"op": "reply", "id": ident, "ok": True, "pong": time.time()})
            elif op == "command":
                self._command(conn, viewer, message)
            elif op == "control":
                self._control(viewer, message)
                conn.message({"op": "reply", "id": ident, "ok": True})
            elif op == "detach":
                conn.finish({"op": "bye", "reason": "detached; the episode goes on"})
            else:
                raise p.ProtocolError(f"unknown op {op!r}; viewers send hello, command, control, ping or detach")
        except p.ProtocolError as exc:
            conn.errors += 1
            conn.message({"op": "reply", "id": ident, "ok": False, "error": str(exc)})
        except (ControllerError, ControlRefused) as exc:
            conn.message({"op": "reply", "id": ident, "ok": False, "error": str(exc)})

    def _command(self, conn: Connection, viewer: Viewer, message: dict[str, Any]) -> None:
        name, args = p.check_command(message)
        c = self.controller
        try:
            self.arbiter.check(viewer)
            with c.sent_by(viewer.who):
                getattr(c, name)(**args)
        except (ControllerError, ControlRefused) as exc:
            c.emit(ev.CommandSent(who=viewer.who, command=name, args=args, refused=str(exc)))
            raise
        conn.message({"op": "reply", "id": message.get("id"), "ok": True})
        self._send_state()

    def _control(self, viewer: Viewer, message: dict[str, Any]) -> None:
        action = message.get("action")
        if action == "take":
            self.arbiter.take(viewer)
        elif action == "request":
            self.arbiter.request(viewer)
            self._broadcast_control()
        elif action == "give":
            to = message.get("to")
            if to is not None and not isinstance(to, int):
                raise p.ProtocolError('control give: "to" must be a viewer id (an integer) or absent')
            self.arbiter.give(viewer, to)
        elif action == "release":
            self.arbiter.release(viewer)
        elif action == "refuse":
            self.arbiter.refuse(viewer)
            self._broadcast_control()
        else:
            raise p.ProtocolError(f"unknown control action {action!r}; use one of: {', '.join(p.CONTROL_ACTIONS)}")


def _fatal(text: str) -> dict[str, Any]:
    return {"op": "error", "fatal": True, "error": text}


async def serve(controller: Controller, *, listen: str | None = None, token: str | None = None,
                grace_s: float = 10.0) -> ControlServer:
    """Start serving an episode that has not started yet (every front end calls this before controller.start())."""
    return await ControlServer(controller, listen=listen, token=token, grace_s=grace_s).start()
