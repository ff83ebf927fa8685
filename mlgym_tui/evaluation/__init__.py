"""Aggregation of finished runs: per-task scores, performance profiles and AUP (MLGym paper).

Pure data; the CLI (`mlgym-tui results`) and the TUI's Results screen render it.
"""

from mlgym_tui.evaluation.aggregate import aggregate, collect_runs
from mlgym_tui.config.directions import MLGYM_DIRECTIONS, MetricDirection
from mlgym_tui.evaluation.results_table import BASELINE, Cell, Entry, ModelStats, Problem, ResultsTable
from mlgym_tui.evaluation.run_summary import RunSummary

__all__ = [
    "BASELINE", "MLGYM_DIRECTIONS", "Cell", "Entry", "MetricDirection", "ModelStats", "Problem",
    "ResultsTable", "RunSummary", "aggregate", "collect_runs",
]
