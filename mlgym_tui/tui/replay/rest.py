"""What a replay leaves until its cursor rests, and the garbage collector while a replay is shown.

A move repaints the panes at once; the score and duration charts (thousands of points) are redrawn once the cursor
has rested CHARTS_AFTER_S, the young generations collected after COLLECT_YOUNG_AFTER_S and everything after
COLLECT_ALL_AFTER_S (each move restarts the wait). While the replay is the screen shown the collector is held, so
no collection walks the loaded run between two key presses (see perf.py).
"""

from __future__ import annotations

from collections.abc import Callable

from textual.message_pump import MessagePump

from mlgym_tui.tui import perf

CHARTS_AFTER_S = 0.12  # redraw the score and duration charts when the cursor has rested this long
COLLECT_YOUNG_AFTER_S = 0.3  # collect the young generations when it has rested this long...
COLLECT_ALL_AFTER_S = 1.5  # ...and everything when it has rested this long


class RestWork:
    def __init__(self, owner: MessagePump, redraw_charts: Callable[[], None]) -> None:
        self.owner = owner
        self.redraw_charts = redraw_charts
        self._timers: list = []
        self._holding = False

    def moved(self) -> None:
        """The cursor moved: wait again before the charts and the collections."""
        for timer in self._timers:
            timer.stop()
        perf.on_key()
        at = self.owner.set_timer
        self._timers = [at(CHARTS_AFTER_S, self.redraw_charts, name="replay-charts"),
                        at(COLLECT_YOUNG_AFTER_S, perf.collect_young, name="replay-gc-young"),
                        at(COLLECT_ALL_AFTER_S, perf.collect_all, name="replay-gc-all")]

    def hold(self) -> None:
        if not self._holding:
            self._holding = True
            perf.hold()

    def release(self) -> None:
        if self._holding:
            self._holding = False
            perf.release()
