"""Garbage collection between key presses, not between a key press and its repaint.

A replay keeps a long run in memory. Its objects are frozen out of the collector's way when it loads, but what
Textual keeps besides (caches of rendered lines: tens of thousands of objects) made each full collection take
20-45 ms, one about every seventh key press, and the middle generation's collections a few ms more on many.
While a replay is on screen the automatic collector is held off: the young generations are collected once the
cursor has rested a moment, everything once it has rested longer, and a long burst of keys (key repeat) still
collects the young generations whenever they hold more than YOUNG_LIMIT objects, so memory stays bounded.
Objects outside reference cycles are freed at once as always; only cycles wait. Reading a run holds the
collector off too (nothing it builds is garbage), from its own thread: holds are counted.
"""

from __future__ import annotations

import gc
import threading

YOUNG_LIMIT = 100_000  # tracked objects allocated since the last collection, beyond which one runs regardless

_lock = threading.Lock()
_holds = 0
_enabled_before = True


def hold() -> None:
    global _holds, _enabled_before
    with _lock:
        if _holds == 0:
            _enabled_before = gc.isenabled()
            gc.disable()
        _holds += 1


def release() -> None:
    global _holds
    with _lock:
        _holds = max(0, _holds - 1)
        if _holds == 0 and _enabled_before:
            gc.enable()


def held() -> bool:
    return _holds > 0


def on_key() -> None:
    if held() and gc.get_count()[0] > YOUNG_LIMIT:
        gc.collect(1)


def collect_young() -> None:
    if held():
        gc.collect(1)


def collect_all() -> None:
    if held():
        gc.collect()
