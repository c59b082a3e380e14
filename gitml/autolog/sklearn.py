"""scikit-learn autolog: params, training metrics, tags and the model of every fit; post-training metrics."""

from __future__ import annotations

import inspect
import sys
from types import ModuleType
from typing import Any

from . import evalmetrics, patching
from .session import (
    Config,
    Session,
    config,
    configure,
    current,
    flat_params,
    inside,
    quiet,
    run_fit,
    safely,
    scalar,
)

FLAVOR = "sklearn"
FIT_METHODS = ("fit", "fit_predict", "fit_transform")
PREDICT_METHODS = ("predict", "predict_proba", "predict_log_proba", "transform")
METRIC_SUFFIXES = ("_score", "_error", "_loss")
_EXCLUDED_MODULES = ("sklearn.utils._testing", "sklearn.tests", "sklearn.utils.tests")


def autolog(
    disable: bool = False,
    log_models: bool = True,
    log_input_examples: bool = False,
    log_model_signatures: bool = True,
    log_post_training_metrics: bool = True,
    silent: bool = False,
    exclusive: bool = False,
    max_tuning_runs: int | None = 5,
    registered_model_name: str | None = None,
    extra_tags: dict[str, Any] | None = None,
) -> None:
    """Record every scikit-learn ``fit``, ``fit_predict`` and ``fit_transform`` as a run.

    Args:
        disable: remove the patches (the original methods are put back exactly).
        log_models: log the fitted estimator as model ``model`` (searches also ``best_estimator``).
        log_input_examples: store the first rows of the training data with the model.
        log_model_signatures: store a signature inferred from the training data.
        log_post_training_metrics: log ``sklearn.metrics`` calls on the model's predictions
            and ``model.score`` calls, as ``<metric>_<dataset variable>``.
        silent: no warnings from autolog.
        exclusive: never log into a run the user started (only into runs autolog starts).
        max_tuning_runs: child runs for the best candidates of a parameter search (None: all).
        registered_model_name: also register each logged model under this name.
        extra_tags: tags added to the runs autolog starts.
    """
    if disable:
        configure(FLAVOR, None)
        patching.remove_import_hook(FLAVOR)
        patching.unpatch(FLAVOR)
        evalmetrics.reset()
        return
    configure(
        FLAVOR,
        Config(
            log_models=log_models, log_input_examples=log_input_examples,
            log_model_signatures=log_model_signatures, log_post_training_metrics=log_post_training_metrics,
            silent=silent, exclusive=exclusive, max_tuning_runs=max_tuning_runs,
            registered_model_name=registered_model_name, extra_tags=dict(extra_tags or {}),
        ),
    )  # fmt: skip
    patching.on_import(FLAVOR, patching.in_package("sklearn"), _patch_module)


# ---------------------------------------------------------------- patching
def _patch_module(module: ModuleType) -> None:
    """Patch the estimators a freshly imported sklearn module defines (and sklearn.metrics)."""
    name = module.__name__
    estimator = getattr(sys.modules.get("sklearn.base"), "BaseEstimator", None)
    if estimator is None or name.startswith(_EXCLUDED_MODULES) or ".tests" in name:
        return  # modules loaded before sklearn.base define no estimators
    classes = [
        v for v in list(vars(module).values())
        if isinstance(v, type) and v.__module__ == name and issubclass(v, estimator)
    ]  # fmt: skip
    _patch_classes(classes)
    if name == "sklearn.metrics":
        _patch_metrics(module)


def _patch_classes(classes: list[type]) -> None:
    for cls in classes:
        for name in FIT_METHODS + PREDICT_METHODS + ("score",):
            owner = _owner(cls, name)
            if owner is None:
                continue
            if name in FIT_METHODS:
                wrapper = _patched_fit
            elif name == "score":
                wrapper = _patched_score
            else:
                wrapper = _patched_predict
            patching.patch_method(FLAVOR, owner, name, wrapper)


