"""Batches on a real Ray cluster (tests/ray_cluster.py: two nodes on this machine) with real engines: the same run
folders and results as a local batch, a node lost mid-episode and its episode run again elsewhere, Ctrl-C twice
leaving no container, and the GPU placement an episode asks for."""

from __future__ import annotations

import asyncio
import io
import json
import time
from pathlib import Path

import pytest
from conftest import get_engine
from rich.console import Console

from mlgym_tui.batch import BatchRunner, episode_ended, inspect_slot
from mlgym_tui.batch.layout import INFRA_MARKER, INTERRUPTED_MARKER, infra_reason
from mlgym_tui.batch.ray_executor import _check_capacity, episode_options
from mlgym_tui.batch.runner import BatchError
from mlgym_tui.commands.batch import resolve_tasks
from mlgym_tui.config.agent import AgentConfig, load_agent_config
from mlgym_tui.config.runtime import RuntimeConfig
from mlgym_tui.evaluation import aggregate, collect_runs
from mlgym_tui.runtime.base import LABEL
from mlgym_tui.runtime.errors import RuntimeProblem

TASKS = ["battleOfSexes", "prisonersDilemma"]


def baseline_agent(commands: list[str] | None = None, name: str = "baseline") -> AgentConfig:
    data = load_agent_config("baseline").model_dump()
    if commands is not None:
        data["baseline"]["commands"] = commands
    data["name"] = name
    return AgentConfig.model_validate(data)


def make_runner(runs_dir: Path, engine, *, executor: str, agent=None, tasks=TASKS, runs=3, parallel=4, retries=2):
    out = io.StringIO()
    runner = BatchRunner(
        resolve_tasks(tasks), agent or baseline_agent(["submit"]), runs=runs, parallel=parallel, runs_dir=runs_dir,
        engine=engine, runtime=RuntimeConfig(memory="1g"), executor=executor, retries=retries,
        console=Console(file=out, width=200, highlight=False),
    )
    return runner, out


def shape(batch_dir: Path) -> dict[str, list]:
    """Per slot: the files of its run directory (the run's own folder name left out) and its event types."""
    found = {}
    for slot in sorted(batch_dir.iterdir()):
        runs = sorted(p for p in slot.iterdir() if p.is_dir())
        assert len(runs) == 1, runs
        files = sorted(str(p.relative_to(runs[0])) for p in runs[0].rglob("*") if p.is_file())
        events = [json.loads(line)["type"] for line in (runs[0] / "events.jsonl").read_text().splitlines()]
        traj = json.loads((runs[0] / f"{slot.name.split('__')[0]}.traj").read_text())
        found[slot.name] = [files, events, sorted(traj), len(traj["trajectory"]), len(traj["history"]),
                            traj["info"]["exit_status"]]
    return found


def table_rows(batch_dir: Path):
    table = aggregate(collect_runs([batch_dir]))
    cells = {key: (len(cell.runs), cell.best.value is not None) for key, cell in table.cells.items()}
    return sorted(table.tasks), cells, {m: s.exit_statuses for m, s in table.model_stats.items()}


def containers_of(pids: set[int]) -> list[str]:
    names = []
    for name in ("docker", "podman"):
        # the list call alone: inspecting each container would race with the removals being checked
        for c in get_engine(name).client.api.containers(all=True, filters={"label": LABEL}):
            pid = (c.get("Labels") or {}).get(f"{LABEL}.pid", "")
            if pid.isdigit() and int(pid) in pids:
                names += c.get("Names") or [c.get("Id", "")]
    return names


def worker_pids(runner) -> set[int]:
    return {int(s.controller.where["pid"]) for s in runner.slots
            if s.controller is not None and s.controller.where.get("pid")}


@pytest.fixture(scope="module")
def local_batch(tmp_path_factory):
    """The same command run by the local executor, for comparison."""
    runner, out = make_runner(tmp_path_factory.mktemp("local"), get_engine("docker"), executor="local")
    outcome = asyncio.run(runner.run())
    assert outcome.exit_code == 0, out.getvalue()
    return outcome


