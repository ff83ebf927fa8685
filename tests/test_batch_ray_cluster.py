"""Per-node readiness on a real two-node Ray cluster with the real engines: the nodes and their mlgym_containers,
a call on each node exactly once, `doctor --cluster`, and `image push-to-cluster` through Ray's object store."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from conftest import get_engine

from mlgym_tui.config.runtime import DEFAULT_IMAGE


@pytest.fixture
def cluster(ray_cluster):
    """The session's two-node cluster (conftest.py)."""
    return ray_cluster


def _mlgym(args: list[str], timeout: float = 240, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mlgym_tui.cli", *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "COLUMNS": "250", **(env or {})})


def test_alive_nodes_lists_both_nodes_with_their_free_containers(cluster):
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    from mlgym_tui.batch.cluster import alive_nodes

    nodes = alive_nodes()
    assert len({n.node_id for n in nodes}) == 2
    assert [n.is_head for n in nodes] == [True, False]
    assert [(n.containers_total, n.containers_free) for n in nodes] == [(2, 2), (2, 2)]

    @ray.remote(num_cpus=0, resources={"mlgym_containers": 1})
    class Holder:
        def ready(self) -> bool:
            return True

    worker = nodes[1]
    holder = Holder.options(scheduling_strategy=NodeAffinitySchedulingStrategy(worker.node_id, soft=False)).remote()
    try:
        ray.get(holder.ready.remote(), timeout=60)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # the GCS hears of the node's usage a moment later
            free = {n.node_id: n.containers_free for n in alive_nodes()}
            if free[worker.node_id] == 1:
                break
            time.sleep(0.2)
        assert free == {nodes[0].node_id: 2, worker.node_id: 1}
    finally:
        ray.kill(holder)


def test_on_each_node_runs_once_per_node_and_returns_failures(cluster):
    from mlgym_tui.batch.cluster import alive_nodes, on_each_node

    # Defined here so that they travel by value: the workers cannot import this test module.
    def _node_id_here() -> str:
        import ray

        return ray.get_runtime_context().get_node_id()

    def _refuse() -> None:
        raise ValueError("no such thing on this node")

    ids = {n.node_id for n in alive_nodes()}
    answers = on_each_node(_node_id_here)
    assert set(answers) == ids
    assert all(node_id == ran_on for node_id, ran_on in answers.items()), answers
    failures = on_each_node(_refuse)
    assert set(failures) == ids
    assert all(isinstance(exc, ValueError) and "no such thing" in str(exc) for exc in failures.values())


def test_doctor_cluster_lists_each_node_with_engines_and_image_hash(cluster):
    from mlgym_tui.batch.cluster import alive_nodes

    local = {name: get_engine(name).client.images.get(DEFAULT_IMAGE).id[7:19] for name in ("docker", "podman")}
    done = _mlgym(["doctor", "--cluster", "--ray-address", cluster.address])
    assert done.returncode == 0, done.stdout + done.stderr
    print(done.stdout)  # the table (pytest -s)
    rows = [line for line in done.stdout.splitlines() if "mlgym_containers" not in line]
    for node in alive_nodes():
        row = next(line for line in rows if node.node_id[:8] in line)
        assert "docker" in row and "podman" in row
        assert f"docker {local['docker']}" in row and f"podman {local['podman']}" in row
        assert "2/2" in row
    assert "all 2 node(s) can run episodes" in done.stdout


def test_doctor_cluster_fails_with_the_fix_for_a_node_without_containers(cluster, capsys, monkeypatch):
    from mlgym_tui.batch.cluster import alive_nodes
    from mlgym_tui.cli import main

    monkeypatch.setenv("COLUMNS", "250")

    bare = cluster.add_node(num_cpus=1)
    try:
        cluster.wait_for_nodes()
        assert any(n.containers_total == 0 for n in alive_nodes())
        # In this process (already connected): a second driver would cost a start-up for nothing new.
        code = main(["doctor", "--cluster", "--ray-address", cluster.address])
        out = capsys.readouterr().out
        assert code == 1, out
        assert "declares no mlgym_containers" in out
        assert """--resources '{"mlgym_containers": 4}'""" in out
        assert "1 of 3 node(s) cannot run episodes" in out
    finally:
        cluster.remove_node(bare)


BASE_IMAGE = "docker.io/library/debian:bookworm-slim"
PUSH_TAG = "mlgym-tui-push-test:latest"


@pytest.mark.parametrize("engine_name", ["docker", "podman"])
def test_push_to_cluster_skips_nodes_with_the_same_image(cluster, engine_name):
    from mlgym_tui.batch.cluster import alive_nodes
    from mlgym_tui.batch.cluster_images import push_image

    engine = get_engine(engine_name)
    report = push_image(engine, engine_name, DEFAULT_IMAGE)
    assert report.ok and report.bytes_sent == 0
    assert sorted((r.node.node_id, r.status, r.image_id) for r in report.results) == sorted(
        (n.node_id, "skipped", engine.client.images.get(DEFAULT_IMAGE).id) for n in alive_nodes())


# The save -> Ray -> load path is the same code for both engines (their image APIs agree; the skip test above asks
# each engine): one engine keeps this 20-40 s test within the suite's time.
@pytest.mark.parametrize("engine_name", ["docker"])
def test_push_to_cluster_force_loads_the_image_on_every_node_through_ray(cluster, engine_name):
    """The save -> object store -> load path for real, on an image of the base's size (the 1.7 GB task image takes
    over a minute per engine here; its figures are in the issue's notes)."""
    from mlgym_tui.batch.cluster import alive_nodes, on_each_node
    from mlgym_tui.batch.cluster_images import image_ids_on_node

    client = get_engine(engine_name).client
    client.images.get(BASE_IMAGE).tag(*PUSH_TAG.split(":"))
    try:
        source_id = client.images.get(PUSH_TAG).id
        nodes = alive_nodes()
        pushed = _mlgym(["image", "push-to-cluster", "--force", "--engine", engine_name, "--image", PUSH_TAG,
                         "--ray-address", cluster.address])
        assert pushed.returncode == 0, pushed.stdout + pushed.stderr
        for node in nodes:
            assert f"node {node.label}: {PUSH_TAG} loaded {source_id[7:19]}" in pushed.stdout
        assert " MB/s)" in pushed.stdout and "peak memory" in pushed.stdout
        print(pushed.stdout)  # the figures (pytest -s)
        after = on_each_node(image_ids_on_node, engine_name, [PUSH_TAG])
        assert {node_id: ids for node_id, (_, ids) in after.items()} == {n.node_id: {PUSH_TAG: source_id} for n in nodes}
    finally:
        client.images.remove(PUSH_TAG)


def test_ray_missing_or_unreachable_is_one_line(tmp_path):
    fake = tmp_path / "ray"
    fake.mkdir()
    (fake / "__init__.py").write_text("raise ImportError('no ray here')\n")
    for args in (["doctor", "--cluster"], ["image", "push-to-cluster", "--engine", "docker"]):
        done = _mlgym(args, timeout=60, env={"PYTHONPATH": str(tmp_path)})
        assert done.returncode == 1
        assert done.stderr.strip().splitlines() == [
            "mlgym-tui: error: Ray is not installed; install the extra: uv sync --extra ray "
            "(or pip install 'mlgym-tui[ray]')"], done.stderr
    unreachable = _mlgym(["doctor", "--cluster", "--ray-address", "127.0.0.1:1"], timeout=60)
    assert unreachable.returncode == 1
    lines = unreachable.stderr.strip().splitlines()
    assert len(lines) == 1 and "nothing answers at the Ray address '127.0.0.1:1'" in lines[0], unreachable.stderr
