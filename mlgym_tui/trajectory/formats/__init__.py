"""Other tools' trajectory formats: export a recorded run as chat-jsonl, ATIF or mini-swe-agent JSON, and import
ATIF and mini-swe-agent trajectories as runs of ours. One module per format; no textual, no agents package.

Secrets never leave through an export: every string is scrubbed (secrets.py) and config values under
secret-named keys are replaced, whatever the run's files hold.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from mlgym_tui.trajectory.formats.atif import export_atif, import_atif, looks_like_atif
from mlgym_tui.trajectory.formats.chat_jsonl import export_chat_lines
from mlgym_tui.trajectory.formats.mini_swe_agent import export_mini, import_mini, looks_like_mini
from mlgym_tui.trajectory.formats.shared import FormatProblem, ImportedRun, RunSource, load_json, open_run
from mlgym_tui.trajectory.formats.write_run import write_imported_run

EXPORT_FORMATS = ("chat-jsonl", "atif", "mini-swe-agent")
IMPORT_FORMATS = ("auto", "atif", "mini-swe-agent")
DEFAULT_NAMES = {
    "chat-jsonl": "chat.jsonl",
    "atif": "trajectory.atif.json",
    "mini-swe-agent": "trajectory.mini-swe-agent.traj.json",
}
_EITHER = ("an ATIF trajectory (\"schema_version\": \"ATIF-v1.x\") or a mini-swe-agent trajectory "
           "(\"messages\", \"info\", \"trajectory_format\")")


@dataclass
class Exported:
    text: str
    records: int  # lines (chat-jsonl) or steps / messages written
    warnings: list[str] = field(default_factory=list)


def export_run(path: Path | str, fmt: str, environ=None) -> Exported:
    """The text of `fmt` for the run at `path` (a run directory, events.jsonl or .traj). Raises TrajectoryError."""
    source = open_run(path, environ)
    return render(source, fmt)


def render(source: RunSource, fmt: str) -> Exported:
    warnings = list(source.run.warnings)
    if fmt == "chat-jsonl":
        lines = export_chat_lines(source)
        rebuilt = sum(1 for line in lines if line["context"] == "rebuilt")
        if rebuilt:
            warnings.append(f"{rebuilt} of {len(lines)} agent step(s) are not in the run's history; their context "
                            "was rebuilt from the steps")
        text = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)
        return Exported(text, len(lines), warnings)
    if fmt == "atif":
        document = export_atif(source)
        return Exported(json.dumps(document, indent=2, ensure_ascii=False) + "\n", len(document["steps"]), warnings)
    if fmt == "mini-swe-agent":
        document = export_mini(source)
        return Exported(json.dumps(document, indent=2, ensure_ascii=False) + "\n", len(document["messages"]),
                        warnings)
    raise ValueError(f"unknown export format {fmt!r}; choose one of {', '.join(EXPORT_FORMATS)}")


def read_trajectory(path: Path | str, fmt: str = "auto", task_id: str | None = None) -> ImportedRun:
    """An ATIF or mini-swe-agent file as an ImportedRun. Raises FormatProblem (one line) for anything else."""
    path = Path(path)
    if fmt == "atif":
        return import_atif(path, task_id=task_id)
    if fmt == "mini-swe-agent":
        return import_mini(path, task_id=task_id)
    document = load_json(path, _EITHER)
    if looks_like_atif(document):
        return import_atif(path, document, task_id=task_id)
    if looks_like_mini(document):
        return import_mini(path, document, task_id=task_id)
    kind = "object with keys " + ", ".join(list(document)[:5]) if isinstance(document, dict) else \
        f"JSON {type(document).__name__}"
    raise FormatProblem(f"{path}: neither ATIF nor mini-swe-agent (a {kind}); expected {_EITHER}, "
                        "or name the format with --format")


def import_trajectory(path: Path | str, runs_dir: Path | str, fmt: str = "auto",
                      task_id: str | None = None) -> tuple[Path, ImportedRun]:
    run = read_trajectory(path, fmt, task_id)
    return write_imported_run(run, Path(runs_dir), Path(path)), run


__all__ = [
    "DEFAULT_NAMES", "EXPORT_FORMATS", "IMPORT_FORMATS", "Exported", "FormatProblem", "ImportedRun", "RunSource",
    "export_run", "import_trajectory", "open_run", "read_trajectory", "render",
]
