"""Reading a .traj JSON document that may have been cut short.

MLGym rewrites the whole file after each step with a plain write, so a crash (or a copy taken mid-write) can leave
a prefix of the JSON. json.loads rejects it entirely; this scanner walks the top-level object with raw_decode and
keeps every complete value, including every complete element of the "trajectory" and "history" lists.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

_WHITESPACE = re.compile(r"[ \t\n\r]*")
_LIST_KEYS = ("trajectory", "history")
_DECODER = json.JSONDecoder()


class NotJsonObject(ValueError):
    pass


@dataclass
class ScanResult:
    document: dict[str, Any]
    complete: bool
    cut_in: str | None = None  # the top-level key being read where the text ended
    dropped_bytes: int = 0
    notes: list[str] = field(default_factory=list)


def scan_traj_text(text: str) -> ScanResult:
    try:
        document = json.loads(text)
    except ValueError:
        return _scan_prefix(text)
    if not isinstance(document, dict):
        raise NotJsonObject(f"top level is a JSON {type(document).__name__}")
    return ScanResult(document=document, complete=True)


def _skip(text: str, pos: int) -> int:
    return _WHITESPACE.match(text, pos).end()


class _Cut(Exception):
    def __init__(self, pos: int) -> None:
        super().__init__(pos)
        self.pos = pos


def _scan_prefix(text: str) -> ScanResult:
    pos = _skip(text, 0)
    if not text.startswith("{", pos):
        raise NotJsonObject("does not start with a JSON object")
    document: dict[str, Any] = {}
    result = ScanResult(document=document, complete=False)
    key: str | None = None
    pos = _skip(text, pos + 1)
    try:
        if text.startswith("}", pos):
            return _closed(result, text, pos)
        while True:
            key = None
            try:
                key, pos = _DECODER.raw_decode(text, pos)
            except ValueError:
                raise _Cut(pos) from None
            if not isinstance(key, str):
                raise _Cut(pos)
            pos = _skip(text, pos)
            if not text.startswith(":", pos):
                raise _Cut(pos)
            pos = _skip(text, pos + 1)
            if key in _LIST_KEYS and text.startswith("[", pos):
                items: list[Any] = []
                document[key] = items
                pos = _scan_list(text, pos + 1, items)
            else:
                try:
                    document[key], pos = _DECODER.raw_decode(text, pos)
                except ValueError:
                    raise _Cut(pos) from None
            pos = _skip(text, pos)
            if text.startswith(",", pos):
                pos = _skip(text, pos + 1)
                continue
            if text.startswith("}", pos):
                return _closed(result, text, pos)
            raise _Cut(pos)
    except _Cut as cut:
        result.cut_in = key
        result.dropped_bytes = len(text) - cut.pos
        return result


def _closed(result: ScanResult, text: str, pos: int) -> ScanResult:
    # The object closed, yet json.loads failed: there is text after it. Everything inside was read.
    result.complete = True
    result.dropped_bytes = len(text) - pos - 1
    result.notes.append(f"{result.dropped_bytes} bytes of unexpected text after the JSON object ignored")
    return result


def _scan_list(text: str, pos: int, items: list[Any]) -> int:
    pos = _skip(text, pos)
    if text.startswith("]", pos):
        return pos + 1
    while True:
        try:
            item, end = _DECODER.raw_decode(text, pos)
        except ValueError:
            raise _Cut(pos) from None
        items.append(item)
        pos = _skip(text, end)
        if text.startswith(",", pos):
            pos = _skip(text, pos + 1)
            continue
        if text.startswith("]", pos):
            return pos + 1
        raise _Cut(pos)
