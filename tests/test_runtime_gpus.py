"""GPUs: the requests each engine receives (there is no GPU here, so each engine's refusal names what it was asked
for), the doctor's report, and tasks that need GPUs refused before anything starts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import get_engine

from mlgym_tui.config.runtime import GpuRequest, RuntimeConfig, parse_gpus
from mlgym_tui.runtime.base import ContainerSpec
from mlgym_tui.runtime.errors import RuntimeProblem

REPO = Path(__file__).resolve().parents[1]


def test_gpu_forms_parse_and_bad_ones_name_the_forms():
    assert parse_gpus("all") == GpuRequest(count=-1) and parse_gpus("2") == GpuRequest(count=2)
    assert parse_gpus("0,1").ids == ["0", "1"] and parse_gpus("0") is None and parse_gpus(None) is None
    assert parse_gpus("0,1").processes == 2 and parse_gpus("3").processes == 3 and parse_gpus("all").processes is None
    with pytest.raises(ValueError, match="'all', a count like 2, or device ids like 0,1"):
        parse_gpus("0,,1")
    with pytest.raises(ValueError):
        RuntimeConfig(gpus="two,")


def test_docker_receives_device_requests():
    engine = get_engine("docker")
    spec = ContainerSpec(image=RuntimeConfig().image, gpus=parse_gpus("0,1"), labels={"mlgym-tui.test": "1"})
    created = engine.client.containers.create(**engine.create_options(spec))  # created, not started: no driver here
    try:
        created.reload()
        (request,) = created.attrs["HostConfig"]["DeviceRequests"]
        assert request["DeviceIDs"] == ["0", "1"] and request["Capabilities"] == [["gpu"]]
    finally:
        created.remove(force=True)
    with pytest.raises(RuntimeProblem, match=r"could not select device driver .* with capabilities: \[\[gpu\]\]"):
        engine.start(ContainerSpec(image=spec.image, gpus=parse_gpus("all"), labels={"mlgym-tui.test": "1"}))


def test_podman_receives_cdi_devices_never_a_silently_ignored_request():
    engine = get_engine("podman")
    spec = ContainerSpec(image=RuntimeConfig().image, gpus=parse_gpus("all"), labels={"mlgym-tui.test": "1"})
    assert engine.libpod_spec(spec)["devices"] == [{"path": "nvidia.com/gpu=all"}]
    with pytest.raises(RuntimeProblem, match="unresolvable CDI devices nvidia.com/gpu=0"):
        engine.start(ContainerSpec(image=spec.image, gpus=parse_gpus("2"), labels={"mlgym-tui.test": "1"}))


def test_a_container_that_cannot_get_its_gpus_is_not_left_behind(engine):
    with pytest.raises(RuntimeProblem, match="mlgym-tui doctor"):
        engine.start(ContainerSpec(image=RuntimeConfig().image, gpus=parse_gpus("1"), labels={"mlgym-tui.test": "gpu"}))
    assert engine.client.containers.list(all=True, filters={"label": "mlgym-tui.test=gpu"}) == []


def test_doctor_reports_the_gpus_each_engine_can_pass(tmp_path):
    get_engine("docker"), get_engine("podman")  # both reachable (or skipped, or failed when required)
    (tmp_path / "nvidia.yaml").write_text(yaml.safe_dump({
        "cdiVersion": "0.5.0", "kind": "nvidia.com/gpu",
        "devices": [{"name": "0", "containerEdits": {}}, {"name": "all", "containerEdits": {}}]}))
    env = {**os.environ, "MLGYM_CDI_SPEC_DIRS": str(tmp_path), "COLUMNS": "300"}
    out = subprocess.run([sys.executable, "-m", "mlgym_tui.cli", "doctor"], capture_output=True, text=True, env=env,
                         cwd=REPO, timeout=120).stdout
    assert "GPUs: CDI nvidia.com/gpu=0, nvidia.com/gpu=all" in out  # Podman's line, from the CDI specs
    assert "GPUs: none: no nvidia runtime" in out  # Docker's line: this host has no NVIDIA runtime


def test_an_lm_task_without_gpus_is_refused_before_anything_starts(engine, tmp_path):
    task = yaml.safe_load((REPO / "tasks/blotto.yaml").read_text())
    task.update(id="tinyLM", task_entrypoint="LMSubmissionTasks", submission=None,
                starter_code=[str(REPO / p) for p in task["starter_code"]])
    path = tmp_path / "tinyLM.yaml"
    path.write_text(yaml.safe_dump(task))
    runs = tmp_path / "runs"
    proc = subprocess.run([sys.executable, "-m", "mlgym_tui.cli", "run", "--task", str(path), "--agent", "baseline",
                           "--engine", engine.name, "--runs-dir", str(runs)], capture_output=True, text=True,
                          cwd=REPO, timeout=120)
    assert proc.returncode == 2
    assert "task tinyLM is an LMSubmissionTasks task: it trains and evaluates on GPUs; run it with --gpus all" in proc.stderr
    assert not runs.exists()  # no run directory, no container
    bad = subprocess.run([sys.executable, "-m", "mlgym_tui.cli", "run", "--task", str(path), "--gpus", "x,", "--engine",
                          engine.name], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert bad.returncode == 2 and "--gpus: gpus 'x,' is not 'all'" in bad.stderr
