"""Build the imageClassificationDigits data files from scikit-learn's bundled
8x8 handwritten digits (UCI optical recognition of handwritten digits, test part).

Run inside the task image:  python3 tasks/imageClassificationDigits/make_data.py
Deterministic: a fixed NumPy seed decides the split. Each row is one image:
`pixel_0` .. `pixel_63` in row-major order (row r, column c -> pixel_{8r+c}),
integer intensities 0..16.
"""
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.datasets import load_digits

SEED = 20240613
HERE = Path(__file__).resolve().parent


def main() -> None:
    raw = load_digits()
    frame = pd.DataFrame(raw.data.astype(int), columns=[f"pixel_{i}" for i in range(64)])
    frame["label"] = raw.target.astype(int)
    order = np.random.RandomState(SEED).permutation(len(frame))
    frame = frame.iloc[order].reset_index(drop=True)
    frame.insert(0, "id", np.arange(1, len(frame) + 1))

    n_test = 450
    n_valid = 270
    test = frame.iloc[:n_test]
    valid = frame.iloc[n_test:n_test + n_valid]
    train = frame.iloc[n_test + n_valid:]

    (HERE / "data").mkdir(exist_ok=True)
    (HERE / "eval").mkdir(exist_ok=True)
    train.to_csv(HERE / "data" / "train.csv", index=False)
    valid.to_csv(HERE / "data" / "valid.csv", index=False)
    test.drop(columns=["label"]).to_csv(HERE / "data" / "test.csv", index=False)
    test[["id", "label"]].to_csv(HERE / "eval" / "answers.csv", index=False)
    sample = test[["id"]].copy()
    sample["label"] = 0
    sample.to_csv(HERE / "starter" / "sample_submission.csv", index=False)
    print(f"train={len(train)} valid={len(valid)} test={len(test)}")


if __name__ == "__main__":
    main()
