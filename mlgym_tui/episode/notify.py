"""Notifications: tell a person, by bell and webhook, when an episode needs them or has news.

A `Notifier` reads one Controller's event stream and turns the kinds the settings ask for (`notify.on`) into short
`Notification`s: a proposal awaiting approval in confirm mode, a validation better than the best so far (in the
primary metric's direction), the episode's end, an error. Each rings the bell the front end gave (coalesced, see
`Bell`), is POSTed as JSON to the webhook on a worker thread (never blocking the episode; bounded; failures logged
once per episode), and is handed to the `notified` callbacks (the TUI shows a toast). No textual here.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import queue
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from mlgym_tui.stream import events as ev
from mlgym_tui.stream.types import PERSON_AUTHORS

if TYPE_CHECKING:
    from mlgym_tui.config.settings import NotifyConfig, NotifyKind
    from mlgym_tui.episode.controller import Controller

log = logging.getLogger(__name__)

MAX_PENDING_POSTS = 20
POST_TIMEOUT_S = 5.0
CLOSE_TIMEOUT_S = 3.0


@dataclass(frozen=True)
class Notification:
    """One thing to tell a person. `text` is a whole line on its own (task, run and what happened), so a chat
    webhook that shows only `text` still reads well."""

    kind: NotifyKind
    title: str
    text: str
    run_id: str
    task_id: str
    run_dir: str | None
    time: float  # when it happened (the event's time), seconds since the epoch

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


# ==================================================================== the bell


class Bell:
    """Rings `ring` at most once per `interval_s`; later rings inside the interval are dropped. Give one instance
    to every notifier of a batch and twenty episodes ending together ring once."""

    def __init__(self, ring: Callable[[], Any], interval_s: float = 1.0) -> None:
        self._ring = ring
        self.interval_s = interval_s
        self._last: float | None = None
        self._lock = threading.Lock()
        self._failed = False

    def __call__(self) -> bool:
        """Ring unless it rang within the interval; True when it rang."""
        now = time.monotonic()
        with self._lock:
            if self._last is not None and now - self._last < self.interval_s:
                return False
            self._last = now
        try:
            self._ring()
        except Exception as exc:  # a bell that cannot ring must not end the episode
            if not self._failed:
                self._failed = True
                log.warning("notify: the bell failed (%s); it is not rung again this episode", exc)
            return False
        return True


def terminal_bell() -> None:
    """The headless run's bell: BEL on stderr when stderr is a terminal (never into a log file or a pipe)."""
    stream = sys.stderr
    if stream is not None and stream.isatty():
        stream.write("\a")
        stream.flush()


# ==================================================================== the webhook


def shown_url(url: str) -> str:
    """scheme://host[:port] only: a webhook's path and query often hold its secret token."""
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}"


class WebhookPoster:
    """POSTs JSON payloads to one URL on a worker thread, in order. At most `max_pending` wait or are in flight;
    more are dropped. A failure is logged once (per poster, that is per episode); nothing here raises."""

    def __init__(self, url: str, *, max_pending: int = MAX_PENDING_POSTS, timeout_s: float = POST_TIMEOUT_S) -> None:
        self.url = url
        self.max_pending = max_pending
        self.timeout_s = timeout_s
        self.sent = self.failed = self.dropped = 0
        self._queue: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
        self._pending = 0
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None  # runs while posts are pending, then ends

    @property
    def pending(self) -> int:
        return self._pending

    def post(self, payload: dict[str, Any]) -> bool:
        """Queue a post (returns at once); False when `max_pending` posts are already waiting."""
        with self._lock:
            if self._pending >= self.max_pending:
                self.dropped += 1
                first = self.dropped == 1
            else:
                first = False
                self._pending += 1
                self._queue.put(payload)
                if self._thread is None:
                    self._thread = threading.Thread(target=self._drain, name="notify-webhook", daemon=True)
                    self._thread.start()
                return True
        if first:
            log.warning("notify: webhook %s has %d posts pending; dropping this one and any more until they drain",
                        shown_url(self.url), self.max_pending)
        return False

    def _drain(self) -> None:
        while True:
            with self._lock:
                if self._pending == 0:
                    self._thread = None
                    return
            payload = self._queue.get()
            try:
                self._send(payload)
                self.sent += 1
            except Exception as exc:
                self.failed += 1
                if self.failed == 1:
                    log.warning("notify: webhook %s failed (%s); the episode goes on, and further failures of this "
                                "episode are not logged", shown_url(self.url), _reason(exc))
            finally:
                with self._lock:
                    self._pending -= 1

    def _send(self, payload: dict[str, Any]) -> None:
        request = urllib.request.Request(
            self.url, data=json.dumps(payload).encode("utf-8"), method="POST",
            headers={"Content-Type": "application/json", "User-Agent": "mlgym-tui"},
        )
        with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
            response.read(64 * 1024)  # a reply is of no interest; reading it lets the connection close cleanly

    def wait(self, timeout_s: float) -> bool:
        """Block until every pending post is done or `timeout_s` passed; True when none is left."""
        deadline = time.monotonic() + timeout_s
        while True:
            with self._lock:
                thread = self._thread
            remaining = deadline - time.monotonic()
            if thread is None or remaining <= 0:
                return self._pending == 0
            thread.join(remaining)


def _reason(exc: Exception) -> str:
    reason = getattr(exc, "reason", None)  # URLError wraps the socket's error
    return str(reason if reason is not None else exc) or type(exc).__name__


# ==================================================================== what is worth telling


