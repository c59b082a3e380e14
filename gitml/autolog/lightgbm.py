"""LightGBM autolog: params, per-iteration eval metrics, feature importances and the model of each training."""

from __future__ import annotations

from typing import Any

from . import boosting

FLAVOR = "lightgbm"
IMPORTANCE_TYPES = ("split", "gain")


def _callback(session: Any) -> Any:
    logger = boosting.IterationLogger(session)

    def log_eval_metrics(env: Any) -> None:
        results = env.evaluation_result_list or []
        logger.log(env.iteration, [(r[0], r[1], r[2]) for r in results])

    log_eval_metrics.order = 100  # type: ignore[attr-defined]  # after LightGBM's own callbacks
    return log_eval_metrics


def _importances(booster: Any, kind: str) -> dict[str, Any]:
    values = booster.feature_importance(importance_type=kind)
    return {name: float(v) for name, v in zip(booster.feature_name(), values, strict=True)}


LIBRARY = boosting.Library(FLAVOR, _callback, _importances, IMPORTANCE_TYPES)


def _patch(module: Any) -> None:
    import lightgbm
    import lightgbm.engine
    import lightgbm.sklearn

    boosting.patch_train(LIBRARY, [lightgbm, lightgbm.engine, lightgbm.sklearn])
    classes = [
        v for v in vars(lightgbm.sklearn).values() if isinstance(v, type) and issubclass(v, lightgbm.LGBMModel)
    ]  # fmt: skip
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
    """Record ``lightgbm.train`` and the scikit-learn API's ``fit`` (``LGBMClassifier``, ...) as runs.

    Logs the training params, each iteration's eval metrics as ``<valid set>-<metric>`` with
    the iteration as step, ``feature_importance_<type>.json`` artifacts and the model
    (lightgbm flavor). Options as in :func:`gitml.autolog`; ``importance_types`` picks the
    kinds of ``Booster.feature_importance`` (``split``, ``gain``).
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
