"""Full garbage collections once the person has stopped pressing keys, not between a key and its repaint.

A replay keeps a long run in memory. Its objects are frozen out of the collector's way when it loads, but what
Textual keeps besides (caches of rendered lines: tens of thousands of objects) still made each full collection
take 20-45 ms, and one came about every seventh key press. While a replay is on screen, full collections wait
(the young generations are collected as usual) and one runs when the cursor has rested.
"""

from __future__ import annotations

import gc

_saved_thresholds: tuple[int, int, int] | None = None


def hold_full_collections() -> None:
    global _saved_thresholds
    if _saved_thresholds is None:
        _saved_thresholds = gc.get_threshold()
        young, middle, _ = _saved_thresholds
        gc.set_threshold(young, middle, 1_000_000)  # full collections only when asked for


def release_full_collections() -> None:
    global _saved_thresholds
    if _saved_thresholds is not None:
        gc.set_threshold(*_saved_thresholds)
        _saved_thresholds = None


def collect_at_rest() -> None:
    gc.collect()
