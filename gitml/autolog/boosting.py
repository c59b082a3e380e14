"""What XGBoost and LightGBM autolog share: patching ``train`` and the scikit-learn API ``fit``."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import patching
from .session import (
    Config,
    Session,
    config,
    configure,
    current,
    flat_params,
    inside,
    run_fit,
    safely,
    scalar,
    warn,
)

_SKIPPED_TRAIN_ARGS = {
    "params", "dtrain", "train_set", "evals", "valid_sets", "valid_names", "obj", "feval",
    "custom_metric", "callbacks", "xgb_model", "init_model", "evals_result",
}  # fmt: skip


@dataclass
class Library:
    """How one boosting library is logged.

    Attributes:
        flavor: the integration and model flavor name (``xgboost``).
        callback: ``callback(session) -> object`` that logs each iteration's eval metrics.
        importances: ``importances(booster, kind) -> {feature: value}``.
        importance_types: the kinds to log, one JSON artifact each.
    """

    flavor: str
    callback: Callable[[Session], Any]
    importances: Callable[[Any, str], dict[str, Any]]
    importance_types: tuple[str, ...]


def enable(lib: Library, cfg: Config, patch: Callable[[Any], None]) -> None:
    configure(lib.flavor, cfg)
    patching.on_import(lib.flavor, lambda name: name == lib.flavor, patch)


def disable(lib: Library) -> None:
    configure(lib.flavor, None)
    patching.remove_import_hook(lib.flavor)
    patching.unpatch(lib.flavor)


def patch_train(lib: Library, owners: list[Any]) -> None:
    """Patch ``train`` in each module of ``owners``."""

    def patched(original: Any, *args: Any, **kwargs: Any) -> Any:
        return _train(lib, original, args, kwargs)

    for owner in owners:
        patching.patch_function(lib.flavor, owner, "train", patched)


def patch_fit(lib: Library, classes: list[type]) -> None:
    """Patch ``fit`` of the library's scikit-learn API classes that define one."""

    def patched(original: Any, self: Any, *args: Any, **kwargs: Any) -> Any:
        if config(lib.flavor) is None or inside():
            return original(self, *args, **kwargs)
        return run_fit(
            lib.flavor,
            lambda *a, **k: original(self, *a, **k),
            args,
            kwargs,
            lambda session, result: _log_estimator(session, self, args, kwargs),
        )

    for cls in classes:
        if "fit" in cls.__dict__:
            patching.patch_method(lib.flavor, cls, "fit", patched)


def _train(lib: Library, original: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    session = current()
    if session is not None:
        if session.flavor != lib.flavor or session.data.get("train"):
            return original(*args, **kwargs)
        # inside the library's own sklearn-API fit: add the iteration metrics and importances
        session.data["train"] = True
        call_args, call_kwargs = safely(lib.flavor, "eval metrics", _with_callback, lib, session, original, args,
                                        kwargs) or (args, kwargs)  # fmt: skip
        booster = original(*call_args, **call_kwargs)
        safely(lib.flavor, "feature importances", _log_booster, lib, session, booster)
        return booster
    if config(lib.flavor) is None or inside():
        return original(*args, **kwargs)

    def prepare(
        s: Session, a: tuple[Any, ...], k: dict[str, Any]
    ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        s.data["train"] = True
        return _with_callback(lib, s, original, a, k)

    def log(s: Session, booster: Any) -> None:
        safely(lib.flavor, "params", s.log_params, _train_params(original, args, kwargs))
        safely(lib.flavor, "feature importances", _log_booster, lib, s, booster)
        if s.config.log_models:
            from .sklearn import log_fitted_model

            safely(lib.flavor, "the model", log_fitted_model, s, booster, None, "model", lib.flavor)

    return run_fit(lib.flavor, original, args, kwargs, log, prepare)


def _with_callback(
    lib: Library, session: Session, original: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    bound = inspect.signature(original).bind(*args, **kwargs)
    callbacks = list(bound.arguments.get("callbacks") or [])
    callbacks.append(lib.callback(session))
    bound.arguments["callbacks"] = callbacks
    return bound.args, bound.kwargs


def _train_params(original: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    bound = inspect.signature(original).bind(*args, **kwargs)
    bound.apply_defaults()
    params = dict(bound.arguments.get("params") or {})
    for key, value in bound.arguments.items():
        if key not in _SKIPPED_TRAIN_ARGS and value is not None and key not in params:
            params[key] = value
    return flat_params(params)


def _log_booster(lib: Library, session: Session, booster: Any) -> None:
    from ..client import dict_artifact

    for kind in lib.importance_types:
        values = lib.importances(booster, kind)
        if values:
            dict_artifact(session.writer, values, f"feature_importance_{kind}.json")
    best = getattr(booster, "best_iteration", None)
    if lib.flavor == "lightgbm" and best == 0:
        best = None  # LightGBM's "no early stopping"
    if best is not None and scalar(best) is not None and best >= 0:
        session.log_metrics({"best_iteration": best})


def _log_estimator(
    session: Session, estimator: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    from .sklearn import estimator_tags, log_fitted_model

    flavor = session.flavor
    safely(
        flavor, "params", lambda: session.log_params(flat_params(estimator.get_params(deep=True)))
    )
    session.set_tags(estimator_tags(estimator))
    if session.config.log_models:
        x = args[0] if args else kwargs.get("X")
        safely(flavor, "the model", log_fitted_model, session, estimator, x, "model", flavor)


class IterationLogger:
    """Logs ``{dataset}-{metric}`` at step = iteration; a failure warns once and stops logging."""

    def __init__(self, session: Session):
        self.session = session
        self.failed = False

    def log(self, step: int, values: list[tuple[str, str, Any]]) -> None:
        if self.failed:
            return
        try:
            from ..record import now_ms

            ts = now_ms()
            for data, metric, value in values:
                number = scalar(value)
                if number is not None:
                    self.session.writer.log_metric(f"{data}-{metric}", number, int(step), ts)
        except Exception as exc:  # noqa: BLE001 - never break training
            self.failed = True
            warn(self.session.flavor, f"could not log eval metrics: {exc}")


def config_from(**options: Any) -> Config:
    return Config(
        log_models=options["log_models"], log_input_examples=options["log_input_examples"],
        log_model_signatures=options["log_model_signatures"], silent=options["silent"],
        exclusive=options["exclusive"], registered_model_name=options["registered_model_name"],
        extra_tags=dict(options["extra_tags"] or {}), log_post_training_metrics=False,
    )  # fmt: skip
