"""Run, RunInfo, RunData, Metric, FileInfo: the MLflow-shaped views of a stored run."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .record import RunRecord, parse_iso


@dataclass(frozen=True)
class Metric:
    key: str
    value: float
    timestamp: int
    step: int = 0


@dataclass(frozen=True)
class FileInfo:
    path: str
    is_dir: bool
    file_size: int | None = None


@dataclass
class RunInfo:
    run_id: str
    run_name: str
    experiment: str
    status: str
    lifecycle_stage: str
    start_time: int | None
    end_time: int | None
    user_id: str | None = None
    revision: int = 0
    commit: str | None = None
    parent_run_id: str | None = None
    artifact_uri: str = ""

    @property
    def experiment_id(self) -> str:
        """MLflow's name for the experiment; gitml identifies experiments by name."""
        return self.experiment


@dataclass
class RunData:
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class Run:
    info: RunInfo
    data: RunData
    extra: dict[str, Any] = field(default_factory=dict)  # source, environment, command, ...

    @classmethod
    def from_record(cls, rec: RunRecord) -> Run:
        run = cls.from_summary(rec.summary())
        run.extra["environment"] = rec.info.get("environment")
        return run

    @classmethod
    def from_summary(cls, s: dict[str, Any]) -> Run:
        """A Run from a listing summary (``RunRecord.summary()`` or the index cache)."""
        info = RunInfo(
            run_id=s["run_id"],
            run_name=str(s.get("name")),
            experiment=str(s.get("experiment")),
            status=str(s.get("status")),
            lifecycle_stage=str(s.get("lifecycle", "active")),
            start_time=parse_iso(s.get("start_time")),
            end_time=parse_iso(s.get("end_time")),
            user_id=s.get("user"),
            revision=int(s.get("revision") or 0),
            commit=s.get("commit"),
            parent_run_id=s.get("parent_run"),
            artifact_uri=f"runs:/{s['run_id']}/artifacts",
        )
        data = RunData(
            params=dict(s.get("params") or {}),
            metrics={k: v["last"] for k, v in (s.get("metrics") or {}).items()},
            tags=dict(s.get("tags") or {}),
        )
        extra = {k: s.get(k) for k in ("source", "command", "exit_code", "description", "host", "pid")}
        return cls(info=info, data=data, extra=extra)
