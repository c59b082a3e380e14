"""Pinned pip requirements of a model, inferred from the modules its pickle really imports.

Unpickling imports exactly the modules named by the pickle's GLOBAL/STACK_GLOBAL opcodes
(and, for cloudpickled functions, by ``subimport`` calls). Reading those from the bytes is
fast (no subprocess, no re-import) and maps each top-level module to the distribution that
installs it with ``importlib.metadata``.
"""

from __future__ import annotations

import functools
import importlib.metadata as md
import importlib.util
import os
import pathlib
import pickletools
import sys
from collections.abc import Iterable

from .. import __version__ as gitml_version
from ..errors import ModelError

_NOT_PACKAGES = set(sys.stdlib_module_names) | {"__main__", "builtins", "__builtin__", "copy_reg"}


def modules_in_pickle(data: bytes) -> set[str]:
    """Return the dotted module names a pickle imports when it is loaded.

    Args:
        data: pickle bytes (any protocol; cloudpickle output included).

    Returns:
        Module names such as ``sklearn.linear_model._logistic``.
    """
    modules: set[str] = set()
    memo: dict[int, object] = {}
    recent: list[object] = []  # the values the last opcodes pushed (strings or None)
    want_module_arg = False
    try:
        for op, arg, _pos in pickletools.genops(data):
            name = op.name
            if name == "GLOBAL":
                module, _, qual = str(arg).partition(" ")
                modules.add(module)
                want_module_arg = qual == "subimport"
                recent.append(None)
            elif name == "STACK_GLOBAL":
                if len(recent) >= 2 and isinstance(recent[-2], str):
                    modules.add(recent[-2])
                want_module_arg = recent[-1] == "subimport"
                recent.append(None)
            elif name in ("SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE"):
                recent.append(arg)
                if want_module_arg and isinstance(arg, str):
                    modules.add(arg)
                    want_module_arg = False
            elif name == "MEMOIZE":
                memo[len(memo)] = recent[-1] if recent else None
            elif name in ("PUT", "BINPUT", "LONG_BINPUT"):
                memo[int(arg)] = recent[-1] if recent else None  # type: ignore[arg-type]
            elif name in ("GET", "BINGET", "LONG_BINGET"):
                recent.append(memo.get(int(arg)))  # type: ignore[arg-type]
            elif name not in ("FRAME", "PROTO", "MARK", "TUPLE1", "TUPLE2", "EMPTY_TUPLE", "TUPLE"):
                recent.append(None)
            if len(recent) > 8:
                del recent[:-4]
    except Exception as e:  # a truncated or foreign stream
        raise ModelError(f"cannot read the model's pickle to infer requirements: {e}") from None
    return {m for m in modules if m}


@functools.lru_cache(maxsize=1)
def _top_level_map() -> dict[str, list[str]]:
    return dict(md.packages_distributions())  # the slow, complete scan: a last resort


def _dist_dirs(folder: str) -> list[str]:
    try:
        return sorted(e for e in os.listdir(folder) if e.endswith((".dist-info", ".egg-info")))
    except OSError:
        return []


def _provides(meta_dir: str, top: str) -> bool:
    """Whether the installed distribution described by ``meta_dir`` installs module ``top``."""
    try:
        with open(os.path.join(meta_dir, "top_level.txt"), encoding="utf-8") as f:
            return top in f.read().split()
    except OSError:
        pass
    for name in ("RECORD", "installed-files.txt", "SOURCES.txt"):
        try:
            with open(os.path.join(meta_dir, name), encoding="utf-8") as f:
                text = f.read()
        except OSError:
            continue
        prefixes = (f"{top}/", f"{top}.py,", f"{top}.")
        return any(line.startswith(prefixes) for line in text.splitlines())
    return False


def _name_of(meta_dir: str) -> str | None:
    try:
        return md.PathDistribution(pathlib.Path(meta_dir)).metadata["Name"]
    except Exception:  # a broken metadata folder is just not a match
        return None


