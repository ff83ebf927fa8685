"""MLGym's own tasks, unchanged: a repository in MLGym's layout (configs/tasks, configs/datasets, data/<task>/ with
evaluation scripts that import the agent's files from the current directory and read answers from the
workspace's data/) lists, overrides, evaluates and reproduces its baselines, on Docker and Podman."""

from __future__ import annotations

import base64
import textwrap
from pathlib import Path

import pytest
import yaml

from mlgym_tui.environment.baseline_check import check_task
from mlgym_tui.environment.environment import MLGymEnvironment
from mlgym_tui.tasks.registry import load_registry


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())


@pytest.fixture
def mlgym_repo(tmp_path) -> Path:
    """A checkout in MLGym's layout with one game task and one CSV task, written the way MLGym writes them."""
    root = tmp_path / "MLGym"
    write(root / "data/coordination/strategy.py", """
        def row_strategy(history):
            return history[-1][1] if history else 0
    """)
    write(root / "data/coordination/target.py", """
        def target_column_strategy(history):
            return 1 if len(history) % 3 == 0 else 0
    """)
    write(root / "data/coordination/evaluate.py", """
        import json

        from strategy import row_strategy
        from target import target_column_strategy


        def evaluate():
            total = 0
            for _ in range(200):
                history = []
                for _ in range(10):
                    row, col = row_strategy(history), target_column_strategy(history)
                    total += 1 if row == col else 0
                    history.append((row, col))
            print(json.dumps({"Score": total / 2000}))


        evaluate()
    """)
    write(root / "configs/tasks/coordination.yaml", yaml.safe_dump({
        "id": "coordination", "name": "Coordination", "description": "Meet the partner. {dataset_docs}",
        "task_entrypoint": "PythonSubmissionTasks", "training_timeout": 1800, "use_generic_conda": True,
        "starter_code": ["data/coordination/target.py", "data/coordination/evaluate.py",
                         "data/coordination/strategy.py"],
        "baseline_paths": ["evaluate.py"], "baseline_scores": [{"Score": 0.3}], "evaluation_paths": ["evaluate.py"],
        "evaluation_read_only": True, "memory_path": "data/coordination/memory.json",
    }))
    rows = "\n".join(f"{i},{i % 2}" for i in range(50))
    write(root / "data/parity/data/train.csv", "id,x,label\n" + "\n".join(f"{i},{i},{i % 2}" for i in range(50)))
    write(root / "data/parity/data/test.csv", "id,x\n" + "\n".join(f"{i},{i}" for i in range(50)))
    write(root / "data/parity/data/answer.csv", "id,label\n" + rows)
    write(root / "data/parity/baseline.py", """
        import pandas as pd

        test = pd.read_csv("data/test.csv")
        pd.DataFrame({"id": test["id"], "label": 0}).to_csv("submission.csv", index=False)
    """)
    write(root / "data/parity/evaluate.py", """
        import argparse
        import json

        import pandas as pd


        def evaluate_submission(submission_file):
            answers = pd.read_csv('/home/agent/workspace/data/answer.csv')
            predictions = pd.read_csv(submission_file)
            print(json.dumps({"accuracy": float((answers["label"] == predictions["label"]).mean())}))


        if __name__ == "__main__":
            parser = argparse.ArgumentParser()
            parser.add_argument("--submission_file")
            evaluate_submission(parser.parse_args().submission_file)
    """)
    write(root / "configs/datasets/parity.yaml", yaml.safe_dump({
        "name": "Parity", "description": "Numbers and their parity.", "data_path": "data/parity/data",
        "is_local": True, "train_split": {"name": "train", "file_regex": "./data/train*"},
        "test_split": {"name": "test", "file_regex": "./data/test*"}}))
    write(root / "configs/tasks/parity.yaml", yaml.safe_dump({
        "id": "parity", "name": "Parity", "description": "Predict the parity. {dataset_docs}",
        "dataset_configs": ["datasets/parity.yaml"], "task_entrypoint": "CSVSubmissionTasks",
        "starter_code": ["data/parity/baseline.py", "data/parity/evaluate.py"], "baseline_paths": ["baseline.py"],
        "baseline_scores": [{"accuracy": 0.5}], "evaluation_paths": ["evaluate.py"], "evaluation_read_only": True,
    }))
    return root


def registry_of(root: Path):
    return load_registry([root / "configs/tasks"], tasks_root=root)


def test_mlgym_layout_lists_with_its_sources(mlgym_repo):
    registry = registry_of(mlgym_repo)
    assert not registry.problems
    assert registry.source_of(registry.get("coordination")) == str(mlgym_repo / "configs/tasks/coordination.yaml")
    assert "Numbers and their parity." in registry.get("parity").rendered_description


@pytest.mark.parametrize("task_id", ["coordination", "parity"])
async def test_mlgym_tasks_reproduce_their_baselines_unchanged(engine, mlgym_repo, task_id):
    result = await check_task(registry_of(mlgym_repo).get(task_id), engine)
    assert result.ok, result.message


async def test_mlgym_scripts_see_mlgyms_workspace_and_are_labelled_in_process(engine, mlgym_repo):
    registry = registry_of(mlgym_repo)
    game = MLGymEnvironment(registry.get("coordination"), engine)
    csv = MLGymEnvironment(registry.get("parity"), engine)
    await game.reset()
    await csv.reset()
    try:
        assert (game.trust, csv.trust) == ("in-process", "isolated")
        better = "def row_strategy(history):\n    return 1 if len(history) % 3 == 0 else 0\n"
        await game.step(f"echo {base64.b64encode(better.encode()).decode()} | base64 -d > strategy.py")
        assert (await game.step("validate")).metrics == {"Score": 1.0}
        # The evaluation file is fresh from the task, whatever the workspace copy says.
        await game.step("rm -f evaluate.py && echo 'print(\"{\\\"Score\\\": 5}\")' > evaluate.py")
        assert (await game.step("validate")).metrics == {"Score": 1.0}
        await csv.step("python baseline.py && rm data/answer.csv")  # the scorer's data comes from the task
        assert (await csv.step("validate")).metrics == {"accuracy": 0.5}
        # MLGym's parsing: the whole output must be one JSON object.
        noisy = "print('loading')\ndef row_strategy(history):\n    return 0\n"
        await game.step(f"echo {base64.b64encode(noisy.encode()).decode()} | base64 -d > strategy.py")
        result = await game.step("validate")
        assert result.metrics is None and "not one JSON object of metrics" in result.observation
    finally:
        await game.close()
        await csv.close()
