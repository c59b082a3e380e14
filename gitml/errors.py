"""The exception tree of gitml: every error a user can meet is a GitmlError.

    GitmlError
    ├── NotARepository         not inside a git work tree
    ├── InvalidKey             a param/metric/tag key, name or path that breaks the rules
    ├── InvalidValue           a value of the wrong kind (a non-numeric metric, ...)
    ├── ParamConflict          a param logged again with a different value
    ├── RunNotFound            no run matches an id, prefix or name
    ├── AmbiguousRun           several runs match; the message lists them
    ├── ActiveRunError         start_run while a run is active, end_run with none, ...
    ├── ArtifactError          a missing artifact path, a path escaping its folder
    ├── StoreError             the repository refused a write (after retries)
    ├── FilterError            a malformed filter or order_by expression
    ├── RemoteError            push/pull/fetch problems (unreachable, auth, rejected, diverged)
    ├── ModelError             flavors, signatures, model URIs, the registry
    ├── ProjectError           MLproject files, entry points, parameters, environments
    └── LaunchError            a wrapped command that cannot be started

The CLI catches GitmlError once, prints ``Error: <message>`` and exits 1.
"""

from __future__ import annotations


class GitmlError(Exception):
    """Base class of every error gitml raises on purpose."""


class NotARepository(GitmlError):
    pass


class InvalidKey(GitmlError, ValueError):
    pass


class InvalidValue(GitmlError, ValueError):
    pass


class ParamConflict(GitmlError, ValueError):
    pass


class RunNotFound(GitmlError, LookupError):
    pass


class AmbiguousRun(GitmlError, LookupError):
    pass


class ActiveRunError(GitmlError):
    pass


class ArtifactError(GitmlError):
    pass


class StoreError(GitmlError):
    pass


class FilterError(GitmlError, ValueError):
    pass


class RemoteError(GitmlError):
    pass


class ModelError(GitmlError):
    pass


class ProjectError(GitmlError):
    pass


class LaunchError(GitmlError):
    pass
