"""Keep secrets out of everything a run leaves on disk.

Two sources of secrets: config keys whose names look secret (api_key, token, password, ...) and the values of
environment variables whose names look secret (OPENAI_API_KEY, HF_TOKEN, ...), which may have been copied into
any string of the config, or printed into an observation by an agent that ran `env`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

REDACTED = "***"

# Compared against the words of a name (split on _ - . and camelCase), so "max_tokens" or "keymap" stay visible
# while "api_key", "hf_token" and "apiKey" do not.
_SECRET_WORDS = frozenset(
    {
        "key", "apikey", "token", "secret", "password", "passwd", "pwd", "passphrase", "authorization",
        "auth", "credential", "credentials", "cookie", "bearer", "private",
    }
)
# Shorter values are too likely to occur by chance in ordinary text ("1", "true") to be scrubbed as substrings.
MIN_SECRET_LENGTH = 8


def name_looks_secret(name: str) -> bool:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", str(name))
    words = [word.lower() for word in re.split(r"[^A-Za-z0-9]+", spaced) if word]
    return any(word in _SECRET_WORDS for word in words)


def secret_env_values(environ: Mapping[str, str] | None = None) -> list[str]:
    env = os.environ if environ is None else environ
    values = {value for name, value in env.items() if name_looks_secret(name) and len(value) >= MIN_SECRET_LENGTH}
    # Longest first so that a secret containing another is replaced whole.
    return sorted(values, key=len, reverse=True)


def scrub_text(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def redact(config: Any, environ: Mapping[str, str] | None = None) -> Any:
    """A deep copy of `config` with secret-named keys set to "***" and secret env values scrubbed from strings."""
    return _redact(config, secret_env_values(environ))


def secret_config_values(config: Any) -> list[str]:
    """String values held under secret-looking keys, so the recorder can scrub them from event text too."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, Mapping):
            for key, value in node.items():
                if name_looks_secret(key) and isinstance(value, str) and len(value) >= MIN_SECRET_LENGTH:
                    found.add(value)
                walk(value)
        elif isinstance(node, (list, tuple)):
            for item in node:
                walk(item)

    walk(config)
    return sorted(found, key=len, reverse=True)


def _redact(node: Any, env_secrets: list[str]) -> Any:
    if isinstance(node, Mapping):
        out = {}
        for key, value in node.items():
            if name_looks_secret(key) and _is_hideable_scalar(value):
                out[key] = REDACTED
            else:
                out[key] = _redact(value, env_secrets)
        return out
    if isinstance(node, (list, tuple)):
        return [_redact(item, env_secrets) for item in node]
    if isinstance(node, str):
        return scrub_text(node, env_secrets)
    if node is None or isinstance(node, (bool, int, float)):
        return node
    # Paths, enums and the like: YAML's safe dumper refuses them, and their text may hold a secret too.
    return scrub_text(str(node), env_secrets)


def _is_hideable_scalar(value: Any) -> bool:
    # None and booleans carry no secret ("api_key: null" usefully says "not set"); numbers can (password: 1234).
    return value is not None and not isinstance(value, (bool, Mapping, list, tuple))
