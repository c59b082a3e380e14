"""The flavor registry: built-in flavors plus those other packages add via entry points.

A flavor is a module with these names:

- ``FLAVOR_NAME``: its key under ``flavors`` in MLmodel (``sklearn``).
- ``handles(model) -> bool``: whether ``save_model`` of this flavor can take the object.
- ``save_model(model, path, **kwargs)``: write a model directory.
- ``load_native(model_dir, mlmodel)``: return the native object (what its ``load_model`` gives).
- ``load_pyfunc(model_dir, mlmodel)``: return an object with ``predict(data, params=None)``.
- optionally ``LOADER_MODULES``: ``python_function.loader_module`` values it reads (for
  models saved by other tools, e.g. ``mlflow.sklearn``).

Third-party packages register one under the ``gitml.flavors`` entry point group::

    [project.entry-points."gitml.flavors"]
    lightgbm = "gitml_lightgbm.flavor"
"""

from __future__ import annotations

import importlib
import importlib.metadata as md
import warnings
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from ..errors import ModelError

ENTRY_POINT_GROUP = "gitml.flavors"
_REQUIRED = ("FLAVOR_NAME", "handles", "save_model", "load_native", "load_pyfunc")


@dataclass(frozen=True)
class Flavor:
    """A registered flavor: its MLmodel name, the module implementing it, where it came from."""

    name: str
    module: str
    origin: str = "builtin"

    def load(self) -> ModuleType:
        """Import the implementing module, checking it has the flavor API."""
        try:
            mod = importlib.import_module(self.module)
        except ImportError as e:
            raise ModelError(
                f"flavor {self.name!r} ({self.origin}) cannot be imported: {e}; install its package"
            ) from None
        missing = [n for n in _REQUIRED if not hasattr(mod, n)]
        if missing:
            raise ModelError(
                f"flavor {self.name!r} from {self.module} lacks {', '.join(missing)}: fix or uninstall that plugin"
            )
        return mod


_BUILTIN = [
    Flavor("sklearn", "gitml.models.sklearn"),
    Flavor("python_function", "gitml.models.pyfunc"),
    Flavor("xgboost", "gitml.xgboost"),
    Flavor("lightgbm", "gitml.lightgbm"),
]
_registered: dict[str, Flavor] | None = None


def _plugins() -> list[Flavor]:
    found = []
    for ep in md.entry_points(group=ENTRY_POINT_GROUP):
        dist = getattr(ep.dist, "name", None) or "unknown package"
        found.append(Flavor(ep.name, ep.value.split(":", 1)[0], f"entry point of {dist}"))
    return found


def registry(refresh: bool = False) -> dict[str, Flavor]:
    """All flavors by name: plugins first (they are more specific), then the built-ins.

    Args:
        refresh: re-read the entry points (after installing a plugin in this process).
    """
    global _registered
    if _registered is None or refresh:
        reg: dict[str, Flavor] = {}
        for flavor in _plugins():
            if flavor.name in {b.name for b in _BUILTIN}:
                continue  # a plugin does not replace a built-in flavor
            reg.setdefault(flavor.name, flavor)
        for flavor in _BUILTIN:
            reg[flavor.name] = flavor
        _registered = reg
    return _registered


def register(name: str, module: str) -> Flavor:
    """Register a flavor implemented by ``module`` in this process (entry points do it for packages)."""
    flavor = Flavor(name, module, "registered in this process")
    flavor.load()
    registry()[name] = flavor
    return flavor


def get(name: str) -> ModuleType:
    """The module of flavor ``name``; a clear error for an unknown one."""
    flavor = registry().get(name)
    if flavor is None:
        raise ModelError(
            f"unknown flavor {name!r} (known: {', '.join(sorted(registry()))}):"
            f" install the package that provides it (entry point group {ENTRY_POINT_GROUP})"
        )
    return flavor.load()


def for_object(model: Any) -> ModuleType:
    """The flavor whose ``save_model`` takes ``model`` (plugins, then sklearn, then python_function)."""
    for flavor in registry().values():
        try:
            mod = flavor.load()
        except ModelError as e:  # a broken plugin must not stop other flavors from saving
            warnings.warn(f"skipping a flavor plugin: {e}", UserWarning, stacklevel=3)
            continue
        if mod.handles(model):
            return mod
    raise ModelError(
        f"no flavor can save a {type(model).__module__}.{type(model).__qualname__}:"
        " give it a predict method, pass a callable, or install a flavor plugin"
    )


def for_loader_module(loader_module: str) -> ModuleType | None:
    """The flavor that reads models whose ``python_function.loader_module`` is ``loader_module``."""
    for flavor in registry().values():
        if flavor.module == loader_module:
            return flavor.load()
    for flavor in registry().values():
        try:
            mod = flavor.load()
        except ModelError:
            continue  # a broken plugin cannot be the one asked for; `get` reports it by name
        if loader_module in getattr(mod, "LOADER_MODULES", ()):
            return mod
    return None
