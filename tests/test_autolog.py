"""Autolog: real scikit-learn, XGBoost and LightGBM fits on small generated data, recorded as runs."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
import textwrap
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import sklearn.metrics
from sklearn.datasets import make_classification, make_regression
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

import gitml
from gitml import runs, tracking
from gitml.autolog import patching
from gitml.store import Store


@pytest.fixture(autouse=True)
def _autolog_off() -> Iterator[None]:
    """Every test starts and ends with autolog disabled."""
    gitml.autolog(disable=True)
    yield
    gitml.autolog(disable=True)


@pytest.fixture
def clf_data() -> tuple[Any, Any, Any, Any]:
    X, y = make_classification(
        n_samples=120, n_features=4, n_informative=3, n_redundant=0, random_state=0
    )
    return X[:90], X[90:], y[:90], y[90:]


def all_runs() -> list[Any]:
    store = Store.discover()
    return [runs.load(store, s["run_id"]) for s in runs.list_summaries(store)]


def only_run() -> Any:
    found = all_runs()
    assert len(found) == 1, [r.info["name"] for r in found]
    return found[0]


def metric(rec: Any, key: str) -> float:
    return float(rec.metrics[key]["last"])


def tree_paths(rec: Any, prefix: str) -> list[str]:
    out = subprocess.run(
        ["git", "ls-tree", "-r", "--name-only", rec.commit, prefix],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.split()


def tree_text(rec: Any, path: str) -> str:
    return subprocess.run(
        ["git", "show", f"{rec.commit}:{path}"], capture_output=True, text=True, check=True
    ).stdout


# ---------------------------------------------------------------- scikit-learn
def test_classifier_fit_is_a_run_with_params_metrics_tags_and_model(
    repo: Any, clf_data: Any
) -> None:
    X_train, _, y_train, _ = clf_data
    gitml.autolog()
    model = LogisticRegression(C=0.5, max_iter=200)
    assert model.fit(X_train, y_train) is model  # fit's return value is untouched
    rec = only_run()
    assert rec.info["status"] == "FINISHED"
    assert (
        rec.params["C"] == 0.5 and rec.params["max_iter"] == 200 and rec.params["solver"] == "lbfgs"
    )
    assert rec.tags["estimator_name"] == "LogisticRegression"
    assert rec.tags["estimator_class"] == "sklearn.linear_model._logistic.LogisticRegression"
    assert rec.tags["gitml.autologging"] == "sklearn"
    expected = {
        "training_accuracy_score", "training_precision_score", "training_recall_score", "training_f1_score",
        "training_log_loss", "training_roc_auc", "training_score",
    }  # fmt: skip
    assert expected <= set(rec.metrics)
    assert metric(rec, "training_accuracy_score") == pytest.approx(model.score(X_train, y_train))
    assert metric(rec, "training_roc_auc") == pytest.approx(
        sklearn.metrics.roc_auc_score(y_train, model.predict_proba(X_train)[:, 1])
    )
    mlmodel = tree_text(rec, "models/model/MLmodel")
    assert "sklearn" in mlmodel and "signature" in mlmodel and "tensor" in mlmodel
    assert "models/model/input_example.json" not in tree_paths(rec, "models/model")  # not asked for
    loaded = gitml.sklearn.load_model(f"runs:/{rec.run_id}/model")
    assert (loaded.predict(X_train) == model.predict(X_train)).all()
    Store.discover()  # the repository is intact
    subprocess.run(["git", "fsck", "--no-progress"], check=True, capture_output=True)


def test_regressor_metrics(repo: Any) -> None:
    X, y = make_regression(n_samples=80, n_features=3, noise=5.0, random_state=1)
    gitml.autolog(log_models=False)
    model = LinearRegression().fit(X, y)
    rec = only_run()
    mse = metric(rec, "training_mean_squared_error")
    assert mse == pytest.approx(sklearn.metrics.mean_squared_error(y, model.predict(X)))
    assert metric(rec, "training_root_mean_squared_error") == pytest.approx(math.sqrt(mse))
    assert metric(rec, "training_mean_absolute_error") > 0
    assert metric(rec, "training_r2_score") == pytest.approx(metric(rec, "training_score"))
    assert "training_accuracy_score" not in rec.metrics
    assert tree_paths(rec, "models") == []  # log_models=False


def test_pipeline_is_one_run_with_nested_params(repo: Any, clf_data: Any) -> None:
    X_train, _, y_train, _ = clf_data
    gitml.autolog(log_input_examples=True)
    pipe = Pipeline([("scale", StandardScaler()), ("lr", LogisticRegression())])
    pipe.fit(X_train, y_train)
    rec = only_run()  # the steps' own fits are not separate runs
    assert rec.tags["estimator_name"] == "Pipeline"
    assert rec.params["lr__C"] == 1.0 and rec.params["scale__with_mean"] is True
    assert rec.params["steps"] == [["scale", "StandardScaler()"], ["lr", "LogisticRegression()"]]
    assert rec.params["lr"] == "LogisticRegression()"
    assert "training_accuracy_score" in rec.metrics
    assert "models/model/input_example.json" in tree_paths(rec, "models/model")
    assert hasattr(pipe, "predict_proba")  # available_if descriptors still answer hasattr


def test_fit_transform_of_a_transformer(repo: Any, clf_data: Any) -> None:
    X_train, _, _, _ = clf_data
    gitml.autolog()
    out = StandardScaler().fit_transform(X_train)
    assert out.shape == X_train.shape
    rec = only_run()
    assert rec.tags["estimator_name"] == "StandardScaler"
    assert "transform" in tree_text(rec, "models/model/MLmodel")


def test_grid_search_best_params_and_child_runs(repo: Any, clf_data: Any) -> None:
    X_train, _, y_train, _ = clf_data
    gitml.autolog(max_tuning_runs=2, log_models=False)
    search = GridSearchCV(LogisticRegression(), {"C": [0.01, 1.0, 10.0]}, cv=3)
    search.fit(X_train, y_train)
    found = all_runs()
    parents = [r for r in found if not r.info.get("parent_run")]
    children = [r for r in found if r.info.get("parent_run")]
    assert len(parents) == 1 and len(children) == 2  # the inner fits are not runs of their own
    parent = parents[0]
    assert parent.tags["estimator_name"] == "GridSearchCV"
    assert parent.params["best_C"] == search.best_params_["C"]
    assert metric(parent, "best_cv_score") == pytest.approx(search.best_score_)
    assert parent.params["param_grid"] == {"C": [0.01, 1.0, 10.0]}
    assert parent.params["estimator"] == "LogisticRegression()"
    assert "artifacts/cv_results.csv" in tree_paths(parent, "artifacts")
    results = search.cv_results_
    rank_of = {
        p["C"]: int(r) for p, r in zip(results["params"], results["rank_test_score"], strict=True)
    }
    ranks = {r.params["C"]: metric(r, "rank_test_score") for r in children}
    assert all(rank_of[c] == rank for c, rank in ranks.items())
    assert search.best_params_["C"] in ranks
    assert max(ranks.values()) <= min(
        rank_of[c] for c in rank_of if c not in ranks
    )  # the best ones
    for child in children:
        assert child.info["parent_run"] == parent.run_id
        assert child.info["status"] == "FINISHED"
        assert child.tags["estimator_name"] == "LogisticRegression"
        assert "mean_test_score" in child.metrics and "split0_test_score" not in child.metrics


def test_metric_calls_after_fit_are_logged_with_dataset_names(repo: Any, clf_data: Any) -> None:
    X_train, X_test, y_train, y_test = clf_data
    gitml.autolog(log_models=False)
    from sklearn.metrics import accuracy_score, f1_score

    model = LogisticRegression().fit(X_train, y_train)
    pred = model.predict(X_test)
    acc = accuracy_score(y_test, pred)
    assert acc == pytest.approx((pred == y_test).mean())  # the value is the metric's own
    accuracy_score(y_test, pred)  # a second call of one metric gets an index
    f1_score(y_test, pred)
    score = model.score(X_test, y_test)
    proba = model.predict_proba(X_test)[:, 1]
    sklearn.metrics.roc_auc_score(y_test, proba)  # a slice is a new object: not logged
    accuracy_score(y_test, y_test)  # not a prediction of the model: not logged
    f1_score(y_test, y_test)  # nor its inner LabelEncoder fit: no run of its own
    rec = only_run()
    assert metric(rec, "accuracy_score_X_test") == pytest.approx(acc)
    assert metric(rec, "accuracy_score-2_X_test") == pytest.approx(acc)
    assert "f1_score_X_test" in rec.metrics
    assert metric(rec, "LogisticRegression_score_X_test") == pytest.approx(score)
    post = {k for k in rec.metrics if not k.startswith("training_")}
    assert post == {"accuracy_score_X_test", "accuracy_score-2_X_test", "f1_score_X_test",
                    "LogisticRegression_score_X_test"}  # fmt: skip


def test_fits_inside_an_active_run_log_into_it(repo: Any, clf_data: Any) -> None:
    X_train, _, y_train, _ = clf_data
    gitml.autolog(log_models=False)
    with gitml.start_run(run_name="mine") as run:
        LogisticRegression().fit(X_train, y_train)
        StandardScaler().fit(X_train)  # different params are kept, not a failure
        assert gitml.active_run() is run
    rec = only_run()
    assert rec.info["name"] == "mine" and rec.params["C"] == 1.0 and "with_mean" in rec.params


def test_exclusive_leaves_user_runs_alone(repo: Any, clf_data: Any) -> None:
    X_train, _, y_train, _ = clf_data
    gitml.autolog(exclusive=True, log_models=False)
    with gitml.start_run():
        LogisticRegression().fit(X_train, y_train)
    rec = only_run()
    assert rec.params == {} and rec.metrics == {}
    LogisticRegression().fit(X_train, y_train)  # no active run: autolog starts its own
    assert len(all_runs()) == 2


def test_disable_restores_the_original_objects(repo: Any, clf_data: Any) -> None:
    X_train, _, y_train, _ = clf_data
    fit = LogisticRegression.__dict__["fit"]
    score = sklearn.base.ClassifierMixin.__dict__["score"]
    fit_transform = Pipeline.__dict__["fit_transform"]
    accuracy = sklearn.metrics.accuracy_score
    meta_path = list(sys.meta_path)
    gitml.autolog()
    assert LogisticRegression.__dict__["fit"] is not fit
    assert Pipeline.__dict__["fit_transform"] is not fit_transform
    assert sklearn.metrics.accuracy_score is not accuracy
    assert LogisticRegression.fit.__name__ == "fit"  # wrapped with functools.wraps
    gitml.autolog(disable=True)
    assert LogisticRegression.fit is fit and LogisticRegression.__dict__["fit"] is fit
    assert sklearn.base.ClassifierMixin.__dict__["score"] is score
    assert Pipeline.__dict__["fit_transform"] is fit_transform
    assert sklearn.metrics.accuracy_score is accuracy
    assert patching.patched() == [] and sys.meta_path == meta_path
    LogisticRegression().fit(X_train, y_train)
    assert all_runs() == []
    gitml.sklearn.autolog()  # the flavor's own entry point
    LogisticRegression().fit(X_train, y_train)
    assert len(all_runs()) == 1
    gitml.sklearn.autolog(disable=True)
    assert LogisticRegression.fit is fit


def test_failing_fit_raises_unchanged_and_fails_the_run(repo: Any) -> None:
    gitml.autolog()
    X = np.zeros((6, 2))
    with pytest.raises(ValueError, match="only one class") as info:
        LogisticRegression().fit(X, np.zeros(6))
    assert "gitml" not in str(info.value)
    rec = only_run()
    assert rec.info["status"] == "FAILED"


def test_logging_error_is_a_warning_never_a_failed_fit(not_a_repo: Any, clf_data: Any) -> None:
    X_train, _, y_train, _ = clf_data
    gitml.autolog()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = LogisticRegression().fit(X_train, y_train)
    assert hasattr(model, "coef_")
    messages = [str(w.message) for w in caught]
    assert any(
        "gitml autolog (sklearn): could not log the run" in m and "git" in m for m in messages
    )
    gitml.autolog(silent=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        LogisticRegression().fit(X_train, y_train)
    assert not [w for w in caught if "gitml" in str(w.message)]


def test_not_installed_libraries_are_skipped(
    repo: Any, monkeypatch: pytest.MonkeyPatch, clf_data: Any
) -> None:
    X_train, _, y_train, _ = clf_data
    monkeypatch.setitem(sys.modules, "xgboost", None)
    monkeypatch.setitem(sys.modules, "lightgbm", None)
    assert gitml.autolog(log_models=False) == ["sklearn"]
    LogisticRegression().fit(X_train, y_train)
    assert len(all_runs()) == 1


def test_autolog_before_import_patches_lazily(repo: Any) -> None:
    script = textwrap.dedent(
        """
        import sys, gitml
        enabled = gitml.autolog(log_models=False)
        assert "sklearn" not in sys.modules and "xgboost" not in sys.modules, "autolog imported a library"
        from sklearn.datasets import make_classification
        from sklearn.tree import DecisionTreeClassifier
        X, y = make_classification(n_samples=50, random_state=0)
        DecisionTreeClassifier(max_depth=2).fit(X, y)
        print(enabled, gitml.last_active_run().data.params["max_depth"])
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith("2")
    assert len(all_runs()) == 1


