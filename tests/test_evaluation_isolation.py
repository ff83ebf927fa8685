"""Scores an agent cannot forge, tried as an adversarial agent would: every attack goes through the episode's real
shell and `validate`, on Docker and Podman. Each test asserts the score is the honest one (or none) and that the
answers never reach anything the agent can read."""

from __future__ import annotations

import asyncio
import base64
import time
from pathlib import Path

import pytest

from mlgym_tui.config.task import TaskLimits
from mlgym_tui.environment.environment import MLGymEnvironment
from mlgym_tui.tasks.registry import load_registry

REPO = Path(__file__).resolve().parents[1]
# Bundled tasks, and quickGame: a Python task like the bundled games, with 200 proxied calls per scoring instead of
# 120,000, so each attack costs a container start, not seconds of game.
REGISTRY = load_registry([REPO / "tests/fixtures/tasks/quickGame.yaml"], tasks_root=REPO)
QUICK_HONEST = {"Score": 0.23}  # the starter strategy, seeded: always this score
BLOTTO_HONEST = {"Score": -0.009679}  # blotto's starter strategy
DIABETES_HONEST = {"r2": pytest.approx(0.510177, abs=1e-6), "rmse": pytest.approx(53.727299, abs=1e-6)}
STARTER = (REPO / "tests/fixtures/tasks/quickGame/starter/strategy.py").read_text()
ANSWERS = REPO / "tasks/regressionDiabetes/eval/answers.csv"
# Three lines of the hidden answers: found nowhere in the visible data.
ANSWER_LINES = "\n".join(ANSWERS.read_text().splitlines()[5:8])


def write(path: str, text: str) -> str:
    """A shell command that writes text to path (one line, whatever the text holds)."""
    return f"echo {base64.b64encode(text.encode()).decode()} | base64 -d > {path}"


@pytest.fixture
async def env_factory(engine):
    made = []

    async def make(task_id: str, **changes) -> MLGymEnvironment:
        task = REGISTRY.get(task_id)
        if changes:
            task = task.model_copy(update=changes)
        env = MLGymEnvironment(task, engine)
        await env.reset()
        made.append(env)
        return env

    yield make
    for env in made:
        await env.close()


def evaluation_containers(engine) -> list:
    return engine.client.containers.list(all=True, filters={"label": "mlgym-tui.role=evaluation"})


async def validate(env: MLGymEnvironment):
    result = await env.step("validate")
    assert not result.done, result.observation
    assert ANSWER_LINES not in result.observation
    return result


async def test_links_and_special_files_are_refused(env_factory):
    env = await env_factory("regressionDiabetes")
    # The answers are nowhere in the agent's container: not even the evaluation folder exists there.
    assert await answers_absent(env)
    cases = {
        "ln -sf /opt/mlgym/eval/answers.csv submission.csv": "symbolic link",
        "ln -sf data/test.csv submission.csv": "symbolic link",
        "ln -sf /etc/shadow submission.csv": "symbolic link (to /etc/shadow)",
        "rm -f submission.csv && python baseline.py >/dev/null && mv submission.csv /tmp/s.csv && ln -f /tmp/s.csv submission.csv": "hard link",
        "rm -f submission.csv && mkdir submission.csv && cp data/test.csv submission.csv/x": "is a directory",
        "rm -rf submission.csv && mkfifo submission.csv": "FIFO",
        "rm -f submission.csv && truncate -s 2G submission.csv": "too large",
        "rm -f submission.csv && head -c 200000 /dev/urandom > submission.csv": "",
    }
    for command, message in cases.items():
        assert (await env.step(command)).exit_code == 0, command
        result = await validate(env)
        assert result.metrics is None, (command, result.observation)
        assert result.observation.startswith("Submission could not be evaluated"), (command, result.observation)
        assert message in result.observation, (command, result.observation)
    await env.step("rm -rf submission.csv /tmp/s.csv && python baseline.py")
    assert (await validate(env)).metrics == DIABETES_HONEST


