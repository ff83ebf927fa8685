"""Notifications (issue 16): a real Controller runs episodes in a scripted environment (no container: these say
what is told when), and a real HTTP server on 127.0.0.1 receives the webhook's posts."""

from __future__ import annotations

import asyncio
import http.server
import json
import logging
import socket
import threading
import time
from typing import Any

import pytest
import yaml

from mlgym_tui.agents.scripted_policy import ScriptedPolicy
from mlgym_tui.config.settings import NOTIFY_KINDS, AppSettings, ConfigError, NotifyConfig, read_settings
from mlgym_tui.environment.environment import StepResult
from mlgym_tui.episode.controller import Controller
from mlgym_tui.episode.notify import Bell, Notification, Notifier, WebhookPoster, improves


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    """urllib honours proxy variables; the local server is reached directly."""
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)


class Receiver:
    """An HTTP server on 127.0.0.1 in a thread, keeping every JSON body POSTed to it. While `hold` is clear,
    requests wait (a slow webhook)."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self.hold = threading.Event()
        self.hold.set()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                receiver.hold.wait(10)
                data = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.paths.append(self.path)
                receiver.bodies.append(json.loads(data))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook/secret-token"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.hold.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


class FakeShell:
    def subscribe(self, callback):
        return lambda: None


class ScoringEnv:
    """Runs actions instantly: `validate X` scores X, `submit X` scores X and ends, `crash` raises."""

    trust, trust_reason = "isolated", ""

    def __init__(self) -> None:
        self.shell = FakeShell()
        self.scores: list[dict[str, float]] = []

    async def reset(self) -> str:
        return "the task"

    def state(self) -> dict[str, Any]:
        return {}

    async def step(self, action: str, step: int | None = None) -> StepResult:
        verb, _, arg = action.partition(" ")
        if verb == "crash":
            raise RuntimeError("the disk is full")
        if verb in ("validate", "submit"):
            self.scores.append({"loss": float(arg)})
            return StepResult("scored", metrics={"loss": float(arg)}, submission="answer.csv", done=verb == "submit",
                              exit_status="submitted" if verb == "submit" else None)
        return StepResult(f"ran {action}", exit_code=0)

    async def autosubmit(self, reason: str, step: int | None = None) -> StepResult:
        return StepResult("auto", done=True, exit_status=f"autosubmission ({reason})")

    async def interrupt(self) -> None:
        pass

    async def close(self) -> None:
        pass


def controller(actions: list[str], mode: str = "auto", direction: str = "maximize", tmp_path=None) -> Controller:
    return Controller(env=ScoringEnv(), policy=ScriptedPolicy(actions, author="agent"), task_id="houses",
                      agent="test", model="none", engine="local", run_dir=tmp_path, mode=mode, run_id="run-1",
                      baseline={"loss": 5.0}, metrics=[{"name": "loss", "direction": direction, "primary": True}])


def notifier(c: Controller, **config: Any) -> tuple[Notifier, list[Notification]]:
    n = Notifier(c, NotifyConfig(**config))
    told: list[Notification] = []
    n.notified.append(told.append)
    return n, told


async def until(predicate, what: str) -> None:
    for _ in range(1000):
        if predicate():
            return
        await asyncio.sleep(0.002)
    raise AssertionError(f"timed out waiting for {what}")


async def run(c: Controller) -> str:
    return await asyncio.wait_for(c.run(), 5)


# ==================================================================== what is told


async def test_a_proposal_awaiting_approval_is_told_once_and_auto_mode_proposals_are_not(tmp_path):
    c = controller(["echo hello\nand more", "echo again"], mode="confirm", tmp_path=tmp_path)
    n, told = notifier(c)
    c.start()
    await until(lambda: c.awaiting == "approval", "the proposal")
    assert [t.kind for t in told] == ["awaiting_confirmation"]
    first = told[0]
    assert first.title == "awaiting approval" and first.run_id == "run-1" and first.task_id == "houses"
    assert first.run_dir == str(tmp_path) and first.text == "houses (run-1): step 1 waits for approval: echo hello …"
    c.set_mode("auto")  # the next proposal runs without a person: nothing to tell
    assert await asyncio.wait_for(c.wait(), 5) == "early_exit"
    assert [t.kind for t in told] == ["awaiting_confirmation", "episode_ended"]
    n.close()


@pytest.mark.parametrize("direction, told", [
    ("maximize", ["step 1: loss 1, baseline 5", "step 3: loss 2 (was 1), baseline 5", "step 6: loss 3 (was 2), baseline 5"]),
    ("minimize", ["step 1: loss 1, baseline 5", "step 2: loss 0.5 (was 1), baseline 5"]),
])
async def test_only_a_validation_better_than_the_best_so_far_is_told(direction, told):
    c = controller(["validate 1.0", "validate 0.5", "validate 2.0", "validate 2.0", "validate nan", "submit 3.0"],
                   direction=direction)
    n, notifications = notifier(c, on=["validation_improved"])
    assert await run(c) == "submitted"
    assert [(t.kind, t.title) for t in notifications] == [("validation_improved", "new best score")] * len(told)
    assert [t.text for t in notifications] == [f"houses (run-1): {text}" for text in told]
    n.close()


def test_improvement_follows_the_metric_direction_and_the_primary_metric():
    maximize, minimize = {"name": "acc", "direction": "maximize"}, {"name": "acc", "direction": "minimize"}
    assert improves({"acc": 0.9}, {"acc": 0.8}, maximize) and not improves({"acc": 0.8}, {"acc": 0.9}, maximize)
    assert improves({"acc": 0.8}, {"acc": 0.9}, minimize) and not improves({"acc": 0.9}, {"acc": 0.9}, minimize)
    assert improves({"acc": 0.1}, None, maximize) and not improves({"f1": 1.0}, None, maximize)
    assert improves({"x": 2.0, "acc": 0.0}, {"x": 1.0, "acc": 1.0}, None)  # no declaration: the first key


async def test_the_end_is_told_once_with_the_best_score(receiver, tmp_path):
    c = controller(["validate 0.7", "validate 0.4", "submit 0.6"], direction="minimize", tmp_path=tmp_path)
    n, told = notifier(c, on=["episode_ended"], webhook=receiver.url)
    assert await run(c) == "submitted"
    await n.aclose()
    assert [t.kind for t in told] == ["episode_ended"]
    assert told[0].text == "houses (run-1): ended: submitted; best loss 0.4"
    (body,) = receiver.bodies
    assert receiver.paths == ["/hook/secret-token"]
    assert set(body) == {"kind", "title", "text", "run_id", "task_id", "run_dir", "time"}
    assert body["kind"] == "episode_ended" and body["run_dir"] == str(tmp_path) and body["text"] == told[0].text
    assert abs(body["time"] - time.time()) < 60


async def test_an_error_is_told_once(receiver):
    c = controller(["echo ok", "crash"])
    n, told = notifier(c, on=["error"], webhook=receiver.url)
    assert await run(c) == "exit_error"
    await n.aclose()
    assert [(t.kind, t.title) for t in told] == [("error", "episode failed")]
    assert "the disk is full" in told[0].text and [b["kind"] for b in receiver.bodies] == ["error"]


async def test_every_kind_in_one_episode_and_nothing_for_kinds_not_asked_for(receiver):
    actions = ["validate 1.0", "validate 2.0", "crash"]
    c = controller(actions, mode="confirm")
    n, told = notifier(c, webhook=receiver.url)
    c.start()
    for i in range(3):  # approve each proposal as it comes
        await until(lambda: c.awaiting == "approval" and c.step == i, f"proposal {i + 1}")
        c.approve()
    await asyncio.wait_for(c.wait(), 5)
    await n.aclose()
    kinds = [t.kind for t in told]
    assert kinds == ["awaiting_confirmation", "validation_improved", "awaiting_confirmation", "validation_improved",
                     "awaiting_confirmation", "error", "episode_ended"]
    assert sorted(set(kinds)) == sorted(NOTIFY_KINDS)
    assert [b["kind"] for b in receiver.bodies] == kinds  # posted in order

    quiet = controller(actions, mode="confirm")
    n, told = notifier(quiet, on=[], bell=True, webhook=receiver.url)
    rang: list[int] = []
    n.bell = Bell(lambda: rang.append(1))
    quiet.set_mode("auto")
    await run(quiet)
    await n.aclose()
    assert told == [] and rang == [] and len(receiver.bodies) == len(kinds)


# ==================================================================== the bell


def test_the_bell_rings_at_most_once_per_interval():
    rang: list[float] = []
    bell = Bell(lambda: rang.append(time.monotonic()), interval_s=0.2)
    assert bell() and not bell() and not bell()
    time.sleep(0.25)
    assert bell() and len(rang) == 2


async def test_a_burst_of_notifications_rings_once_and_only_when_the_settings_ask():
    c = controller(["validate 1.0", "validate 2.0", "crash"])
    rang: list[int] = []
    n = Notifier(c, NotifyConfig(bell=True), bell=lambda: rang.append(1))
    told: list[Notification] = []
    n.notified.append(told.append)
    await run(c)
    assert len(told) == 4 and rang == [1]  # two scores, the error, the end: within a second

    shared = Bell(lambda: rang.append(2))  # one bell for a batch: every episode's news rings it once
    batch = [controller(["validate 1.0"]) for _ in range(3)]
    notifiers = [Notifier(b, NotifyConfig(bell=True), bell=shared) for b in batch]
    await asyncio.gather(*(run(b) for b in batch))
    assert rang == [1, 2] and all(x.bell is shared for x in notifiers)

    silent = controller(["validate 1.0"])
    Notifier(silent, NotifyConfig(bell=False), bell=lambda: rang.append(3))
    await run(silent)
    assert rang == [1, 2]


# ==================================================================== a webhook that fails


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_a_webhook_that_is_down_or_a_broken_callback_leaves_the_episode_alone(caplog):
    url = f"http://127.0.0.1:{closed_port()}/hook/secret-token"
    c = controller(["validate 1.0", "validate 2.0", "submit 3.0"])
    n, told = notifier(c, webhook=url)
    n.notified.insert(0, lambda notification: 1 / 0)  # a broken toast: logged, the others still told
    with caplog.at_level(logging.WARNING, logger="mlgym_tui.episode.notify"):
        assert await run(c) == "submitted"
        await n.aclose()
    assert [t.kind for t in told] == ["validation_improved"] * 3 + ["episode_ended"]
    assert n.webhook.failed == 4 and n.webhook.sent == 0
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "failed" in warnings[0] and "refused" in warnings[0].lower()
    assert "secret-token" not in warnings[0]  # a webhook's path may be its key
    assert len([r for r in caplog.records if r.levelno == logging.ERROR and "callback" in r.getMessage()]) == 4


async def test_a_slow_webhook_never_blocks_the_loop_and_at_most_n_posts_wait(receiver, caplog):
    receiver.hold.clear()
    poster = WebhookPoster(receiver.url, max_pending=5, timeout_s=5)
    with caplog.at_level(logging.WARNING, logger="mlgym_tui.episode.notify"):
        started = time.monotonic()
        accepted = [poster.post({"n": i}) for i in range(8)]
        assert time.monotonic() - started < 0.5
        assert accepted == [True] * 5 + [False] * 3 and poster.dropped == 3
        assert not poster.wait(0.1)  # still held by the server
        receiver.hold.set()
        assert await asyncio.to_thread(poster.wait, 5)
    assert [b["n"] for b in receiver.bodies] == [0, 1, 2, 3, 4] and poster.sent == 5
    assert len([r for r in caplog.records if "dropping" in r.getMessage()]) == 1
    assert poster.post({"n": 9}) and await asyncio.to_thread(poster.wait, 5)  # drained: accepted again
    assert receiver.bodies[-1] == {"n": 9}


# ==================================================================== settings


def test_the_defaults_tell_about_everything_but_ring_and_post_nothing():
    config = AppSettings().notify
    assert config.on == list(NOTIFY_KINDS) and config.bell is False and config.webhook is None


def test_settings_as_a_person_writes_them(tmp_path):
    path = tmp_path / "settings.yaml"
    path.write_text("notify: {on: [episode_ended, error], bell: yes, webhook: https://hooks.example.org/T0/x}\n")
    config = read_settings(path).notify  # YAML reads a bare `on` as true: still this field
    assert config.on == ["episode_ended", "error"] and config.bell and config.webhook.startswith("https://")


@pytest.mark.parametrize("notify, problem", [
    ({"on": ["episode_ended", "lunch"]}, "field 'notify.on': unknown notification kind 'lunch'; use any of: "
                                         "awaiting_confirmation, validation_improved, episode_ended, error"),
    ({"webhook": "ftp://example.org/x"}, "field 'notify.webhook': webhook must be an http(s) URL such as "
                                         "https://example.org/hook, got 'ftp://example.org/x'"),
    ({"webhook": "hooks.example.org"}, "webhook must be an http(s) URL"),
    ({"sound": True}, "field 'notify.sound'"),
])
def test_bad_settings_are_one_line_naming_the_field_and_the_fix(tmp_path, notify, problem):
    path = tmp_path / "settings.yaml"
    path.write_text(yaml.safe_dump({"notify": notify}))
    with pytest.raises(ConfigError) as raised:
        read_settings(path)
    message = str(raised.value)
    assert "\n" not in message and message.startswith(f"{path}: ") and problem in message
