"""Turning raw terminal bytes into text that is safe to show a model or a widget."""

from __future__ import annotations

import re

# CSI, OSC (ended by BEL or ST), DCS/SOS/PM/APC strings, and two-byte escapes.
_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"
    r"|\x1b[ -/]*[0-~]"
    r"|\x9b[0-?]*[ -/]*[@-~]"
)
# Control characters other than tab and newline, including C1 controls some terminals obey.
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def decode(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def strip_escapes(text: str) -> str:
    """Text for the model: no escape sequences, no controls, carriage-return overwrites applied."""
    text = _ESCAPES.sub("", text)
    text = text.replace("\r\n", "\n")
    if "\r" in text:
        # A progress bar redraws its line with \r: keep what the terminal would finally show.
        text = "\n".join(line.rsplit("\r", 1)[-1] if "\r" in line else line for line in text.split("\n"))
    return _CONTROLS.sub("", text)


def bash_quote(text: str) -> str:
    """Quote text as a bash $'...' string made only of printable ASCII.

    Printable ASCII matters because the command travels through a terminal in canonical mode,
    where control bytes would act as signals or line edits.
    """
    return "$'" + "".join(_quote_char(ch) for ch in text) + "'"


def bash_quote_chunks(text: str, width: int = 400) -> list[str]:
    """Like bash_quote, split into pieces of at most about `width` characters each.

    Terminal lines are limited to 4096 bytes in canonical mode, so long commands travel as several
    assignments that bash concatenates.
    """
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for ch in text:
        piece = _quote_char(ch)
        if size + len(piece) > width and current:
            chunks.append("$'" + "".join(current) + "'")
            current, size = [], 0
        current.append(piece)
        size += len(piece)
    chunks.append("$'" + "".join(current) + "'")
    return chunks


def _quote_char(ch: str) -> str:
    if ch == "'":
        return "\\'"
    if ch == "\\":
        return "\\\\"
    if ch == "\n":
        return "\\n"
    if " " <= ch <= "~":
        return ch
    return "".join(f"\\x{b:02x}" for b in ch.encode("utf-8", errors="surrogateescape"))
