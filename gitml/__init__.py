"""gitml: experiment tracking on git. Runs are commits on hidden refs of your repository.

The public API is loaded lazily so that ``import gitml`` stays fast: nothing heavy
(dulwich, pandas, scikit-learn) is imported until it is used.
"""

from __future__ import annotations

import importlib
from typing import Any

from .errors import GitmlError

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS = {
    "start_run": "tracking",
    "end_run": "tracking",
    "active_run": "tracking",
    "last_active_run": "tracking",
    "set_experiment": "tracking",
    "log_param": "tracking",
    "log_params": "tracking",
    "log_metric": "tracking",
    "log_metrics": "tracking",
    "set_tag": "tracking",
    "set_tags": "tracking",
    "delete_tag": "tracking",
    "log_artifact": "tracking",
    "log_artifacts": "tracking",
    "log_dict": "tracking",
    "log_text": "tracking",
    "log_figure": "tracking",
    "log_image": "tracking",
    "log_table": "tracking",
    "get_run": "tracking",
    "params": "tracking",
    "ActiveRun": "tracking",
    "Client": "client",
    "Run": "entities",
    "RunInfo": "entities",
    "RunData": "entities",
    "Metric": "entities",
    "search_runs": "query",
    "log_model": "models",
    "load_model": "models",
    "autolog": "autolog",
}
_SUBMODULES = {"pyfunc", "sklearn", "xgboost", "lightgbm", "models", "errors"}

__all__ = ["GitmlError", "__version__", *sorted(_EXPORTS), *sorted(_SUBMODULES)]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        module = importlib.import_module(f".{_EXPORTS[name]}", __name__)
        value = getattr(module, name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        module = importlib.import_module(f".{name}", __name__)
        globals()[name] = module
        return module
    raise AttributeError(f"module 'gitml' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
