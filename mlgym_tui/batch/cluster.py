"""The nodes of a Ray cluster, one by one: which are alive and what they hold, running a function once on each,
and whether each can run episodes (an engine it reaches, the task image in it, free `mlgym_containers`).

Ray is reached only through ray_support; the functions here connect to the cluster at "auto" when this process
is not connected yet (call ray_support.connect(address) first to choose another).

    alive_nodes() -> list[NodeInfo]
    on_each_node(fn, *args, **kwargs) -> {node_id: fn's result, or the exception it raised or that Ray raised}
    cluster_readiness(image) -> list[NodeReadiness]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mlgym_tui.batch.ray_support import CONTAINER_RESOURCE, RayUnavailable, connect, import_ray

NODE_TIMEOUT = 120.0
"""Seconds on_each_node waits for a node's answer before giving up on that node."""
CONTAINERS_FIX = "ray start ... --resources '{\"mlgym_containers\": 4}' on that node (how many episode containers it runs at once)"


@dataclass(frozen=True)
class NodeInfo:
    """An alive node: its Ray id, address and resources (declared totals, and what is free right now)."""

    node_id: str
    address: str
    hostname: str
    is_head: bool
    resources: dict[str, float]
    available: dict[str, float]

    @property
    def containers_total(self) -> int:
        return int(self.resources.get(CONTAINER_RESOURCE, 0))

    @property
    def containers_free(self) -> int:
        return int(self.available.get(CONTAINER_RESOURCE, 0))

    @property
    def gpus(self) -> int:
        return int(self.resources.get("GPU", 0))

    @property
    def label(self) -> str:
        return f"{self.address} {self.node_id[:8]}" + (" (head)" if self.is_head else "")


def connect_cluster(address: str | None = "auto"):
    """ray_support.connect, but a HOST:PORT that nothing answers on fails in seconds (Ray itself retries for
    minutes, printing as it goes)."""
    import socket

    if address and address != "auto" and "://" not in address and ":" in address:
        host, _, port = address.rpartition(":")
        try:
            socket.create_connection((host, int(port)), timeout=5).close()
        except (OSError, ValueError) as exc:
            raise RayUnavailable(f"nothing answers at the Ray address {address!r} ({exc}); start the head there with "
                                 "`ray start --head --resources '{\"mlgym_containers\": 4}'` or pass the "
                                 "--ray-address it printed") from None
    return connect(address)


def _ray():
    ray = import_ray()
    if not ray.is_initialized():
        connect("auto")
    return ray


def alive_nodes() -> list[NodeInfo]:
    """Every alive node, the head first."""
    ray = _ray()
    # ray.available_resources() is the cluster's sum; the per-node figures come from the GCS (a DeveloperAPI of
    # Ray's, the one `ray status` reads). A resource with nothing free is absent from it: absent means 0.
    from ray._private.state import available_resources_per_node

    free = available_resources_per_node()
    nodes = [NodeInfo(node_id=n["NodeID"], address=n["NodeManagerAddress"], hostname=n.get("NodeManagerHostname", ""),
                      is_head="node:__internal_head__" in n["Resources"], resources=dict(n["Resources"]),
                      available=dict(free.get(n["NodeID"], {})))
             for n in ray.nodes() if n["Alive"]]
    return sorted(nodes, key=lambda n: (not n.is_head, n.address, n.node_id))


_remote_call = None


def _call(fn: Callable, args: tuple, kwargs: dict) -> Any:
    return fn(*args, **kwargs)


