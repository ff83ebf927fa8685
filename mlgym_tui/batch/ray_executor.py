"""`--executor ray`: each episode is one Ray task on a node with a container engine; the driver keeps the files.

Placement: an episode asks for one `mlgym_containers` (each node declares how many it runs at once), no CPU (its
work happens in containers), and `num_gpus` when the runtime gives its containers GPUs (the container then gets
exactly the GPUs Ray reserved). `--parallel` caps the episodes in flight across the cluster.

The task (ray_worker.episode_stream) streams its messages back as a Ray generator; RemoteEpisode turns them into
the run directory, written here by a real Recorder, under the same batch layout as a local batch.

Faults. A task whose worker or node dies mid-episode: its partial run directory is kept, labelled
(layout.INFRA_MARKER, e.g. "node lost: ..."), the containers its process left are removed by a clean-up task on
every live node, and the slot runs again in a new run directory, up to `retries` times. A start that failed
because of the node (engine down, image missing) is retried too, preferably on another node. A stop (Ctrl-C):
a control actor tells every running episode to stop at its next step boundary; a second one cancels the tasks,
which end their episodes and close their environments (a task that does not end in time is killed and its
containers removed by the clean-up task).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from mlgym_tui.batch.layout import mark_infra, mark_interrupted
from mlgym_tui.batch.local_executor import INTERRUPTED, settle
from mlgym_tui.batch.progress import SlotProgress
from mlgym_tui.batch.ray_support import CONTAINER_RESOURCE

CANCEL_WAIT_S = 40.0  # a cancelled episode closes its environment; after this its task is killed instead
NODE_DEATH_WAIT_S = 10.0  # how long to wait for the cluster to declare a node dead after its worker vanished
CLEANUP_WAIT_S = 60.0


def gpu_count(runtime: Any) -> int:
    """The GPUs one episode reserves on its node: a count or a list of ids as given; "all" reserves one (on a
    cluster a node's "all" is not known in advance: give a count)."""
    from mlgym_tui.config.runtime import parse_gpus

    request = parse_gpus(runtime.gpus)
    if request is None:
        return 0
    if request.ids:
        return len(request.ids)
    return request.count if request.count > 0 else 1


def episode_options(task: Any, runtime: Any) -> dict[str, Any]:
    """What `.options(...)` gets for one episode's task (placement and retries; scheduling strategy apart).

    Raises RuntimeProblem for a task that needs GPUs when none are given (environment.require_gpus)."""
    from mlgym_tui.environment.environment import require_gpus

    require_gpus(task, runtime)
    options: dict[str, Any] = {
        "num_cpus": 0,
        "resources": {CONTAINER_RESOURCE: 1},
        "max_retries": 0,  # a rerun needs a fresh run directory beside the partial one: the driver reruns
        "name": f"mlgym-episode:{task.id}",
    }
    gpus = gpu_count(runtime)
    if gpus:
        options["num_gpus"] = gpus
    return options


class _Control:
    """The batch's control channel (a Ray actor on the driver's node): the first Ctrl-C reaches workers here."""

    def __init__(self) -> None:
        import asyncio as _asyncio

        self._stopped = _asyncio.Event()
        self.reason = ""

    async def stop(self, reason: str) -> None:
        self.reason = reason
        self._stopped.set()

    async def wait_stop(self) -> str:
        await self._stopped.wait()
        return self.reason


class RayExecutor:
    name = "ray"

    def __init__(self, runner: Any, *, address: str = "auto", retries: int = 2) -> None:
        self.runner = runner
        self.address = address
        self.retries = retries
        self.ray: Any = None
        self._remote: Any = None
        self._cleanup: Any = None
        self._control: Any = None
        self._running: dict[Any, Any] = {}  # RemoteEpisode -> its task's generator

    @property
    def active(self) -> int:
        return len(self._running)

    @property
    def engine_name(self) -> str:
        """The engine each node's episode uses: the batch's --engine (docker, podman, auto: that node's first)."""
        engine = self.runner.engine
        if isinstance(engine, str):
            return engine
        return getattr(engine, "name", None) or self.runner.runtime.engine

    # -- set-up ------------------------------------------------------------------------------------------------
    async def open(self) -> None:
        from mlgym_tui.batch.ray_support import connect
        from mlgym_tui.batch.ray_worker import episode_stream, remove_containers_of

        runner = self.runner
        options = {task.id: episode_options(task, runner.runtime) for task in runner.tasks}
        self.ray = ray = await asyncio.to_thread(connect, self.address)
        nodes = await asyncio.to_thread(_live_nodes, ray)
        _check_capacity(nodes, options, self.address)
        self._remote = ray.remote(episode_stream)
        self._cleanup = ray.remote(num_cpus=0, max_retries=0)(remove_containers_of)
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        here = ray.get_runtime_context().get_node_id()
        self._control = ray.remote(num_cpus=0, max_restarts=0)(_Control).options(
            scheduling_strategy=NodeAffinitySchedulingStrategy(here, soft=True)).remote()
        self._options = options

    async def close(self) -> None:
        if self._control is not None:
            try:
                self.ray.kill(self._control)
            except Exception:  # noqa: BLE001 - the cluster is gone: nothing left to kill
                pass
            self._control = None

    # -- stopping ----------------------------------------------------------------------------------------------
    def stop(self, reason: str) -> None:
        """First Ctrl-C: running episodes stop at their next step boundary; queued ones are cancelled."""
        if self._control is not None:
            self._control.stop.remote(reason)
        for episode, generator in list(self._running.items()):
            if episode.started:
                mark_interrupted(episode.run_dir, reason)
            else:  # still waiting for a node, or starting: it never becomes a run
                self.ray.cancel(generator)

    # -- one slot ----------------------------------------------------------------------------------------------
    async def run_slot(self, task: Any, progress: SlotProgress, slot: Path) -> None:
        avoid: set[str] = set()
        for attempt in range(1, self.retries + 2):
            kind, detail, node = await self._attempt(task, progress, slot, avoid)
            if kind is None:
                return
            self.runner.count_infra(kind)
            if node:
                avoid.add(node)
            last = attempt > self.retries or self.runner.stopping
            progress.status = f"infra: {kind}" if last else f"infra: {kind}, rerun {attempt + 1}/{self.retries + 1}"
            self.runner._note(f"[{progress.label}] {kind}: {detail}" + ("" if last else "; running it again"))
            if last:
                self.runner.display.ended(progress)
                return

    async def _attempt(self, task: Any, progress: SlotProgress, slot: Path,
                       avoid: set[str]) -> tuple[str | None, str, str]:
        """Run the episode once. Returns (infra kind, detail, node id) when the infrastructure ended it, else
        (None, "", "") with the progress row settled."""
        from mlgym_tui.batch.remote_episode import RemoteEpisode

        runner = self.runner
        progress.status = "starting"
        episode = RemoteEpisode(progress, slot, runner.display)
        # A stop that came while it was starting: it ends at once, and its run directory is marked unfinished.
        episode.on_hello = lambda started: runner.stopping and mark_interrupted(started.run_dir, "batch stopped")
        request = {"task": task, "agent": runner.agent, "runtime": runner.runtime, "engine": self.engine_name,
                   "gpus_from_ray": "num_gpus" in self._options[task.id]}
        options = dict(self._options[task.id])
        strategy = await self._placement(avoid)
        if strategy is not None:
            options["scheduling_strategy"] = strategy
        generator = self._remote.options(**options).remote(request, self._control)
        self._running[episode] = generator
        error: BaseException | None = None
        try:
            async for ref in generator:
                for message in await ref:
                    await episode.apply(message)
        except asyncio.CancelledError:
            await self._cancel(generator, episode)
            raise
        except Exception as exc:  # noqa: BLE001 - sorted below: the cluster's failure or the episode's
            error = exc
        finally:
            self._running.pop(episode, None)
            await episode.close()
        if error is not None:
            return await self._failed(error, episode, progress)
        if episode.failed is not None:
            infra = episode.failed.get("infra")
            if infra and not runner.stopping:
                return infra, episode.failed.get("message", ""), episode.where.get("node_id") or ""
            progress.status = (f"infra: {infra}" if infra else f"failed: {episode.failed.get('message')}")[:200]
            if infra:
                runner.count_infra(infra)
            runner._note(f"[{progress.label}] could not start: {episode.failed.get('message')}")
            return None, "", ""
        if not episode.started:  # cancelled before it began (a stop while it waited for a node)
            progress.status = "not started"
            return None, "", ""
        progress.status = settle(runner.stopping, episode.exit_status, episode.run_dir)
        runner.display.ended(progress)
        return None, "", ""

    async def _failed(self, error: BaseException, episode: Any, progress: SlotProgress) -> tuple[str | None, str, str]:
        exceptions = self.ray.exceptions
        if isinstance(error, exceptions.TaskCancelledError):
            progress.status = INTERRUPTED if episode.started else "not started"
            if episode.started:
                mark_interrupted(episode.run_dir, "batch stopped")
            return None, "", ""
        if isinstance(error, exceptions.RayTaskError) or not isinstance(error, exceptions.RayError):
            # The episode's own code failed on the worker: not the cluster's doing, so not rerun.
            progress.status = f"failed: {type(error).__name__}: {error}"[:200]
            if episode.started:
                mark_interrupted(episode.run_dir, f"failed: {type(error).__name__}")
            self.runner.display.ended(progress)
            return None, "", ""
        node = episode.where.get("node_id") or ""
        lost = isinstance(error, exceptions.NodeDiedError) or (node and await self._node_died(node))
        kind = "node lost" if lost else "worker lost"
        detail = f"{type(error).__name__}" + (f" on node {node[:12]}" if node else "")
        if episode.started:
            mark_infra(episode.run_dir, kind, f"{detail}; the slot was run again in a new run directory")
        await self._remove_leftovers(episode)
        return kind, detail, node

    async def _cancel(self, generator: Any, episode: Any) -> None:
        """The second Ctrl-C: cancel the task; it ends its episode and removes its containers. One that does not
        finish in time is killed and its containers removed by the clean-up task."""
        ray = self.ray
        ray.cancel(generator)

        async def drain() -> None:
            try:
                async for ref in generator:
                    for message in await ref:
                        await episode.apply(message)
            except Exception:  # noqa: BLE001 - TaskCancelledError once the task has ended
                pass

        try:
            await asyncio.wait_for(drain(), CANCEL_WAIT_S)
        except asyncio.TimeoutError:
            try:
                ray.cancel(generator, force=True)
            except Exception:  # noqa: BLE001 - it ended meanwhile
                pass
            await asyncio.sleep(1.0)  # the killed worker's pid must be gone before its containers count as left
            await self._remove_leftovers(episode)
        if episode.started:
            mark_interrupted(episode.run_dir, "batch cancelled")

    # -- the cluster -------------------------------------------------------------------------------------------
    async def _node_died(self, node_id: str) -> bool:
        deadline = asyncio.get_running_loop().time() + NODE_DEATH_WAIT_S
        while True:
            nodes = await asyncio.to_thread(_live_nodes, self.ray)
            if node_id not in {n["NodeID"] for n in nodes}:
                return True
            if asyncio.get_running_loop().time() > deadline:
                return False
            await asyncio.sleep(0.5)

    async def _placement(self, avoid: set[str]) -> Any:
        """A rerun prefers a node other than the ones this slot failed on (when there is one)."""
        if not avoid:
            return None
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        nodes = await asyncio.to_thread(_live_nodes, self.ray)
        others = [n["NodeID"] for n in nodes
                  if n["NodeID"] not in avoid and n.get("Resources", {}).get(CONTAINER_RESOURCE, 0) >= 1]
        return NodeAffinitySchedulingStrategy(others[0], soft=True) if others else None

    async def _remove_leftovers(self, episode: Any) -> None:
        """Containers of a worker killed outright are removed on whichever live node shares its host."""
        host, pid = episode.where.get("host"), episode.where.get("pid")
        if not host or not pid:
            return
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        nodes = await asyncio.to_thread(_live_nodes, self.ray)
        refs = [self._cleanup.options(scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False))
                .remote(host, int(pid)) for n in nodes]
        removed: list[str] = []
        for ref in refs:
            try:
                removed += await asyncio.wait_for(ref, CLEANUP_WAIT_S)
            except Exception:  # noqa: BLE001 - that node went too; the others cover the host
                pass
        if removed:
            self.runner._note(f"removed {len(removed)} container(s) left by the lost worker: {', '.join(removed)}")


def _live_nodes(ray: Any) -> list[dict[str, Any]]:
    return [n for n in ray.nodes() if n.get("Alive")]


def _check_capacity(nodes: list[dict[str, Any]], options: dict[str, dict[str, Any]], address: str) -> None:
    """Fail at once (one line) when no node could ever run an episode of some task."""
    from mlgym_tui.batch.runner import BatchError

    hosts = [n.get("Resources", {}) for n in nodes if n.get("Resources", {}).get(CONTAINER_RESOURCE, 0) >= 1]
    if not hosts:
        raise BatchError(f"no node of the Ray cluster at {address!r} declares {CONTAINER_RESOURCE}; start each node "
                         f"with ray start ... --resources '{{\"{CONTAINER_RESOURCE}\": 4}}'")
    for task_id, opts in options.items():
        gpus = opts.get("num_gpus", 0)
        if gpus and not any(r.get("GPU", 0) >= gpus for r in hosts):
            raise BatchError(f"task {task_id} asks for {gpus} GPU(s) per episode, but no node of the Ray cluster with "
                             f"{CONTAINER_RESOURCE} has that many; start GPU nodes with ray start ... --num-gpus N, "
                             "or lower --gpus")
