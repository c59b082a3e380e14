"""save_model, log_model and load_model for any flavor (chosen from the object or the MLmodel)."""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from typing import Any

from ..errors import ModelError
from ..keys import validate_key
from . import flavors
from .loaded import PyFuncModel, load_native_dir, load_pyfunc_dir
from .mlmodel import Model
from .signature import ModelSignature
from .uri import resolve, warn_if_foreign


@dataclass(frozen=True)
class ModelInfo:
    """What log_model wrote.

    Attributes:
        model_uri: ``runs:/<run id>/<name>``, loadable with load_model.
        run_id: the run the model belongs to.
        name: the model's name inside the run (``models/<name>/`` in its tree).
        flavors: the flavors in its MLmodel.
        signature: its signature, if any.
        registered_model_version: the registry version made by ``registered_model_name``.
    """

    model_uri: str
    run_id: str
    name: str
    flavors: tuple[str, ...]
    signature: ModelSignature | None
    model_uuid: str
    registered_model_version: int | None = None

    @property
    def artifact_path(self) -> str:
        """MLflow's name for ``name``."""
        return self.name


def save_model(
    model: Any, path: str | os.PathLike[str], flavor: str | None = None, **kwargs: Any
) -> Model:
    """Save ``model`` to a new directory with the flavor that fits it.

    Args:
        model: a scikit-learn estimator, a PythonModel, an object with ``predict``, a
            callable, or anything a flavor plugin takes.
        path: the directory to create.
        flavor: force a flavor by name (``sklearn``, ``python_function``, a plugin's).
        **kwargs: passed to that flavor's save_model (input_example, signature,
            pip_requirements, ...).

    Returns:
        The written MLmodel manifest.
    """
    module = flavors.get(flavor) if flavor else flavors.for_object(model)
    return module.save_model(model, path, **kwargs)


def log_model(
    model: Any,
    name: str = "model",
    *,
    flavor: str | None = None,
    run_id: str | None = None,
    registered_model_name: str | None = None,
    repo: str | None = None,
    **kwargs: Any,
) -> ModelInfo:
    """Save ``model`` into a run, at ``models/<name>/`` of the run's tree.

    Args:
        model: the model (see save_model).
        name: its name inside the run.
        flavor: force a flavor by name.
        run_id: the run (default: the active run).
        registered_model_name: also register the model under this name (a new version).
        repo: a path inside the repository (default: ``$GITML_DIR`` or the cwd).
        **kwargs: passed to the flavor's save_model.

    Returns:
        A ModelInfo whose ``model_uri`` loads the model.
    """
    validate_key(name, "model name")
    module = flavors.get(flavor) if flavor else flavors.for_object(model)
    active = None
    if run_id is None:
        from ..tracking import active_run

        active = active_run()
        if active is None:
            raise ModelError(
                "log_model needs a run: call it inside `with gitml.start_run():` or pass run_id="
            )
        run_id = active.run_id
    else:
        from ..client import Client

        run_id = Client(repo).resolve_run(run_id)
    tmp = tempfile.mkdtemp(prefix="gitml-log-")
    try:
        local = os.path.join(tmp, "model")
        mlmodel = module.save_model(
            model, local, mlmodel=Model(run_id=run_id, artifact_path=name), **kwargs
        )
        _store_in_run(local, run_id, name, active, repo)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    uri = f"runs:/{run_id}/{name}"
    version = None
    if registered_model_name:
        from . import registry

        version = registry.register(uri, registered_model_name, repo=repo).version
    return ModelInfo(
        uri, run_id, name, tuple(mlmodel.flavors), mlmodel.signature, mlmodel.model_uuid, version
    )


def _store_in_run(local: str, run_id: str, name: str, active: Any, repo: str | None) -> None:
    from ..client import Client, dir_tree
    from ..store import MODE_TREE

    if active is not None and active.run_id == run_id:
        writer = active.writer  # this process owns the run: write through its writer
        writer.set_entry(f"models/{name}", (MODE_TREE, dir_tree(writer.store, local)))
        writer.flush()
    else:
        Client(repo).log_model_dir(run_id, local, name)


def load_model(
    model_uri: str | os.PathLike[str],
    dst_path: str | None = None,
    flavor: str | None = None,
    repo: str | None = None,
) -> Any:
    """Load a model from a URI (``runs:/``, ``models:/`` or a local path).

    Args:
        model_uri: where the model is.
        dst_path: where to export a model stored in git (default: a temporary directory).
        flavor: ``None`` for a generic PyFuncModel (predict with the signature enforced), or
            a flavor name for that flavor's native object (``sklearn`` gives the estimator).
        repo: a path inside the repository (default: ``$GITML_DIR`` or the cwd).

    Returns:
        A PyFuncModel, or the native object of ``flavor``.

    Loading unpickles the model, which runs code from whoever saved it; a model made by
    another user or on another machine triggers an UntrustedModelWarning.
    """
    resolved = resolve(model_uri, dst_path=dst_path, repo=repo)
    warn_if_foreign(resolved)
    if flavor is None:
        return load_pyfunc_dir(resolved.path)
    return load_native_dir(resolved.path, flavor)


__all__ = ["ModelInfo", "PyFuncModel", "load_model", "log_model", "save_model"]
