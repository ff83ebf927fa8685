"""The worker side of `--executor ray`: one episode on this node's engine, streamed back to the driver.

`episode_stream` is the body of the Ray task (ray_executor.py wraps it with `ray.remote`; nothing here imports
Ray at module level). The episode runs on an event loop of its own thread; this task's thread yields batches of
messages to the driver as they come, so the driver's Recorder writes the run directory as the episode goes:

    ("hello", {...})               the episode exists: its config (redacted here, with this node's secrets), where
                                   it runs (node, host, pid: its containers carry that pid label)
    ("event", json_line)           every recorded event (transient token/output events are not sent), scrubbed
    ("history", start, messages)   the policy's history from index `start` on (what the .traj keeps)
    ("stats", model_stats)
    ("progress", {...})            step, cost, best score, exit status: what the live table shows
    ("file", relative_path, bytes) a file the environment kept under submissions/ (sent after each scoring) or
                                   workspace/ (snapshot blobs, sent after each snapshot)
    ("failed", {"infra": kind or None, "message": ...})   the episode could not start
    ("done", {"exit_status": ...})

A cancelled task (Ctrl-C twice on the driver: `ray.cancel`) interrupts this thread; the episode's task is then
cancelled, which ends it and closes its environment (its containers are removed) before the task returns.
"""

from __future__ import annotations

import asyncio
import json
import os
import queue
import socket
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mlgym_tui.stream.events import Event

TRANSIENT = frozenset({"token", "output_chunk"})
PROGRESS_EVENTS = frozenset({"episode_started", "step", "validation_scored", "model_response", "episode_ended",
                             "limit_changed"})
BATCH_LIMIT = 512  # messages per yield: bounds one object, keeps a burst from becoming thousands of round trips
CANCEL_GRACE_S = 30.0  # how long a cancelled episode may take to close its environment

_DONE = object()


class StreamingRecorder:
    """What the Controller records into on a worker: every call becomes a message for the driver's Recorder."""

    def __init__(self, send, secrets: list[str]) -> None:
        self._send = send
        self._secrets = secrets
        self._history: list[Any] = []

    def _scrub(self, text: str) -> str:
        from mlgym_tui.trajectory.redaction import scrub_text

        return scrub_text(text, self._secrets) if self._secrets else text

    def __call__(self, event: Event) -> None:
        if event.type in TRANSIENT:
            return
        self._send(("event", self._scrub(json.dumps({"type": event.type, **vars(event)}, ensure_ascii=False))))

    def set_history(self, history: list[dict[str, Any]]) -> None:
        # The history grows by appending, so only the new messages travel; a rewritten past is sent whole.
        clean = json.loads(self._scrub(json.dumps(history, ensure_ascii=False)))
        start = len(self._history) if clean[:len(self._history)] == self._history else 0
        self._history = clean
        self._send(("history", start, clean[start:]))

    def set_model_stats(self, stats: dict[str, Any]) -> None:
        self._send(("stats", dict(stats)))

    async def step_synced(self) -> None:
        return None  # durability is the driver's Recorder's business

    def close(self) -> None:
        pass

    async def aclose(self) -> None:
        pass


def progress_of(controller) -> dict[str, Any]:
    return {"step": controller.step, "max_steps": controller.max_steps, "cost": controller.cost,
            "best_score": controller.best_score, "exit_status": controller.exit_status}


class _KeptFiles:
    """Sends the files the environment keeps in one folder of the run (submissions/ after each scoring, workspace/
    blobs after each snapshot, both at the end) once each, so the driver's run folder is complete."""

    def __init__(self, run_dir: Path, folder: str, send) -> None:
        self.root = run_dir / folder
        self.run_dir = run_dir
        self.send = send
        self.sent: set[str] = set()

    def flush(self) -> None:
        if not self.root.is_dir():
            return
        for path in sorted(p for p in self.root.rglob("*") if p.is_file() and not p.name.endswith(".tmp")):
            name = path.relative_to(self.run_dir).as_posix()
            if name not in self.sent:
                self.sent.add(name)
                self.send(("file", name, path.read_bytes()))


