"""Split a model answer into its thought and its single fenced command (MLGym's answer format)."""

from __future__ import annotations

import re
from dataclasses import dataclass

# A fence is a line that starts with three or more backticks; the opener may name a language (```bash).
_FENCE = re.compile(r"^[ \t]*(`{3,})[ \t]*([\w+.-]*)[ \t]*$")


class FormatError(ValueError):
    """The answer does not hold exactly one fenced command block; `reason` says what was wrong."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ParsedAction:
    thought: str
    action: str


def _blocks(lines: list[str]) -> list[tuple[int, int]]:
    """(first, last) line index of each fenced block, fences included."""
    blocks: list[tuple[int, int]] = []
    i = 0
    while i < len(lines):
        opener = _FENCE.match(lines[i])
        if not opener:
            i += 1
            continue
        ticks = len(opener.group(1))
        # A longer opening fence lets the body hold shorter fences (editing a Markdown file, say).
        for j in range(i + 1, len(lines)):
            closer = _FENCE.match(lines[j])
            if closer and not closer.group(2) and len(closer.group(1)) >= ticks:
                blocks.append((i, j))
                i = j + 1
                break
        else:
            raise FormatError(
                f"the code block opened on line {i + 1} is never closed; end the command with a line of ```"
            )
    return blocks


def parse_response(text: str) -> ParsedAction:
    lines = text.splitlines()
    blocks = _blocks(lines)
    if not blocks:
        raise FormatError(
            "no command found; put exactly one command in a fenced code block (```) after your discussion"
        )
    if len(blocks) > 1:
        raise FormatError(
            f"found {len(blocks)} code blocks; answer with exactly one command block per response"
        )
    first, last = blocks[0]
    action = "\n".join(lines[first + 1 : last]).strip("\n")
    if not action.strip():
        raise FormatError("the command block is empty; put the command to run inside the ``` fences")
    thought = "\n".join(lines[:first] + lines[last + 1 :]).strip()
    return ParsedAction(thought=thought, action=action)
