import logging

import pytest
from agents_helpers import scripted_config
from model_server import context_length_exceeded, rate_limited, scripted_server, server_error  # noqa: F401

from mlgym_tui.agents.errors import ContextWindowExceeded, ModelAPIError
from mlgym_tui.agents.model import LiteLLMModel

MESSAGES = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "say hello"}]


def model_for(server, **settings) -> LiteLLMModel:
    return LiteLLMModel(scripted_config(server.api_base, **settings).model)


async def test_tokens_stream_in_order_and_usage_is_counted(scripted_server):
    text = "Hello there, this answer arrives in small pieces."
    scripted_server.set_script([{"reply": text, "chunk_chars": 3, "usage": {"prompt_tokens": 1000, "completion_tokens": 500}}])
    tokens = []
    reply = await model_for(scripted_server, cost={"input_per_1m": 2.0, "output_per_1m": 10.0}).query(MESSAGES, on_token=tokens.append)
    assert len(tokens) > 10 and "".join(tokens) == text == reply.content
    assert (reply.tokens_in, reply.tokens_out) == (1000, 500)
    assert reply.cost == pytest.approx(1000 * 2.0e-6 + 500 * 10.0e-6)
    body = scripted_server.requests[0].body
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["messages"] == MESSAGES and body["temperature"] == 0.0


async def test_missing_usage_is_estimated(scripted_server):
    scripted_server.set_script([{"reply": "one two three four", "usage": False}])
    reply = await model_for(scripted_server).query(MESSAGES)
    assert reply.tokens_in > 0 and reply.tokens_out > 0


async def test_unknown_model_without_price_costs_zero_and_warns_once(scripted_server, caplog):
    scripted_server.set_script(["a", "b"])
    model = model_for(scripted_server, name="openai/scripted-unpriced")
    with caplog.at_level(logging.WARNING):
        first = await model.query(MESSAGES)
        second = await model.query(MESSAGES)
    assert first.cost == second.cost == 0.0
    assert sum("has no known price" in r.message for r in caplog.records) == 1


async def test_rate_limit_then_success_reports_the_retry(scripted_server):
    scripted_server.set_script([rate_limited(0), "fine"])
    retries = []
    reply = await model_for(scripted_server).query(MESSAGES, on_retry=lambda *a: retries.append(a))
    assert reply.content == "fine"
    assert len(retries) == 1 and retries[0][0] == 1 and "429" in retries[0][1] and retries[0][2] > 0
    assert len(scripted_server.requests) == 2


async def test_server_error_then_success(scripted_server):
    scripted_server.set_script([server_error(500), "recovered"])
    retries = []
    reply = await model_for(scripted_server).query(MESSAGES, on_retry=lambda *a: retries.append(a))
    assert reply.content == "recovered" and [r[0] for r in retries] == [1]


async def test_dropped_connection_is_retried(scripted_server):
    scripted_server.set_script([{"disconnect": True}, "back"])
    reply = await model_for(scripted_server).query(MESSAGES)
    assert reply.content == "back"


async def test_backoff_grows_and_retries_run_out(scripted_server):
    scripted_server.set_script([server_error(500)] * 4)
    waits = []
    with pytest.raises(ModelAPIError, match="gave up after 2 retries") as err:
        await model_for(scripted_server, backoff_base_s=0.01, backoff_max_s=1).query(
            MESSAGES, on_retry=lambda attempt, reason, wait: waits.append(wait)
        )
    assert waits == [0.01, 0.02]
    assert len(scripted_server.requests) == 3  # the first try and two retries, no hidden client retries
    assert "\n" not in str(err.value)


async def test_context_window_error_is_its_own_exception(scripted_server):
    scripted_server.set_script([context_length_exceeded()])
    with pytest.raises(ContextWindowExceeded, match="maximum context length"):
        await model_for(scripted_server).query(MESSAGES)
    assert len(scripted_server.requests) == 1


async def test_auth_error_is_one_line_and_not_retried(scripted_server, monkeypatch):
    monkeypatch.setenv("SCRIPTED_KEY", "sk-very-secret")
    scripted_server.set_script([{"status": 401, "body": {"error": {"message": "Incorrect API key provided: sk-very-secret"}}}])
    with pytest.raises(ModelAPIError) as err:
        await model_for(scripted_server, api_key_env="SCRIPTED_KEY").query(MESSAGES)
    message = str(err.value)
    assert "(401)" in message and "$SCRIPTED_KEY" in message and "sk-very-secret" not in message
    assert len(scripted_server.requests) == 1


async def test_missing_key_variable_is_explained(scripted_server, monkeypatch):
    monkeypatch.delenv("SCRIPTED_KEY_UNSET", raising=False)
    with pytest.raises(ModelAPIError, match="SCRIPTED_KEY_UNSET, but that environment variable is not set"):
        await model_for(scripted_server, api_key_env="SCRIPTED_KEY_UNSET").query(MESSAGES)
    assert scripted_server.requests == []


async def test_key_is_read_from_the_environment_at_call_time(scripted_server, monkeypatch):
    scripted_server.set_script(["one", "two"])
    model = model_for(scripted_server, api_key_env="SCRIPTED_KEY")
    monkeypatch.setenv("SCRIPTED_KEY", "sk-first")
    await model.query(MESSAGES)
    monkeypatch.setenv("SCRIPTED_KEY", "sk-rotated")
    await model.query(MESSAGES)
    auth = [r.headers.get("Authorization") for r in scripted_server.requests]
    assert auth == ["Bearer sk-first", "Bearer sk-rotated"]


async def test_timeout_is_retried(scripted_server):
    scripted_server.set_script([{"reply": "too late", "delay": 3}, "in time"])
    retries = []
    reply = await model_for(scripted_server, timeout_s=0.5).query(MESSAGES, on_retry=lambda *a: retries.append(a))
    assert reply.content == "in time"
    assert [r[1] for r in retries] == ["timeout"]
