"""The process boundary between scorer and submission, on the host (no engine): the proxy protocol under a
forging submission process, and the whole evaluation path through the local runtime."""

from __future__ import annotations

import base64
import importlib.util
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from mlgym_tui.config.task import load_task
from mlgym_tui.environment.environment import MLGymEnvironment
from mlgym_tui.environment.evaluation import HARNESS, PROXY, parse_metrics
from mlgym_tui.runtime.detect import connect


def load_proxy():
    """A fresh copy of the scorer's side of the protocol, as a stand-in module would import it."""
    spec = importlib.util.spec_from_file_location(f"proxy_{os.urandom(4).hex()}", HARNESS / PROXY)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def submission(tmp_path, monkeypatch):
    """Start a submission process for `program` (None: the real worker) in a folder holding `files`."""
    started = []

    def start(files: dict[str, str], program: str | None = None):
        folder = tmp_path / "submission"
        folder.mkdir(exist_ok=True)
        for name, text in files.items():
            (folder / name).write_text(textwrap.dedent(text))
        request_r, request_w = os.pipe()
        answer_r, answer_w = os.pipe()
        argv = [sys.executable, "-c", program] if program else [sys.executable, str(HARNESS / PROXY)]
        proc = subprocess.Popen([*argv, str(request_r), str(answer_w)], cwd=folder, pass_fds=(request_r, answer_w))
        os.close(request_r)
        os.close(answer_w)
        started.append((proc, request_w, answer_r))
        monkeypatch.setenv("MLGYM_PROXY_FDS", f"{request_w},{answer_r}")
        return load_proxy()

    yield start
    for proc, *fds in started:
        for fd in fds:
            os.close(fd)
        proc.kill()
        proc.wait()


def test_calls_cross_as_plain_data(submission):
    proxy = submission({"strategy.py": """
        import random
        LIMIT = 6
        def row_strategy(history):
            return (len(history), {"last": history[-1] if history else None}, {1, 2})
        def draw():
            return random.random()
        def fail():
            raise KeyError("missing")
        def custom():
            class Oops(Exception):
                pass
            raise Oops("mine")
    """})
    namespace: dict = {}
    proxy.stand_in("strategy", namespace)
    assert namespace["LIMIT"] == 6
    assert namespace["row_strategy"]([(0, 1)]) == (1, {"last": (0, 1)}, {1, 2})
    with pytest.raises(KeyError, match="missing"):
        namespace["fail"]()
    with pytest.raises(Exception, match=r"mine \(at strategy.py:13\)") as raised:
        namespace["custom"]()
    assert type(raised.value).__name__ == "Oops"
    proxy.seed(5)
    first = namespace["draw"]()
    proxy.seed(5)
    assert namespace["draw"]() == first


FORGER = """
import os, pickle, struct, sys
read_fd, write_fd = int(sys.argv[1]), int(sys.argv[2])
size = struct.unpack(">I", os.read(read_fd, 4))[0]
os.read(read_fd, size)
payload = {payload}
os.write(write_fd, struct.pack(">I", len(payload)) + payload)
"""


@pytest.mark.parametrize("payload", [
    # answers that would run a command in the scorer if they were unpickled normally
    "pickle.dumps(('ok', {'x': ('value', os.system)}))",
    "b\"cos\\nsystem\\n(S'touch /tmp/mlgym-forged'\\ntR.\"",
    # not a pickle at all
    "b'\\x80\\x05 not a pickle'",
    "b'x' * 10",
])
def test_an_answer_that_is_not_plain_data_ends_the_evaluation(submission, payload):
    marker = Path("/tmp/mlgym-forged")
    marker.unlink(missing_ok=True)
    proxy = submission({}, FORGER.format(payload=payload))
    with pytest.raises(proxy.SubmissionProcessDied):
        proxy.stand_in("strategy", {})
    assert not issubclass(proxy.SubmissionProcessDied, Exception)  # `except Exception` in a scorer cannot hide it
    assert not marker.exists()


