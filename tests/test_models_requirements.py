"""Requirement inference: modules read from pickle opcodes, mapped to pinned distributions."""

from __future__ import annotations

import importlib.metadata as md
import pickle
import time

import cloudpickle
import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import gitml
from gitml.errors import ModelError
from gitml.models.requirements import distributions_for, infer_requirements, modules_in_pickle


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_modules_of_a_numpy_pickle_at_every_protocol(protocol):
    mods = modules_in_pickle(pickle.dumps({"w": np.arange(3)}, protocol=protocol))
    assert any(m.startswith("numpy") for m in mods)


def test_sklearn_pipeline_modules():
    pipe = make_pipeline(StandardScaler(), RandomForestClassifier(n_estimators=2)).fit(
        [[0, 1], [1, 0]], [0, 1]
    )
    mods = modules_in_pickle(pickle.dumps(pipe))
    assert "sklearn.pipeline" in mods and "sklearn.preprocessing._data" in mods
    assert any(m.startswith("sklearn.tree") for m in mods)


def test_cloudpickled_function_records_the_modules_it_uses():
    import pandas as pd

    def uses_pandas(x):
        return pd.DataFrame(x)  # a global of a by-value function: pickled as subimport('pandas')

    mods = modules_in_pickle(cloudpickle.dumps(uses_pandas))
    assert "pandas" in mods


def test_distributions_skip_stdlib_and_local_code():
    found = distributions_for(
        [
            "json.decoder",
            "numpy.core.multiarray",
            "__main__",
            "my_local_module",
            "gitml.models.pyfunc",
        ]
    )
    assert found == {"numpy": np.__version__, "gitml": gitml.__version__}


def test_infer_requirements_pins_installed_versions():
    reqs = infer_requirements(
        [pickle.dumps(np.arange(2))], always=["cloudpickle", "not-installed-dist"]
    )
    assert reqs == sorted(
        [f"numpy=={np.__version__}", f"cloudpickle=={md.version('cloudpickle')}"], key=str.lower
    )


def test_corrupt_pickle_is_a_clear_error():
    with pytest.raises(ModelError, match="cannot read the model's pickle to infer requirements"):
        modules_in_pickle(b"\x80\x04garbage")


def test_inference_is_fast():
    data = pickle.dumps(np.zeros((1000, 100)))  # 800 kB of array payload
    infer_requirements([data])  # warm the distribution map once per process
    start = time.perf_counter()
    for _ in range(10):
        infer_requirements([data])
    assert (time.perf_counter() - start) / 10 < 0.05


def test_private_top_level_module_maps_to_its_distribution():
    import _pytest  # noqa: F401 - installed by pytest

    assert distributions_for(["_pytest.python"]) == {"pytest": md.version("pytest")}


def test_namespace_packages_are_resolved_per_submodule():
    message = pytest.importorskip("google.protobuf.message")
    found = distributions_for([message.__name__])
    assert found == {"protobuf": md.version("protobuf")}
