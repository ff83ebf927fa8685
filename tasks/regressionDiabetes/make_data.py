"""Build the regressionDiabetes data files from scikit-learn's bundled diabetes data set.

Run inside the task image from the repository root (or anywhere):
    python3 tasks/regressionDiabetes/make_data.py
Deterministic: a fixed NumPy seed decides the split, so rerunning rewrites identical files.
"""
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.datasets import load_diabetes

SEED = 20240611
HERE = Path(__file__).resolve().parent


def main() -> None:
    raw = load_diabetes(scaled=False)
    names = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]
    frame = pd.DataFrame(raw.data, columns=names)
    frame["target"] = raw.target
    order = np.random.RandomState(SEED).permutation(len(frame))
    frame = frame.iloc[order].reset_index(drop=True)
    frame.insert(0, "id", np.arange(1, len(frame) + 1))

    n_test = round(0.20 * len(frame))
    n_valid = round(0.15 * len(frame))
    test = frame.iloc[:n_test]
    valid = frame.iloc[n_test:n_test + n_valid]
    train = frame.iloc[n_test + n_valid:]
    train = train.sort_values("id")

    (HERE / "data").mkdir(exist_ok=True)
    (HERE / "eval").mkdir(exist_ok=True)
    fmt = {"float_format": "%.6g", "index": False}
    train.to_csv(HERE / "data" / "train.csv", **fmt)
    valid.to_csv(HERE / "data" / "valid.csv", **fmt)
    test.drop(columns=["target"]).to_csv(HERE / "data" / "test.csv", **fmt)
    test[["id", "target"]].to_csv(HERE / "eval" / "answers.csv", **fmt)
    sample = test[["id"]].copy()
    sample["target"] = round(float(train["target"].mean()), 3)
    sample.to_csv(HERE / "starter" / "sample_submission.csv", **fmt)
    print(f"train={len(train)} valid={len(valid)} test={len(test)}")


if __name__ == "__main__":
    main()
