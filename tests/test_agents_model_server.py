"""The scripted server as a separate process, the way end-to-end tests of the CLI will use it."""

import json
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

SERVER = Path(__file__).with_name("model_server.py")


@pytest.fixture
def server_process(tmp_path):
    script = tmp_path / "script.json"
    script.write_text(json.dumps(["first answer", {"status": 503, "body": {"error": {"message": "busy"}}}]))
    proc = subprocess.Popen(
        [sys.executable, str(SERVER), "--port", "0", "--script", str(script), "--record", str(tmp_path / "req.jsonl")],
        stdout=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline().strip()
    assert line.startswith("READY http://127.0.0.1:"), line
    yield line.split()[1], tmp_path / "req.jsonl"
    proc.terminate()
    assert proc.wait(10) == 0


async def test_process_serves_script_and_records_requests(server_process):
    api_base, record = server_process
    body = {"model": "scripted", "messages": [{"role": "user", "content": "hi"}]}
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{api_base}/chat/completions", json=body) as resp:
            data = await resp.json()
            assert data["choices"][0]["message"]["content"] == "first answer" and data["usage"]["prompt_tokens"] == 1
        async with http.post(f"{api_base}/chat/completions", json=body) as resp:
            assert resp.status == 503
        base = api_base.removesuffix("/v1")
        async with http.post(f"{base}/_script", json=["replaced"]) as resp:
            assert resp.status == 200
        async with http.post(f"{api_base}/chat/completions", json={**body, "stream": True}) as resp:
            text = await resp.text()
            assert '"content": "repl"' in text and text.rstrip().endswith("data: [DONE]")
        async with http.get(f"{base}/_requests") as resp:
            assert len(await resp.json()) == 3
    assert len(record.read_text().splitlines()) == 3


def test_bad_script_file_is_a_one_line_error(tmp_path):
    bad = tmp_path / "s.json"
    bad.write_text("{not json")
    result = subprocess.run([sys.executable, str(SERVER), "--script", str(bad)], capture_output=True, text=True)
    assert result.returncode == 2 and result.stderr.startswith(f"error: --script {bad}: cannot read a JSON list")


def test_threaded_server_serves_sync_code():
    import urllib.request

    from model_server import ScriptedModelServer

    with ScriptedModelServer(["from a thread"]) as server:
        request = urllib.request.Request(
            f"{server.api_base}/chat/completions",
            data=json.dumps({"model": "scripted", "messages": []}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=5) as resp:
            assert json.load(resp)["choices"][0]["message"]["content"] == "from a thread"
        assert server.remaining == 0 and len(server.requests) == 1


def test_agents_package_imports_neither_litellm_nor_textual():
    code = (
        "import sys, mlgym_tui.agents, mlgym_tui.agents.llm_policy, mlgym_tui.agents.factory, mlgym_tui.config.agent;"
        "print(sorted(m for m in ('litellm', 'textual') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
