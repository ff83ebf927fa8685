"""Every use of Textual's private API, and the garbage-collector tuning, in one place.

Textual's private methods and attributes can change in any release. Each one used here was written against
Textual TEXTUAL_VERSION (pinned in uv.lock); with another version installed, the first use logs one warning,
and a name that has gone falls back to Textual's public behaviour (slower, never wrong).

The collector: a replay keeps a long run in memory. Its objects are frozen out of the collector's way when it
loads, but what Textual keeps besides (caches of rendered lines: tens of thousands of objects) made each full
collection take 20-45 ms, one about every seventh key press, and the middle generation's collections a few ms
more on many. While a replay is on screen the automatic collector is held off: the young generations are
collected once the cursor has rested a moment, everything once it has rested longer, and a long burst of keys
(key repeat) still collects the young generations whenever they hold more than YOUNG_LIMIT objects, so memory
stays bounded. Objects outside reference cycles are freed at once as always; only cycles wait. Reading a run
holds the collector off too (nothing it builds is garbage), from its own thread: holds are counted.
"""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import Callable
from typing import Any

TEXTUAL_VERSION = "6.12.0"  # the Textual the private uses below were written and measured against
YOUNG_LIMIT = 100_000  # tracked objects allocated since the last collection, beyond which one runs regardless

log = logging.getLogger(__name__)

# ------------------------------------------------------------------------------------------ Textual's private API

_version_checked = False


def installed_textual() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("textual")
    except PackageNotFoundError:
        return "unknown"


def check_textual_version() -> bool:
    """True when the installed Textual is the one this module was written for; otherwise one warning (once)."""
    global _version_checked
    installed = installed_textual()
    same = installed == TEXTUAL_VERSION
    if not same and not _version_checked:
        log.warning("mlgym_tui.tui.perf was written for Textual %s, found %s: its uses of Textual's private API "
                    "may misbehave (they fall back to public behaviour where the names are gone)",
                    TEXTUAL_VERSION, installed)
    _version_checked = True
    return same


def flush_refreshes(root: Any) -> None:
    """Pass every pending repaint and layout below `root` to its screen now, so that a change is painted in one
    frame rather than spread over the next few.

    Textual passes a widget's refresh on to its screen from that widget's own idle handler (Widget._check_refresh),
    and the screen paints as soon as it is idle with something to paint: without this a replay move went out as
    the transcript in one frame and the shell, figures, timeline and status line ~30 ms later. Falls back to
    nothing (those later frames) if the method is gone."""
    from textual.widget import Widget

    if not _version_checked:
        check_textual_version()
    for widget in root.walk_children(Widget):
        check = getattr(widget, "_check_refresh", None)
        if check is None:
            return
        check()


def watch_frames(app: Any, on_frame: Callable[[Any, Any], None]) -> None:
    """Call on_frame(screen, renderable) for every frame the app composites (benchmarks: headless apps composite
    every frame without writing it anywhere). Wraps App._display; for benchmarks only, so unchecked: the version
    check would be timed with the start-up it measures, and a missing name fails loudly there."""
    display = app._display

    def recording_display(screen, renderable):
        on_frame(screen, renderable)
        display(screen, renderable)

    app._display = recording_display


# ------------------------------------------------------------------------------------------------ the collector

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


_start_hold = False


def hold_for_start() -> None:
    """Hold the collector from now to the app's first frame (once; later calls do nothing): start-up imports,
    composes, styles and renders, allocating much and freeing little, and collections only walked it (~25 ms)."""
    global _start_hold
    with _lock:
        if _start_hold:
            return
        _start_hold = True
    hold()


def end_start_hold() -> None:
    """The first frame is out: what start-up built is frozen out of the collector's way (the app, its screen
    and styles live on; the first collection would walk them all, ~50 ms), then collections resume."""
    global _start_hold
    with _lock:
        if not _start_hold:
            return
        _start_hold = False
    freeze()
    release()


def freeze() -> None:
    """Move every object tracked so far out of the collector's way for good (gc.freeze): for what a screen has
    just built and keeps, so that no later collection walks it."""
    gc.freeze()


def unfreeze() -> None:
    """Hand frozen objects back to the collector (gc.unfreeze), for the next full collection to look at."""
    gc.unfreeze()


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
