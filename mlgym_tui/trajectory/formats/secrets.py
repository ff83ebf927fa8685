"""Keep secrets out of exported and imported trajectories, whatever the source file holds.

The recorder already scrubs what it knew of; an export adds three nets, because a run may have been recorded on
another machine, by an older version, or by another tool: the values of this environment's secret-named variables,
values held under secret-named keys of the run's config.yaml (even if it was never redacted), and secrets that
announce themselves in text: `NAME=value` / `"name": "value"` with a secret-looking NAME, `Bearer ...`, and the
well-known key shapes (sk-..., hf_..., ghp_..., AKIA..., xox?-...).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from mlgym_tui.trajectory.redaction import (
    REDACTED,
    name_looks_secret,
    redact,
    scrub_text,
    secret_config_values,
    secret_env_values,
)

# NAME = value, NAME: value, "NAME": "value". The value must look like a credential (12+ token characters with a
# letter and a digit), so code such as `api_key = os.environ[...]` in an observation stays readable.
_ASSIGNMENT = re.compile(
    r"""(?P<name>[A-Za-z_][A-Za-z0-9_.-]*)(?P<sep>["']?[ \t]*[:=][ \t]*["']?)(?P<value>[A-Za-z0-9_./+=-]{12,})"""
)
_LETTER_AND_DIGIT = re.compile(r"(?=.*[A-Za-z])(?=.*[0-9])")
_SHAPES = re.compile(
    r"\b(?:sk-(?:ant-|proj-)?[A-Za-z0-9_-]{16,}|hf_[A-Za-z0-9]{16,}|gh[pousr]_[A-Za-z0-9]{20,}"
    r"|github_pat_[A-Za-z0-9_]{20,}|AKIA[0-9A-Z]{16}|xox[abprs]-[A-Za-z0-9-]{10,})"
)
_BEARER = re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]{12,}")


class Scrubber:
    def __init__(self, config: Any = None, environ: Mapping[str, str] | None = None,
                 extra_values: Iterable[str] = ()) -> None:
        values = set(secret_env_values(environ)) | set(secret_config_values(config)) | set(extra_values)
        self.values = sorted((v for v in values if v and v != REDACTED), key=len, reverse=True)
        self.environ = environ

    def text(self, text: str) -> str:
        if not text:
            return text
        text = scrub_text(text, self.values)
        text = _ASSIGNMENT.sub(_hide_assignment, text)
        text = _BEARER.sub(lambda m: m.group(1) + REDACTED, text)
        return _SHAPES.sub(REDACTED, text)

    def tree(self, node: Any) -> Any:
        """Every string of a JSON-like value scrubbed; secret-named keys' scalar values replaced whole."""
        if isinstance(node, str):
            return self.text(node)
        if isinstance(node, Mapping):
            return {key: self.tree(value) for key, value in redact(dict(node), self.environ).items()}
        if isinstance(node, (list, tuple)):
            return [self.tree(item) for item in node]
        return node


def _hide_assignment(match: re.Match[str]) -> str:
    value = match.group("value")
    if not name_looks_secret(match.group("name")) or not _LETTER_AND_DIGIT.match(value):
        return match.group(0)
    return f"{match.group('name')}{match.group('sep')}{REDACTED}"