@pytest.mark.parametrize("engine_name", ["docker", "podman"])
def test_ray_batch_writes_what_a_local_batch_writes(ray_cluster, local_batch, engine_name, tmp_path):
    get_engine(engine_name)  # skips (or fails in CI) when the engine is not usable
    runner, out = make_runner(tmp_path, engine_name, executor="ray")
    outcome = asyncio.run(runner.run())
    log = out.getvalue()
    assert outcome.exit_code == 0, log
    assert [(s.task_id, s.run_index, s.status) for s in outcome.slots] == \
        [(s.task_id, s.run_index, s.status) for s in local_batch.slots]
    assert all(s.status == "submitted" for s in outcome.slots) and outcome.infra == {}
    assert outcome.batch_dir.name == local_batch.batch_dir.name
    assert shape(outcome.batch_dir) == shape(local_batch.batch_dir)
    assert table_rows(outcome.batch_dir) == table_rows(local_batch.batch_dir)
    # the episodes ran on both nodes, on the engine asked for, and their folders are named as locally
    nodes = {s.controller.where["node_id"] for s in outcome.slots}
    assert len(nodes) == 2, nodes
    for slot in outcome.slots:
        run_dir = Path(slot.run_dir)
        started = json.loads((run_dir / "events.jsonl").read_text().splitlines()[0])
        assert started["run_id"] == run_dir.name and started["engine"] == engine_name
        assert (run_dir / "submissions").is_dir() and inspect_slot(run_dir.parent).finished
    assert "started in" in log and "submitted after 1 step(s)" in log  # the same lines as a local batch


def _events(run_dir: Path) -> list[dict]:
    path = run_dir / "events.jsonl"
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()] if path.exists() else []


