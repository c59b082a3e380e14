"""XGBoost autolog: params, per-iteration eval metrics, feature importances and the model of each training."""

from __future__ import annotations

from typing import Any

from . import boosting

FLAVOR = "xgboost"
IMPORTANCE_TYPES = ("weight", "gain")


def _callback(session: Any) -> Any:
    import xgboost

    logger = boosting.IterationLogger(session)

    class _EvalMetrics(xgboost.callback.TrainingCallback):
        def after_iteration(self, model: Any, epoch: int, evals_log: dict[str, Any]) -> bool:
            values = []
            for data, metrics in evals_log.items():
                for name, history in metrics.items():
                    last = history[-1] if history else None
                    values.append((data, name, last[0] if isinstance(last, tuple) else last))
            logger.log(epoch, values)
            return False

    return _EvalMetrics()


def _importances(booster: Any, kind: str) -> dict[str, Any]:
    return dict(booster.get_score(importance_type=kind))


LIBRARY = boosting.Library(FLAVOR, _callback, _importances, IMPORTANCE_TYPES)


def _patch(module: Any) -> None:
    import xgboost
    import xgboost.sklearn
    import xgboost.training

    boosting.patch_train(LIBRARY, [xgboost, xgboost.training, xgboost.sklearn])
    classes = [
        v
        for v in vars(xgboost.sklearn).values()
        if isinstance(v, type) and issubclass(v, xgboost.XGBModel)
    ]
    boosting.patch_fit(LIBRARY, classes)


def autolog(
    disable: bool = False,
    log_models: bool = True,
    log_input_examples: bool = False,
    log_model_signatures: bool = True,
    silent: bool = False,
    exclusive: bool = False,
    registered_model_name: str | None = None,
    extra_tags: dict[str, Any] | None = None,
    importance_types: tuple[str, ...] = IMPORTANCE_TYPES,
) -> None:
    """Record ``xgboost.train`` and the scikit-learn API's ``fit`` (``XGBClassifier``, ...) as runs.

    Logs the training params, each iteration's eval metrics as ``<eval name>-<metric>`` with
    the iteration as step, ``feature_importance_<type>.json`` artifacts and the model
    (xgboost flavor). Options as in :func:`gitml.autolog`; ``importance_types`` picks the
    kinds of ``Booster.get_score``.
    """
    if disable:
        boosting.disable(LIBRARY)
        return
    LIBRARY.importance_types = tuple(importance_types)
    cfg = boosting.config_from(
        log_models=log_models, log_input_examples=log_input_examples, log_model_signatures=log_model_signatures,
        silent=silent, exclusive=exclusive, registered_model_name=registered_model_name, extra_tags=extra_tags,
    )  # fmt: skip
    boosting.enable(LIBRARY, cfg, _patch)


__all__ = ["FLAVOR", "autolog"]
