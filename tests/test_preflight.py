"""Configuration errors are found before any container starts: a missing key, a model litellm cannot route, a
missing image and an unreachable engine each give one line, all listed together; and `mlgym-tui run` with a
missing key exits 2 without starting a container. On real Docker and Podman."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from agents_helpers import scripted_config
from conftest import get_engine

from mlgym_tui.batch.preflight import (
    PreflightError,
    check_batch,
    check_before_start,
    check_engine_and_images,
    model_problems,
)
from mlgym_tui.config.agent import AgentConfig
from mlgym_tui.config.runtime import RuntimeConfig
from mlgym_tui.episode.session import resolve_task

REPO = Path(__file__).resolve().parents[1]
UNSET = "MLGYM_PREFLIGHT_UNSET_KEY"
MISSING_IMAGE = "mlgym-tui-preflight-missing:nope"


def llm_agent(name: str = "openai/scripted", api_base: str | None = "http://127.0.0.1:9/v1", **model) -> AgentConfig:
    return scripted_config(api_base, name=name, **model)


def created_containers(engine, since: float, pid: int) -> list[str]:
    """Containers created since `since` by process `pid`, from the engine's own event log (the label every
    container gets says which process started it)."""
    events = engine.client.events(since=int(since) - 1, until=int(time.time()) + 2, decode=True)
    return [e["Actor"]["ID"] for e in events
            if e.get("Type") == "container" and (e.get("Action") or e.get("status")) == "create"
            and e.get("Actor", {}).get("Attributes", {}).get("mlgym-tui.pid") == str(pid)]


def labelled_containers(engine, pid: int) -> list[str]:
    return [c.id for c in engine.client.containers.list(all=True, filters={"label": f"mlgym-tui.pid={pid}"})]


@pytest.mark.parametrize("engine_name", ["docker", "podman"])
def test_every_problem_is_one_line_listed_together_and_no_container_starts(engine_name, monkeypatch):
    engine = get_engine(engine_name)
    monkeypatch.delenv(UNSET, raising=False)
    task = resolve_task("battleOfSexes").model_copy(update={"image": MISSING_IMAGE})
    agent = llm_agent("no-such-provider-model", api_key_env=UNSET)
    before, t0 = labelled_containers(engine, os.getpid()), time.time()

    with pytest.raises(PreflightError) as caught:
        check_batch([task], agent, engine_name, RuntimeConfig(), engine=engine)

    problems = caught.value.problems
    assert len(problems) == 3 and all("\n" not in p for p in problems)
    assert str(caught.value) == "\n".join(problems)
    route, key, image = problems
    assert "'no-such-provider-model': litellm does not know its provider; write it as provider/model" in route
    assert f"model.api_key_env names {UNSET}, which is not set; export {UNSET}=<your key>" in key
    assert image.startswith(f"image {MISSING_IMAGE} is missing on {engine_name} (needed by battleOfSexes); ")
    assert labelled_containers(engine, os.getpid()) == before
    assert created_containers(engine, t0, os.getpid()) == []


@pytest.mark.parametrize("engine_name", ["docker", "podman"])
def test_images_are_checked_on_the_engine_given(engine_name):
    engine = get_engine(engine_name)
    task = resolve_task("battleOfSexes")
    assert check_engine_and_images(engine, [task], RuntimeConfig()) == []
    missing = check_engine_and_images(engine, [task], RuntimeConfig(image=MISSING_IMAGE))
    assert missing == [f"image {MISSING_IMAGE} is missing on {engine_name} (needed by battleOfSexes); "
                       f"build it: mlgym-tui image build --engine {engine_name}"]


def test_an_unreachable_engine_is_one_line_beside_the_other_problems(monkeypatch, tmp_path):
    for var in ("MLGYM_DOCKER_HOST", "DOCKER_HOST", UNSET):
        monkeypatch.delenv(var, raising=False)
    socket = f"unix://{tmp_path}/no-docker-here.sock"
    runtime = RuntimeConfig(docker_host=socket)
    with pytest.raises(PreflightError) as caught:
        check_batch([resolve_task("battleOfSexes")], llm_agent(api_key_env=UNSET), "docker", runtime)
    key, engine = caught.value.problems
    assert UNSET in key
    assert engine.startswith(f"docker is not reachable (no socket at {socket}") and "\n" not in engine
    # The same check a cluster node runs, given the engine's name.
    assert check_engine_and_images("docker", [resolve_task("battleOfSexes")], runtime) == [engine]


async def test_check_before_start_lists_both_sides_and_returns_the_engine(monkeypatch, tmp_path):
    for var in ("MLGYM_DOCKER_HOST", "DOCKER_HOST", UNSET):
        monkeypatch.delenv(var, raising=False)
    task = resolve_task("battleOfSexes")
    with pytest.raises(PreflightError) as caught:
        await check_before_start([task], llm_agent(api_key_env=UNSET), "docker",
                                 RuntimeConfig(docker_host=f"unix://{tmp_path}/none.sock"))
    assert [p.split(" ", 1)[0] for p in caught.value.problems] == ["model", "docker"]
    monkeypatch.undo()
    engine = await check_before_start([task], llm_agent(), "podman", RuntimeConfig())
    assert engine.name == "podman" and engine.image_exists(RuntimeConfig().image)


def test_a_local_server_needs_no_key_and_litellm_keys_are_checked_without_api_key_env(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert model_problems(llm_agent()) == []  # openai/scripted at an api_base: the scripted test server
    hosted = llm_agent("gpt-4o", api_base=None)
    assert model_problems(hosted) == [
        "model 'gpt-4o': its API key is missing: litellm reads OPENAI_API_KEY, which is not set; "
        "export OPENAI_API_KEY=<your key> (or name the variable in model.api_key_env)"]
    monkeypatch.setenv("OPENAI_API_KEY", "unused")
    assert model_problems(hosted) == []
    assert model_problems(llm_agent("gpt-4o", api_base=None, api_key_env="OPENAI_API_KEY")) == []
    baseline = AgentConfig.model_validate({"policy": "baseline"})
    assert model_problems(baseline) == []  # no model to check


def test_run_with_a_missing_key_exits_2_with_the_line_and_starts_no_container(tmp_path):
    engine = get_engine("docker")
    agent_path = tmp_path / "unset-key.yaml"
    agent_path.write_text(yaml.safe_dump(llm_agent(api_key_env=UNSET).model_dump(mode="json")))
    runs = tmp_path / "runs"
    env = {k: v for k, v in os.environ.items() if k != UNSET}
    t0 = time.time()
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlgym_tui.cli", "run", "--task", "battleOfSexes", "--agent", str(agent_path),
         "--engine", "docker", "--runs-dir", str(runs)],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 2, (out, err)
    assert err.strip().splitlines() == [
        f"mlgym-tui: error: model 'openai/scripted': its API key is missing: model.api_key_env names {UNSET}, "
        f"which is not set; export {UNSET}=<your key>"]
    assert not runs.exists() or not any(runs.iterdir())
    assert created_containers(engine, t0, proc.pid) == []


async def test_a_batch_fails_before_its_folder_or_any_container_exists(monkeypatch, tmp_path):
    from mlgym_tui.batch.runner import BatchError, BatchRunner

    engine = get_engine("docker")
    monkeypatch.delenv(UNSET, raising=False)
    tasks = [resolve_task("battleOfSexes"), resolve_task("blotto").model_copy(update={"image": MISSING_IMAGE})]
    runner = BatchRunner(tasks, llm_agent(api_key_env=UNSET), runs=2, parallel=2, runs_dir=tmp_path / "runs",
                         engine=engine, runtime=RuntimeConfig(), quiet=True)
    t0 = time.time()
    with pytest.raises(BatchError) as caught:  # a BatchError, so the batch command prints it like bad input
        await runner.run()
    assert isinstance(caught.value, PreflightError) and len(caught.value.problems) == 2
    assert UNSET in caught.value.problems[0] and caught.value.problems[1].startswith(f"image {MISSING_IMAGE} ")
    assert not (tmp_path / "runs").exists()
    assert created_containers(engine, t0, os.getpid()) == []


def test_a_batch_command_prints_every_problem_on_its_own_line(tmp_path):
    """`run --tasks ... --runs K`: a missing key and a missing task image, each its own error line, exit 2."""
    agent_path = tmp_path / "unset-key.yaml"
    agent_path.write_text(yaml.safe_dump(llm_agent(api_key_env=UNSET).model_dump(mode="json")))
    config = tmp_path / "config"
    config.mkdir()
    (config / "settings.yaml").write_text(f"runtime:\n  image: {MISSING_IMAGE}\n")
    env = {k: v for k, v in os.environ.items() if k != UNSET}
    env["MLGYM_TUI_CONFIG_DIR"] = str(config)
    done = subprocess.run(
        [sys.executable, "-m", "mlgym_tui.cli", "run", "--tasks", "battleOfSexes", "--runs", "2", "--agent",
         str(agent_path), "--engine", "docker", "--runs-dir", str(tmp_path / "runs")],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) >= 2 and all(line.startswith("mlgym-tui: error: ") for line in lines), lines
    assert any(UNSET in line for line in lines) and any(MISSING_IMAGE in line for line in lines), lines
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").rglob("events.jsonl"))
