"""The MLGym environment on real containers: baselines, tools, evaluation isolation, submit semantics."""

from __future__ import annotations

import pytest

from mlgym_tui.environment.baseline_check import check_task
from mlgym_tui.environment.environment import MLGymEnvironment
from mlgym_tui.tasks.registry import load_registry

REGISTRY = load_registry()


@pytest.fixture
async def env_factory(engine):
    made = []

    async def make(task_id: str) -> MLGymEnvironment:
        env = MLGymEnvironment(REGISTRY.get(task_id), engine)
        await env.reset()
        made.append(env)
        return env

    yield make
    for env in made:
        await env.close()


@pytest.mark.parametrize("task_id", sorted(REGISTRY.tasks))
async def test_every_bundled_baseline_reproduces(engine, task_id):
    result = await check_task(REGISTRY.get(task_id), engine)
    assert result.ok, result.message


async def test_agent_cannot_read_answers_or_change_evaluation(env_factory):
    env = await env_factory("regressionDiabetes")
    await env.step("python baseline.py")
    honest = (await env.step("validate")).metrics
    assert (await env.step("cat /opt/mlgym/eval/answers.csv")).exit_code != 0
    assert (await env.step("ls /opt/mlgym/eval")).exit_code != 0
    assert (await env.step("echo 'print(1)' >> evaluate.py")).exit_code != 0
    # Replacing the workspace copy changes nothing: evaluation uses fresh copies outside the workspace.
    await env.step("rm -f evaluate.py && printf 'import json\\nprint(json.dumps({\"r2\": 1.0, \"rmse\": 0.0}))\\n' > evaluate.py")
    assert (await env.step("validate")).metrics == honest
    leaked = await env.step("grep -r . /opt/mlgym 2>&1 | head -3; find / -name answers.csv 2>/dev/null")
    assert "answers.csv" not in leaked.observation


async def test_malformed_submissions_get_clear_messages(env_factory):
    env = await env_factory("classificationBreastCancer")
    missing = await env.step("validate")
    assert missing.metrics is None and "no submission.csv" in missing.observation and not missing.done
    await env.step("printf 'id,label\\n1,2\\n' > submission.csv")
    wrong = await env.step("validate")
    assert wrong.metrics is None and wrong.observation.startswith("Submission could not be evaluated: Error")
    game = await env_factory("prisonersDilemma")
    await game.step("printf 'def row_strategy(history):\\n    raise RuntimeError(\"boom\")\\n' > strategy.py")
    crashed = await game.step("validate")
    assert crashed.metrics is None and "boom" in crashed.observation


async def test_validate_keeps_going_submit_ends(env_factory):
    env = await env_factory("battleOfSexes")
    first = await env.step("validate")
    assert first.metrics == pytest.approx({"Score": 0.6542}) and not first.done and first.exit_status is None
    assert "Baseline Score" in first.observation and "Evaluation Score" in first.observation
    final = await env.step("submit")
    assert final.done and final.exit_status == "submitted"
    assert env.scores == [first.metrics, final.metrics]
    assert (await env.step("ls")).done


async def test_autosubmission_and_missing_artefact(env_factory):
    env = await env_factory("mountainCarContinuous")
    auto = await env.autosubmit("max_steps")
    assert auto.exit_status == "autosubmission (max_steps)" and auto.metrics
    csv = await env_factory("imageClassificationDigits")
    nothing = await csv.autosubmit("exit_cost")
    assert nothing.done and nothing.exit_status.startswith("submission_not_found (")


async def test_file_tools(env_factory):
    env = await env_factory("blotto")
    created = await env.step("create notes.py\ndef f(x):\n    return x + 1\nend_of_create")
    assert "[File: /home/agent/workspace/notes.py (2 lines total)]" in created.observation
    assert created.state["open_file"] == "/home/agent/workspace/notes.py"
    edited = await env.step("edit 2:2\n    return x * 2\nend_of_edit")
    assert "2:    return x * 2" in edited.observation and edited.exit_code == 0
    refused = await env.step("edit 2:2\n    return undefined_thing\nend_of_edit")
    assert refused.exit_code == 1 and "undefined name 'undefined_thing'" in refused.observation
    assert "NOT been applied" in refused.observation
    broken = await env.step("edit 1:1\ndef f(x:\nend_of_edit")
    assert broken.exit_code == 1 and "NOT been applied" in broken.observation
    assert (await env.step("cat notes.py")).observation == "def f(x):\n    return x * 2\n"
    inserted = await env.step("insert 0\n# header\nend_of_insert")
    assert "1:# header" in inserted.observation
    await env.step("python3 -c \"print('\\n'.join(f'line {i}' for i in range(250)))\" > long.txt")
    opened = await env.step("open long.txt 200")
    assert "200:line 199" in opened.observation and "more lines above" in opened.observation
    assert "1:line 0" in (await env.step("goto 1")).observation
    assert "101:line 100" in (await env.step("scroll_down")).observation
    assert "1:line 0" in (await env.step("scroll_up")).observation
    assert "Line 43:line 42" in (await env.step('search_file "line 42"')).observation
    assert "/home/agent/workspace/notes.py (1 matches)" in (await env.step('search_dir "x * 2"')).observation
    assert "/home/agent/workspace/notes.py" in (await env.step('find_file "*.py"')).observation
    assert "not found" in (await env.step("open nothing.py")).observation


async def test_interactive_programs_are_refused_by_whole_name(env_factory):
    env = await env_factory("battleOfSexes")
    refused = await env.step("vim strategy.py")
    assert "Interactive program 'vim'" in refused.observation and refused.exit_code is None
    assert "Interactive program 'python'" in (await env.step("python")).observation
    assert (await env.step("python3 -c 'print(7)'")).observation == "7\n"
    assert "Interactive program" not in (await env.step("echo vim; which lessfile || true")).observation
