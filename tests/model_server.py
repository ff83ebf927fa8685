"""A scripted OpenAI-compatible chat server for tests: real HTTP, canned answers.

litellm reaches it with model ``openai/scripted`` and ``api_base=server.api_base``.

The script is a list consumed one item per request (a ``{"delay": s}`` item is consumed together with the
item after it). Items:

- ``"text"``                                    answer with this text (streamed or not, as the client asked)
- ``{"reply": "text", "usage": {...} | False,   the same, with fixed usage numbers or no usage chunk at all,
    "chunk_chars": 4, "delay": 0.0}``           a chunk size for streaming and a delay before answering
- ``{"status": 429, "body": {...}, "headers": {...}}``  an HTTP error
- ``{"delay": 1.5}``                            wait, then serve the next item for the same request
- ``{"disconnect": True}``                      close the connection without answering

Helpers build the common errors: ``rate_limited()``, ``server_error()``, ``context_length_exceeded()``,
``bad_request()``. Every request is recorded (``.requests``: path, headers, JSON body).

Three ways to run it:
- from sync or async test code: ``ScriptedModelServer().start()`` runs its own loop in a background thread;
- as the ``scripted_server`` pytest fixture (import it into a test module);
- as a process for end-to-end tests of the CLI: ``python tests/model_server.py --port 0 --script s.json``
  prints ``READY <api_base>`` once listening. ``POST /_script`` (a JSON list) replaces the script and
  ``GET /_requests`` returns what was received, so a test can steer a server it did not start in-process.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

ScriptItem = str | dict[str, Any]


@dataclass
class RecordedRequest:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def messages(self) -> list[dict[str, Any]]:
        return self.body.get("messages", [])

    @property
    def prompt_text(self) -> str:
        """Every message content joined: handy for `"x" in req.prompt_text` assertions."""
        return "\n".join(str(m.get("content", "")) for m in self.messages)


def rate_limited(retry_after: float | None = 0) -> dict[str, Any]:
    headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
    return {
        "status": 429,
        "headers": headers,
        "body": {"error": {"message": "Rate limit reached, slow down", "type": "rate_limit_error", "code": "rate_limit_exceeded"}},
    }


def server_error(status: int = 500) -> dict[str, Any]:
    return {"status": status, "body": {"error": {"message": "The server had an error", "type": "server_error"}}}


def context_length_exceeded() -> dict[str, Any]:
    return {
        "status": 400,
        "body": {
            "error": {
                "message": "This model's maximum context length is 8192 tokens. However, your messages resulted "
                "in 9000 tokens. Please reduce the length of the messages.",
                "type": "invalid_request_error",
                "param": "messages",
                "code": "context_length_exceeded",
            }
        },
    }


def bad_request(message: str = "Invalid value for 'temperature'") -> dict[str, Any]:
    return {"status": 400, "body": {"error": {"message": message, "type": "invalid_request_error", "code": None}}}


def _count_tokens(text: str) -> int:
    # Deterministic and crude on purpose: tests compare against it, not against a real tokenizer.
    return len(text.split())


def _chunks(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


class ScriptedModelServer:
    def __init__(self, script: list[ScriptItem] | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self._script: list[ScriptItem] = list(script or [])
        self._lock = threading.Lock()
        self.requests: list[RecordedRequest] = []
        self.record_path: Path | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- script -------------------------------------------------------------------------------------------
    def set_script(self, script: list[ScriptItem]) -> None:
        with self._lock:
            self._script = list(script)

    def extend_script(self, script: list[ScriptItem]) -> None:
        with self._lock:
            self._script.extend(script)

    @property
    def remaining(self) -> int:
        with self._lock:
            return len(self._script)

    def _next_item(self) -> ScriptItem | None:
        with self._lock:
            return self._script.pop(0) if self._script else None

    @property
    def api_base(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    # -- http -------------------------------------------------------------------------------------------------
    def _app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/chat/completions", self._chat)
        app.router.add_post("/_script", self._replace_script)
        app.router.add_get("/_requests", self._list_requests)
        return app

    async def _replace_script(self, request: web.Request) -> web.Response:
        self.set_script(await request.json())
        return web.json_response({"ok": True})

    async def _list_requests(self, request: web.Request) -> web.Response:
        return web.json_response([r.__dict__ for r in self.requests])

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        recorded = RecordedRequest(request.path, dict(request.headers), body)
        self.requests.append(recorded)
        if self.record_path is not None:
            with self.record_path.open("a") as fh:
                fh.write(json.dumps(recorded.__dict__) + "\n")

        item = self._next_item()
        while isinstance(item, dict) and set(item) == {"delay"}:
            await asyncio.sleep(float(item["delay"]))
            item = self._next_item()
        if item is None:
            # 400 is not retried by clients, so a test that under-scripted fails at once with this message.
            return web.json_response(
                {"error": {"message": f"scripted server: script exhausted after {len(self.requests) - 1} requests", "type": "invalid_request_error"}},
                status=400,
            )
        if isinstance(item, str):
            item = {"reply": item}
        if item.get("delay"):
            await asyncio.sleep(float(item["delay"]))
        if item.get("disconnect"):
            assert request.transport is not None
            request.transport.close()
            return web.Response(status=500)
        if "status" in item:
            return web.json_response(item.get("body", {}), status=int(item["status"]), headers=item.get("headers", {}))
        return await self._answer(request, body, item)

    async def _answer(self, request: web.Request, body: dict[str, Any], item: dict[str, Any]) -> web.StreamResponse:
        text = str(item.get("reply", ""))
        model = body.get("model", "scripted")
        prompt = "\n".join(str(m.get("content", "")) for m in body.get("messages", []))
        usage = item.get("usage")
        if usage is None:
            usage = {"prompt_tokens": _count_tokens(prompt), "completion_tokens": _count_tokens(text)}
        if usage is not False:
            usage = {**usage, "total_tokens": usage["prompt_tokens"] + usage["completion_tokens"]}
        ident, created = f"chatcmpl-{len(self.requests)}", int(time.time())

        if not body.get("stream"):
            payload: dict[str, Any] = {
                "id": ident,
                "object": "chat.completion",
                "created": created,
                "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            }
            if usage is not False:
                payload["usage"] = usage
            return web.json_response(payload)

        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await resp.prepare(request)

        async def send(data: dict[str, Any] | str) -> None:
            line = data if isinstance(data, str) else json.dumps(data)
            await resp.write(f"data: {line}\n\n".encode())

        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            return {
                "id": ident,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }

        for i, piece in enumerate(_chunks(text, int(item.get("chunk_chars", 4)))):
            await send(chunk({"role": "assistant", "content": piece} if i == 0 else {"content": piece}))
        await send(chunk({}, "stop"))
        wants_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        if wants_usage and usage is not False:
            await send({"id": ident, "object": "chat.completion.chunk", "created": created, "model": model, "choices": [], "usage": usage})
        await send("[DONE]")
        await resp.write_eof()
        return resp

    # -- lifecycle ----------------------------------------------------------------------------------------------
    async def astart(self) -> "ScriptedModelServer":
        """Serve on the running loop (for async code that owns the loop)."""
        self._runner = web.AppRunner(self._app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def astop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def start(self) -> "ScriptedModelServer":
        """Serve from a background thread with its own loop: usable from sync code and any event loop."""
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            try:
                self._loop.run_until_complete(self.astart())
            except BaseException as exc:  # surfaced to the caller of start()
                failure.append(exc)
                ready.set()
                return
            ready.set()
            self._loop.run_forever()
            self._loop.run_until_complete(self.astop())
            self._loop.close()

        self._thread = threading.Thread(target=run, name="scripted-model-server", daemon=True)
        self._thread.start()
        ready.wait(10)
        if failure:
            raise RuntimeError(f"scripted model server could not start: {failure[0]}")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._thread = None
            self._loop = None

    def __enter__(self) -> "ScriptedModelServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


try:  # the fixture is optional so the module also runs as a plain process
    import pytest

    @pytest.fixture
    def scripted_server():
        server = ScriptedModelServer().start()
        try:
            yield server
        finally:
            server.stop()

except ImportError:  # pragma: no cover
    pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Scripted OpenAI-compatible chat server for tests")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (printed on the READY line)")
    parser.add_argument("--script", type=Path, help="JSON file holding the list of script items")
    parser.add_argument("--record", type=Path, help="append each request as one JSON line to this file")
    args = parser.parse_args(argv)

    script: list[ScriptItem] = []
    if args.script:
        try:
            script = json.loads(args.script.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            print(f"error: --script {args.script}: cannot read a JSON list ({exc})", file=sys.stderr)
            return 2
        if not isinstance(script, list):
            print(f"error: --script {args.script}: expected a JSON list of script items", file=sys.stderr)
            return 2

    server = ScriptedModelServer(script, host=args.host, port=args.port)
    server.record_path = args.record

    async def serve() -> None:
        await server.astart()
        print(f"READY {server.api_base}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await server.astop()

    asyncio.run(serve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
