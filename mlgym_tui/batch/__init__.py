"""Batch runs: every task K times, P episodes at once, resumable; see runner.py and layout.py."""

from mlgym_tui.batch.layout import batch_dir_name, episode_ended, inspect_slot, slot_name
from mlgym_tui.batch.runner import BatchError, BatchOutcome, BatchRunner, plan_batch

__all__ = [
    "BatchError", "BatchOutcome", "BatchRunner", "batch_dir_name", "episode_ended", "inspect_slot", "plan_batch",
    "slot_name",
]
