"""Making an image present on every node of a Ray cluster with no registry.

The driver reads its engine's save stream in chunks and puts each chunk in Ray's object store once; on each node
that lacks the image (or has another id under its tag) a loader actor streams the chunks, in order, into that
node's engine load API. At most WINDOW chunks per node are in flight, so neither the driver nor the object store
ever holds the image: memory stays at a few chunks however large the image is.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from mlgym_tui.batch.cluster import NodeInfo, alive_nodes, node_runtime_config, on_each_node
from mlgym_tui.batch.ray_support import import_ray
from mlgym_tui.runtime.image_transfer import TRANSFER_TIMEOUT, image_id, load_chunks, save_chunks

WINDOW = 3
"""Chunks a node may have in flight (sent, not yet taken by its engine)."""


def image_ids_on_node(engine_name: str, tags: list[str]) -> tuple[str, dict[str, str | None]]:
    """On this node: the engine `engine_name` resolves to (auto: the one episodes would use) and its id of each tag."""
    from mlgym_tui.runtime.detect import connect

    engine = connect(engine_name, node_runtime_config())
    try:
        return engine.name, {tag: image_id(engine, tag) for tag in tags}
    finally:
        engine.close()


class ImageLoader:
    """A Ray actor on one node: chunks fed in order go, as one streamed request, into the node's engine load API
    (run by a thread, so that the actor answers the next feed while the engine reads)."""

    def __init__(self, engine_name: str) -> None:
        from mlgym_tui.runtime.detect import connect

        self._engine = connect(engine_name, node_runtime_config())
        self._chunks: queue.Queue = queue.Queue(maxsize=2)
        self._loaded: list[str] = []
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._load, name="image-load", daemon=True)
        self._thread.start()

    def _load(self) -> None:
        try:
            self._loaded = load_chunks(self._engine, iter(self._chunks.get, None))
        except BaseException as exc:  # noqa: BLE001 - handed to the driver by the next feed or finish
            self._error = exc

    def feed(self, chunk: bytes | None) -> int:
        # The engine may have failed: never block forever on a queue nobody reads.
        while True:
            if self._error is not None:
                raise self._error
            try:
                self._chunks.put(chunk, timeout=1.0)
                return 0 if chunk is None else len(chunk)
            except queue.Full:
                if not self._thread.is_alive():
                    raise RuntimeError("the engine load ended before the archive did")

    def finish(self, tag: str) -> str:
        """After the last chunk: wait for the engine, and return its id of `tag` now."""
        self.feed(None)
        self._thread.join(TRANSFER_TIMEOUT)
        if self._error is not None:
            raise self._error
        if self._thread.is_alive():
            raise TimeoutError(f"{self._engine.name} did not finish loading within {TRANSFER_TIMEOUT:.0f} s")
        return image_id(self._engine, tag) or ""


@dataclass
class PushResult:
    """What happened on one node for one image: loaded, skipped (already there with the same id) or failed."""

    node: NodeInfo
    tag: str
    status: str
    image_id: str = ""
    detail: str = ""


@dataclass
class PushReport:
    tag: str
    source_id: str
    results: list[PushResult] = field(default_factory=list)
    bytes_sent: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return all(r.status != "failed" for r in self.results)


def _short_error(exc: BaseException) -> str:
    cause = getattr(exc, "cause", None)
    exc = cause if isinstance(cause, BaseException) else exc
    lines = [line for line in str(exc).strip().splitlines() if line.strip()]
    return (lines[-1] if lines else type(exc).__name__)[:300]


def push_image(source, engine_name: str, tag: str, force: bool = False, nodes: list[NodeInfo] | None = None,
               on_line: Callable[[str], None] = lambda line: None) -> PushReport:
    """Make `tag` of the driver's engine `source` present in the engine `engine_name` of every node (or `nodes`).
    A node whose engine already has the same id is skipped unless `force`."""
    ray = import_ray()
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    source_id = image_id(source, tag)
    report = PushReport(tag, source_id or "")
    if source_id is None:
        from mlgym_tui.runtime.errors import ImageMissing

        raise ImageMissing(f"{source.name} on this machine has no image {tag}", f"mlgym-tui image build --engine {source.name}")
    nodes = alive_nodes() if nodes is None else nodes
    found = on_each_node(image_ids_on_node, engine_name, [tag], nodes=nodes)
    targets: list[NodeInfo] = []
    for node in nodes:
        answer = found[node.node_id]
        if isinstance(answer, BaseException):
            report.results.append(PushResult(node, tag, "failed", detail=_short_error(answer)))
        elif answer[1][tag] == source_id and not force:
            report.results.append(PushResult(node, tag, "skipped", source_id, f"{answer[0]} has it already"))
        else:
            targets.append(node)
    if not targets:
        return report
    loader_class = ray.remote(num_cpus=0, max_restarts=0)(ImageLoader)
    loaders = {node.node_id: loader_class.options(scheduling_strategy=NodeAffinitySchedulingStrategy(
        node.node_id, soft=False)).remote(engine_name) for node in targets}
    pending: dict[str, deque] = {node_id: deque() for node_id in loaders}
    failed: dict[str, str] = {}

    def settle(node_id: str, keep: int) -> None:
        while node_id not in failed and len(pending[node_id]) > keep:
            try:
                ray.get(pending[node_id].popleft(), timeout=TRANSFER_TIMEOUT)
            except Exception as exc:  # noqa: BLE001 - the engine's or Ray's failure, reported for this node
                failed[node_id] = _short_error(exc)
                pending[node_id].clear()

    started = time.monotonic()
    try:
        on_line(f"sending {tag} ({source_id[7:19]}) from {source.name} to {len(targets)} node(s)")
        for chunk in save_chunks(source, tag):
            ref = ray.put(chunk)
            report.bytes_sent += len(chunk)
            del chunk
            for node_id, loader in loaders.items():
                if node_id not in failed:
                    pending[node_id].append(loader.feed.remote(ref))
                    settle(node_id, WINDOW)
            del ref
            if len(failed) == len(loaders):
                break
        finishes = {node_id: loader.finish.remote(tag) for node_id, loader in loaders.items() if node_id not in failed}
        for node_id in finishes:
            settle(node_id, 0)
        for node in targets:
            if node.node_id in failed:
                report.results.append(PushResult(node, tag, "failed", detail=failed[node.node_id]))
                continue
            try:
                loaded_id = ray.get(finishes[node.node_id], timeout=TRANSFER_TIMEOUT)
            except Exception as exc:  # noqa: BLE001 - reported for this node
                report.results.append(PushResult(node, tag, "failed", detail=_short_error(exc)))
                continue
            if loaded_id == source_id:
                report.results.append(PushResult(node, tag, "loaded", loaded_id))
            else:
                report.results.append(PushResult(node, tag, "failed", loaded_id, "after the load the node's "
                                                 f"{engine_name} has id {loaded_id[7:19] or 'none'} under {tag}, "
                                                 f"not {source_id[7:19]}: was it changed meanwhile?"))
    finally:
        report.seconds = time.monotonic() - started
        for loader in loaders.values():
            ray.kill(loader)
    return report