def _secrets(*configs: Any) -> list[str]:
    from mlgym_tui.trajectory.redaction import secret_config_values, secret_env_values

    values = set(secret_env_values())
    for config in configs:
        values |= set(secret_config_values(config))
    return sorted(values, key=len, reverse=True)


def _classify_start(exc: Exception) -> str | None:
    """An infrastructure kind for a start failure, or None for a configuration problem of the episode itself."""
    from mlgym_tui.runtime.errors import RuntimeProblem

    if isinstance(exc, RuntimeProblem):
        text = str(exc).lower()
        if "image" in text and ("missing" in text or "not found" in text or "no such image" in text):
            return "image missing"
        return "engine down"
    return None


async def _episode(request: dict[str, Any], send, control, stop_box: dict[str, Any]) -> None:
    from mlgym_tui.episode.session import start_episode
    from mlgym_tui.runtime.detect import connect
    from mlgym_tui.runtime.errors import RuntimeProblem

    task, runtime = request["task"], request["runtime"]
    if request.get("gpus_from_ray"):  # the container gets exactly the GPUs Ray reserved for this task
        from mlgym_tui.batch.ray_support import import_ray

        ids = ",".join(str(i) for i in import_ray().get_gpu_ids())
        runtime = runtime.model_copy(update={"gpus": ids or None})
        request = {**request, "runtime": runtime}
    where = {"node_id": _node_id(), "host": socket.gethostname(), "pid": os.getpid()}
    try:
        engine = await asyncio.to_thread(connect, request["engine"], runtime)
    except RuntimeProblem as exc:
        send(("failed", {"infra": "engine down", "message": f"{where['host']}: {exc}", **where}))
        return
    try:
        image = task.image or runtime.image
        if engine.name != "local" and not await asyncio.to_thread(engine.image_exists, image):
            send(("failed", {"infra": "image missing", **where, "message":
                             f"{where['host']}: image {image} is missing in {engine.name}; put it on every node: "
                             f"mlgym-tui image push-to-cluster (or mlgym-tui image build on that node)"}))
            return
        with tempfile.TemporaryDirectory(prefix="mlgym-ray-") as scratch:
            await _run(request, engine, Path(scratch), send, control, stop_box, where, start_episode)
    finally:
        await asyncio.to_thread(engine.close)


async def _run(request, engine, scratch: Path, send, control, stop_box, where, start_episode) -> None:
    task, agent, runtime = request["task"], request["agent"], request["runtime"]
    secrets = _secrets(agent.model_dump(mode="json"), runtime.model_dump(mode="json"), task.model_dump(mode="json"))
    streaming = StreamingRecorder(send, secrets)
    inner: list[Any] = []

    def swap(recorder):  # the real Recorder wrote config.yaml (redacted with this node's secrets): keep only that
        inner.append(recorder)
        recorder.close()
        return streaming

    try:
        controller = await start_episode(task, agent, engine_name=engine.name, runs_dir=scratch, runtime=runtime,
                                         engine=engine, recorder_wrapper=swap)
    except Exception as exc:  # a config problem of this episode, or this node's engine
        send(("failed", {"infra": _classify_start(exc), "message": str(exc), **where}))
        return
    import yaml

    config = yaml.safe_load(inner[0].config_path.read_text(encoding="utf-8"))
    send(("hello", {"config": config, "run_name": controller.run_dir.name, "task_id": controller.task_id,
                    "model": controller.model, "agent": controller.agent, "max_steps": controller.max_steps,
                    **where}))
    files = _KeptFiles(controller.run_dir, "submissions", send)
    blobs = _KeptFiles(controller.run_dir, "workspace", send)

    def on_event(event: Event) -> None:
        if event.type == "validation_scored":
            files.flush()  # the environment kept the scored files before the event was emitted
        elif event.type == "workspace_snapshot":
            blobs.flush()  # stored before the snapshot was emitted
        if event.type in PROGRESS_EVENTS:
            send(("progress", progress_of(controller)))

    controller.subscribe(on_event)
    stop_box["controller"] = controller
    watcher = asyncio.ensure_future(_watch_stop(control, controller)) if control is not None else None
    try:
        await controller.run()
    finally:
        if watcher is not None:
            watcher.cancel()
        await asyncio.to_thread(files.flush)
        await asyncio.to_thread(blobs.flush)
        send(("progress", progress_of(controller)))
    send(("done", {"exit_status": controller.exit_status}))


