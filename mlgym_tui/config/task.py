"""Task and dataset configs: MLGym's schema field for field, plus our optional additions."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from mlgym_tui.config.settings import ConfigError, describe_validation_error, load_yaml_mapping

Entrypoint = Literal["CSVSubmissionTasks", "PythonSubmissionTasks", "ModelSubmissionTasks", "LMSubmissionTasks"]


# MLGym's game tasks score the starter strategy with unseeded simulations, so their baseline_scores reproduce only
# within a margin. Measured with `mlgym-tui tasks check` on MLGym's own YAMLs (6 runs each, docker): battleOfSexes
# 1.0098..1.0241 against 1.0227 (1.3 %), prisonersDilemma 2.3710..2.3865 against 2.3716 (0.6 %), blotto
# -0.2499..-0.2467 against -0.2480 (0.2 % of the floor of 1). Twice the largest deviation seen, for tasks whose YAML
# sets no baseline_tolerance of its own.
MLGYM_BASELINE_TOLERANCE = {"battleOfSexes": 0.03, "prisonersDilemma": 0.015, "blotto": 0.01}


DEFAULT_WORKSPACE_IGNORE = ("data/", "__pycache__/", ".git/", "checkpoints/", ".ipynb_checkpoints/", "wandb/")


class Split(BaseModel):
    name: str
    file_regex: str


class DatasetConfig(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: str
    description: str = ""
    data_path: str
    is_local: bool = True
    train_split: Split | None = None
    valid_split: Split | None = None
    test_split: Split | None = None


class Metric(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    direction: Literal["maximize", "minimize"]
    primary: bool = False


class TaskLimits(BaseModel):
    model_config = ConfigDict(extra="forbid")

    memory: str | None = None
    cpus: float | None = Field(None, gt=0)
    pids: int | None = Field(None, ge=16)


class SubmissionSpec(BaseModel):
    """What of the workspace is the submission: read out of the agent's container by value and scored elsewhere."""

    model_config = ConfigDict(extra="forbid")

    files: list[str] = Field(default_factory=list)
    """Workspace-relative files (or folders) that must exist; each is copied as regular files only."""
    optional: list[str] = Field(default_factory=list)
    """Workspace-relative files (or folders) copied when present (e.g. saved parameters)."""
    modules: list[str] = Field(default_factory=list)
    """Python modules of the submission that evaluate.py imports. Each is run in a process of its own under the
    agent's uid and reached through a stand-in module; without any, agent code would run inside the scorer."""
    max_bytes: int = Field(256 * 1024 * 1024, gt=0)
    """The largest submission (all its files together) that is read; a larger one is refused."""


