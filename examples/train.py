"""Train a small scikit-learn classifier on the digits data set and track it with gitml.

Run it inside any git repository:

    python examples/train.py --lr 0.01 --epochs 20

Every run becomes a commit on ``refs/gitml/runs/<id>``: params, per-epoch metrics, a
confusion matrix and a classification report as artifacts, and the code as it was.
"""

from __future__ import annotations

import argparse

import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import SGDClassifier
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, log_loss
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

import gitml


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lr", type=float, default=0.01, help="initial learning rate")
    parser.add_argument("--alpha", type=float, default=1e-4, help="L2 regularization")
    parser.add_argument("--epochs", type=int, default=15, help="passes over the training set")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    parser.add_argument("--name", default=None, help="run name (default: generated)")
    args = parser.parse_args()

    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=args.seed)
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    classes = np.unique(y)

    with gitml.start_run(name=args.name, experiment="digits", tags={"model": "sgd"}) as run:
        gitml.log_params({
            "lr": args.lr, "alpha": args.alpha, "epochs": args.epochs, "seed": args.seed,
            "loss": "log_loss", "data": {"name": "digits", "train": len(y_train), "test": len(y_test)},
        })  # fmt: skip
        model = SGDClassifier(loss="log_loss", alpha=args.alpha, learning_rate="constant",
                              eta0=args.lr, random_state=args.seed)  # fmt: skip
        for epoch in range(args.epochs):
            model.partial_fit(X_train, y_train, classes=classes)
            gitml.log_metrics({
                "train_loss": log_loss(y_train, model.predict_proba(X_train), labels=classes),
                "test_loss": log_loss(y_test, model.predict_proba(X_test), labels=classes),
                "test_acc": accuracy_score(y_test, model.predict(X_test)),
            }, step=epoch)  # fmt: skip

        predicted = model.predict(X_test)
        acc = accuracy_score(y_test, predicted)
        gitml.log_metrics({"acc": acc, "f1": f1_score(y_test, predicted, average="macro")})
        gitml.log_dict({"labels": classes.tolist(),
                        "matrix": confusion_matrix(y_test, predicted).tolist()},
                       "confusion_matrix.json")  # fmt: skip
        gitml.log_text(_report(y_test, predicted), "report.txt")
        gitml.set_tag("quality", "good" if acc > 0.9 else "needs work")

    print(f"run {run.info.run_name} ({run.info.run_id[:8]}): accuracy {acc:.3f}")
    print(f"see it with: gitml show {run.info.run_id[:8]}")


def _report(y_true: np.ndarray, y_pred: np.ndarray) -> str:
    from sklearn.metrics import classification_report

    return str(classification_report(y_true, y_pred, digits=3))


if __name__ == "__main__":
    main()
