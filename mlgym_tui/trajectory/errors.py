"""The one error type of the trajectory package: a file that cannot be read as a run at all."""

from __future__ import annotations


class TrajectoryError(Exception):
    """A one-line message naming the file and what was expected there.

    Damage that still leaves something usable (a truncated tail, a half-written .traj) is not an error:
    the reader recovers what is there and reports the loss in `LoadedRun.warnings`.
    """