async def _watch_stop(control, controller) -> None:
    """The driver's first Ctrl-C: stop this episode at its next step boundary, as a local batch does."""
    try:
        await control.wait_stop.remote()
    except asyncio.CancelledError:
        raise
    except Exception:  # the control actor is gone (the driver left): nothing to obey
        return
    controller.stop()


def episode_stream(request: dict[str, Any], control) -> Iterator[list[Any]]:
    """The Ray task: run one episode, yield lists of messages (see the module docstring) until it is over."""
    out: queue.Queue = queue.Queue()
    box: dict[str, Any] = {}

    def main() -> None:
        async def body() -> None:
            box["task"] = asyncio.current_task()
            box["loop"] = asyncio.get_running_loop()
            await _episode(request, out.put, control, box)

        try:
            asyncio.run(body())
        except asyncio.CancelledError:
            pass
        except BaseException as exc:  # noqa: BLE001 - reported to the driver, whatever it was
            out.put(("failed", {"infra": None, "message": f"{type(exc).__name__}: {exc}"}))
        finally:
            out.put(_DONE)

    thread = threading.Thread(target=main, name="mlgym-episode", daemon=True)
    thread.start()
    try:
        finished = False
        while not finished:
            try:
                first = out.get(timeout=0.25)
            except queue.Empty:
                continue
            batch = []
            item = first
            while True:
                if item is _DONE:
                    finished = True
                    break
                batch.append(item)
                if len(batch) >= BATCH_LIMIT:
                    break
                try:
                    item = out.get_nowait()
                except queue.Empty:
                    break
            if batch:
                yield batch
    except BaseException:
        # Cancelled (ray.cancel raises KeyboardInterrupt here) or the driver went away: end the episode, which
        # closes its environment and removes its containers, before this task returns.
        loop, task = box.get("loop"), box.get("task")
        if loop is not None and task is not None:
            try:
                loop.call_soon_threadsafe(task.cancel)
            except RuntimeError:
                pass  # the loop has closed: the episode is over already
        thread.join(CANCEL_GRACE_S)
        raise
    thread.join(CANCEL_GRACE_S)


def remove_containers_of(host: str, pid: int) -> list[str]:
    """On this node: remove the containers (Docker and Podman) that process `pid` of `host` started, once that
    process is gone (a worker killed outright never closed its environment). Returns their names."""
    from mlgym_tui.runtime.base import LABEL
    from mlgym_tui.runtime.detect import connect_docker, connect_podman
    from mlgym_tui.runtime.errors import RuntimeProblem

    if host != socket.gethostname() or _alive(pid):
        return []
    removed: list[str] = []
    for connector in (connect_docker, lambda config: connect_podman(config, start_service=False)):
        try:
            engine = connector(None)
        except RuntimeProblem:
            continue
        try:
            filters = {"label": [f"{LABEL}.host={host}", f"{LABEL}.pid={pid}"]}
            for container in engine.client.containers.list(all=True, filters=filters):
                try:
                    container.remove(force=True)
                    removed.append(container.name)
                except Exception:  # noqa: BLE001 - gone already, or being removed by the engine itself
                    pass
        except Exception:  # noqa: BLE001 - an engine failing mid-listing must not fail the clean-up of the other
            pass
        finally:
            engine.close()
    return removed


def _node_id() -> str:
    from mlgym_tui.batch.ray_support import import_ray

    try:
        return import_ray().get_runtime_context().get_node_id()
    except Exception:  # noqa: BLE001 - not in a Ray worker (a test calling the body directly)
        return ""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
