"""Evaluation script for the regressionDiabetes task (readable copy).

mlgym-tui scores a submission in an evaluation container of its own, under a
user of its own, from a private folder that also holds the hidden answers:
    python3 evaluate.py --submission_file /home/agent/workspace/submission.csv
where submission.csv is a copy of yours, read as a regular file (a link is
refused).
It prints exactly one JSON object of metrics on stdout and nothing else,
e.g. {"r2": 0.47, "rmse": 53.1}. r2 (primary) is maximised, rmse minimised.

The test targets are not in your workspace, so running this copy there fails
with a clear message. You can still check a file of predictions for the
validation split against its known targets:
    python3 evaluate.py --submission_file valid_predictions.csv --answers_file data/valid.csv
"""
import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ID_COLUMN = "id"
TARGET_COLUMN = "target"
DEFAULT_ANSWERS = Path(__file__).resolve().parent / "answers.csv"


class SubmissionError(Exception):
    """A problem with the submission that the agent can fix."""


def load_answers(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise SubmissionError(
            f"answers file {path} not found (the test targets are hidden; "
            "pass --answers_file data/valid.csv to score validation predictions)"
        )
    answers = pd.read_csv(path)
    missing = {ID_COLUMN, TARGET_COLUMN} - set(answers.columns)
    if missing:
        raise SubmissionError(f"answers file {path} lacks columns {sorted(missing)}")
    return answers[[ID_COLUMN, TARGET_COLUMN]]


def load_submission(path: Path, answers: pd.DataFrame) -> pd.Series:
    """Return the predictions ordered like `answers`, or raise SubmissionError."""
    if not path.is_file():
        raise SubmissionError(f"submission file {path} not found; write it with columns {ID_COLUMN},{TARGET_COLUMN}")
    try:
        sub = pd.read_csv(path)
    except Exception as exc:  # empty file, binary junk, bad quoting...
        raise SubmissionError(f"could not read {path} as CSV: {exc}") from None
    expected = [ID_COLUMN, TARGET_COLUMN]
    if sorted(sub.columns) != sorted(expected):
        raise SubmissionError(f"submission must have exactly the columns {expected}, got {list(sub.columns)}")
    if len(sub) != len(answers):
        raise SubmissionError(f"submission has {len(sub)} rows, expected {len(answers)} (one per test row)")
    ids = pd.to_numeric(sub[ID_COLUMN], errors="coerce")
    if ids.isna().any():
        raise SubmissionError(f"column {ID_COLUMN!r} has non-numeric values")
    if ids.duplicated().any():
        dup = ids[ids.duplicated()].iloc[0]
        raise SubmissionError(f"column {ID_COLUMN!r} has duplicate id {dup:g}")
    unknown = set(ids) - set(answers[ID_COLUMN])
    if unknown:
        raise SubmissionError(f"submission has ids not in the test set, e.g. {sorted(unknown)[0]:g}")
    values = pd.to_numeric(sub[TARGET_COLUMN], errors="coerce")
    if values.isna().any() or not np.isfinite(values.to_numpy(dtype=float)).all():
        bad = sub.loc[values.isna() | ~np.isfinite(values.fillna(0).to_numpy(dtype=float)), TARGET_COLUMN].iloc[0]
        raise SubmissionError(f"column {TARGET_COLUMN!r} must hold finite numbers; found {bad!r}")
    by_id = pd.Series(values.to_numpy(dtype=float), index=ids.astype(np.int64).to_numpy())
    return by_id.loc[answers[ID_COLUMN].to_numpy()]


def score(y_true: np.ndarray, y_pred: np.ndarray) -> dict:
    residual = y_true - y_pred
    ss_res = float(np.sum(residual ** 2))
    ss_tot = float(np.sum((y_true - y_true.mean()) ** 2))
    return {
        "r2": 1.0 - ss_res / ss_tot,
        "rmse": float(np.sqrt(np.mean(residual ** 2))),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submission_file", default="submission.csv")
    parser.add_argument("--answers_file", default=str(DEFAULT_ANSWERS))
    args = parser.parse_args()
    try:
        answers = load_answers(Path(args.answers_file))
        preds = load_submission(Path(args.submission_file), answers)
    except SubmissionError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        sys.exit(1)
    metrics = score(answers[TARGET_COLUMN].to_numpy(dtype=float), preds.to_numpy(dtype=float))
    print(json.dumps({k: round(v, 6) for k, v in metrics.items()}))


if __name__ == "__main__":
    main()