def primary_value(metrics: dict[str, float], metric: dict[str, Any] | None) -> tuple[str, float] | None:
    """The primary metric's name and value in `metrics` (the task's primary, else the first key); None when it is
    missing or not a number."""
    name = metric.get("name") if metric else next(iter(metrics), None)
    value = metrics.get(name) if name is not None else None
    if not isinstance(value, (int, float)) or math.isnan(value):
        return None
    return name, float(value)


def improves(new: dict[str, float], best: dict[str, float] | None, metric: dict[str, Any] | None) -> bool:
    """`new` beats `best` in the primary metric, in its direction (maximize unless declared minimize)."""
    ours = primary_value(new, metric)
    if ours is None:
        return False
    theirs = primary_value(best, metric) if best is not None else None
    if theirs is None:
        return True
    if metric and metric.get("direction") == "minimize":
        return ours[1] < theirs[1]
    return ours[1] > theirs[1]


def _short(text: str, limit: int = 160) -> str:
    line = " ".join(text.strip().split("\n", 1)[0].split())
    more = "\n" in text.strip()
    if len(line) > limit:
        return line[: limit - 1] + "…"
    return line + (" …" if more else "")


# ==================================================================== the notifier


class Notifier:
    """Tells a person about one episode: subscribe at construction, `close` (or `aclose`) at the end.

    `bell` is the front end's bell (the TUI's app.bell; `terminal_bell` headless); it rings only when the settings
    say `bell: true`, at most once a second (pass one `Bell` to every notifier of a batch to coalesce them all)."""

    def __init__(self, controller: Controller, config: NotifyConfig, *, bell: Callable[[], Any] | None = None,
                 max_pending: int = MAX_PENDING_POSTS, timeout_s: float = POST_TIMEOUT_S) -> None:
        self.controller = controller
        self.kinds: frozenset[str] = frozenset(config.on)
        self.bell: Bell | None = None
        if config.bell and bell is not None:
            self.bell = bell if isinstance(bell, Bell) else Bell(bell)
        self.webhook = (WebhookPoster(config.webhook, max_pending=max_pending, timeout_s=timeout_s)
                        if config.webhook else None)
        self.notified: list[Callable[[Notification], Any]] = []  # e.g. the TUI's toast; called on the loop thread
        self._best: dict[str, float] | None = None
        self._unsubscribe: Callable[[], Any] | None = controller.subscribe(self._on_event) if self.kinds else None

    # ---------------------------------------------------------------- reading the stream

    def _on_event(self, event: ev.Event) -> None:
        if isinstance(event, ev.ActionProposed):
            # In confirm mode a proposal waits for a person; a person's own proposal needs nobody else.
            if self.controller.mode == "confirm" and event.author not in PERSON_AUTHORS:
                self._tell("awaiting_confirmation", "awaiting approval", event,
                           f"step {event.step} waits for approval: {_short(event.action)}")
        elif isinstance(event, ev.ValidationScored):
            self._on_score(event)
        elif isinstance(event, ev.EpisodeEnded):
            best = primary_value(self._best, self.controller.primary_metric) if self._best else None
            scored = f"best {best[0]} {best[1]:g}" if best else "no score"
            self._tell("episode_ended", "episode ended", event, f"ended: {event.exit_status}; {scored}")
        elif isinstance(event, ev.ErrorEvent):
            self._tell("error", "episode failed" if event.fatal else "error", event, _short(event.message))

    def _on_score(self, event: ev.ValidationScored) -> None:
        metric = self.controller.primary_metric
        if not improves(event.metrics, self._best, metric):
            return
        before = primary_value(self._best, metric) if self._best else None
        self._best = dict(event.metrics)
        name, value = primary_value(event.metrics, metric) or ("score", math.nan)
        text = f"step {event.step}: {name} {value:g}"
        if before is not None:
            text += f" (was {before[1]:g})"
        if isinstance(event.baseline.get(name), (int, float)):
            text += f", baseline {event.baseline[name]:g}"
        self._tell("validation_improved", "new best score", event, text)

    # ---------------------------------------------------------------- telling

    def _tell(self, kind: NotifyKind, title: str, event: ev.Event, what: str) -> None:
        if kind not in self.kinds:
            return
        c = self.controller
        run_dir = str(c.run_dir) if c.run_dir is not None else None
        notification = Notification(kind=kind, title=title, text=f"{c.task_id} ({c.run_id or 'unsaved run'}): {what}",
                                    run_id=c.run_id, task_id=c.task_id, run_dir=run_dir, time=event.t)
        self.notify(notification)

    def notify(self, notification: Notification) -> None:
        """Bell, webhook and the `notified` callbacks; none of them can end the episode."""
        if self.bell is not None:
            self.bell()
        if self.webhook is not None:
            self.webhook.post(notification.to_json())
        for callback in list(self.notified):
            try:
                callback(notification)
            except Exception:
                log.exception("notify: callback %r failed on %s", callback, notification.kind)

    # ---------------------------------------------------------------- the end

    def close(self, timeout_s: float = CLOSE_TIMEOUT_S) -> None:
        """Stop listening, then give pending webhook posts up to `timeout_s` to finish (blocks that long at most:
        from the event loop use `aclose`). Posts still unfinished are abandoned on a daemon thread."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self.webhook is not None and not self.webhook.wait(timeout_s):
            log.warning("notify: %d webhook posts to %s unfinished after %.0f s; left behind",
                        self.webhook.pending, shown_url(self.webhook.url), timeout_s)

    async def aclose(self, timeout_s: float = CLOSE_TIMEOUT_S) -> None:
        """`close` off the event loop."""
        if self.webhook is None or self.webhook.pending == 0:
            self.close(timeout_s)
            return
        await asyncio.to_thread(self.close, timeout_s)
