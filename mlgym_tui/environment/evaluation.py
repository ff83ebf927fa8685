"""Scoring a submission out of band: fresh evaluation files in a directory the agent cannot read,
run by a separate unprivileged user (never through the agent's shell)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from mlgym_tui.config.task import TaskConfig
from mlgym_tui.runtime.base import Container

EVALUATOR_UID = 1001  # owns the evaluation directory; neither the agent (1000) nor root runs the scorer
EVALUATION_TIMEOUT = 900


class EvaluationFailed(Exception):
    def __init__(self, status: str, reason: str) -> None:
        self.status = status  # "submission_not_found" | "evaluation_format_error"
        self.reason = reason
        super().__init__(f"{status} ({reason})")


@dataclass
class Score:
    metrics: dict[str, float]
    submission: str


def evaluation_sources(task: TaskConfig) -> list[Path]:
    """Host copies of the evaluation files (found among starter_code by name) and the secret files."""
    sources = []
    for name in task.evaluation_paths:
        found = None
        for relative in task.starter_code:
            path = task.resolve(relative)
            if path.is_file() and path.name == Path(name).name:
                found = path
            elif path.is_dir() and (path / name).exists():
                found = path / name
        if found is None:
            raise EvaluationFailed("evaluation_format_error", f"evaluation file {name} is not among the task's starter_code")
        sources.append(found)
    sources += [task.resolve(relative) for relative in task.secret_files]
    return sources


def submission_path(task: TaskConfig, box: Container) -> str:
    workspace = box.workspace
    if task.task_entrypoint == "CSVSubmissionTasks":
        path = f"{workspace}/submission.csv"
        if not box.exec(["test", "-f", path]).ok:
            raise EvaluationFailed("submission_not_found", "no submission.csv in the workspace; write one, then validate again")
        return path
    if task.task_entrypoint == "ModelSubmissionTasks":
        found = box.exec(["sh", "-c", f"ls {workspace}/*.yaml 2>/dev/null | head -n 1"]).output.strip()
        if not found:
            raise EvaluationFailed("submission_not_found", "no .yaml config in the workspace")
        return found
    return workspace


def evaluate(task: TaskConfig, box: Container) -> Score:
    submission = submission_path(task, box)
    eval_dir = box.eval_dir
    # Fresh files every time: whatever ran during an earlier evaluation cannot have changed them.
    box.check(["sh", "-c", f'rm -rf "{eval_dir}" && mkdir -p "{eval_dir}"'])
    for source in evaluation_sources(task):
        box.copy_in(source, eval_dir, owner="root")
    isolated = box.engine_name != "local"
    if isolated:
        box.check(["sh", "-c", f'chown -R {EVALUATOR_UID}:{EVALUATOR_UID} "{eval_dir}" && chmod 0700 "{eval_dir}"'])
    script = Path(task.evaluation_paths[0]).name if task.evaluation_paths else "evaluate.py"
    command = ["python3", script]
    if task.task_entrypoint == "CSVSubmissionTasks":
        command += ["--submission_file", submission]
    elif task.task_entrypoint == "ModelSubmissionTasks":
        command += ["--config_fname", submission]
    env = {"MLGYM_WORKSPACE": box.workspace, "HOME": "/tmp", "MPLCONFIGDIR": "/tmp", "PYTHONDONTWRITEBYTECODE": "1"}
    result = box.exec(command, user=f"{EVALUATOR_UID}:{EVALUATOR_UID}" if isolated else "root", workdir=eval_dir,
                      env=env, timeout=EVALUATION_TIMEOUT)
    metrics = last_json_object(result.output)
    if result.exit_code != 0 or metrics is None:
        lines = [line for line in result.output.strip().splitlines() if line.strip()]
        reason = lines[-1][:300] if lines else f"evaluation exited with code {result.exit_code} and printed nothing"
        if result.exit_code == 137:
            reason = f"evaluation did not finish within {EVALUATION_TIMEOUT} s"
        raise EvaluationFailed("evaluation_format_error", reason)
    return Score(metrics, submission)


def last_json_object(output: str) -> dict[str, float] | None:
    for line in reversed(output.strip().splitlines()):
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(data, dict) and data and all(isinstance(v, (int, float)) for v in data.values()):
            return {k: float(v) for k, v in data.items()}
    return None