async def test_editing_the_workspace_evaluate_py_changes_nothing(env_factory):
    env = await env_factory("regressionDiabetes")
    await env.step("python baseline.py")
    forged = 'import json\nprint(json.dumps({"r2": 1.0, "rmse": 0.0}))\n'
    assert (await env.step("echo 'print(1)' >> evaluate.py")).exit_code != 0  # read-only
    await env.step("rm -f evaluate.py && " + write("evaluate.py", forged))
    assert (await env.step("python evaluate.py")).observation.strip().startswith('{"r2": 1.0')
    assert (await validate(env)).metrics == DIABETES_HONEST


async def test_planted_startup_files_and_environment_do_not_reach_the_scorer(env_factory):
    env = await env_factory("quickGame")
    forge = 'import json, sys; print(json.dumps({"Score": 99.0})); sys.stdout.flush()\n'
    for folder in ("/tmp/.local/lib/python3.11/site-packages", "/home/agent/.local/lib/python3.11/site-packages"):
        await env.step(f"mkdir -p {folder} && " + write(f"{folder}/usercustomize.py", forge)
                       + " && " + write(f"{folder}/zz.pth", "import os; os.environ['FORGED'] = '1'\n"))
    await env.step(write("sitecustomize.py", forge) + " && " + write("json.py", "def dumps(x): return '{\"Score\": 99}'\n"))
    await env.step("export PYTHONPATH=/home/agent/workspace:/tmp PYTHONSTARTUP=/tmp/x.py PYTHONUSERBASE=/tmp/.local")
    # The submission itself tries to plant files where the scorer might look, at import time.
    plant = STARTER + (
        "\nimport os\n"
        "for d in ['/opt/mlgym/eval', '/opt/mlgym/eval-home/.local/lib/python3.11/site-packages',\n"
        "          '/usr/lib/python3/dist-packages', '/usr/local/lib/python3.11/dist-packages']:\n"
        "    try:\n"
        "        os.makedirs(d, exist_ok=True)\n"
        "        open(os.path.join(d, 'usercustomize.py'), 'w').write('print(99)')\n"
        "        open(os.path.join(d, 'json.py'), 'w').write('def dumps(x): return 99')\n"
        "        print('planted in', d)\n"
        "    except OSError as exc:\n"
        "        print('refused:', d, type(exc).__name__)\n"
    )
    await env.step(write("strategy.py", plant))
    result = await validate(env)
    assert result.metrics == QUICK_HONEST, result.observation
    assert "planted in" not in result.observation and "refused: /opt/mlgym/eval " in result.observation


@pytest.mark.parametrize("name, attack", [
    ("atexit", "import atexit; atexit.register(lambda: print('{\"Score\": 99}'))\n"),
    ("stdout replaced", "import sys, io\nclass Out(io.StringIO):\n    def write(self, s):\n"
                        "        return sys.__stdout__.write('{\"Score\": 99}\\n')\nsys.stdout = Out()\n"),
    ("raw fds", "import os; os.write(1, b'{\"Score\": 99}\\n'); os.write(2, b'{\"Score\": 99}\\n')\n"),
    ("builtins", "import builtins, json\nbuiltins.print = lambda *a, **k: None\njson.dumps = lambda *a, **k: '{\"Score\": 99}'\n"),
])
async def test_printing_from_the_submission_cannot_forge_the_score(env_factory, name, attack):
    env = await env_factory("quickGame")
    await env.step(write("strategy.py", STARTER + "\n" + attack))
    result = await validate(env)
    assert result.metrics == QUICK_HONEST, (name, result.observation)


async def test_print_then_exit_at_import_gives_no_score(env_factory):
    env = await env_factory("quickGame")
    await env.step(write("strategy.py", "import os\nprint('{\"Score\": 99}', flush=True)\nos._exit(0)\n"))
    result = await validate(env)
    assert result.metrics is None
    assert "the submission's process exited with code 0 during the evaluation" in result.observation
    assert (await env.step("submit")).exit_status.startswith("evaluation_format_error (")


