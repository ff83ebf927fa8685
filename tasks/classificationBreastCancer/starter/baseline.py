"""Baseline for classificationBreastCancer: Gaussian naive Bayes on all 30 features.

Run from the workspace:  python3 baseline.py
Reads data/train.csv and data/valid.csv, prints the validation accuracy, refits
on train+valid and writes submission.csv (columns id,malignant) for data/test.csv.
"""
import pandas as pd
from sklearn.metrics import accuracy_score
from sklearn.naive_bayes import GaussianNB

LABEL = "malignant"


def main() -> None:
    train = pd.read_csv("data/train.csv")
    valid = pd.read_csv("data/valid.csv")
    test = pd.read_csv("data/test.csv")
    features = [c for c in train.columns if c not in ("id", LABEL)]

    model = GaussianNB().fit(train[features], train[LABEL])
    print(f"validation accuracy: {accuracy_score(valid[LABEL], model.predict(valid[features])):.4f}")

    full = pd.concat([train, valid], ignore_index=True)
    model = GaussianNB().fit(full[features], full[LABEL])
    submission = pd.DataFrame({"id": test["id"], LABEL: model.predict(test[features]).astype(int)})
    submission.to_csv("submission.csv", index=False)
    print(f"wrote submission.csv with {len(submission)} rows")


if __name__ == "__main__":
    main()
