"""A headless `mlgym-tui run` serves its episode: a viewer attaches over TCP with the printed token while a person
drives the run from stdin, sees every step, steers it, and its command is recorded with its name. Bad --listen
values are one line and exit 2, before anything starts."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from pathlib import Path

from conftest import get_engine

from mlgym_tui.control.client import RemoteEpisode
from mlgym_tui.trajectory import load_run

REPO = Path(__file__).resolve().parents[1]


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "mlgym_tui.cli", *args]


async def test_a_headless_run_is_attachable_over_tcp_with_its_token(tmp_path):
    engine = get_engine("docker")
    runs = tmp_path / "runs"
    proc = await asyncio.create_subprocess_exec(
        *cli("run", "--task", "battleOfSexes", "--agent", "human", "--engine", engine.name, "--runs-dir", str(runs),
             "--listen", "127.0.0.1:0"),
        cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    seen_out: list[str] = []
    try:
        address = token = run_dir = None
        while address is None:
            line = (await asyncio.wait_for(proc.stdout.readline(), 120)).decode()
            assert line, "the run ended before listening: " + "".join(seen_out)
            seen_out.append(line)
            if line.startswith("run directory: "):
                run_dir = Path(line.split(": ", 1)[1].strip())
            if match := re.match(r"listening on (\S+) \(token (\S+), also in", line):
                address, token = match.groups()
        assert (run_dir / "control.token").read_text().strip() == token
        viewer = await RemoteEpisode.attach(address, token=token, who="tcp-viewer@test")
        steps: list = []
        viewer.subscribe(lambda event: steps.append(event) if event.type == "step" else None)
        proc.stdin.write(b"echo from-stdin\n")
        await proc.stdin.drain()
        for _ in range(600):
            if steps:
                break
            await asyncio.sleep(0.1)
        assert [s.action for s in steps] == ["echo from-stdin"]
        viewer.message("the viewer says hello")  # takes control: nobody held it
        for _ in range(100):
            if viewer.holds_control:
                break
            await asyncio.sleep(0.05)
        assert viewer.holds_control
        await viewer.detach()
        proc.stdin.write(b"submit\n")
        await proc.stdin.drain()
        out = (await asyncio.wait_for(proc.stdout.read(), 120)).decode()
        assert await proc.wait() == 0, "".join(seen_out) + out
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    events = (run_dir / "events.jsonl").read_text()
    assert '"command_sent"' in events and "tcp-viewer@test" in events and token not in events
    assert not (run_dir / "control.json").exists() and not (run_dir / "control.token").exists()
    assert [s.action for s in load_run(run_dir).steps] == ["echo from-stdin", "submit"]


def test_a_bad_listen_address_is_one_line_and_exit_2(tmp_path):
    for value, expected in (("nonsense", "expected HOST:PORT"), ("127.0.0.1:99999", "out of range")):
        result = subprocess.run(cli("run", "--task", "battleOfSexes", "--agent", "human", "--runs-dir",
                                    str(tmp_path), "--listen", value), cwd=REPO, capture_output=True, text=True,
                                timeout=60)
        assert result.returncode == 2 and expected in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    assert not any(tmp_path.iterdir())
