"""A virtual terminal (pyte) whose screen is rendered as Rich Text.

Untrusted output from the container goes into pyte, never to the real terminal: cursor moves,
title changes, screen clears and device queries only change this in-memory screen, and what is
painted is plain characters plus colours, clipped to the pane.
"""

from __future__ import annotations

import pyte
from rich.segment import Segment
from rich.style import Style
from rich.text import Text

_NAMED = {
    "black": "color(0)", "red": "color(1)", "green": "color(2)", "brown": "color(3)", "yellow": "color(3)",
    "blue": "color(4)", "magenta": "color(5)", "cyan": "color(6)", "white": "color(7)",
    "brightblack": "color(8)", "brightred": "color(9)", "brightgreen": "color(10)", "brightbrown": "color(11)",
    "brightyellow": "color(11)", "brightblue": "color(12)", "brightmagenta": "color(13)",
    "bfightmagenta": "color(13)", "brightcyan": "color(14)", "brightwhite": "color(15)",
}


_PLAIN = Style()


def _colour(name: str) -> str | None:
    if not name or name == "default":
        return None
    if name in _NAMED:
        return _NAMED[name]
    if len(name) == 6:
        try:
            int(name, 16)
        except ValueError:
            return None
        return f"#{name}"
    return None


def _safe_char(ch: str) -> str:
    """pyte drops C0 controls; guard anyway against anything non-printable reaching the real terminal."""
    if not ch:
        return ""
    code = ord(ch[0])
    if code < 0x20 or 0x7F <= code < 0xA0:
        return " "
    return ch


class VirtualTerminal:
    """pyte screen + stream; `feed` raw text (ANSI intact), `render` the visible screen."""

    def __init__(self, columns: int = 80, lines: int = 24) -> None:
        # a plain Screen: nothing pages through scrollback, and HistoryScreen wraps every call (twice the cost)
        self.screen = pyte.Screen(columns, lines)
        self.screen.set_mode(pyte.modes.LNM)  # a bare \n also returns the carriage, as shells expect in logs
        self.stream = pyte.Stream(self.screen)
        self._style_cache: dict[tuple, Style] = {}

    @property
    def columns(self) -> int:
        return self.screen.columns

    @property
    def lines(self) -> int:
        return self.screen.lines

    def feed(self, data: str) -> None:
        if data:
            self.stream.feed(data)

    def resize(self, columns: int, lines: int) -> None:
        columns, lines = max(columns, 10), max(lines, 2)
        if (columns, lines) != (self.screen.columns, self.screen.lines):
            self.screen.resize(lines, columns)

    def _style(self, key: tuple) -> Style:
        """The Rich style of a pyte cell's attributes: (fg, bg, bold, italics, underscore, strikethrough, reverse)."""
        style = self._style_cache.get(key)
        if style is None:
            fg, bg, bold, italics, underscore, strikethrough, reverse = key
            style = Style(
                color=_colour(fg), bgcolor=_colour(bg), bold=bold or None, italic=italics or None,
                underline=underscore or None, strike=strikethrough or None, reverse=reverse or None,
            )
            self._style_cache[key] = style
        return style

    def row_runs(self, y: int) -> list[tuple[str, Style]]:
        """Row y of the screen as runs of (text, style), trailing blanks without a style dropped."""
        row = self.screen.buffer[y]
        runs: list[tuple[str, Style]] = []
        run_chars: list[str] = []
        run_key: tuple | None = None
        # a row holds only the cells written to: past its last one there is nothing but blanks
        for x in range(min(self.screen.columns, max(row) + 1) if row else 0):
            char = row[x]
            if char.data == "":  # right half of a wide character
                continue
            key = char[1:8]  # the attributes a style is made of, compared as one tuple
            if key != run_key and run_chars:
                runs.append(("".join(run_chars), self._style(run_key)))
                run_chars = []
            run_key = key
            run_chars.append(_safe_char(char.data))
        if run_chars:
            style = self._style(run_key)
            text = "".join(run_chars)
            runs.append((text.rstrip() if style == _PLAIN else text, style))
        while runs and runs[-1][1] == _PLAIN and not runs[-1][0].strip():
            runs.pop()
        return runs

    def render_lines(self) -> list[Text]:
        out: list[Text] = []
        for y in range(self._last_used_line() + 1):
            text = Text(no_wrap=True, overflow="crop")
            for chunk, style in self.row_runs(y):
                text.append(chunk, style)
            text.rstrip()
            out.append(text)
        return out

    def line_segments(self, y: int) -> list[Segment]:
        """Row y as Rich segments, for a widget drawing line by line (a blank row is no segment)."""
        return [Segment(chunk, style) for chunk, style in self.row_runs(y)]

    def render(self) -> Text:
        return Text("\n", no_wrap=True, overflow="crop").join(self.render_lines())

    def plain(self) -> str:
        return "\n".join(line.rstrip() for line in self.screen.display).rstrip("\n")

    def _last_used_line(self) -> int:
        display = self.screen.display
        last = min(self.screen.cursor.y, len(display) - 1)
        for y in range(len(display) - 1, last, -1):
            if display[y].strip():
                return y
        return last
