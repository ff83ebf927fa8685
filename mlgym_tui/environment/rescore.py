"""Re-computing a run's scores from the artefact sets it kept (`runs/<run>/submissions/<step>/`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mlgym_tui.config.runtime import RuntimeConfig
from mlgym_tui.config.task import TaskConfig
from mlgym_tui.environment.baseline_check import within
from mlgym_tui.environment.evaluation import evaluate, evaluation_digest
from mlgym_tui.environment.submission import MANIFEST, Artefacts, SubmissionRefused
from mlgym_tui.runtime.base import Engine


@dataclass
class Rescored:
    folder: str
    recorded: dict[str, float] | None
    measured: dict[str, float] | None
    ok: bool
    message: str


def submission_folders(run_dir: Path) -> list[Path]:
    """The kept artefact sets in step order (`7`, `7-2`, `12`)."""
    root = Path(run_dir) / "submissions"
    folders = [p for p in root.iterdir() if (p / MANIFEST).is_file()] if root.is_dir() else []

    def order(path: Path) -> tuple[int, int]:
        step, _, again = path.name.partition("-")
        return (int(step) if step.isdigit() else -1, int(again) if again.isdigit() else 0)

    return sorted(folders, key=order)


def rescore_folder(folder: Path, task: TaskConfig, engine: Engine, runtime: RuntimeConfig | None = None) -> Rescored:
    try:
        artefacts, manifest = Artefacts.load(folder)
    except (OSError, ValueError, KeyError, SubmissionRefused) as exc:
        return Rescored(folder.name, None, None, False, f"cannot read the kept submission: {exc}")
    recorded = manifest.get("metrics")
    notes = []
    if manifest.get("evaluation_sha256") and manifest["evaluation_sha256"] != evaluation_digest(task):
        notes.append("the task's evaluation files changed since this run")
    try:
        measured = evaluate(task, engine, artefacts, runtime).metrics
    except SubmissionRefused as exc:
        if recorded is None:  # it failed then too
            return Rescored(folder.name, None, None, True, f"not scored, as recorded ({exc.reason})")
        return Rescored(folder.name, recorded, None, False, f"now fails: {exc.reason}")
    if recorded is None:
        return Rescored(folder.name, None, measured, False, f"recorded as not scored ({manifest.get('reason', '?')}), now scores")
    misses = [name for name, value in recorded.items()
              if name not in measured or not within(value, measured[name], task.baseline_tolerance)]
    message = "; ".join(notes + [f"{name}: recorded {recorded[name]:g}, now {measured.get(name, float('nan')):g}"
                                 for name in misses]) or "reproduced"
    return Rescored(folder.name, recorded, measured, not misses, message)
