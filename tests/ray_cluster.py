"""A real multi-node Ray cluster on this one machine, for the cluster tests (conftest.py makes `ray_cluster` a
fixture of every test module: defined once, so one cluster serves the session).

Every node is a real raylet with its own resources; all of them reach this machine's Docker and Podman, as the
nodes of a real cluster reach their own. Starting one costs ~10-20 s, so `ray_cluster` is shared by a session;
a test that kills a node adds its own (`cluster.add_node`) and removes it.
"""

from __future__ import annotations

import os

import pytest

from mlgym_tui.batch.ray_support import CONTAINER_RESOURCE, RayUnavailable, import_ray


def _ray():
    try:
        return import_ray()
    except RayUnavailable as exc:
        if os.environ.get("MLGYM_REQUIRE_ENGINES") == "1":  # CI installs every extra: a missing Ray is a failure
            pytest.fail(str(exc))
        pytest.skip(str(exc))


_running: list = []  # the session's cluster while it runs


@pytest.fixture(scope="session")
def ray_cluster():
    """A head and one worker node, each declaring 2 mlgym_containers and 1 CPU; this process is connected."""
    ray = _ray()
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 1, "resources": {CONTAINER_RESOURCE: 2}, "include_dashboard": False})
    _running.append(cluster)
    cluster.add_node(num_cpus=1, resources={CONTAINER_RESOURCE: 2})
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, log_to_driver=False, logging_level="WARNING")
    try:
        yield cluster
    finally:
        shut_down()


def shut_down() -> None:
    """Stop the session's cluster now (idempotent): its idle processes cost CPU the rest of the suite needs, so
    conftest.py calls this after the last test that asks for it."""
    while _running:
        cluster = _running.pop()
        import_ray().shutdown()
        cluster.shutdown()