class TaskConfig(BaseModel):
    model_config = ConfigDict(extra="allow")

    # MLGym's fields
    id: str
    name: str
    description: str
    dataset_configs: list[str] = Field(default_factory=list)
    task_entrypoint: Entrypoint = "CSVSubmissionTasks"
    training_timeout: int | None = 1800
    use_generic_conda: bool = True
    requirements_path: str | None = None
    starter_code: list[str] = Field(default_factory=list)
    baseline_paths: list[str] = Field(default_factory=list)
    baseline_scores: list[dict[str, float]] = Field(default_factory=list)
    sample_submission: str | None = None
    evaluation_paths: list[str] = Field(default_factory=list)
    evaluation_read_only: bool = True
    secret_files: list[str] = Field(default_factory=list)
    memory_path: str | None = None
    benchmark_name: str | None = None
    # Our additions
    domain: str = ""
    metrics: list[Metric] = Field(default_factory=list)
    image: str | None = None
    network: bool = False
    limits: TaskLimits = Field(default_factory=TaskLimits)
    baseline_tolerance: float = Field(0.01, ge=0)
    packages: list[str] = Field(default_factory=list)
    """Python packages (requirement lines) the task needs beyond the task image, as requirements_path does."""
    submission: SubmissionSpec | None = None
    evaluation_timeout: float = Field(900, gt=0)
    workspace_ignore: list[str] = Field(default_factory=lambda: list(DEFAULT_WORKSPACE_IGNORE))
    """Workspace paths the per-step snapshots leave out, gitignore-like: "name/" matches folders only, a pattern
    with a "/" before its end is anchored at the workspace, globs allowed. The default leaves out the task's
    datasets (data/, copied in by the task, often gigabytes), caches, version control and checkpoints."""
    evaluation_data: bool | None = None
    """Copy the task's local datasets to data/ beside the scorer. Default: yes for tasks in MLGym's schema (no
    `submission:` block), whose evaluation scripts read answers from the workspace's data/."""
    # Filled in by the loader
    source: Path | None = Field(None, exclude=True)
    root: Path | None = Field(None, exclude=True)
    datasets: list[DatasetConfig] = Field(default_factory=list, exclude=True)

    @model_validator(mode="after")
    def _one_primary_metric(self) -> "TaskConfig":
        if self.metrics and sum(m.primary for m in self.metrics) > 1:
            raise ValueError("metrics: mark exactly one metric primary: true")
        return self

    @property
    def primary_metric(self) -> Metric | None:
        for metric in self.metrics:
            if metric.primary:
                return metric
        if self.metrics:
            return self.metrics[0]
        from mlgym_tui.config.directions import MLGYM_DIRECTIONS  # MLGym's own tasks carry no metrics block

        known = MLGYM_DIRECTIONS.get(self.id)
        if known:
            return Metric(name=known[0], direction="maximize" if known[1].startswith("max") else "minimize", primary=True)
        if self.baseline_scores:
            return Metric(name=next(iter(self.baseline_scores[0])), direction="maximize", primary=True)
        return None

    @property
    def baseline(self) -> dict[str, float]:
        return dict(self.baseline_scores[0]) if self.baseline_scores else {}

    @property
    def baseline_scripts(self) -> list[str]:
        """Scripts that produce the baseline's submission. MLGym's game tasks list evaluate.py instead,
        meaning: the baseline is the evaluation of the starter code, so there is nothing to run."""
        evaluation = {Path(name).name for name in self.evaluation_paths}
        return [script for script in self.baseline_paths if Path(script).name not in evaluation]

    @property
    def rendered_description(self) -> str:
        docs = "\n".join(d.description.strip() for d in self.datasets if d.description)
        return self.description.replace("{dataset_docs}", docs)

    def resolve(self, relative: str) -> Path:
        """A repo-root-relative path from the YAML (starter_code, secret_files, data_path)."""
        return (self.root or Path.cwd()) / relative


def _resolve_dataset_path(relative: str, task_file: Path, root: Path) -> Path | None:
    # MLGym keeps dataset configs under <root>/configs/; ours sit beside the task YAML.
    for base in (root / "configs", task_file.parent, root):
        candidate = base / relative
        if candidate.is_file():
            return candidate
    return None


def load_task(path: Path, root: Path | None = None) -> TaskConfig:
    """Load and validate a task YAML. `root` is the repository its relative paths start from."""
    path = Path(path)
    data = load_yaml_mapping(path)
    root = Path(root) if root else _guess_root(path)
    try:
        task = TaskConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(path, exc) + "; see tasks/README.md for the schema") from None
    task.source, task.root = path, root
    if "baseline_tolerance" not in data and task.id in MLGYM_BASELINE_TOLERANCE:
        task.baseline_tolerance = MLGYM_BASELINE_TOLERANCE[task.id]
    for index, relative in enumerate(task.dataset_configs):
        dataset_file = _resolve_dataset_path(relative, path, root)
        if dataset_file is None:
            raise ConfigError(
                f"{path}: field 'dataset_configs.{index}': {relative} not found under {root / 'configs'} or {path.parent}; "
                "fix the path or pass --tasks-root"
            )
        try:
            task.datasets.append(DatasetConfig.model_validate(load_yaml_mapping(dataset_file)))
        except ValidationError as exc:
            raise ConfigError(describe_validation_error(dataset_file, exc)) from None
    for index, relative in enumerate(task.starter_code):
        if not task.resolve(relative).exists():
            raise ConfigError(
                f"{path}: field 'starter_code.{index}': {relative} does not exist under {root}; fix the path or pass --tasks-root"
            )
    return task


def _guess_root(path: Path) -> Path:
    """The repository root: the nearest parent holding the paths the YAML names (MLGym: configs/tasks/x.yaml)."""
    parent = path.resolve().parent
    if parent.name == "tasks" and parent.parent.name == "configs":
        return parent.parent.parent
    if parent.name == "tasks":
        return parent.parent
    return parent