async def _until(predicate, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


def test_a_node_lost_mid_episode_is_rerun_elsewhere_and_nothing_is_lost(ray_cluster, tmp_path):
    import ray
    from ray.util.placement_group import placement_group, remove_placement_group

    from mlgym_tui.batch.ray_support import CONTAINER_RESOURCE

    get_engine("docker")
    doomed = ray_cluster.add_node(num_cpus=1, resources={CONTAINER_RESOURCE: 1})
    ray_cluster.wait_for_nodes()
    # The two shared nodes' container slots are held, so the episode can only start on the doomed node.
    held = placement_group([{CONTAINER_RESOURCE: 2}, {CONTAINER_RESOURCE: 2}], strategy="STRICT_SPREAD")
    ray.get(held.ready(), timeout=60)
    agent = baseline_agent(["sleep 4", "submit"], name="slow")
    runner, out = make_runner(tmp_path, "docker", executor="ray", agent=agent, tasks=["battleOfSexes"], runs=1,
                              parallel=1)
    slot = tmp_path / "batch__baseline__slow" / "battleOfSexes__run_1"

    async def scenario():
        batch = asyncio.create_task(runner.run())
        await _until(lambda: any(e.get("type") == "command_started" and e.get("action") == "sleep 4"
                                 for p in (slot.iterdir() if slot.is_dir() else []) for e in _events(p)),
                     "the slow command started on the doomed node")
        episode = runner.slots[0].controller
        assert episode.where["node_id"] == doomed.node_id
        await asyncio.to_thread(ray_cluster.remove_node, doomed)
        remove_placement_group(held)
        return await asyncio.wait_for(batch, 120), int(episode.where["pid"])

    try:
        outcome, lost_pid = asyncio.run(scenario())
    finally:
        remove_placement_group(held)
    log = out.getvalue()
    assert outcome.exit_code == 0, log
    assert outcome.slots[0].status == "submitted" and outcome.infra == {"node lost": 1}, (outcome.infra, log)
    state = inspect_slot(slot)
    assert state.finished and len(state.infra) == 1 and not state.unfinished
    partial, final = state.infra[0], state.finished_run
    assert infra_reason(partial).startswith("node lost: ")
    assert episode_ended(partial) is None and "sleep 4" in (partial / "events.jsonl").read_text()
    assert (partial / "battleOfSexes.traj").is_file() and (partial / "config.yaml").is_file()
    assert episode_ended(final)["exit_status"] == "submitted" and not (final / INFRA_MARKER).exists()
    assert runner.slots[0].controller.where["node_id"] != doomed.node_id
    assert containers_of({lost_pid}) == []  # what the killed worker left was removed
    assert "node lost" in log and "running it again" in log

    # The same command again: the slot is finished; the labelled partial run is kept, not deleted or redone.
    again, out = make_runner(tmp_path, "docker", executor="ray", agent=agent, tasks=["battleOfSexes"], runs=1,
                             parallel=1)
    second = asyncio.run(again.run())
    assert second.slots[0].status == "skipped (submitted)" and partial.exists()
    assert f"kept {partial}" in out.getvalue()


def test_ctrl_c_twice_cancels_the_cluster_tasks_and_leaves_no_container(ray_cluster, tmp_path):
    get_engine("podman")
    agent = baseline_agent(["sleep 120", "submit"], name="sleepy")
    runner, out = make_runner(tmp_path, "podman", executor="ray", agent=agent, tasks=["battleOfSexes"], runs=2,
                              parallel=2)
    batch_dir = tmp_path / "batch__baseline__sleepy"

    async def scenario():
        batch = asyncio.create_task(runner.run())
        await _until(lambda: sum(e.get("action") == "sleep 120" for p in batch_dir.glob("*/*") for e in _events(p)
                                 if e.get("type") == "command_started") == 2, "both episodes running their command")
        pids = worker_pids(runner)
        runner.request_stop("SIGINT received")
        runner.request_stop("SIGINT received")
        return await asyncio.wait_for(batch, 60), pids

    started = time.monotonic()
    outcome, pids = asyncio.run(scenario())
    assert len(pids) == 2
    assert outcome.interrupted and outcome.exit_code == 130, out.getvalue()
    assert [s.status for s in outcome.slots] == ["interrupted", "interrupted"]
    assert time.monotonic() - started < 90
    for slot in outcome.slots:
        run_dir = Path(slot.run_dir)
        assert (run_dir / INTERRUPTED_MARKER).exists() and not inspect_slot(run_dir.parent).finished
    deadline = time.monotonic() + 20
    while containers_of(pids) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert containers_of(pids) == []


def test_gpu_requests_are_placement_options(ray_cluster, tmp_path):
    task = resolve_tasks(["battleOfSexes"])[0]
    plain = episode_options(task, RuntimeConfig())
    assert plain["num_cpus"] == 0 and plain["resources"] == {"mlgym_containers": 1} and "num_gpus" not in plain
    assert plain["max_retries"] == 0  # reruns are the driver's, into a fresh run directory
    assert episode_options(task, RuntimeConfig(gpus="2"))["num_gpus"] == 2
    assert episode_options(task, RuntimeConfig(gpus="0,1,2"))["num_gpus"] == 3
    assert episode_options(task, RuntimeConfig(gpus="all"))["num_gpus"] == 1
    lm_task = task.model_copy(update={"task_entrypoint": "LMSubmissionTasks"})
    with pytest.raises(RuntimeProblem, match="trains and evaluates on GPUs"):
        episode_options(lm_task, RuntimeConfig())
    assert episode_options(lm_task, RuntimeConfig(gpus="4"))["num_gpus"] == 4
    with pytest.raises(BatchError, match="asks for 4 GPU"):
        _check_capacity([{"Resources": {"mlgym_containers": 2, "GPU": 2}}], {"t": {"num_gpus": 4}}, "auto")
    with pytest.raises(BatchError, match="declares mlgym_containers"):
        _check_capacity([{"Resources": {"CPU": 4}}], {"t": {}}, "auto")

    # On this GPU-less cluster a GPU batch fails at once, before any folder or container exists.
    runner = BatchRunner([task], baseline_agent(), runs=1, parallel=1, runs_dir=tmp_path, engine="docker",
                         runtime=RuntimeConfig(gpus="1"), executor="ray",
                         console=Console(file=io.StringIO(), highlight=False))
    with pytest.raises(BatchError, match="asks for 1 GPU"):
        asyncio.run(runner.run())
    assert not any(tmp_path.iterdir())
