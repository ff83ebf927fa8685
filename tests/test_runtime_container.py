"""Containers: isolation defaults, file transfer, read-only paths, leftovers, and clear errors."""

from __future__ import annotations

import os
import subprocess

import pytest

from mlgym_tui.config.runtime import RuntimeConfig
from mlgym_tui.runtime.base import ContainerSpec
from mlgym_tui.runtime.errors import EngineUnavailable, ImageMissing


def test_copy_in_and_out_round_trip_with_ownership(container, tmp_path):
    source = tmp_path / "project"
    (source / "sub").mkdir(parents=True)
    (source / "train.py").write_text("print('hi')\n")
    (source / "sub" / "data.bin").write_bytes(bytes(range(256)) * 10)
    container.copy_in(source, container.workspace)
    owners = container.check(["stat", "-c", "%U %n", f"{container.workspace}/project/train.py",
                              f"{container.workspace}/project/sub/data.bin"]).output.split()
    assert owners[0] == "agent" and owners[2] == "agent"
    container.copy_in({"notes/readme.txt": b"note\n"}, container.workspace)
    assert container.exec(["cat", f"{container.workspace}/notes/readme.txt"], user="agent").output == "note\n"
    out = container.copy_out(f"{container.workspace}/project", tmp_path / "back")
    assert (out / "train.py").read_text() == "print('hi')\n"
    assert (out / "sub" / "data.bin").read_bytes() == bytes(range(256)) * 10


def test_root_owned_copy_is_not_readable_by_agent(container):
    container.copy_in({"answers.csv": b"secret\n"}, container.eval_dir, owner="root", mode=0o600)
    denied = container.exec(["cat", f"{container.eval_dir}/answers.csv"], user="agent")
    assert denied.exit_code != 0 and "secret" not in denied.output
    assert container.exec(["cat", f"{container.eval_dir}/answers.csv"]).output == "secret\n"


def test_read_only_paths_cannot_be_written_by_agent(container):
    container.copy_in({"evaluate.py": b"print(1)\n"}, container.workspace)
    path = f"{container.workspace}/evaluate.py"
    container.make_read_only([path])
    attempt = container.exec(["sh", "-c", f"echo hacked > {path}"], user="agent")
    assert attempt.exit_code != 0
    assert container.exec(["cat", path], user="agent").output == "print(1)\n"


def test_no_network_by_default(container):
    interfaces = container.check(["ls", "/sys/class/net"]).output.split()
    assert interfaces == ["lo"]
    probe = container.exec(["python3", "-c", "import socket; socket.create_connection(('10.0.0.1', 80), timeout=3)"], user="agent")
    assert probe.exit_code != 0


def test_limits_and_unprivileged_user(engine, container):
    assert container.exec(["id", "-u"], user="agent").output.strip() == "1000"
    setuid = container.exec(["sh", "-c", "find / -xdev -type f -perm /6000 2>/dev/null | head -5"]).output.strip()
    assert setuid == ""
    inspect = engine.client.api.inspect_container(container.id)["HostConfig"]
    assert inspect["Memory"] == 1024**3
    assert inspect["PidsLimit"] == 256
    assert inspect["NanoCpus"] == 1_000_000_000


def test_leftovers_of_dead_runs_are_found_and_removed(engine):
    dead = subprocess.Popen(["true"])
    dead.wait()
    box = engine.start(ContainerSpec(image=RuntimeConfig().image, labels={"mlgym-tui.pid": str(dead.pid)}))
    live = engine.start(ContainerSpec(image=RuntimeConfig().image))
    try:
        assert box.name in engine.leftovers()
        assert live.name not in engine.leftovers()
        removed = engine.cleanup()
        assert box.name in removed and live.name not in removed
        assert not box.is_running()
        assert live.is_running()
    finally:
        box.remove()
        live.remove()


def test_missing_image_names_the_fix(engine):
    with pytest.raises(ImageMissing) as info:
        engine.start(ContainerSpec(image="mlgym-tui-no-such-image:never"))
    assert "mlgym-tui image build" in str(info.value)


def test_unreachable_engine_is_one_clear_line(tmp_path):
    from mlgym_tui.runtime.engine_api import ApiEngine

    with pytest.raises(EngineUnavailable) as info:
        ApiEngine("docker", f"unix://{tmp_path}/nothing.sock", timeout=2)
    message = str(info.value)
    assert "\n" not in message and "not reachable" in message and "--engine" in message


def test_doctor_reports_engines(engine, tmp_path):
    env = {**os.environ, "MLGYM_TUI_CONFIG_DIR": str(tmp_path)}
    proc = subprocess.run(["mlgym-tui", "doctor"], capture_output=True, text=True, env=env, timeout=120)
    assert engine.name in proc.stdout
    assert proc.returncode == 0, proc.stdout + proc.stderr
