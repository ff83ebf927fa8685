"""Chat model access through litellm: streaming, usage and cost accounting, retries with backoff.

Local servers (Ollama, vLLM, llama.cpp, anything OpenAI-compatible) work through `api_base`, e.g.
model `openai/<served name>` with `api_base: http://127.0.0.1:8000/v1`, or `ollama/<name>` with
`api_base: http://127.0.0.1:11434`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import logging
import os
import re
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from mlgym_tui.agents.errors import ContextWindowExceeded, ModelAPIError, ModelConfigError
from mlgym_tui.config.agent import ModelSettings

log = logging.getLogger(__name__)

OnToken = Callable[[str], Awaitable[None] | None]
OnRetry = Callable[[int, str, float], Awaitable[None] | None]

_RETRYABLE_STATUS = {408, 409, 429}
_warned_unpriced: set[str] = set()


@dataclass(frozen=True)
class ModelReply:
    content: str
    tokens_in: int
    tokens_out: int
    cost: float


OnLoading = Callable[[bool, float], Awaitable[None] | None]

_import_lock = threading.Lock()
_import_future: concurrent.futures.Future | None = None


def _import_litellm() -> Any:
    import litellm

    litellm.suppress_debug_info = True
    return litellm


def preload_litellm() -> concurrent.futures.Future:
    """Start importing litellm on a worker thread, once per process; the future holds the module (or the error).

    Importing litellm takes seconds. Done inside the first model call it would run on the event loop and freeze
    the whole UI, so whoever sets up an LLM episode calls this first and the first call awaits the import.
    """
    global _import_future
    with _import_lock:
        if _import_future is None:
            # Without this variable the import fetches a price list from the network.
            os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
            future: concurrent.futures.Future = concurrent.futures.Future()
            future.set_running_or_notify_cancel()

            def load() -> None:
                try:
                    future.set_result(_import_litellm())
                except BaseException as exc:  # noqa: BLE001 - handed to whoever awaits the module
                    future.set_exception(exc)

            # A daemon thread: quitting during the import must not wait for it.
            threading.Thread(target=load, name="import-litellm", daemon=True).start()
            _import_future = future
        return _import_future


def model_library_loading() -> bool:
    """True while the import started by `preload_litellm` is still running."""
    future = _import_future
    return future is not None and not future.done()


def _module(future: concurrent.futures.Future) -> Any:
    try:
        return future.result()
    except ImportError as exc:
        raise ModelConfigError(f"the model library (litellm) cannot be imported: {exc}; run `uv sync`") from None


async def load_litellm(on_loading: OnLoading | None = None) -> Any:
    """litellm, imported on a worker thread; the caller's loop keeps running while it loads.
    `on_loading(False, 0)` then `on_loading(True, seconds)` tell of a wait, when there is one."""
    future = preload_litellm()
    if future.done():
        return _module(future)
    t0 = time.monotonic()
    await _call(on_loading, False, 0.0)
    try:
        await asyncio.wrap_future(future)  # cancelling this wait leaves the import running for the next caller
    except Exception:
        pass  # reported by _module below
    finally:
        await _call(on_loading, True, time.monotonic() - t0)
    return _module(future)


def _litellm() -> Any:
    """litellm for synchronous callers (the import is waited for, never done twice)."""
    return _module(preload_litellm())


async def _call(callback: Callable[..., Any] | None, *args: Any) -> None:
    if callback is None:
        return
    result = callback(*args)
    if inspect.isawaitable(result):
        await result


_NOISE = re.compile(r"^(?:(?:litellm\.)?\w*(?:Error|Exception):\s*)+|\b\w+Exception - ")


def _one_line(exc: BaseException, secret: str | None) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    text = _NOISE.sub("", text).strip()
    text = _NOISE.sub("", text).strip()
    if secret:
        text = text.replace(secret, "***")
    return text[:300]


def _status(exc: BaseException) -> int | None:
    status = getattr(exc, "status_code", None)
    return status if isinstance(status, int) else None


_UNROUTABLE = "llm provider not provided"


def config_problem(litellm: Any, exc: BaseException, detail: str, model: str) -> str | None:
    """What to fix when a refused request is about configuration, not about this one request: a key refused
    (401, 403), a model or endpoint not found (404), a model litellm cannot route, or a bad request that names
    the model. None for anything else (a bad parameter value, an exhausted quota are the request's own)."""
    status = _status(exc)
    if status in (401, 403) or isinstance(exc, (litellm.AuthenticationError, litellm.PermissionDeniedError)):
        return "the API key was refused"
    if status == 404 or isinstance(exc, litellm.NotFoundError):
        return "the model or its endpoint was not found; check model.name and model.api_base"
    text = detail.lower()
    if _UNROUTABLE in text:
        return "litellm does not know its provider; write it as provider/model (e.g. openai/gpt-4o)"
    served = model.rsplit("/", 1)[-1].lower()
    if (status == 400 or isinstance(exc, litellm.BadRequestError)) and "model" in text and served in text:
        return "the provider refused this model; check model.name"
    return None


def _retry_after(exc: BaseException) -> float | None:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if not headers:
        return None
    try:
        value = headers.get("retry-after")
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None  # an HTTP date; the exponential backoff is good enough


class LiteLLMModel:
    def __init__(self, settings: ModelSettings, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.settings = settings
        self._sleep = sleep

    # -- cost -------------------------------------------------------------------------------------------------
    def cost(self, tokens_in: int, tokens_out: int) -> float:
        """Config prices win (the user said so); else litellm's price map; else 0 with a one-time warning."""
        override = self.settings.cost
        if override is not None:
            return tokens_in * override.input_per_token + tokens_out * override.output_per_token
        litellm = _litellm()
        try:
            prompt, completion = litellm.cost_per_token(
                model=self.settings.name, prompt_tokens=tokens_in, completion_tokens=tokens_out
            )
            return float(prompt + completion)
        except Exception:
            if self.settings.name not in _warned_unpriced:
                _warned_unpriced.add(self.settings.name)
                log.warning(
                    "model %s has no known price; costs count as 0 (set model.cost.input_per_1m and "
                    "output_per_1m in the agent config to track them)",
                    self.settings.name,
                )
            return 0.0

    # -- query ------------------------------------------------------------------------------------------------
    def _request(self, messages: list[dict[str, str]], api_key: str | None) -> dict[str, Any]:
        s = self.settings
        kwargs: dict[str, Any] = {
            "model": s.name,
            "messages": messages,
            "stream": True,
            "stream_options": {"include_usage": True},
            "temperature": s.temperature,
            "top_p": s.top_p,
            "timeout": s.timeout_s,
            # Retries are ours (reported, with backoff); the client's own hidden retries are switched off.
            "max_retries": 0,
            "num_retries": 0,
            **s.extra_params,
        }
        if s.max_tokens is not None:
            kwargs["max_tokens"] = s.max_tokens
        if s.api_base:
            kwargs["api_base"] = s.api_base
        if api_key:
            kwargs["api_key"] = api_key
        elif s.api_base and s.api_key_env is None:
            # Local OpenAI-compatible servers ignore the key, but the OpenAI client refuses to start without one.
            kwargs["api_key"] = "no-key"
        return kwargs

    def _resolve_key(self) -> str | None:
        env = self.settings.api_key_env
        if env is None:
            return None
        key = os.environ.get(env)
        if not key:
            raise ModelConfigError(
                f"model.api_key_env names {env}, but that environment variable is not set; export {env}=<your key>"
            )
        return key

    async def _stream_once(
        self, litellm: Any, kwargs: dict[str, Any], on_token: OnToken | None
    ) -> tuple[str, int | None, int | None]:
        parts: list[str] = []
        usage = None
        response = await litellm.acompletion(**kwargs)
        async for chunk in response:
            if getattr(chunk, "usage", None):
                usage = chunk.usage
            if chunk.choices:
                text = getattr(chunk.choices[0].delta, "content", None)
                if text:
                    parts.append(text)
                    await _call(on_token, text)
        tokens_in = getattr(usage, "prompt_tokens", None) if usage else None
        tokens_out = getattr(usage, "completion_tokens", None) if usage else None
        return "".join(parts), tokens_in, tokens_out

    def _retry_reason(self, litellm: Any, exc: BaseException) -> str | None:
        """Why this failure is worth retrying, or None when it is not."""
        status = _status(exc)
        if isinstance(exc, litellm.Timeout):
            return "timeout"
        if isinstance(exc, litellm.RateLimitError) or status == 429:
            return "rate limited (429)"
        if isinstance(exc, litellm.APIConnectionError) and status is None:
            return "connection error"
        if status is not None and (status >= 500 or status in _RETRYABLE_STATUS):
            return f"server error ({status})"
        if isinstance(exc, (litellm.InternalServerError, litellm.ServiceUnavailableError, litellm.APIConnectionError)):
            return "server error"
        return None

    async def query(
        self,
        messages: list[dict[str, str]],
        on_token: OnToken | None = None,
        on_retry: OnRetry | None = None,
        on_loading: OnLoading | None = None,
    ) -> ModelReply:
        """One chat completion. Tokens reach `on_token` as they stream in; a retried attempt streams anew
        (the caller hears of it through `on_retry(attempt, reason, wait_s)` first). The first call of a process
        may have to wait for litellm's import (see `load_litellm`), told through `on_loading`."""
        litellm = await load_litellm(on_loading)
        api_key = self._resolve_key()
        kwargs = self._request(messages, api_key)
        s = self.settings
        attempt = 0
        while True:
            try:
                content, tokens_in, tokens_out = await self._stream_once(litellm, kwargs, on_token)
                break
            except litellm.ContextWindowExceededError as exc:
                raise ContextWindowExceeded(f"{s.name}: context window exceeded: {_one_line(exc, api_key)}") from None
            except Exception as exc:
                reason = self._retry_reason(litellm, exc)
                detail = _one_line(exc, api_key)
                if reason is None:
                    if "context length" in detail.lower() or "context window" in detail.lower():
                        raise ContextWindowExceeded(f"{s.name}: context window exceeded: {detail}") from None
                    status = _status(exc)
                    hint = ""
                    if status in (401, 403) and s.api_key_env:
                        hint = f"; check the key in ${s.api_key_env}"
                    code = f" ({status})" if status else ""
                    message = f"{s.name}: {type(exc).__name__}{code}: {detail}{hint}"
                    problem = config_problem(litellm, exc, detail, s.name)
                    if problem is not None:
                        raise ModelConfigError(f"{message} ({problem})") from None
                    raise ModelAPIError(message) from None
                attempt += 1
                if attempt > s.max_retries:
                    raise ModelAPIError(
                        f"{s.name}: gave up after {s.max_retries} retries; last error: {reason}: {detail}"
                    ) from None
                wait = s.backoff_base_s * 2 ** (attempt - 1)
                retry_after = _retry_after(exc)
                if retry_after is not None:
                    wait = max(wait, retry_after)
                wait = min(wait, s.backoff_max_s)
                await _call(on_retry, attempt, reason, wait)
                await self._sleep(wait)

        if not tokens_in:
            tokens_in = litellm.token_counter(model=s.name, messages=messages)
        if tokens_out is None:
            tokens_out = litellm.token_counter(model=s.name, text=content) if content else 0
        return ModelReply(content, int(tokens_in), int(tokens_out), self.cost(int(tokens_in), int(tokens_out)))
