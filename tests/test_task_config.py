"""Task YAML loading: MLGym's schema unchanged, our additions, and errors that name file and field."""

from __future__ import annotations

import os
import textwrap

import pytest
import yaml

from mlgym_tui.config.settings import ConfigError
from mlgym_tui.config.task import load_task
from mlgym_tui.tasks.registry import load_registry
from mlgym_tui.tools.commands import blocked_program, command_docs, to_shell


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def test_mlgym_task_yaml_with_repo_relative_paths_loads_unchanged(tmp_path):
    root = tmp_path / "MLGym"
    write(root / "data/houses/evaluate.py", "print('{}')\n")
    write(root / "data/houses/data/train.csv", "a,b\n")
    write(root / "configs/datasets/houses.yaml", """\
        name: houses
        description: "Kaggle house prices, train and test splits."
        data_path: data/houses/data
        is_local: true
        train_split: {name: train, file_regex: "./data/train*"}
        valid_split: {name: valid, file_regex: "./data/valid*"}
        test_split: {name: test, file_regex: "./data/test*"}
        """)
    task_file = write(root / "configs/tasks/regressionKaggleHousePrice.yaml", """\
        id: regressionKaggleHousePrice
        name: Housing Price Prediction
        description: |-
          Predict prices. {dataset_docs}
        dataset_configs:
        - datasets/houses.yaml
        task_entrypoint: CSVSubmissionTasks
        training_timeout: 1800
        use_generic_conda: true
        requirements_path: null
        starter_code:
        - data/houses/evaluate.py
        baseline_paths:
        - baseline.py
        baseline_scores:
        - rmse: 30340.1
          r2: 0.88
        evaluation_paths:
        - evaluate.py
        evaluation_read_only: true
        memory_path: data/houses/memory.json
        """)
    task = load_task(task_file, root)
    assert task.datasets[0].name == "houses"
    assert "Kaggle house prices" in task.rendered_description
    assert task.resolve(task.starter_code[0]).exists()
    assert task.primary_metric.name == "r2" and task.primary_metric.direction == "maximize"  # MLGym's table
    assert load_task(task_file).root == root  # configs/tasks/x.yaml implies the root


def test_errors_name_file_field_and_fix(tmp_path):
    bad_yaml = write(tmp_path / "tasks/broken.yaml", "id: x\nname: [unclosed\n")
    with pytest.raises(ConfigError, match=r"broken.yaml: line \d+ is not valid YAML"):
        load_task(bad_yaml)
    wrong_type = write(tmp_path / "tasks/wrong.yaml", "id: x\nname: n\ndescription: d\ntask_entrypoint: Bogus\n")
    with pytest.raises(ConfigError, match=r"wrong.yaml: field 'task_entrypoint'"):
        load_task(wrong_type)
    missing = write(tmp_path / "tasks/missing.yaml", "id: x\nname: n\ndescription: d\nstarter_code: [nope/strategy.py]\n")
    with pytest.raises(ConfigError, match=r"field 'starter_code.0': nope/strategy.py does not exist"):
        load_task(missing)


def test_registry_lists_bundled_tasks_and_reports_bad_files(tmp_path):
    write(tmp_path / "extra/bad.yaml", "id: [\n")
    registry = load_registry([tmp_path / "extra"])
    assert len(registry.tasks) >= 8
    assert {"battleOfSexes", "sat3Heuristic", "mountainCarContinuous"} <= set(registry.tasks)
    assert len(registry.problems) == 1 and "bad.yaml" in registry.problems[0]
    with pytest.raises(ConfigError, match="unknown task 'nope'"):
        registry.get("nope")


def test_blocklist_checks_whole_command_names():
    assert blocked_program("vim a.py") == "vim"
    assert blocked_program("cd src && nano x") == "nano"
    assert blocked_program("/usr/bin/less log.txt") == "less"
    assert blocked_program("python") == "python"
    assert blocked_program("python train.py") is None
    assert blocked_program("vimdiff a b") is None
    assert blocked_program("echo less is more") is None
    assert blocked_program("lesspipe x") is None


def test_multiline_commands_become_here_documents_and_docs_cover_every_command():
    shell = to_shell("edit 1:2\nprint('x')\nend_of_edit")
    assert shell.startswith("edit 1:2 <<'MLGYM_BODY_") and "print('x')" in shell and "end_of_edit" not in shell
    assert to_shell("ls -la") == "ls -la"
    docs = command_docs()
    for name in ("open", "goto", "scroll_up", "scroll_down", "create", "edit", "insert", "search_dir",
                 "search_file", "find_file", "validate", "submit"):
        assert f"\n{name}" in f"\n{docs}"


def test_a_task_of_the_users_folder_replaces_a_bundled_one_of_the_same_id(tmp_path):
    import subprocess
    import sys

    bundled = load_registry().get("blotto")
    mine = tmp_path / "configs/tasks/blotto.yaml"
    data = yaml.safe_load(bundled.source.read_text())
    data["baseline_scores"] = [{"Score": 0.5}]
    data["starter_code"] = [str(bundled.resolve(p)) for p in data["starter_code"]]
    write(mine, yaml.safe_dump(data))
    registry = load_registry([mine.parent])
    assert registry.get("blotto").baseline == {"Score": 0.5}
    assert registry.source_of(registry.get("blotto")) == str(mine)
    assert registry.source_of(registry.get("battleOfSexes")) == "bundled"
    assert registry.notices == [f"task blotto from {mine} replaces the one from bundled"]
    listing = subprocess.run([sys.executable, "-m", "mlgym_tui.cli", "tasks", "--tasks-dir", str(mine.parent)],
                             capture_output=True, text=True, env={**os.environ, "COLUMNS": "250"})
    assert listing.stdout.count("replaces the one from bundled") == 1
    assert any("blotto" in line and str(mine) in line for line in listing.stdout.splitlines())
    show = subprocess.run([sys.executable, "-m", "mlgym_tui.cli", "tasks", "--tasks-dir", str(mine.parent), "show",
                           "blotto"], capture_output=True, text=True, env={**os.environ, "COLUMNS": "250"})
    assert f"source: {mine}" in show.stdout


def test_mlgyms_stochastic_game_baselines_get_their_measured_tolerance(tmp_path):
    from mlgym_tui.config.task import MLGYM_BASELINE_TOLERANCE

    for task_id, tolerance in MLGYM_BASELINE_TOLERANCE.items():
        write(tmp_path / f"configs/tasks/{task_id}.yaml", f"id: {task_id}\nname: x\ndescription: x\n")
        assert load_task(tmp_path / f"configs/tasks/{task_id}.yaml").baseline_tolerance == tolerance
    write(tmp_path / "configs/tasks/own.yaml", "id: blotto\nname: x\ndescription: x\nbaseline_tolerance: 0.2\n")
    assert load_task(tmp_path / "configs/tasks/own.yaml").baseline_tolerance == 0.2  # the YAML's own value wins
