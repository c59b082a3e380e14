"""Post-training metrics: tie predictions to the run of the model that made them, name metrics after the data."""

from __future__ import annotations

import threading
import weakref
from collections import defaultdict
from typing import Any

from .session import scalar, var_name

_lock = threading.Lock()
_models: dict[int, tuple[Any, str]] = {}  # id(model) -> (weakref, run id)
_outputs: dict[int, tuple[Any, str, str]] = {}  # id(prediction) -> (weakref, run id, dataset name)
_datasets: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
_calls: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))


def _ref(obj: Any) -> Any:
    try:
        return weakref.ref(obj)
    except TypeError:
        return None


def register_model(model: Any, run_id: str) -> None:
    """Remember that ``model`` was fitted (and logged) in run ``run_id``."""
    ref = _ref(model)
    if ref is None:
        return
    key = id(model)
    with _lock:
        _models[key] = (ref, run_id)
    weakref.finalize(model, _forget, _models, key, ref)


def _forget(table: dict[int, Any], key: int, ref: Any) -> None:
    with _lock:
        entry = table.get(key)
        if entry is not None and entry[0] is ref:
            del table[key]


def run_of(model: Any) -> str | None:
    """The run a model was autologged in, if any."""
    entry = _models.get(id(model))
    if entry is None or entry[0]() is not model:
        return None
    return entry[1]


def dataset_name(run_id: str, data: Any) -> str:
    """``X_test`` for the caller's variable (``X_test-2`` for another object of that name)."""
    name = var_name(data, "unknown_dataset")
    with _lock:
        seen = _datasets[run_id][name]
        if id(data) not in seen:
            seen.append(id(data))
        index = seen.index(id(data))
    return name if index == 0 else f"{name}-{index + 1}"


def register_output(output: Any, run_id: str, dataset: str) -> None:
    """Remember that ``output`` was predicted by a model of ``run_id`` on ``dataset``."""
    ref = _ref(output)
    if ref is None:
        return
    key = id(output)
    with _lock:
        _outputs[key] = (ref, run_id, dataset)
    weakref.finalize(output, _forget, _outputs, key, ref)


def find_output(values: Any) -> tuple[str, str] | None:
    """(run id, dataset name) of the first of ``values`` that is a registered prediction."""
    if not _outputs:
        return None
    for value in values:
        entry = _outputs.get(id(value))
        if entry is not None and entry[0]() is value:
            return entry[1], entry[2]
    return None


def metric_key(run_id: str, metric: str, dataset: str) -> str:
    """``accuracy_score_X_test``; a second call of one metric in a run gives ``accuracy_score-2_X_test``."""
    with _lock:
        n = _calls[run_id][metric]
        _calls[run_id][metric] = n + 1
    name = metric if n == 0 else f"{metric}-{n + 1}"
    return f"{name}_{dataset}"


def log(run_id: str, key: str, value: Any) -> bool:
    """Log one metric into a run (through the open writer when this process has the run open)."""
    from .. import runs, tracking

    number = scalar(value)
    if number is None:
        return False
    active = tracking._open.get(run_id)
    if active is not None:
        active.writer.log_metric(key, number, 0)
        return True
    writer = runs.open_writer(tracking._store(), run_id, owner=False)
    writer.log_metric(key, number, 0)
    writer.flush()
    return True


def reset() -> None:
    """Forget every model, prediction and call count (used when autolog is disabled)."""
    with _lock:
        _models.clear()
        _outputs.clear()
        _datasets.clear()
        _calls.clear()
