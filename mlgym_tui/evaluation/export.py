"""CSV and JSON exports of a ResultsTable."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from mlgym_tui.evaluation.results_table import ResultsTable

CSV_COLUMNS = ["kind", "task_id", "model", "metric", "direction", "best", "last", "best_feasible",
               "last_feasible", "best_ratio", "last_ratio", "best_run", "last_run", "n_runs",
               "best_trust", "last_trust"]


def write_json(table: ResultsTable, path: str | Path) -> None:
    Path(path).write_text(json.dumps(table.to_dict(), indent=1) + "\n", encoding="utf-8")


def write_csv(table: ResultsTable, path: str | Path) -> None:
    """One `score` row per task and method, then one `aup` row per method (best/last columns hold the AUP)."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        for (task, model), cell in table.cells.items():
            metric, direction = table.directions[task]
            writer.writerow({
                "kind": "score", "task_id": task, "model": model, "metric": metric, "direction": direction,
                "best": cell.best.value, "last": cell.last.value,
                "best_feasible": cell.best.feasible, "last_feasible": cell.last.feasible,
                "best_ratio": round(cell.best.ratio, 6), "last_ratio": round(cell.last.ratio, 6),
                "best_run": cell.best.run_path or "", "last_run": cell.last.run_path or "", "n_runs": len(cell.runs),
                "best_trust": cell.best.trust, "last_trust": cell.last.trust,
            })
        for model, values in table.aup.items():
            writer.writerow({"kind": "aup", "model": model, "best": f"{values['best']:.3f}",
                             "last": f"{values['last']:.3f}"})
