"""Safe patching: wrap methods and functions in place, restore the exact originals, run hooks on import."""

from __future__ import annotations

import functools
import importlib.abc
import importlib.machinery
import sys
import threading
from collections.abc import Callable
from types import ModuleType
from typing import Any

# (owner, attribute) -> (flavor, original object found in owner.__dict__)
_patches: dict[tuple[Any, str], tuple[str, Any]] = {}
_lock = threading.RLock()


class _PatchedDescriptor:
    """Wraps a non-function descriptor (``available_if``, properties) so that binding still works.

    ``getattr(obj, name)`` keeps raising AttributeError where the original did, so
    ``hasattr(pipeline, "predict_proba")`` answers as before.
    """

    def __init__(self, original: Any, wrapper: Callable[..., Any]):
        self.original = original
        self.wrapper = wrapper
        functools.update_wrapper(self, original, updated=())  # type: ignore[arg-type]

    def __get__(self, obj: Any, owner: Any = None) -> Any:
        bound = self.original.__get__(obj, owner)
        if obj is None:
            return bound
        wrapper = self.wrapper
        original = functools.wraps(bound)(lambda _self, *a, **k: bound(*a, **k))

        @functools.wraps(bound)
        def call(*args: Any, **kwargs: Any) -> Any:
            return wrapper(original, obj, *args, **kwargs)

        return call


def patch_method(flavor: str, owner: type, name: str, wrapper: Callable[..., Any]) -> bool:
    """Replace ``owner.<name>`` (defined in ``owner`` itself) by a wrapper.

    Args:
        flavor: the integration that owns the patch (what ``unpatch(flavor)`` restores).
        owner: the class whose ``__dict__`` defines ``name``.
        name: the method's name.
        wrapper: ``wrapper(original, self, *args, **kwargs)``; ``original(self, ...)`` calls
            the original method.

    Returns:
        True when a patch was installed (False: not defined there, or already patched).
    """
    with _lock:
        if (owner, name) in _patches or name not in owner.__dict__:
            return False
        original = owner.__dict__[name]
        if isinstance(original, (staticmethod, classmethod)):
            return False
        if callable(original) and not hasattr(original, "__get__"):
            return False
        if hasattr(original, "__code__"):  # a plain function

            @functools.wraps(original)
            def patched(self: Any, *args: Any, **kwargs: Any) -> Any:
                return wrapper(original, self, *args, **kwargs)

            new: Any = patched
        elif hasattr(original, "__get__"):
            new = _PatchedDescriptor(original, wrapper)
        else:
            return False
        setattr(owner, name, new)
        _patches[(owner, name)] = (flavor, original)
        return True


def patch_function(flavor: str, module: Any, name: str, wrapper: Callable[..., Any]) -> bool:
    """Replace the function ``module.<name>`` by ``wrapper(original, *args, **kwargs)``."""
    with _lock:
        original = getattr(module, name, None)
        if (module, name) in _patches or original is None or not callable(original):
            return False

        @functools.wraps(original)
        def patched(*args: Any, **kwargs: Any) -> Any:
            return wrapper(original, *args, **kwargs)

        setattr(module, name, patched)
        _patches[(module, name)] = (flavor, original)
        return True


def original_of(owner: Any, name: str) -> Any:
    """The original object behind a patch (or the current attribute when not patched)."""
    entry = _patches.get((owner, name))
    return entry[1] if entry else getattr(owner, name)


def unpatch(flavor: str) -> int:
    """Put back every original object patched for ``flavor``; returns how many."""
    with _lock:
        mine = [key for key, (f, _) in _patches.items() if f == flavor]
        for owner, name in mine:
            _flavor, original = _patches.pop((owner, name))
            setattr(owner, name, original)
        return len(mine)


def patched(flavor: str | None = None) -> list[tuple[Any, str]]:
    """The (owner, name) pairs currently patched (for ``flavor`` or all)."""
    return [key for key, (f, _) in _patches.items() if flavor is None or f == flavor]


# ---------------------------------------------------------------- import hooks
_hooks: dict[str, tuple[Callable[[str], bool], Callable[[ModuleType], None]]] = {}


class _HookLoader(importlib.abc.Loader):
    """Delegates to the real loader, then runs the hooks on the fresh module."""

    def __init__(self, loader: Any):
        self.loader = loader

    def create_module(self, spec: Any) -> Any:
        return self.loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        try:
            self.loader.exec_module(module)
        finally:
            module.__loader__ = self.loader
            if module.__spec__ is not None:
                module.__spec__.loader = self.loader
        run_hooks(module)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.loader, name)


class _PostImportFinder(importlib.abc.MetaPathFinder):
    """Finds nothing itself; wraps the loader of modules that have hooks."""

    def __init__(self) -> None:
        self._busy = threading.local()

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if not any(match(fullname) for match, _ in _hooks.values()):
            return None
        if getattr(self._busy, "names", None) is None:
            self._busy.names = set()
        if fullname in self._busy.names:
            return None
        self._busy.names.add(fullname)
        try:
            for finder in sys.meta_path:
                if finder is self or not hasattr(finder, "find_spec"):
                    continue
                spec = finder.find_spec(fullname, path, target)
                if spec is not None:
                    if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                        spec.loader = _HookLoader(spec.loader)
                    return spec
            return None
        finally:
            self._busy.names.discard(fullname)


_finder = _PostImportFinder()


def run_hooks(module: ModuleType) -> None:
    """Run the hooks that match ``module`` (errors become warnings)."""
    for flavor, (match, hook) in list(_hooks.items()):
        if match(module.__name__):
            try:
                hook(module)
            except Exception as exc:  # noqa: BLE001 - an integration must never break an import
                import warnings

                warnings.warn(
                    f"gitml autolog ({flavor}): could not patch {module.__name__}: {exc}",
                    stacklevel=2,
                )


def on_import(
    flavor: str, match: Callable[[str], bool], hook: Callable[[ModuleType], None]
) -> None:
    """Call ``hook(module)`` for every module (imported now or later) whose name ``match`` accepts."""
    with _lock:
        _hooks[flavor] = (match, hook)
        if _finder not in sys.meta_path:
            sys.meta_path.insert(0, _finder)
    for name, module in sorted(sys.modules.items()):
        if module is not None and match(name):
            try:
                hook(module)
            except Exception as exc:  # noqa: BLE001
                import warnings

                warnings.warn(
                    f"gitml autolog ({flavor}): could not patch {name}: {exc}", stacklevel=2
                )


def remove_import_hook(flavor: str) -> None:
    """Stop watching imports for ``flavor`` (the finder leaves ``sys.meta_path`` when none is left)."""
    with _lock:
        _hooks.pop(flavor, None)
        if not _hooks and _finder in sys.meta_path:
            sys.meta_path.remove(_finder)


def in_package(package: str) -> Callable[[str], bool]:
    """A name matcher for a package and its submodules."""
    prefix = package + "."
    return lambda name: name == package or name.startswith(prefix)
