"""Autolog sessions: options per integration, the run a fit logs into, and never-failing logging."""

from __future__ import annotations

import inspect
import threading
import warnings
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

AUTOLOG_TAG = "gitml.autologging"


@dataclass
class Config:
    """The options of one integration (see :func:`gitml.autolog`)."""

    log_models: bool = True
    log_input_examples: bool = False
    log_model_signatures: bool = True
    log_post_training_metrics: bool = True
    silent: bool = False
    exclusive: bool = False
    max_tuning_runs: int | None = 5
    registered_model_name: str | None = None
    extra_tags: dict[str, Any] = field(default_factory=dict)


_configs: dict[str, Config] = {}


def configure(flavor: str, config: Config | None) -> None:
    """Set (or with None, clear) the options of an integration."""
    if config is None:
        _configs.pop(flavor, None)
    else:
        _configs[flavor] = config


def config(flavor: str) -> Config | None:
    """The options of an enabled integration, None when it is disabled."""
    return _configs.get(flavor)


def warn(flavor: str, message: str) -> None:
    """A warning from autolog (muted by ``silent=True``)."""
    cfg = _configs.get(flavor)
    if cfg is None or not cfg.silent:
        warnings.warn(f"gitml autolog ({flavor}): {message}", stacklevel=3)


def safely(flavor: str, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call ``fn``; an exception becomes a warning naming ``what`` and the result is None."""
    try:
        return fn(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 - autolog must never fail the user's code
        warn(flavor, f"could not log {what}: {type(exc).__name__}: {exc}")
        return None


# ---------------------------------------------------------------- sessions
class Session:
    """One top-level fit being logged: the run, what the integration has logged so far."""

    def __init__(self, flavor: str, cfg: Config, run: Any, created: bool):
        self.flavor = flavor
        self.config = cfg
        self.run = run
        self.created = created
        self.data: dict[str, Any] = {}

    @property
    def run_id(self) -> str:
        return str(self.run.run_id)

    @property
    def writer(self) -> Any:
        return self.run.writer

    def log_params(self, params: dict[str, Any]) -> None:
        """Log params; a value differing from one already logged is skipped with a warning."""
        from ..runs import native

        w = self.writer
        logged = {**w.record.params, **w.params}
        clean, conflicts = {}, []
        for key, value in params.items():
            value = native(value)
            if key in logged and logged[key] != value:
                conflicts.append(key)
            else:
                clean[key] = value
        w.log_params(clean)
        if conflicts:
            warn(
                self.flavor,
                f"params {', '.join(sorted(conflicts))} were already logged in run {self.run_id} with"
                " other values and were kept (params are fixed once logged)",
            )

    def log_metrics(self, metrics: dict[str, Any], step: int = 0) -> None:
        from ..record import now_ms

        ts = now_ms()
        for key, value in metrics.items():
            try:
                value = float(value)
            except (TypeError, ValueError):
                continue
            self.writer.log_metric(key, value, step, ts)

    def set_tags(self, tags: dict[str, Any]) -> None:
        self.writer.set_tags(tags)


_session: ContextVar[Session | bool | None] = ContextVar("gitml_autolog_session", default=None)
_busy: dict[int, int] = {}  # thread id -> open top-level fits
_busy_lock = threading.Lock()


def current() -> Session | None:
    """The session of the fit being logged in this context, if any."""
    s = _session.get()
    return s if isinstance(s, Session) else None


def inside() -> bool:
    """True inside a logged fit (or autolog's own work): patched calls then pass through."""
    if _session.get() is not None:
        return True
    me = threading.get_ident()
    with _busy_lock:
        return any(n and tid != me for tid, n in _busy.items())


def _open(flavor: str, cfg: Config) -> Session | None:
    from .. import tracking

    active = tracking.active_run()
    if active is not None:
        if cfg.exclusive:
            return None
        return Session(flavor, cfg, active, created=False)
    run = tracking.start_run()
    session = Session(flavor, cfg, run, created=True)
    tags = {AUTOLOG_TAG: flavor, **{k: str(v) for k, v in cfg.extra_tags.items()}}
    session.set_tags(tags)
    return session


def _close(session: Session, status: str) -> None:
    from .. import tracking

    if session.created:
        tracking._end(session.run, status)
    else:
        session.writer.flush()


def run_fit(
    flavor: str,
    call: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    log: Callable[[Session, Any], None],
    prepare: Callable[
        [Session, tuple[Any, ...], dict[str, Any]], tuple[tuple[Any, ...], dict[str, Any]]
    ]
    | None = None,
) -> Any:
    """Run ``call(*args, **kwargs)`` as a logged top-level fit.

    Opens a session (starting a run when none is active), lets ``prepare`` adjust the
    arguments (e.g. add a callback), calls the original, then ``log(session, result)``.
    Whatever autolog does fails only with a warning; the result and any exception of
    ``call`` reach the caller untouched.
    """
    cfg = config(flavor)
    if cfg is None or inside():
        return call(*args, **kwargs)
    session = safely(flavor, "the run", _open, flavor, cfg)
    token = _session.set(session if session is not None else True)
    me = threading.get_ident()
    with _busy_lock:
        _busy[me] = _busy.get(me, 0) + 1
    try:
        if session is None:
            return call(*args, **kwargs)
        call_args, call_kwargs = args, kwargs
        if prepare is not None:
            prepared = safely(flavor, "the fit's callbacks", prepare, session, args, kwargs)
            if prepared is not None:
                call_args, call_kwargs = prepared
        try:
            result = call(*call_args, **call_kwargs)
        except BaseException as exc:
            status = "KILLED" if isinstance(exc, KeyboardInterrupt) else "FAILED"
            safely(flavor, "the failed run", _close, session, status)
            raise
        safely(flavor, "the fit", log, session, result)
        safely(flavor, "the run", _close, session, "FINISHED")
        return result
    finally:
        with _busy_lock:
            _busy[me] -= 1
            if not _busy[me]:
                del _busy[me]
        _session.reset(token)


class quiet:
    """Context manager: patched calls inside pass through (autolog's own predictions, metrics)."""

    def __enter__(self) -> None:
        self._token = _session.set(_session.get() or True)

    def __exit__(self, *exc: Any) -> None:
        _session.reset(self._token)


# ---------------------------------------------------------------- values
def yaml_safe(value: Any, depth: int = 0) -> Any:
    """A param value YAML can hold: estimators and other objects become their repr."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value
    kind = type(value).__module__
    if kind == "numpy" and hasattr(value, "item") and getattr(value, "ndim", 0) == 0:
        return value.item()
    if depth < 4 and isinstance(value, (list, tuple)) and len(value) <= 100:
        return [yaml_safe(v, depth + 1) for v in value]
    if (
        depth < 4
        and isinstance(value, dict)
        and all(isinstance(k, str) for k in value)
        and len(value) <= 100
    ):
        return {k: yaml_safe(v, depth + 1) for k, v in value.items()}
    if kind == "numpy" and hasattr(value, "tolist") and getattr(value, "size", 101) <= 100:
        return yaml_safe(value.tolist(), depth + 1)
    if isinstance(value, type) or inspect.isfunction(value) or inspect.isbuiltin(value):
        return f"{getattr(value, '__module__', '')}.{getattr(value, '__qualname__', repr(value))}".lstrip(
            "."
        )
    text = repr(value)
    return text if len(text) <= 1000 else text[:997] + "..."


def flat_params(params: dict[str, Any]) -> dict[str, Any]:
    """``get_params()`` output with YAML-safe values and valid keys only."""
    from ..keys import validate_key

    out = {}
    for key, value in params.items():
        try:
            validate_key(str(key), "param key")
        except Exception:  # noqa: BLE001 - a key gitml cannot store is left out
            continue
        out[str(key)] = yaml_safe(value)
    return out


def scalar(value: Any) -> float | None:
    """A finite-or-not float for a metric value, None for anything that is not one number."""
    if isinstance(value, bool):
        return None
    if getattr(value, "ndim", 0) != 0:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def var_name(obj: Any, fallback: str) -> str:
    """The name of the caller's variable holding ``obj`` (as MLflow finds it), else ``fallback``."""
    if obj is None:
        return fallback
    frame = inspect.currentframe()
    try:
        frame = frame.f_back if frame is not None else None
        while frame is not None:
            module = frame.f_globals.get("__name__", "")
            if module.startswith("gitml.autolog") or module.startswith("sklearn."):
                frame = frame.f_back
                continue
            code = frame.f_code
            nargs = code.co_argcount + code.co_kwonlyargcount
            f_locals = frame.f_locals
            passed = any(f_locals.get(n) is obj for n in code.co_varnames[:nargs])
            if code.co_flags & inspect.CO_VARARGS:
                passed = passed or any(x is obj for x in f_locals.get(code.co_varnames[nargs], ()))
            if passed:
                frame = frame.f_back
                continue
            for n, v in f_locals.items():
                if v is obj and not n.startswith("_"):
                    return n
            return fallback
        return fallback
    finally:
        del frame
