"""Who may steer: any number of attached viewers watch, one at a time holds control.

The first viewer to take control (or to send a command while nobody holds it) holds it; another viewer's command
is refused with who holds it and how to ask. The holder can give control to a viewer or release it. A holder whose
connection is lost keeps control for a grace period (a reconnect by the same person takes it back); then control is
released and the episode goes back to the mode and pause state it had when control was taken, so a crashed viewer
never leaves an episode paused or in human mode with nobody there.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(eq=False)
class Viewer:
    id: int
    who: str  # user@host, as the viewer introduced itself
    connected: bool = True
    wants_control: bool = False
    notify: Callable[[dict], None] = field(default=lambda message: None, repr=False)


@dataclass
class Before:
    """The episode's mode and pause state when control was taken: restored when a lost holder's grace ends."""

    mode: str
    paused: bool


class ControlRefused(ValueError):
    """A viewer may not do this now; the message says who holds control and how to get it."""


class Arbiter:
    def __init__(self, *, grace_s: float, changed: Callable[[str, str], None],
                 restore: Callable[[Before], None], snapshot: Callable[[], Before]) -> None:
        self.grace_s = grace_s
        self.holder: Viewer | None = None
        self.viewers: dict[int, Viewer] = {}
        self._changed = changed  # (holder who or "", reason): recorded as a ControlChanged event
        self._restore = restore
        self._snapshot = snapshot
        self._before: Before | None = None
        self._grace: asyncio.TimerHandle | None = None

    # ---------------------------------------------------------------- viewers come and go

    def join(self, viewer: Viewer) -> None:
        self.viewers[viewer.id] = viewer
        holder = self.holder
        if holder is not None and not holder.connected and holder.who == viewer.who:
            # the same person back within the grace period (a dropped connection, a restarted terminal)
            self._cancel_grace()
            del self.viewers[holder.id]
            self.holder = viewer
            self._changed(viewer.who, "reconnected")

    def leave(self, viewer: Viewer) -> None:
        viewer.connected = False
        if viewer is self.holder:
            loop = asyncio.get_running_loop()
            self._grace = loop.call_later(self.grace_s, self._grace_over, viewer)
        else:
            self.viewers.pop(viewer.id, None)

    def _grace_over(self, viewer: Viewer) -> None:
        self._grace = None
        self.viewers.pop(viewer.id, None)
        if self.holder is viewer:
            self.holder = None
            before, self._before = self._before, None
            self._changed("", f"{viewer.who} disconnected")
            if before is not None:
                self._restore(before)

    def _cancel_grace(self) -> None:
        if self._grace is not None:
            self._grace.cancel()
            self._grace = None

    # ---------------------------------------------------------------- control

    def check(self, viewer: Viewer) -> None:
        """Before a viewer's command: it holds control, or takes it when nobody does; else ControlRefused."""
        if self.holder is viewer:
            return
        if self.holder is None:
            self.take(viewer)
            return
        raise ControlRefused(f"{self.holder.who} holds control; you are watching (request control to steer)")

    def take(self, viewer: Viewer) -> None:
        if self.holder is viewer:
            return
        if self.holder is not None:
            raise ControlRefused(f"{self.holder.who} holds control; request it and they can hand it over")
        self.holder = viewer
        viewer.wants_control = False
        self._before = self._snapshot()
        self._changed(viewer.who, "taken")

    def request(self, viewer: Viewer) -> None:
        if self.holder is None:
            self.take(viewer)
            return
        if self.holder is viewer:
            return
        viewer.wants_control = True
        if not self.holder.connected:
            raise ControlRefused(f"{self.holder.who} holds control but is disconnected; it is released "
                                 f"{self.grace_s:g} s after they left")
        self.holder.notify({"op": "control_request", "from": {"id": viewer.id, "who": viewer.who}})

    def give(self, viewer: Viewer, to: int | None) -> None:
        """The holder hands control to viewer `to` (None: the viewer that asked most recently)."""
        if self.holder is not viewer:
            raise ControlRefused("only the viewer holding control can hand it over")
        if to is None:
            asking = [v for v in self.viewers.values() if v.wants_control and v.connected and v is not viewer]
            if not asking:
                raise ControlRefused("nobody has requested control; name a viewer to hand it to")
            target = asking[-1]
        else:
            target = self.viewers.get(to)
            if target is None or not target.connected or target is viewer:
                raise ControlRefused(f"no other connected viewer {to}; see the viewers list")
        self.holder = target
        target.wants_control = False
        self._changed(target.who, f"handed over by {viewer.who}")

    def refuse(self, viewer: Viewer) -> None:
        """The holder keeps control: the viewers asking are told."""
        if self.holder is not viewer:
            raise ControlRefused("only the viewer holding control can refuse a request")
        for other in self.viewers.values():
            if other.wants_control:
                other.wants_control = False
                other.notify({"op": "control_refused", "by": viewer.who})

    def release(self, viewer: Viewer) -> None:
        if self.holder is not viewer:
            raise ControlRefused("you do not hold control")
        self.holder = None
        self._before = None  # released on purpose: the episode stays as the holder left it
        self._changed("", f"released by {viewer.who}")

    def close(self) -> None:
        self._cancel_grace()

    def summary(self) -> dict:
        holder = self.holder
        return {"holder": None if holder is None else {"id": holder.id, "who": holder.who,
                                                       "connected": holder.connected},
                "viewers": [{"id": v.id, "who": v.who, "wants_control": v.wants_control}
                            for v in self.viewers.values() if v.connected]}
