"""Build the classificationBreastCancer data files from scikit-learn's bundled
Wisconsin diagnostic breast cancer data set.

Run inside the task image:  python3 tasks/classificationBreastCancer/make_data.py
Deterministic: a fixed NumPy seed decides the split. The label is `malignant`
(1 = malignant, 0 = benign), i.e. the inverse of scikit-learn's `target`.
"""
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer

SEED = 20240612
HERE = Path(__file__).resolve().parent


def main() -> None:
    raw = load_breast_cancer()
    names = [n.replace(" ", "_") for n in raw.feature_names]
    frame = pd.DataFrame(raw.data, columns=names)
    frame["malignant"] = (raw.target == 0).astype(int)
    order = np.random.RandomState(SEED).permutation(len(frame))
    frame = frame.iloc[order].reset_index(drop=True)
    frame.insert(0, "id", np.arange(1, len(frame) + 1))

    n_test = round(0.25 * len(frame))
    n_valid = round(0.15 * len(frame))
    test = frame.iloc[:n_test]
    valid = frame.iloc[n_test:n_test + n_valid]
    train = frame.iloc[n_test + n_valid:]

    (HERE / "data").mkdir(exist_ok=True)
    (HERE / "eval").mkdir(exist_ok=True)
    fmt = {"float_format": "%.6g", "index": False}
    train.to_csv(HERE / "data" / "train.csv", **fmt)
    valid.to_csv(HERE / "data" / "valid.csv", **fmt)
    test.drop(columns=["malignant"]).to_csv(HERE / "data" / "test.csv", **fmt)
    test[["id", "malignant"]].to_csv(HERE / "eval" / "answers.csv", index=False)
    sample = test[["id"]].copy()
    sample["malignant"] = 0
    sample.to_csv(HERE / "starter" / "sample_submission.csv", index=False)
    print(f"train={len(train)} valid={len(valid)} test={len(test)} "
          f"malignant share train={train['malignant'].mean():.3f} test={test['malignant'].mean():.3f}")


if __name__ == "__main__":
    main()
