"""Prompt template rendering that is safe for arbitrary observations.

str.format would choke on (or worse, interpret) braces in shell output, JSON and Python code. Here only
`{name}` for a known placeholder is replaced, in a single pass, so a value that itself contains
`{observation}` is never expanded a second time.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

PLACEHOLDERS = (
    "command_docs",  # system
    "task_description",  # task
    "observation",  # next_step
    "current_step",
    "remaining_steps",
    "open_file",
    "working_dir",
    "memory_records_num",  # MLGym's memory module (tasks with a memory_path)
    "memory_records_tags",
    "reason",  # format_error
    "action",  # human_step, edited_step, not_run
    "message",  # user_message
    "lines",  # history omitted_note
)

_PLACEHOLDER = re.compile(r"\{(" + "|".join(PLACEHOLDERS) + r")\}")


def render_template(template: str, values: Mapping[str, object]) -> str:
    """Substitute the known placeholders present in `values`; every other brace stays as written."""

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        return str(values[name]) if name in values else match.group(0)

    return _PLACEHOLDER.sub(substitute, template)