def _owner(cls: type, name: str) -> type | None:
    """The sklearn class in ``cls``'s MRO that defines ``name``."""
    for klass in cls.__mro__:
        if name in klass.__dict__:
            return klass if klass.__module__.startswith("sklearn.") else None
    return None


def _patch_metrics(metrics: ModuleType) -> None:
    for name in getattr(metrics, "__all__", ()):
        if name.endswith(METRIC_SUFFIXES) and inspect.isfunction(getattr(metrics, name, None)):
            patching.patch_function(FLAVOR, metrics, name, _patched_metric)


# ---------------------------------------------------------------- fit
def _patched_fit(original: Any, self: Any, *args: Any, **kwargs: Any) -> Any:
    if config(FLAVOR) is None or inside():
        return original(self, *args, **kwargs)
    name = getattr(original, "__name__", "fit")
    return run_fit(
        FLAVOR,
        lambda *a, **k: original(self, *a, **k),
        args,
        kwargs,
        lambda session, result: log_estimator(session, self, original, name, args, kwargs),
    )


def _fit_inputs(
    original: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[Any, Any, Any]:
    """X, y and sample_weight of a fit call."""
    try:
        sig = inspect.signature(original)
        lead = (None,) if next(iter(sig.parameters), None) == "self" else ()
        bound = sig.bind_partial(*lead, *args, **kwargs).arguments
    except (TypeError, ValueError):
        bound = {}
    extra = bound.get("fit_params") or bound.get("kwargs") or bound.get("params") or {}
    x = bound.get("X", args[0] if args else kwargs.get("X"))
    y = bound.get("y", bound.get("Y", args[1] if len(args) > 1 else kwargs.get("y")))
    weight = bound.get(
        "sample_weight", extra.get("sample_weight") if isinstance(extra, dict) else None
    )
    return x, y, weight


def log_estimator(
    session: Session,
    estimator: Any,
    original: Any,
    method: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> None:
    """Log what a fit of ``estimator`` produced into the session's run."""
    from sklearn.model_selection._search import BaseSearchCV

    flavor = session.flavor
    cfg = session.config
    x, y, weight = _fit_inputs(original, args, kwargs)
    search = isinstance(estimator, BaseSearchCV)
    with quiet():
        safely(
            flavor,
            "params",
            lambda: session.log_params(flat_params(estimator.get_params(deep=not search))),
        )
        session.set_tags(estimator_tags(estimator))
        if search:
            safely(flavor, "the search results", _log_search, session, estimator)
        metrics = (
            safely(flavor, "training metrics", training_metrics, estimator, x, y, weight) or {}
        )
        session.log_metrics(metrics)
    if cfg.log_models:
        with quiet():
            safely(flavor, "the model", log_fitted_model, session, estimator, x, "model")
            if search and hasattr(estimator, "best_estimator_"):
                safely(flavor, "the best estimator", log_fitted_model, session, estimator.best_estimator_, x,
                       "best_estimator")  # fmt: skip
    if cfg.log_post_training_metrics:
        evalmetrics.register_model(estimator, session.run_id)


def estimator_tags(estimator: Any) -> dict[str, str]:
    cls = type(estimator)
    return {
        "estimator_name": cls.__name__,
        "estimator_class": f"{cls.__module__}.{cls.__qualname__}",
    }


def training_metrics(estimator: Any, x: Any, y: Any, weight: Any) -> dict[str, float]:
    """MLflow's training metrics: classifier or regressor metrics on the training data, and ``score``."""
    from sklearn import metrics as m
    from sklearn.base import is_classifier, is_regressor

    out: dict[str, Any] = {}
    fns = {name: patching.original_of(m, name) for name in (
        "precision_score", "recall_score", "f1_score", "accuracy_score", "log_loss", "roc_auc_score",
        "mean_squared_error", "mean_absolute_error", "r2_score",
    )}  # fmt: skip
    if y is not None and x is not None and hasattr(estimator, "predict"):
        if is_classifier(estimator):
            y_pred = estimator.predict(x)
            for name in ("precision_score", "recall_score", "f1_score"):
                out["training_" + name] = _try(
                    fns[name], y, y_pred, average="weighted", sample_weight=weight
                )
            out["training_accuracy_score"] = _try(
                fns["accuracy_score"], y, y_pred, sample_weight=weight
            )
            if hasattr(estimator, "predict_proba"):
                proba = _try(estimator.predict_proba, x)
                if proba is not None:
                    out["training_log_loss"] = _try(fns["log_loss"], y, proba, sample_weight=weight)
                    score = proba[:, 1] if proba.ndim == 2 and proba.shape[1] == 2 else proba
                    out["training_roc_auc"] = _try(
                        fns["roc_auc_score"],
                        y,
                        score,
                        average="weighted",
                        sample_weight=weight,
                        multi_class="ovo",
                    )
        elif is_regressor(estimator):
            y_pred = estimator.predict(x)
            mse = _try(fns["mean_squared_error"], y, y_pred, sample_weight=weight)
            out["training_mean_squared_error"] = mse
            out["training_root_mean_squared_error"] = None if mse is None else float(mse) ** 0.5
            out["training_mean_absolute_error"] = _try(
                fns["mean_absolute_error"], y, y_pred, sample_weight=weight
            )
            out["training_r2_score"] = _try(fns["r2_score"], y, y_pred, sample_weight=weight)
    if callable(getattr(estimator, "score", None)) and x is not None:
        args = (x,) if y is None else (x, y)
        kwargs = {"sample_weight": weight} if weight is not None else {}
        out["training_score"] = _try(estimator.score, *args, **kwargs)
    return {k: float(v) for k, v in out.items() if scalar(v) is not None}


def _try(fn: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except Exception:  # noqa: BLE001 - a metric that does not apply (one class, no sample_weight, ...) is left out
        return None


def _example(x: Any, n: int = 5) -> Any:
    if x is None:
        return None
    if hasattr(x, "iloc"):
        return x.iloc[:n]
    if hasattr(x, "shape") and hasattr(x, "__getitem__"):
        return x[:n]
    if isinstance(x, (list, tuple)):
        return list(x[:n])
    return None


def log_fitted_model(
    session: Session, model: Any, x: Any, name: str, flavor: str = "sklearn"
) -> None:
    """Log ``model`` with a signature from the first training rows (and those rows, if asked)."""
    from ..models import log_model

    cfg = session.config
    extra: dict[str, Any] = {}
    if flavor != "sklearn":
        import importlib

        importlib.import_module(f"gitml.{flavor}")  # registers the flavor
    else:
        fn = next(
            (
                f
                for f in ("predict", "transform", "predict_proba")
                if callable(getattr(model, f, None))
            ),
            None,
        )
        if fn is None:
            return  # nothing a served model could call (e.g. DBSCAN): no model
        extra["pyfunc_predict_fn"] = fn
    example = _example(x)
    signature = None
    if cfg.log_model_signatures and example is not None:
        signature = _signature(model, example)
    log_model(
        model, name, flavor=flavor, signature=signature if cfg.log_model_signatures else False,
        input_example=example if cfg.log_input_examples else None,
        registered_model_name=cfg.registered_model_name, **extra,
    )  # fmt: skip


def _signature(model: Any, example: Any) -> Any:
    from ..models import infer_signature

    if hasattr(example, "toarray"):  # sparse: no signature
        return None
    output = None
    for fn in ("predict", "transform"):
        if callable(getattr(model, fn, None)):
            output = _try(getattr(model, fn), example)
            break
    try:
        return infer_signature(example, output)
    except Exception:  # noqa: BLE001 - the output type may not be inferable; the input alone still is
        return _try(infer_signature, example)


def _log_search(session: Session, search: Any) -> None:
    """Best params and score on the parent run; the best candidates as child runs."""
    from .. import tracking

    best = getattr(search, "best_params_", None)
    if isinstance(best, dict):
        session.log_params(flat_params({f"best_{k}": v for k, v in best.items()}))
    if scalar(getattr(search, "best_score_", None)) is not None:
        session.log_metrics({"best_cv_score": search.best_score_})
    results = getattr(search, "cv_results_", None)
    if not results:
        return
    safely(session.flavor, "cv_results.csv", _log_cv_results, session, results)
    rank = (
        "rank_test_score"
        if "rank_test_score" in results
        else next((k for k in results if k.startswith("rank_test_")), None)
    )
    n = len(results["params"])
    order = list(range(n))
    if rank is not None:
        order.sort(key=lambda i: (results[rank][i], i))
    limit = session.config.max_tuning_runs
    if limit is not None:
        order = order[: max(0, limit)]
    base = search.estimator.get_params(deep=True)
    tags = estimator_tags(search.estimator)
    for i in order:
        child = tracking.start_run(nested=True)
        try:
            w = child.writer
            w.set_tags({**tags, "gitml.autologging": session.flavor})
            w.log_params(flat_params({**base, **results["params"][i]}))
            for key, values in results.items():
                if key.startswith(("param", "split")):
                    continue
                v = scalar(values[i]) if hasattr(values, "__getitem__") else None
                if v is not None:
                    w.log_metric(key, v, 0)
        finally:
            tracking._end(child, "FINISHED")


def _log_cv_results(session: Session, results: dict[str, Any]) -> None:
    import pandas as pd

    from ..client import text_artifact

    text_artifact(session.writer, pd.DataFrame(results).to_csv(index=False), "cv_results.csv")


# ---------------------------------------------------------------- after fit
def _post_training_run(model: Any) -> str | None:
    """The run of an autologged ``model`` whose predictions and scores are logged, or None."""
    cfg = config(FLAVOR)
    if cfg is None or not cfg.log_post_training_metrics or inside() or not evalmetrics._models:
        return None
    return evalmetrics.run_of(model)


def _patched_predict(original: Any, self: Any, *args: Any, **kwargs: Any) -> Any:
    run_id = _post_training_run(self)
    if run_id is None:
        return original(self, *args, **kwargs)
    with quiet():
        result = original(self, *args, **kwargs)
    data = args[0] if args else next(iter(kwargs.values()), None)
    dataset = safely(FLAVOR, "the prediction's dataset", evalmetrics.dataset_name, run_id, data)
    if dataset is not None:
        safely(FLAVOR, "the prediction", evalmetrics.register_output, result, run_id, dataset)
    return result


def _patched_score(original: Any, self: Any, *args: Any, **kwargs: Any) -> Any:
    run_id = _post_training_run(self)
    if run_id is None:
        return original(self, *args, **kwargs)
    with quiet():
        value = original(self, *args, **kwargs)
    data = args[0] if args else kwargs.get("X")

    def log() -> None:
        dataset = evalmetrics.dataset_name(run_id, data)
        key = evalmetrics.metric_key(run_id, f"{type(self).__name__}_score", dataset)
        evalmetrics.log(run_id, key, value)

    safely(FLAVOR, "the score", log)
    return value


def _patched_metric(original: Any, *args: Any, **kwargs: Any) -> Any:
    cfg = config(FLAVOR)
    if cfg is None or inside():
        return original(*args, **kwargs)
    found = None
    if cfg.log_post_training_metrics and evalmetrics._outputs:
        found = evalmetrics.find_output(list(args) + list(kwargs.values()))
    if found is None:
        with quiet():  # estimators a metric fits inside (LabelEncoder in f1_score) are no runs
            return original(*args, **kwargs)
    with quiet():
        value = original(*args, **kwargs)
    run_id, dataset = found

    def log() -> None:
        key = evalmetrics.metric_key(run_id, original.__name__, dataset)
        evalmetrics.log(run_id, key, value)

    safely(FLAVOR, "the metric", log)
    return value


__all__ = ["FLAVOR", "autolog", "current", "log_estimator"]