TRAIN = """\
import gitml

gitml.autolog()  # before `from sklearn.metrics import ...`, so that name is the patched function
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score

X, y = make_classification(n_samples=100, n_features=4, random_state=0)
X_train, X_test, y_train, y_test = X[:80], X[80:], y[:80], y[80:]
model = LogisticRegression().fit(X_train, y_train)
print("accuracy", accuracy_score(y_test, model.predict(X_test)))
"""


@pytest.mark.skipif(shutil.which("gitml") is None, reason="the gitml entry point is not installed")
def test_autolog_in_a_gitml_run_wrapped_script(repo: Any) -> None:
    repo.commit_files({"train.py": TRAIN})
    proc = subprocess.run(
        [shutil.which("gitml") or "gitml", "run", "-n", "wrapped", "--", sys.executable, "train.py"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    rec = only_run()  # the script's fit logged into the wrapped run, not a run of its own
    assert rec.info["name"] == "wrapped" and rec.info["status"] == "FINISHED"
    assert rec.params["C"] == 1.0 and "training_accuracy_score" in rec.metrics
    assert "accuracy_score_X_test" in rec.metrics
    assert "models/model/MLmodel" in tree_paths(rec, "models")
    assert "accuracy" in tree_text(rec, "output.log")


def test_attach_through_gitml_run_id(
    repo: Any, monkeypatch: pytest.MonkeyPatch, clf_data: Any
) -> None:
    X_train, _, y_train, _ = clf_data
    store = Store.discover()
    writer = runs.create(store, name="outer")
    writer.flush()
    monkeypatch.setenv("GITML_RUN_ID", writer.run_id)
    gitml.autolog(log_models=False)
    LogisticRegression().fit(X_train, y_train)
    rec = only_run()
    assert rec.run_id == writer.run_id and rec.info["status"] == "RUNNING"  # attached: never ended
    assert "training_score" in rec.metrics
    assert tracking.active_run() is None


# ---------------------------------------------------------------- XGBoost and LightGBM
def test_xgboost_sklearn_api_and_train(repo: Any, clf_data: Any) -> None:
    xgb = pytest.importorskip("xgboost")
    X_train, X_test, y_train, y_test = clf_data
    gitml.autolog()
    model = xgb.XGBClassifier(n_estimators=4, max_depth=2)
    assert model.fit(X_train, y_train, eval_set=[(X_test, y_test)], verbose=False) is model
    rec = only_run()
    assert rec.tags["estimator_name"] == "XGBClassifier" and rec.params["n_estimators"] == 4
    history = gitml.Client().get_metric_history(rec.run_id, "validation_0-logloss")
    assert [m.step for m in history] == [0, 1, 2, 3]
    weights = json.loads(tree_text(rec, "artifacts/feature_importance_weight.json"))
    assert set(weights) <= {"f0", "f1", "f2", "f3"} and weights
    loaded = gitml.xgboost.load_model(f"runs:/{rec.run_id}/model")
    assert (loaded.predict(X_test) == model.predict(X_test)).all()
    assert "signature" in tree_text(rec, "models/model/MLmodel")

    dtrain = xgb.DMatrix(X_train, label=y_train)
    booster = xgb.train({"objective": "binary:logistic", "max_depth": 2}, dtrain, 3,
                        evals=[(dtrain, "train")], verbose_eval=False)  # fmt: skip
    assert isinstance(booster, xgb.Booster)
    rec = next(r for r in all_runs() if "estimator_name" not in r.tags)
    assert rec.params["max_depth"] == 2 and rec.params["num_boost_round"] == 3
    assert rec.metrics["train-logloss"]["count"] == 3 and rec.metrics["train-logloss"]["step"] == 2
    pyfunc = gitml.pyfunc.load_model(f"runs:/{rec.run_id}/model")
    assert np.allclose(pyfunc.predict(X_test), booster.inplace_predict(X_test))


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_lightgbm_sklearn_api_and_train(repo: Any, clf_data: Any) -> None:
    lgb = pytest.importorskip("lightgbm")
    X_train, X_test, y_train, y_test = clf_data
    gitml.autolog()
    model = lgb.LGBMClassifier(n_estimators=3, num_leaves=4, verbose=-1)
    model.fit(X_train, y_train, eval_set=[(X_test, y_test)])
    rec = only_run()
    assert rec.tags["estimator_name"] == "LGBMClassifier" and rec.params["num_leaves"] == 4
    history = gitml.Client().get_metric_history(rec.run_id, "valid_0-binary_logloss")
    assert [m.step for m in history] == [0, 1, 2]
    assert json.loads(tree_text(rec, "artifacts/feature_importance_split.json"))
    loaded = gitml.lightgbm.load_model(f"runs:/{rec.run_id}/model")
    assert (loaded.predict(X_test) == model.predict(X_test)).all()

    train_set = lgb.Dataset(X_train, y_train)
    booster = lgb.train({"objective": "binary", "verbose": -1, "num_leaves": 4}, train_set, 2,
                        valid_sets=[train_set], valid_names=["train"])  # fmt: skip
    rec = next(r for r in all_runs() if "estimator_name" not in r.tags)
    assert rec.params["num_leaves"] == 4 and rec.params["num_boost_round"] == 2
    assert rec.metrics["train-binary_logloss"]["count"] == 2
    gain = json.loads(tree_text(rec, "artifacts/feature_importance_gain.json"))
    assert set(gain) == set(booster.feature_name())
    assert np.allclose(
        gitml.lightgbm.load_model(f"runs:/{rec.run_id}/model").predict(X_test),
        booster.predict(X_test),
    )


def test_boosting_disable_restores_train(repo: Any) -> None:
    xgb = pytest.importorskip("xgboost")
    original = xgb.train
    sk_original = xgb.XGBClassifier.__dict__["fit"]
    gitml.autolog()
    assert xgb.train is not original
    gitml.autolog(disable=True)
    assert xgb.train is original and xgb.training.train is original
    assert xgb.XGBClassifier.__dict__["fit"] is sk_original
