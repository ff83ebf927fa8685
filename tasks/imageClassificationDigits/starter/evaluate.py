"""Evaluation script for the imageClassificationDigits task (readable copy).

mlgym-tui scores a submission in an evaluation container of its own, under a
user of its own, from a private folder that also holds the hidden answers:
    python3 evaluate.py --submission_file /home/agent/workspace/submission.csv
where submission.csv is a copy of yours, read as a regular file (a link is
refused).
It prints exactly one JSON object of metrics on stdout and nothing else,
e.g. {"accuracy": 0.95, "macro_f1": 0.95}. accuracy (primary) is maximised;
macro_f1 (the unweighted mean of the ten per-class F1 scores) is also maximised.

The test labels are not in your workspace, so running this copy there fails
with a clear message. You can still check predictions for the validation split:
    python3 evaluate.py --submission_file valid_predictions.csv --answers_file data/valid.csv
"""
import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ID_COLUMN = "id"
LABEL_COLUMN = "label"
LABELS = tuple(range(10))
DEFAULT_ANSWERS = Path(__file__).resolve().parent / "answers.csv"


class SubmissionError(Exception):
    """A problem with the submission that the agent can fix."""


def load_answers(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise SubmissionError(
            f"answers file {path} not found (the test labels are hidden; "
            "pass --answers_file data/valid.csv to score validation predictions)"
        )
    answers = pd.read_csv(path)
    missing = {ID_COLUMN, LABEL_COLUMN} - set(answers.columns)
    if missing:
        raise SubmissionError(f"answers file {path} lacks columns {sorted(missing)}")
    return answers[[ID_COLUMN, LABEL_COLUMN]]


def load_submission(path: Path, answers: pd.DataFrame) -> np.ndarray:
    """Return the predicted labels ordered like `answers`, or raise SubmissionError."""
    if not path.is_file():
        raise SubmissionError(f"submission file {path} not found; write it with columns {ID_COLUMN},{LABEL_COLUMN}")
    try:
        sub = pd.read_csv(path)
    except Exception as exc:
        raise SubmissionError(f"could not read {path} as CSV: {exc}") from None
    expected = [ID_COLUMN, LABEL_COLUMN]
    if sorted(sub.columns) != sorted(expected):
        raise SubmissionError(f"submission must have exactly the columns {expected}, got {list(sub.columns)}")
    if len(sub) != len(answers):
        raise SubmissionError(f"submission has {len(sub)} rows, expected {len(answers)} (one per test row)")
    ids = pd.to_numeric(sub[ID_COLUMN], errors="coerce")
    if ids.isna().any():
        raise SubmissionError(f"column {ID_COLUMN!r} has non-numeric values")
    if ids.duplicated().any():
        raise SubmissionError(f"column {ID_COLUMN!r} has duplicate id {ids[ids.duplicated()].iloc[0]:g}")
    unknown = set(ids) - set(answers[ID_COLUMN])
    if unknown:
        raise SubmissionError(f"submission has ids not in the test set, e.g. {sorted(unknown)[0]:g}")
    labels = pd.to_numeric(sub[LABEL_COLUMN], errors="coerce")
    valid = labels.isin(LABELS)
    if not valid.all():
        bad = sub.loc[~valid, LABEL_COLUMN].iloc[0]
        raise SubmissionError(f"column {LABEL_COLUMN!r} must hold integer labels in {list(LABELS)}; found {bad!r}")
    by_id = pd.Series(labels.to_numpy().astype(np.int64), index=ids.astype(np.int64).to_numpy())
    return by_id.loc[answers[ID_COLUMN].to_numpy()].to_numpy()


def score(y_true: np.ndarray, y_pred: np.ndarray) -> dict:
    f1s = []
    for label in LABELS:
        tp = int(np.sum((y_pred == label) & (y_true == label)))
        fp = int(np.sum((y_pred == label) & (y_true != label)))
        fn = int(np.sum((y_pred != label) & (y_true == label)))
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 1.0)
    return {"accuracy": float(np.mean(y_true == y_pred)), "macro_f1": float(np.mean(f1s))}


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
    metrics = score(answers[LABEL_COLUMN].to_numpy(dtype=np.int64), preds)
    print(json.dumps({k: round(v, 6) for k, v in metrics.items()}))


if __name__ == "__main__":
    main()
