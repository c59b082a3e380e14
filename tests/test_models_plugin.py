"""Flavor plugins through the ``gitml.flavors`` entry point group (real distributions on sys.path)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import gitml
from gitml.errors import ModelError
from gitml.models import flavors

ROOT = str(Path(gitml.__file__).resolve().parents[1])
PLUGIN_DIR = str(Path(__file__).parent / "flavor_plugin")


@pytest.fixture
def plugin_path(monkeypatch):
    monkeypatch.syspath_prepend(PLUGIN_DIR)
    flavors.registry(refresh=True)
    yield PLUGIN_DIR
    monkeypatch.undo()
    flavors.registry(refresh=True)


def _dist(tmp_path: Path, name: str, entry: str, module_code: str) -> Path:
    base = tmp_path / "site"
    info = base / f"{name}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[gitml.flavors]\n{entry}\n")
    module = entry.split("=")[1].strip()
    (base / f"{module}.py").write_text(module_code)
    return base


def test_entry_point_flavor_saves_and_loads(tmp_path, plugin_path):
    from gitml_demo_flavor import Lookup

    assert flavors.registry()["lookup"].origin == "entry point of gitml-demo-flavor"
    gitml.models.save_model(Lookup({"a": 1, "b": 2}, default=0), tmp_path / "m")
    manifest = gitml.models.Model.load(str(tmp_path / "m"))
    assert set(manifest.flavors) == {"python_function", "lookup"}
    assert (tmp_path / "m" / "requirements.txt").read_text() == "gitml-demo-flavor==0.1\n"
    model = gitml.load_model(tmp_path / "m")
    assert model.predict(["a", "b", "zzz"]) == [1, 2, 0]
    native = gitml.models.load_model(tmp_path / "m", flavor="lookup")
    assert isinstance(native, Lookup) and native.table == {"a": 1, "b": 2}


def test_entry_point_flavor_in_a_fresh_process(tmp_path):
    code = (
        "import gitml\n"
        "from gitml_demo_flavor import Lookup\n"
        f"gitml.models.save_model(Lookup({{'x': 'yes'}}), {str(tmp_path / 'm')!r})\n"
        f"print(gitml.load_model({str(tmp_path / 'm')!r}).predict(['x']))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([ROOT, PLUGIN_DIR])}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "['yes']"
    # without the plugin installed, its models are refused clearly
    env = {**os.environ, "PYTHONPATH": ROOT}
    out = subprocess.run(
        [sys.executable, "-c", f"import gitml; gitml.load_model({str(tmp_path / 'm')!r})"],
        env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert out.returncode == 1
    assert (
        "ModelError: unknown flavor: no installed flavor loads models of loader_module 'gitml_demo_flavor'"
        in out.stderr
    )


def test_broken_plugin_is_reported_by_name_and_does_not_block_others(tmp_path, monkeypatch):
    site = _dist(tmp_path, "broken-flavor", "broken = broken_flavor", "FLAVOR_NAME = 'broken'\n")
    monkeypatch.syspath_prepend(str(site))
    flavors.registry(refresh=True)
    try:
        with pytest.raises(
            ModelError,
            match="flavor 'broken' from broken_flavor lacks handles, save_model, load_native, load_pyfunc",
        ):
            flavors.get("broken")
        with pytest.warns(UserWarning, match="skipping a flavor plugin"):
            gitml.models.save_model(lambda x: x, tmp_path / "m")
        assert gitml.load_model(tmp_path / "m").predict(5) == 5
    finally:
        monkeypatch.undo()
        flavors.registry(refresh=True)


def test_plugin_cannot_replace_a_builtin_flavor(tmp_path, monkeypatch):
    site = _dist(
        tmp_path,
        "fake-sklearn",
        "sklearn = fake_sklearn_flavor",
        "raise RuntimeError('must not be imported')\n",
    )
    monkeypatch.syspath_prepend(str(site))
    try:
        reg = flavors.registry(refresh=True)
        assert reg["sklearn"].module == "gitml.models.sklearn"
    finally:
        monkeypatch.undo()
        flavors.registry(refresh=True)


def test_uninstalled_plugin_module_is_a_clear_error(tmp_path, monkeypatch):
    base = tmp_path / "site"
    info = base / "ghost-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: ghost\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[gitml.flavors]\nghost = ghost_flavor_module_that_is_missing\n"
    )
    monkeypatch.syspath_prepend(str(base))
    try:
        flavors.registry(refresh=True)
        with pytest.raises(
            ModelError,
            match="flavor 'ghost' \\(entry point of ghost\\) cannot be imported: .*install its package",
        ):
            flavors.get("ghost")
    finally:
        monkeypatch.undo()
        flavors.registry(refresh=True)


def test_register_a_flavor_in_process(plugin_path):
    flavor = gitml.models.register_flavor("lookup2", "gitml_demo_flavor")
    assert flavors.get("lookup2").FLAVOR_NAME == "lookup"
    assert flavor.origin == "registered in this process"
