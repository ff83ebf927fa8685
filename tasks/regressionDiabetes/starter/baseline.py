"""Baseline for regressionDiabetes: ordinary least squares on the raw features.

Run from the workspace:  python3 baseline.py
Reads data/train.csv and data/valid.csv, prints the validation r2, refits on
train+valid and writes submission.csv (columns id,target) for data/test.csv.
"""
import pandas as pd
from sklearn.linear_model import LinearRegression
from sklearn.metrics import r2_score

FEATURES = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]


def main() -> None:
    train = pd.read_csv("data/train.csv")
    valid = pd.read_csv("data/valid.csv")
    test = pd.read_csv("data/test.csv")

    model = LinearRegression().fit(train[FEATURES], train["target"])
    print(f"validation r2: {r2_score(valid['target'], model.predict(valid[FEATURES])):.4f}")

    full = pd.concat([train, valid], ignore_index=True)
    model = LinearRegression().fit(full[FEATURES], full["target"])
    submission = pd.DataFrame({"id": test["id"], "target": model.predict(test[FEATURES])})
    submission.to_csv("submission.csv", index=False)
    print(f"wrote submission.csv with {len(submission)} rows")


if __name__ == "__main__":
    main()