def on_each_node(fn: Callable, *args, nodes: list[NodeInfo] | None = None, timeout: float = NODE_TIMEOUT,
                 **kwargs) -> dict[str, Any]:
    """Run fn(*args, **kwargs) exactly once on each alive node (or on `nodes`): a Ray task pinned to the node,
    asking for no CPU so a busy node still answers. Returns {node_id: result}, where a node whose call failed maps
    to the exception: fn's own, or Ray's when the node died (NodeDiedError...), or TimeoutError after `timeout`.
    fn and its arguments must pickle; mlgym_tui must be importable on every node."""
    global _remote_call
    ray = _ray()
    from ray.exceptions import RayError, RayTaskError
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    if _remote_call is None:
        # No retries: a call that fails is reported, never run twice on a node.
        _remote_call = ray.remote(num_cpus=0, max_retries=0)(_call)
    targets = alive_nodes() if nodes is None else nodes
    refs = {node.node_id: _remote_call.options(
        scheduling_strategy=NodeAffinitySchedulingStrategy(node.node_id, soft=False)).remote(fn, args, kwargs)
        for node in targets}
    ready, _ = ray.wait(list(refs.values()), num_returns=len(refs), timeout=timeout)
    ready = set(ready)
    results: dict[str, Any] = {}
    for node_id, ref in refs.items():
        if ref not in ready:
            ray.cancel(ref, force=True)
            results[node_id] = TimeoutError(f"node {node_id[:8]} did not answer within {timeout:.0f} s")
            continue
        try:
            results[node_id] = ray.get(ref)
        except RayTaskError as exc:
            results[node_id] = exc.cause if isinstance(getattr(exc, "cause", None), BaseException) else exc
        except RayError as exc:
            results[node_id] = exc
    return results


@dataclass
class EngineReadiness:
    """One engine as a node sees it."""

    name: str
    reachable: bool
    version: str = ""
    image_present: bool = False
    image_id: str = ""
    gpus: str = ""
    problem: str = ""

    @property
    def usable(self) -> bool:
        return self.reachable and self.image_present


@dataclass
class NodeReadiness:
    node: NodeInfo
    engines: list[EngineReadiness] = field(default_factory=list)
    error: str = ""
    """Set when the node could not be asked at all (it died, or its check raised)."""

    @property
    def problems(self) -> list[str]:
        """Why episodes cannot run here, each with its fix; empty when they can."""
        out = []
        if self.error:
            out.append(f"the node did not answer the check ({self.error}); is mlgym-tui installed on it?")
        elif not any(e.usable for e in self.engines):
            reachable = [e for e in self.engines if e.reachable]
            if reachable:
                out.append(f"no engine has the task image; push it: mlgym-tui image push-to-cluster --engine {reachable[0].name}")
            else:
                out.append("no container engine is reachable ("
                           + "; ".join(e.problem for e in self.engines) + "); start docker or podman on that node")
        if self.node.containers_total == 0:
            out.append(f"declares no {CONTAINER_RESOURCE}; fix: {CONTAINERS_FIX}")
        return out

    @property
    def usable(self) -> bool:
        return not self.problems


def node_runtime_config(image: str | None = None):
    """This node's runtime settings (its own settings file; defaults when it has none or it is invalid), with the
    image the driver asks about."""
    from mlgym_tui.config.runtime import RuntimeConfig
    from mlgym_tui.config.settings import ConfigError, get_settings

    try:
        config = get_settings().runtime
    except ConfigError:
        config = RuntimeConfig()
    return config.model_copy(update={"image": image}) if image else config


def probe_engines(image: str) -> list[EngineReadiness]:
    """On this node: Docker and Podman, reachable or not, whether they have `image` and its id, their GPUs."""
    from mlgym_tui.runtime.detect import connect as connect_engine
    from mlgym_tui.runtime.errors import EngineUnavailable
    from mlgym_tui.runtime.image_transfer import image_id

    config = node_runtime_config(image)
    out = []
    for name in ("docker", "podman"):
        try:
            engine = connect_engine(name, config)
        except EngineUnavailable as exc:
            out.append(EngineReadiness(name, reachable=False, problem=exc.problem))
            continue
        try:
            found = image_id(engine, image) or ""
            out.append(EngineReadiness(name, reachable=True, version=engine.info().version, image_present=bool(found),
                                       image_id=found, gpus=engine.gpu_support()))
        finally:
            engine.close()
    return out


def cluster_readiness(image: str, timeout: float = NODE_TIMEOUT) -> list[NodeReadiness]:
    """Every alive node's readiness to run episodes of `image` (the head first)."""
    nodes = alive_nodes()
    answers = on_each_node(probe_engines, image, nodes=nodes, timeout=timeout)
    out = []
    for node in nodes:
        answer = answers[node.node_id]
        if isinstance(answer, BaseException):
            out.append(NodeReadiness(node, error=str(answer).strip().splitlines()[-1][:200] if str(answer).strip() else type(answer).__name__))
        else:
            out.append(NodeReadiness(node, engines=answer))
    return out
