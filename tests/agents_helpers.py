"""Shared bits for the agent tests: a config pointing at the scripted server, with fast retries."""

from __future__ import annotations

from typing import Any

from mlgym_tui.config.agent import AgentConfig, load_agent_config


def scripted_config(api_base: str, **model: Any) -> AgentConfig:
    base = load_agent_config("default")
    settings = {
        "name": "openai/scripted",
        "api_base": api_base,
        "api_key_env": None,
        "max_retries": 2,
        "backoff_base_s": 0.01,
        "backoff_max_s": 0.05,
        "timeout_s": 10,
        **model,
    }
    data = base.model_dump()
    data["model"] = settings
    return AgentConfig.model_validate(data)