def test_an_oversized_answer_is_refused(submission):
    proxy = submission({}, FORGER.format(payload="b'x' * 8"))
    proxy.MAX_MESSAGE = 4
    with pytest.raises(proxy.SubmissionProcessDied, match="over the limit"):
        proxy.stand_in("strategy", {})


def test_a_submission_process_that_dies_fails_every_later_call(submission):
    proxy = submission({"strategy.py": "import os\ndef stop():\n    os._exit(3)\ndef ok():\n    return 1\n"})
    namespace: dict = {}
    proxy.stand_in("strategy", namespace)
    with pytest.raises(proxy.SubmissionProcessDied, match="ended during the evaluation"):
        namespace["stop"]()
    with pytest.raises(proxy.SubmissionProcessDied):
        namespace["ok"]()


def test_metrics_are_parsed_by_mlgym_rules():
    assert parse_metrics("CSVSubmissionTasks", '{"r2": 0.5}\n') == {"r2": 0.5}
    assert parse_metrics("PythonSubmissionTasks", 'noise\n{"Score": 1}\n') is None  # the whole output is the object
    assert parse_metrics("PythonSubmissionTasks", '{"Score": true}') is None
    assert parse_metrics("ModelSubmissionTasks", 'loading\n{"Reward Mean": 2}\n{"Reward Mean": 9}\n') == {"Reward Mean": 2.0}


def make_task(root: Path, modules: list[str]) -> Path:
    """A stdlib-only Python task in MLGym's layout: evaluate.py imports the agent's `guess` module by name."""
    starter = root / "tasks/guessing/starter"
    starter.mkdir(parents=True)
    (starter / "guess.py").write_text("def guess(n):\n    return n * 2\n")
    (starter / "evaluate.py").write_text(textwrap.dedent("""
        import json, sys
        from guess import guess
        score = sum(guess(n) == n * 2 for n in range(100)) / 100
        print(json.dumps({"accuracy": score}))
    """))
    task = {
        "id": "guessing", "name": "Guessing", "description": "double n", "task_entrypoint": "PythonSubmissionTasks",
        "starter_code": ["tasks/guessing/starter/guess.py", "tasks/guessing/starter/evaluate.py"],
        "evaluation_paths": ["evaluate.py"], "baseline_paths": ["evaluate.py"], "baseline_scores": [{"accuracy": 1.0}],
        "metrics": [{"name": "accuracy", "direction": "maximize", "primary": True}],
    }
    if modules:
        task["submission"] = {"files": ["guess.py"], "modules": modules}
    path = root / "tasks/guessing.yaml"
    path.write_text(yaml.safe_dump(task))
    return path


@pytest.mark.parametrize("modules", [["guess"], []])
async def test_the_local_runtime_scores_through_the_same_harness_and_says_it_is_unisolated(tmp_path, modules):
    task = load_task(make_task(tmp_path, modules), tmp_path)
    env = MLGymEnvironment(task, connect("local"), submissions_dir=tmp_path / "submissions")
    await env.reset()
    try:
        assert env.trust == "unisolated"
        assert (await env.step("validate", step=1)).metrics == {"accuracy": 1.0}
        forged = 'def guess(n):\n    print(\'{"accuracy": 9}\')\n    return 0\n'
        await env.step(f"echo {base64.b64encode(forged.encode()).decode()} | base64 -d > guess.py")
        result = await env.step("validate", step=2)
        # Isolated, the printing is the submission's output and the score is honest; in-process, it lands in the
        # scorer's own output: here it spoils the score (a cleverer module could forge one), hence the label.
        assert result.metrics == ({"accuracy": 0.01} if modules else None), result.observation  # guess(0) == 0
    finally:
        await env.close()
    kept = sorted(p.name for p in (tmp_path / "submissions").iterdir())
    assert kept == ["1", "2"]
    assert (tmp_path / "submissions/1/files/guess.py").read_text() == "def guess(n):\n    return n * 2\n"
