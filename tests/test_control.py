"""The control endpoint and the attached viewer, over real Unix and TCP sockets, against a real Controller and
runner (the runner tests' fake environment and answered policy: no container needed to test the protocol).

Many viewers see the same events; one holds control at a time; a lost holder releases it after the grace period
and the episode goes back to how it was; bad input of every kind is refused on its own connection while the
episode and the other viewers carry on.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import socket
from pathlib import Path

import pytest

from mlgym_tui.control import protocol as p
from mlgym_tui.control.client import AttachError, RemoteEpisode
from mlgym_tui.control.endpoint import Endpoint, read_endpoint, running_endpoints, socket_path_for, write_endpoint
from mlgym_tui.control.server import ControlServer, ListenError
from mlgym_tui.episode.controller import Controller, ControllerError
from mlgym_tui.stream import events as ev
from test_episode_runner import AnsweredPolicy, FakeEnv


class Served:
    """A real Controller with the fake environment, served on a Unix socket (and TCP when asked)."""

    def __init__(self, run_dir: Path, mode: str = "auto", **server_options) -> None:
        run_dir.mkdir(parents=True, exist_ok=True)
        self.run_dir = run_dir
        self.env = FakeEnv()
        self.policy = AnsweredPolicy()
        self.c = Controller(env=self.env, policy=self.policy, task_id="fake", agent="test", model="none",
                            engine="local", run_dir=run_dir, mode=mode, max_steps=20,
                            baseline={"score": 1.5}, metrics=[{"name": "score", "primary": True}])
        self.events: list[ev.Event] = []
        self.c.subscribe(self.events.append)
        self.server = ControlServer(self.c, grace_s=server_options.pop("grace_s", 0.3), **server_options)

    async def __aenter__(self) -> "Served":
        await self.server.start()
        self.c.start()
        return self

    async def __aexit__(self, *exc) -> None:
        if not self.c.done:
            self.c.stop()
        await asyncio.wait_for(self.c.wait(), 5)
        await self.server.close()

    def of(self, cls) -> list:
        return [e for e in self.events if isinstance(e, cls)]


async def until(predicate, what: str, timeout: float = 5.0) -> None:
    for _ in range(int(timeout / 0.005)):
        if predicate():
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"timed out waiting for {what}")


def seen(viewer: RemoteEpisode) -> list[ev.Event]:
    got: list[ev.Event] = []
    viewer.subscribe(got.append)
    return got


async def raw(path: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_unix_connection(path, limit=p.MAX_EPISODE_LINE)


async def read_until(reader: asyncio.StreamReader, op: str) -> dict:
    while True:
        line = await asyncio.wait_for(reader.readline(), 5)
        assert line, f"connection closed before a {op!r} message"
        message = json.loads(line)
        if message["op"] == op:
            return message


# ==================================================================== the stream


async def test_a_viewer_gets_the_history_then_live_events_and_the_state(tmp_path):
    async with Served(tmp_path / "run", mode="confirm") as s:
        s.policy.answer("echo one")
        await until(lambda: s.c.awaiting == "approval", "a proposal awaiting approval")
        viewer = await RemoteEpisode.attach(tmp_path / "run", who="ada@lab")
        got = seen(viewer)
        await asyncio.wait_for(viewer.history_done.wait(), 5)
        assert [e.type for e in got] == [e.type for e in s.events]  # the history, in order
        await until(lambda: viewer.pending is not None, "the pending proposal mirrored")
        assert viewer.pending.action == "echo one" and viewer.mode == "confirm" and viewer.task_id == "fake"
        viewer.approve()
        await until(lambda: any(e.type == "step" for e in got), "the approved step reaching the viewer")
        assert s.env.ran == ["echo one"]
        sent = s.of(ev.CommandSent)
        assert [(e.who, e.command) for e in sent] == [("ada@lab", "approve")]
        assert [e.type for e in got] == [e.type for e in s.events]  # live events, same order
        await viewer.detach()


async def test_two_viewers_see_the_same_events_and_a_detach_leaves_the_episode_running(tmp_path):
    async with Served(tmp_path / "run") as s:
        a = await RemoteEpisode.attach(tmp_path / "run", who="a@x")
        b = await RemoteEpisode.attach(tmp_path / "run", who="b@y")
        got_a, got_b = seen(a), seen(b)
        s.policy.answer("echo 1", "echo 2")
        await until(lambda: s.c.step >= 2, "two steps")
        await until(lambda: len(got_a) == len(got_b) == len(s.events), "both viewers caught up")
        assert [e.to_dict() for e in got_a] == [e.to_dict() for e in got_b]
        await a.detach()
        s.policy.answer("echo 3")
        await until(lambda: s.c.step >= 3, "a third step after a viewer left")
        await until(lambda: len(got_b) == len(s.events), "the other viewer still fed")
        assert not s.c.done
        await b.detach()


async def test_streamed_tokens_are_not_replayed_once_the_answer_is_whole(tmp_path):
    async with Served(tmp_path / "run") as s:
        s.c.emit(ev.Token(step=1, text="ec"))
        s.c.emit(ev.Token(step=1, text="ho"))
        s.c.emit(ev.ModelResponse(step=1, content="echo"))
        viewer = await RemoteEpisode.attach(tmp_path / "run")
        got = seen(viewer)
        await asyncio.wait_for(viewer.history_done.wait(), 5)
        assert "model_response" in [e.type for e in got] and "token" not in [e.type for e in got]
        await viewer.detach()


# ==================================================================== one controller at a time


async def test_the_first_to_steer_holds_control_and_others_must_ask(tmp_path):
    async with Served(tmp_path / "run") as s:
        a = await RemoteEpisode.attach(tmp_path / "run", who="a@x")
        b = await RemoteEpisode.attach(tmp_path / "run", who="b@y")
        controls_a: list[dict] = []
        a.on_control(controls_a.append)
        reply = await a.request({"op": "command", "name": "pause", "args": {}})
        assert reply["ok"], reply
        await until(lambda: b.holder == "a@x", "b seeing a hold control")
        assert a.holds_control and not b.holds_control
        with pytest.raises(ControllerError, match="a@x holds control"):
            b.resume()
        refused = await b.request({"op": "command", "name": "resume", "args": {}})  # the server refuses too
        assert not refused["ok"] and "a@x holds control" in refused["error"]
        assert s.c.paused
        assert (await b.request({"op": "control", "action": "request"}))["ok"]
        await until(lambda: any(m["op"] == "control_request" for m in controls_a), "a told that b asks")
        assert (await a.request({"op": "control", "action": "give"}))["ok"]
        await until(lambda: b.holds_control and a.holder == "b@y", "control handed to b")
        assert (await b.request({"op": "command", "name": "resume", "args": {}}))["ok"]
        await until(lambda: not s.c.paused, "resumed by the new holder")
        changes = [(e.holder, e.reason) for e in s.of(ev.ControlChanged)]
        assert changes == [("a@x", "taken"), ("b@y", "handed over by a@x")]
        assert [(e.who, e.command, bool(e.refused)) for e in s.of(ev.CommandSent)] == [
            ("a@x", "pause", False), ("b@y", "resume", True), ("b@y", "resume", False)]
        await a.detach()
        await b.detach()


async def test_a_lost_holder_releases_control_after_the_grace_period_and_the_episode_resumes_its_mode(tmp_path):
    async with Served(tmp_path / "run", grace_s=0.3) as s:
        s.policy.answer("echo 1")
        await until(lambda: s.c.step >= 1, "a first step")
        holder = await RemoteEpisode.attach(tmp_path / "run", who="gone@x")
        watcher = await RemoteEpisode.attach(tmp_path / "run", who="w@y")
        holder.take_over()
        holder.pause()
        await until(lambda: s.c.mode == "human" and s.c.paused, "taken over and paused")
        holder._writer.transport.abort()  # killed: no detach, no release
        await asyncio.sleep(0.1)
        assert s.c.mode == "human" and watcher.holder == "gone@x"  # still within the grace period
        await until(lambda: s.c.mode == "auto" and not s.c.paused, "the mode from before the take-over", 3)
        await until(lambda: watcher.holder == "", "control released for the watcher")
        assert s.of(ev.ControlChanged)[-1].reason == "gone@x disconnected"
        s.policy.answer("echo 2")
        await until(lambda: s.c.step >= 2, "the agent going on")
        await watcher.detach()


async def test_the_same_person_reconnecting_within_the_grace_period_keeps_control(tmp_path):
    async with Served(tmp_path / "run", grace_s=5) as s:
        first = await RemoteEpisode.attach(tmp_path / "run", who="ada@lab")
        first.take_over()
        await until(lambda: s.c.mode == "human", "taken over")
        first._writer.transport.abort()
        await asyncio.sleep(0.1)
        again = await RemoteEpisode.attach(tmp_path / "run", who="ada@lab")
        await until(lambda: again.holds_control, "control back on reconnect")
        assert s.c.mode == "human"
        again.hand_back()
        await until(lambda: s.c.mode == "auto", "handed back")
        await again.detach()


# ==================================================================== bad input and faults


async def test_bad_hellos_are_refused_on_their_connection_only(tmp_path):
    async with Served(tmp_path / "run") as s:
        good = await RemoteEpisode.attach(tmp_path / "run", who="good@x")
        got = seen(good)
        path = s.server.socket_path
        for hello, expected in [(b"garbage\n", "not JSON"), (b'{"op": "ping"}\n', "must be"),
                                (b'{"op": "hello", "version": 0}\n', "protocol version 0"),
                                (b'[1, 2]\n', "expected a JSON object")]:
            reader, writer = await raw(str(path))
            writer.write(hello)
            message = await read_until(reader, "error")
            assert message["fatal"] and expected in message["error"], message
            assert await asyncio.wait_for(reader.read(), 5) == b""  # closed
            writer.close()
        s.policy.answer("echo still")
        await until(lambda: any(e.type == "step" for e in got), "the good viewer still fed")
        await good.detach()


async def test_garbage_floods_and_long_lines_after_the_hello_leave_the_episode_and_others_unaffected(tmp_path):
    async with Served(tmp_path / "run", rate=50, burst=20) as s:
        good = await RemoteEpisode.attach(tmp_path / "run", who="good@x")
        got = seen(good)
        reader, writer = await raw(str(s.server.socket_path))
        writer.write(p.encode({"op": "hello", "version": p.PROTOCOL_VERSION, "who": "bad@x"}))
        await read_until(reader, "history_end")
        writer.write(b"{not json\n")
        assert "not JSON" in (await read_until(reader, "reply"))["error"]
        writer.write(p.encode({"op": "command", "id": 1, "name": "rm -rf", "args": {}}))
        assert "unknown command" in (await read_until(reader, "reply"))["error"]
        writer.write(p.encode({"op": "command", "id": 2, "name": "inject", "args": {"command": 5}}))
        assert "wrong type" in (await read_until(reader, "reply"))["error"]
        writer.write(b"".join(p.encode({"op": "ping", "id": i}) for i in range(500)))  # a flood
        refused = []
        while True:  # refused past the burst, then cut off once the refusals pile up
            message = json.loads(await asyncio.wait_for(reader.readline(), 5))
            if message["op"] == "error":
                break
            refused += [message] if "too many messages" in (message.get("error") or "") else []
        assert refused and message["fatal"] and "bad messages" in message["error"]
        writer.close()
        reader, writer = await raw(str(s.server.socket_path))
        writer.write(p.encode({"op": "hello", "version": p.PROTOCOL_VERSION, "who": "long@x"}))
        await read_until(reader, "history_end")
        writer.write(b"x" * (p.MAX_VIEWER_LINE + 10) + b"\n")
        message = await read_until(reader, "error")
        assert message["fatal"] and "longer than" in message["error"]
        writer.close()
        s.policy.answer("echo fine")
        await until(lambda: any(e.type == "step" for e in got), "the good viewer still fed")
        assert not s.c.done
        await good.detach()


async def test_a_viewer_that_disconnects_mid_command_does_not_disturb_the_episode(tmp_path):
    async with Served(tmp_path / "run") as s:
        reader, writer = await raw(str(s.server.socket_path))
        writer.write(p.encode({"op": "hello", "version": p.PROTOCOL_VERSION, "who": "half@x"}))
        await read_until(reader, "history_end")
        writer.write(b'{"op": "command", "name": "inj')  # half a line, then gone
        await writer.drain()
        writer.transport.abort()
        s.policy.answer("echo after")
        await until(lambda: s.c.step >= 1, "the episode going on")
        assert s.env.ran == ["echo after"]


async def test_bounded_protocol_fuzzing_never_ends_the_episode(tmp_path):
    rng = random.Random(1606)
    pieces = [b"{", b"}", b'"op"', b":", b'"command"', b'"hello"', b'"control"', b'"name"', b'"stop"', b"[", b"]",
              b"null", b"1e999", b'"\\ud800"', b"\xff\xfe", b"\x00", b",", b'"args"', b'{"autosubmit": 1}', b" "]
    async with Served(tmp_path / "run") as s:
        for round_ in range(40):
            reader, writer = await raw(str(s.server.socket_path))
            if round_ % 2:
                writer.write(p.encode({"op": "hello", "version": p.PROTOCOL_VERSION, "who": f"fuzz{round_}"}))
            for _ in range(rng.randint(1, 8)):
                writer.write(b"".join(rng.choice(pieces) for _ in range(rng.randint(1, 12))) + b"\n")
            await writer.drain()
            await asyncio.sleep(0.01)
            writer.transport.abort()
        assert not s.c.done
        good = await RemoteEpisode.attach(tmp_path / "run", who="after@x")
        s.policy.answer("echo alive")
        await until(lambda: s.c.step >= 1, "the episode stepping after the fuzzing")
        assert s.env.ran == ["echo alive"]
        await good.detach()


# ==================================================================== TCP, tokens, endpoints


async def test_tcp_needs_the_token_and_a_wrong_one_is_refused(tmp_path):
    async with Served(tmp_path / "run", listen="127.0.0.1:0") as s:
        address = s.server.address
        token_file = tmp_path / "run" / "control.token"
        assert oct(token_file.stat().st_mode & 0o777) == "0o600"
        assert token_file.read_text().strip() == s.server.token
        with pytest.raises(AttachError, match="wrong or missing token"):
            await RemoteEpisode.attach(address, token="not-it")
        with pytest.raises(AttachError, match="wrong or missing token"):
            await RemoteEpisode.attach(address)
        viewer = await RemoteEpisode.attach(address, token=s.server.token, who="tcp@x")
        got = seen(viewer)
        s.policy.answer("echo tcp")
        await until(lambda: any(e.type == "step" for e in got), "events over TCP")
        await viewer.detach()
        assert s.server.token not in (tmp_path / "run" / "events.jsonl").read_text() if (
            tmp_path / "run" / "events.jsonl").exists() else True
        assert all(s.server.token not in json.dumps(e.to_dict()) for e in s.events)


async def test_listening_on_a_taken_port_is_a_one_line_error(tmp_path):
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    port = busy.getsockname()[1]
    try:
        served = Served(tmp_path / "run", listen=f"127.0.0.1:{port}")
        with pytest.raises(ListenError, match="cannot listen"):
            await served.server.start()
    finally:
        busy.close()


async def test_endpoint_files_are_written_and_removed_and_a_long_run_dir_still_gets_a_socket(tmp_path):
    deep = tmp_path / ("d" * 60) / ("e" * 60) / "run"
    assert len(str(deep / "control.sock")) > 108
    async with Served(deep) as s:
        endpoint = read_endpoint(deep)
        assert endpoint.pid == os.getpid() and Path(endpoint.socket) == socket_path_for(deep)
        assert len(endpoint.socket) <= 100 and oct(Path(endpoint.socket).stat().st_mode & 0o777) == "0o600"
        assert [e.run_dir for e in running_endpoints(tmp_path)] == [str(deep)]
        viewer = await RemoteEpisode.attach(deep)
        s.c.stop()
        await asyncio.wait_for(s.c.wait(), 5)
        await s.server.close()
        await asyncio.wait_for(viewer.wait(), 5)
        assert "ended" in viewer.lost
    assert not (deep / "control.json").exists() and not Path(endpoint.socket).exists()


async def test_attaching_to_a_dead_episode_says_so_and_offers_the_replay(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "events.jsonl").write_text("")
    with pytest.raises(AttachError, match="not running") as info:
        await RemoteEpisode.attach(run)
    assert info.value.replay_dir == run
    dead = os.fork()
    if dead == 0:
        os._exit(0)
    os.waitpid(dead, 0)
    write_endpoint(Endpoint(run_dir=str(run), pid=dead, host=socket.gethostname(), socket=str(run / "control.sock")))
    with pytest.raises(AttachError, match="process .* is gone") as info:
        await RemoteEpisode.attach(run)
    assert info.value.replay_dir == run and "mlgym-tui replay" in str(info.value)
    assert running_endpoints(tmp_path) == []
