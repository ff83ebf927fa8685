"""Shared fixtures. Engine tests run on docker and podman; CI sets MLGYM_REQUIRE_ENGINES=1 so a missing
engine fails the run instead of skipping."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import ray_cluster as _ray_cluster
from ray_cluster import ray_cluster  # noqa: F401 - one session cluster for every test module that asks

REPO = Path(__file__).resolve().parents[1]
REQUIRE_ENGINES = os.environ.get("MLGYM_REQUIRE_ENGINES") == "1"
ENGINES = ["docker", "podman"]


@pytest.fixture(autouse=True)
def _isolated_config(tmp_path_factory, monkeypatch):
    """No test reads or writes the developer's real settings."""
    monkeypatch.setenv("MLGYM_TUI_CONFIG_DIR", str(tmp_path_factory.mktemp("config")))


_engines: dict[str, object] = {}


def get_engine(name: str):
    """A connected engine with the task image, or a skip (a failure when engines are required)."""
    if name in _engines:
        return _engines[name]
    from mlgym_tui.config.runtime import RuntimeConfig
    from mlgym_tui.runtime.detect import connect
    from mlgym_tui.runtime.errors import RuntimeProblem

    config = RuntimeConfig()
    try:
        engine = connect(name, config)
        if not engine.image_exists(config.image):
            raise RuntimeProblem(f"image {config.image} is missing in {name}", f"mlgym-tui image build --engine {name}")
    except RuntimeProblem as exc:
        if REQUIRE_ENGINES:
            pytest.fail(f"engine {name} is required (MLGYM_REQUIRE_ENGINES=1) but unusable: {exc}")
        pytest.skip(f"engine {name} unusable here: {exc}")
    _engines[name] = engine
    return engine


@pytest.fixture(params=ENGINES)
def engine(request):
    return get_engine(request.param)


@pytest.fixture
def container(engine):
    from mlgym_tui.config.runtime import RuntimeConfig
    from mlgym_tui.runtime.base import ContainerSpec

    config = RuntimeConfig()
    box = engine.start(ContainerSpec(image=config.image, memory="1g", cpus=1.0, pids=256, labels={"mlgym-tui.test": "1"}))
    yield box
    box.remove()


_LAST_RAY_TEST: list[str] = []


def pytest_collection_modifyitems(session, config, items) -> None:
    users = [item.nodeid for item in items if "ray_cluster" in getattr(item, "fixturenames", ())]
    _LAST_RAY_TEST[:] = users[-1:]


def pytest_runtest_teardown(item, nextitem) -> None:
    """Ray's idle processes take CPU from the rest of the suite: stop the cluster after the last test using it."""
    if _LAST_RAY_TEST and item.nodeid == _LAST_RAY_TEST[0]:
        _ray_cluster.shut_down()