async def test_returned_objects_are_plain_data_only(env_factory):
    env = await env_factory("quickGame")
    sneaky = STARTER + ("\nclass Cheat(int):\n    def __eq__(self, other):\n        return True\n\n"
                        "_honest = row_strategy\n\ndef row_strategy(history):\n    return Cheat(_honest(history))\n")
    await env.step(write("strategy.py", sneaky))
    assert (await validate(env)).metrics == QUICK_HONEST  # an int subclass arrives as the plain int it holds
    await env.step(write("strategy.py", "class Any:\n    pass\n\ndef row_strategy(history):\n    return Any()\n"))
    result = await validate(env)
    assert result.metrics is None and "cannot leave the submission process" in result.observation


async def test_processes_of_the_submission_do_not_outlive_the_scoring(env_factory, engine):
    env = await env_factory("quickGame", evaluation_timeout=20)
    # A daemon forked at import keeps the submission's stdout open and would write into the next evaluation.
    daemon = STARTER + (
        "\nimport os, time\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        "        while True:\n"
        "            print('{\"Score\": 99}', flush=True)\n"
        "            try:\n"
        "                open('/opt/mlgym/eval/evaluate.py', 'a').write('print(99)')\n"
        "            except OSError:\n"
        "                pass\n"
        "            time.sleep(0.2)\n"
        "    os._exit(0)\n"
    )
    await env.step(write("strategy.py", daemon))
    first = await validate(env)
    assert first.metrics == QUICK_HONEST, first.observation
    await env.step(write("strategy.py", STARTER))
    assert (await validate(env)).metrics == QUICK_HONEST
    deadline = time.monotonic() + 30
    while evaluation_containers(engine) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert evaluation_containers(engine) == []  # each evaluation container is removed, with all it ran


@pytest.mark.parametrize("name, module, message", [
    ("loops at import", "while True:\n    pass\n", "did not finish within 6 s"),
    ("hangs in a call", "import time\ndef row_strategy(history):\n    time.sleep(3600)\n", "did not finish within 6 s"),
    ("reads stdin", "input()\n", "EOFError"),
    ("raises", "def row_strategy(history):\n    raise RuntimeError('boom')\n", "RuntimeError: boom (at strategy.py:2)"),
    ("syntax error", "def row_strategy(:\n", "SyntaxError"),
    ("killed by a signal", "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n", "killed by signal 9"),
])
async def test_broken_submissions_fail_clearly_and_the_episode_goes_on(env_factory, name, module, message):
    env = await env_factory("quickGame", evaluation_timeout=6)
    await env.step(write("strategy.py", module))
    result = await validate(env)
    assert result.metrics is None and message in result.observation, (name, result.observation)
    await env.step(write("strategy.py", STARTER))
    assert (await validate(env)).metrics == QUICK_HONEST


async def test_megabytes_of_output_are_cut_and_shown_never_parsed(env_factory):
    env = await env_factory("quickGame")
    await env.step(write("strategy.py", "print('{\"Score\": 99}\\n' * 500000)\n" + STARTER))
    result = await validate(env)
    assert result.metrics == QUICK_HONEST
    assert "What your submission's code printed" in result.observation
    assert "characters not shown" in result.observation and len(result.observation) < 5000


async def test_copying_the_evaluation_area_during_scoring_finds_nothing(env_factory):
    env = await env_factory("regressionDiabetes")
    await env.step("python baseline.py")
    await env.step("mkdir -p /tmp/loot && (for i in $(seq 1 400); do cp -r /opt/mlgym/. /tmp/loot/ 2>/dev/null; "
                   "sleep 0.02; done) >/dev/null 2>&1 &")
    assert (await validate(env)).metrics == DIABETES_HONEST
    await env.step("sleep 1")
    assert await answers_absent(env)


async def answers_absent(env: MLGymEnvironment) -> bool:
    """No file in the agent's container has the answers' content or name."""
    import hashlib

    digest = hashlib.sha256(ANSWERS.read_bytes()).hexdigest()
    found = await env.step(f"find / -xdev -type f -size {ANSWERS.stat().st_size}c -exec sha256sum {{}} + 2>/dev/null "
                           f"| grep {digest}; find / -xdev -name answers.csv 2>/dev/null")
    return found.observation.strip() == ""


