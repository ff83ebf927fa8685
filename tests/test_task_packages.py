"""A task's Python packages: an image derived from the task image per requirements set, built on demand from a
wheel folder (no package index), used by the agent's and the evaluation's containers; a missing package is a clear
error naming the task and the package before any container starts. On Docker and Podman."""

from __future__ import annotations

import base64
import hashlib
import zipfile
from pathlib import Path

import pytest

from mlgym_tui.config.runtime import RuntimeConfig
from mlgym_tui.environment.environment import MLGymEnvironment
from mlgym_tui.runtime.derived_image import MissingPackage, derived_images
from mlgym_tui.tasks.registry import load_registry

REPO = Path(__file__).resolve().parents[1]


def make_wheel(folder: Path, name: str, version: str, source: str) -> Path:
    """A pure-Python wheel written by hand (the format is a zip with metadata and a RECORD of hashes)."""
    folder.mkdir(parents=True, exist_ok=True)
    dist = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": source.encode(),
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{dist}/WHEEL": b"Wheel-Version: 1.0\nGenerator: mlgym-tui-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }

    def entry(path: str, data: bytes) -> str:
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        return f"{path},sha256={digest},{len(data)}"

    record = "\n".join([entry(p, d) for p, d in files.items()] + [f"{dist}/RECORD,,"]) + "\n"
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, data in files.items():
            archive.writestr(path, data)
        archive.writestr(f"{dist}/RECORD", record)
    return wheel


@pytest.fixture
def wheels(tmp_path) -> Path:
    folder = tmp_path / "wheels"
    make_wheel(folder, "mlgymtinypkg", "1.0", "BONUS = 0.25\n")
    return folder


def task_needing(packages: list[str]):
    """quickGame, whose evaluate.py then also imports the package: both containers must have it."""
    task = load_registry([REPO / "tests/fixtures/tasks/quickGame.yaml"], tasks_root=REPO).get("quickGame")
    return task.model_copy(update={"packages": packages})


async def test_a_task_with_packages_gets_a_derived_image_from_the_wheel_folder(engine, wheels):
    runtime = RuntimeConfig(wheels_dir=str(wheels), memory="1g")
    env = MLGymEnvironment(task_needing(["mlgymtinypkg==1.0"]), engine, runtime)
    await env.reset()
    try:
        assert env.image.startswith("mlgym-tui-task-deps:") and env.image != runtime.image
        used = await env.step("python3 -c 'import mlgymtinypkg; print(mlgymtinypkg.BONUS)'")
        assert used.observation.strip() == "0.25"
        helper = ("import mlgymtinypkg\n\ndef row_strategy(history):\n"
                  "    return 1 - len(history) % 2 if mlgymtinypkg.BONUS else 0\n")
        await env.step(f"echo {base64.b64encode(helper.encode()).decode()} | base64 -d > strategy.py")
        assert (await env.step("validate")).metrics == {"Score": 1.0}  # the evaluation container has it too
    finally:
        await env.close()
    assert any(tag == env.image and requirements == ["mlgymtinypkg==1.0"] for tag, requirements in derived_images(engine))
    again = MLGymEnvironment(task_needing(["mlgymtinypkg==1.0  # same set"]), engine, runtime)
    await again.reset()  # the same requirements set: the same image, not built again
    try:
        assert again.image == env.image
    finally:
        await again.close()


async def test_a_missing_package_names_the_task_and_the_package(engine, wheels):
    runtime = RuntimeConfig(wheels_dir=str(wheels))
    env = MLGymEnvironment(task_needing(["mlgymtinypkg==1.0", "mlgym-no-such-package==9"]), engine, runtime)
    before = {c.id for c in engine.client.containers.list(all=True)}
    with pytest.raises(MissingPackage) as raised:
        await env.reset()
    assert str(raised.value).startswith("task quickGame needs the package mlgym-no-such-package==9, which is not in "
                                        f"the wheel folder {wheels}; download it on a connected machine")
    assert {c.id for c in engine.client.containers.list(all=True)} == before  # no container was started


def test_image_wheels_downloads_a_requirements_file_for_the_task_image(tmp_path):
    import subprocess
    import sys

    requirements = tmp_path / "requirements.txt"
    requirements.write_text("six==1.16.0\n")
    done = subprocess.run([sys.executable, "-m", "mlgym_tui.cli", "image", "wheels", str(requirements), "--dest",
                           str(tmp_path / "wheels")], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert [p.name for p in (tmp_path / "wheels").iterdir()] == ["six-1.16.0-py2.py3-none-any.whl"]
    assert f"set runtime.wheels_dir: {tmp_path / 'wheels'}" in done.stdout
    missing = subprocess.run([sys.executable, "-m", "mlgym_tui.cli", "image", "wheels", str(tmp_path / "nope.txt"),
                              "--dest", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2 and "is not a file" in missing.stderr