@functools.cache
def _distributions_of(top: str) -> tuple[str, ...]:
    """Distributions installing top-level module ``top``: look next to the module first.

    Reading the few metadata files of the folder the module was imported from costs
    milliseconds; ``packages_distributions`` (every file of every distribution) is used
    only when that finds nothing (editable installs, unusual layouts).
    """
    module = sys.modules.get(top)
    origin = getattr(module, "__file__", None) if module is not None else None
    if module is not None and origin is None and hasattr(module, "__path__"):
        return ()  # a namespace package (google, ...): decided per submodule by _distribution_of_file
    if origin is None:
        try:
            spec = importlib.util.find_spec(top)
        except (ImportError, ValueError):
            spec = None
        if spec is None:
            return ()
        origin = spec.origin if spec.has_location else None
        if origin is None and spec.submodule_search_locations:
            origin = os.path.join(list(spec.submodule_search_locations)[0], "__init__.py")
    if origin:
        folder = os.path.dirname(os.path.abspath(origin))
        if os.path.basename(origin).startswith("__init__."):
            folder = os.path.dirname(
                folder
            )  # a package: its metadata sits next to the package folder
        dirs = _dist_dirs(folder)
        wanted = top.lower().replace("_", "-")
        # the usual case: the distribution is named like the module (numpy, pandas, cloudpickle)
        ordered = sorted(dirs, key=lambda d: d.split("-", 1)[0].lower().replace("_", "-") != wanted)
        for entry in ordered:
            meta = os.path.join(folder, entry)
            if _provides(meta, top):
                name = _name_of(meta)
                if name:
                    return (name,)
    return tuple(_top_level_map().get(top, ()))


def distributions_for(modules: Iterable[str]) -> dict[str, str]:
    """Map module names to installed distributions; returns ``{distribution: version}``.

    Standard library modules and modules that no installed distribution provides (local
    code) are left out; ``gitml`` maps to this gitml's version even when run from a checkout.
    """
    modules = set(modules)
    tops = {m.split(".", 1)[0] for m in modules} - _NOT_PACKAGES
    found: dict[str, str] = {}
    for top in sorted(tops):
        if top == "gitml":
            found["gitml"] = gitml_version
            continue
        dists = _distributions_of(top)
        if not dists and _is_namespace(top):
            files = {
                getattr(sys.modules.get(m), "__file__", None)
                for m in modules
                if m.startswith(top + ".")
            }
            dists = tuple(
                d for f in sorted(filter(None, files)) for d in [_distribution_of_file(f)] if d
            )
        for dist in dists:
            try:
                found[dist] = md.version(dist)
            except md.PackageNotFoundError:
                continue
    return found


def _is_namespace(top: str) -> bool:
    module = sys.modules.get(top)
    return (
        module is not None
        and getattr(module, "__file__", None) is None
        and hasattr(module, "__path__")
    )


@functools.cache
def _distribution_of_file(path: str) -> str | None:
    """The distribution whose RECORD lists ``path`` (a module file inside a sys.path folder)."""
    path = os.path.abspath(path)
    for entry in sorted((os.path.abspath(p) for p in sys.path if p), key=len, reverse=True):
        if path.startswith(entry + os.sep):
            rel = os.path.relpath(path, entry).replace(os.sep, "/")
            for meta in _dist_dirs(entry):
                try:
                    with open(os.path.join(entry, meta, "RECORD"), encoding="utf-8") as f:
                        if any(line.startswith(rel + ",") for line in f):
                            return _name_of(os.path.join(entry, meta))
                except OSError:
                    continue
            return None
    return None


def pinned(dists: dict[str, str]) -> list[str]:
    """``{name: version}`` -> sorted ``name==version`` lines (case-insensitive order)."""
    return [f"{n}=={v}" for n, v in sorted(dists.items(), key=lambda kv: kv[0].lower())]


def infer_requirements(pickled: Iterable[bytes], always: Iterable[str] = ()) -> list[str]:
    """Pinned requirements for a model made of these pickles.

    Args:
        pickled: the serialized payloads of the model (each read from the bytes written).
        always: distributions the flavor's loader needs whatever the pickle says
            (``scikit-learn`` for the sklearn flavor, ``cloudpickle`` for cloudpickled models).

    Returns:
        Sorted ``name==version`` lines.
    """
    modules: set[str] = set()
    for data in pickled:
        modules |= modules_in_pickle(data)
    dists = distributions_for(modules)
    for name in always:
        try:
            dists[name] = md.version(name)
        except md.PackageNotFoundError:
            continue
    return pinned(dists)


def normalize_requirements(reqs: str | Iterable[str]) -> list[str]:
    """User-given requirements: a requirements file path (``-r`` style) or a list of lines."""
    if isinstance(reqs, str):
        try:
            with open(reqs, encoding="utf-8") as f:
                lines = f.read().splitlines()
        except OSError as e:
            raise ModelError(f"cannot read requirements file {reqs!r}: {e.strerror}") from None
    else:
        lines = list(reqs)
    out = []
    for line in lines:
        if not isinstance(line, str):
            raise ModelError(
                f"invalid requirement {line!r}: requirements are strings like 'numpy==2.0'"
            )
        line = line.strip()
        if line and not line.startswith("#"):
            out.append(line)
    return out
