"""Baseline for imageClassificationDigits: nearest class centroid in pixel space.

Run from the workspace:  python3 baseline.py
Each row of data/*.csv is an 8x8 grey-level image flattened row-major into
pixel_0..pixel_63 (values 0..16). The baseline averages the training images of
each digit and labels a test image by the closest average (Euclidean distance).
It prints the validation accuracy, refits on train+valid and writes
submission.csv (columns id,label).
"""
import numpy as np
import pandas as pd

PIXELS = [f"pixel_{i}" for i in range(64)]


def fit_centroids(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    labels = np.sort(frame["label"].unique())
    centroids = np.stack([frame.loc[frame["label"] == k, PIXELS].to_numpy(float).mean(axis=0) for k in labels])
    return labels, centroids


def predict(labels: np.ndarray, centroids: np.ndarray, frame: pd.DataFrame) -> np.ndarray:
    x = frame[PIXELS].to_numpy(float)
    dist = ((x[:, None, :] - centroids[None, :, :]) ** 2).sum(axis=2)
    return labels[dist.argmin(axis=1)]


def main() -> None:
    train = pd.read_csv("data/train.csv")
    valid = pd.read_csv("data/valid.csv")
    test = pd.read_csv("data/test.csv")

    labels, centroids = fit_centroids(train)
    accuracy = float(np.mean(predict(labels, centroids, valid) == valid["label"].to_numpy()))
    print(f"validation accuracy: {accuracy:.4f}")

    labels, centroids = fit_centroids(pd.concat([train, valid], ignore_index=True))
    submission = pd.DataFrame({"id": test["id"], "label": predict(labels, centroids, test)})
    submission.to_csv("submission.csv", index=False)
    print(f"wrote submission.csv with {len(submission)} rows")


if __name__ == "__main__":
    main()