async def test_scoring_survives_an_agent_container_out_of_processes(env_factory):
    env = await env_factory("quickGame", limits=TaskLimits(pids=64))
    await env.step(write("strategy.py", STARTER))
    # Fork until the limit, and keep taking every process slot that frees up.
    fill = ("import os, time\nwhile True:\n    try:\n        pid = os.fork()\n    except OSError:\n"
            "        time.sleep(0.01)\n        continue\n    if pid == 0:\n        time.sleep(600)\n        os._exit(0)\n")
    await env.step(write("/tmp/fill.py", fill) + " && { python3 /tmp/fill.py & }")
    await asyncio.sleep(3)
    assert not env.container.exec(["sh", "-c", "ls >/dev/null"]).ok  # nothing in it can start a process
    result = await env.validate()
    assert result.metrics == QUICK_HONEST, result.observation
    final = await env.autosubmit("max_steps")
    assert final.exit_status == "autosubmission (max_steps)" and final.metrics == QUICK_HONEST


async def test_an_evaluation_container_that_cannot_start_is_a_clear_failure(env_factory, engine):
    env = await env_factory("quickGame")
    env.image = "mlgym-tui-no-such-image:latest"  # the image evaluation containers are started from
    result = await validate(env)
    assert result.metrics is None
    assert "the evaluation container did not start" in result.observation and "no-such-image" in result.observation
    final = await env.step("submit")
    assert final.done and final.exit_status.startswith("evaluation_format_error (the evaluation container did not start")


async def test_trust_labels(env_factory):
    isolated = await env_factory("quickGame")
    assert isolated.trust == "isolated"
    # The same task without declared modules: evaluate.py imports the agent's code itself. It still scores in a
    # fresh evaluation container, and says so.
    in_process = await env_factory("quickGame", submission=None)
    assert in_process.trust == "in-process" and "submission.modules" in in_process.trust_reason
    assert (await validate(in_process)).metrics == QUICK_HONEST
    csv = await env_factory("regressionDiabetes")
    assert csv.trust == "isolated"


def test_a_recorded_run_rescores_to_its_recorded_scores(engine, tmp_path):
    import json
    import subprocess
    import sys

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "mlgym_tui.cli", *args], cwd=REPO, capture_output=True, text=True,
                              timeout=600)

    done = cli("run", "--task", "blotto", "--agent", "baseline", "--engine", engine.name, "--runs-dir", str(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    run = next(p for p in tmp_path.iterdir() if p.is_dir())
    results = json.loads((run / "results.json").read_text())
    assert results["agent"] == [BLOTTO_HONEST, BLOTTO_HONEST] and results["trust"] == "isolated"
    events = [json.loads(line) for line in (run / "events.jsonl").read_text().splitlines()]
    scored = [e for e in events if e["type"] == "validation_scored"]
    manifests = [json.loads((run / "submissions" / str(e["step"]) / "manifest.json").read_text()) for e in scored]
    assert [m["digest"] for m in manifests] == [e["artefacts"] for e in scored]
    assert all(m["metrics"] == BLOTTO_HONEST and m["trust"] == "isolated" for m in manifests)

    rescored = cli("rescore", str(run), "--engine", engine.name)
    assert rescored.returncode == 0, rescored.stdout + rescored.stderr
    assert [line for line in rescored.stdout.splitlines() if line.endswith(": ok (reproduced)")] == [
        f"{e['step']}: ok (reproduced)" for e in scored]

    kept = run / "submissions" / str(scored[0]["step"]) / "files" / "strategy.py"
    kept.write_text(kept.read_text().replace("random.random()", "1.0"))
    tampered = cli("rescore", str(run), "--engine", engine.name)
    assert tampered.returncode == 1 and "do not match their manifest's hash" in tampered.stdout
    assert cli("rescore", str(tmp_path)).returncode == 2  # not a run directory: a clear one-line error
