"""Autolog: one call records the training runs of scikit-learn, XGBoost and LightGBM code.

Each integration patches its library when the library is imported (now or later), so
``gitml.autolog()`` imports nothing heavy itself, and ``disable=True`` puts the original
methods back exactly.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from typing import Any

INTEGRATIONS = ("sklearn", "xgboost", "lightgbm")


def autolog(
    disable: bool = False,
    log_models: bool = True,
    log_input_examples: bool = False,
    silent: bool = False,
    exclusive: bool = False,
    max_tuning_runs: int | None = 5,
    log_model_signatures: bool = True,
    log_post_training_metrics: bool = True,
    registered_model_name: str | None = None,
    extra_tags: dict[str, Any] | None = None,
) -> list[str]:
    """Enable (or disable) autolog for every installed integration.

    Args:
        disable: remove every patch; the original functions and methods are put back.
        log_models: log the fitted models.
        log_input_examples: store the first rows of the training data with each model.
        silent: no warnings from autolog.
        exclusive: never log into a run the user started.
        max_tuning_runs: child runs for the best candidates of a parameter search (None: all).
        log_model_signatures: store signatures inferred from the training data.
        log_post_training_metrics: log ``sklearn.metrics`` calls on models' predictions.
        registered_model_name: also register each logged model under this name.
        extra_tags: tags added to the runs autolog starts.

    Returns:
        The integrations enabled (or disabled): those whose library is installed.
    """
    done = []
    for name in INTEGRATIONS:
        if not _installed(name):
            continue
        module = importlib.import_module(f".{name}", __name__)
        kwargs: dict[str, Any] = dict(
            disable=disable, log_models=log_models, log_input_examples=log_input_examples,
            log_model_signatures=log_model_signatures, silent=silent, exclusive=exclusive,
            registered_model_name=registered_model_name, extra_tags=extra_tags,
        )  # fmt: skip
        if name == "sklearn":
            kwargs.update(
                max_tuning_runs=max_tuning_runs, log_post_training_metrics=log_post_training_metrics
            )
        module.autolog(**kwargs)
        done.append(name)
    return done


def _installed(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # a module blocked with sys.modules[name] = None
        return False


class _CallableModule(types.ModuleType):
    """``gitml.autolog`` is this package once a submodule was imported: calling it still works."""

    def __call__(self, *args: Any, **kwargs: Any) -> list[str]:
        return autolog(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule

__all__ = ["INTEGRATIONS", "autolog"]
