"""What ``gitml models show``/``ls``/``predict`` report: plain data about models and versions."""

from __future__ import annotations

import json
import os
from typing import Any

from .mlmodel import Model
from .modeldir import REQUIREMENTS_FILE


def describe(model_uri: str, repo: str | None = None) -> dict[str, Any]:
    """A summary of the model at ``model_uri``: manifest fields, signature, requirements, origin."""
    from . import registry
    from .uri import parse, resolve

    parsed = parse(model_uri)
    resolved = resolve(model_uri, repo=repo)
    mlmodel = Model.load(resolved.path)
    info: dict[str, Any] = {"uri": str(parsed)}
    if parsed.kind == "registry":
        mv = registry.resolve_version(parsed, repo=repo)
        info["registered"] = mv.to_dict()
    info["run_id"] = resolved.run_id or mlmodel.run_id
    info["artifact_path"] = mlmodel.artifact_path
    info["model_uuid"] = mlmodel.model_uuid
    info["created"] = mlmodel.utc_time_created
    info["flavors"] = {
        name: {k: v for k, v in conf.items() if k != "env"}
        for name, conf in mlmodel.flavors.items()
    }
    sig = mlmodel.signature
    info["signature"] = (
        {
            "inputs": json.loads(sig.inputs.to_json()) if sig.inputs else None,
            "outputs": json.loads(sig.outputs.to_json()) if sig.outputs else None,
            "params": json.loads(sig.params.to_json()) if sig.params else None,
        }
        if sig
        else None
    )
    info["input_example"] = (mlmodel.saved_input_example_info or {}).get("artifact_path")
    req_path = os.path.join(resolved.path, REQUIREMENTS_FILE)
    info["requirements"] = []
    if os.path.isfile(req_path):
        with open(req_path, encoding="utf-8") as f:
            info["requirements"] = [line.strip() for line in f if line.strip()]
    info["size_bytes"] = mlmodel.model_size_bytes
    return info


def render_text(info: dict[str, Any]) -> str:
    """The human form of ``describe``'s result."""
    lines = [f"model {info['uri']}"]
    reg = info.get("registered")
    if reg:
        aliases = f"  aliases: {', '.join(reg['aliases'])}" if reg["aliases"] else ""
        lines.append(f"  registered  {reg['name']} version {reg['version']}{aliases}")
        lines.append(
            f"  source      {reg['source']}  (by {reg['registered_by']}, {reg['created']})"
        )
        if reg.get("description"):
            lines.append(f"  note        {reg['description']}")
    if info.get("run_id"):
        lines.append(f"  run         {info['run_id']}  name {info.get('artifact_path') or '-'}")
    lines.append(f"  created     {info['created']}   uuid {info['model_uuid']}")
    for name, conf in info["flavors"].items():
        detail = ", ".join(
            f"{k}={v}" for k, v in sorted(conf.items()) if v is not None and not isinstance(v, dict)
        )
        lines.append(f"  flavor      {name}: {detail}")
    sig = info.get("signature")
    if sig and sig.get("inputs"):
        lines.append("  inputs      " + _schema_text(sig["inputs"]))
    if sig and sig.get("outputs"):
        lines.append("  outputs     " + _schema_text(sig["outputs"]))
    if sig and sig.get("params"):
        lines.append(
            "  params      "
            + ", ".join(f"{p['name']}: {p['type']} = {p['default']!r}" for p in sig["params"])
        )
    if info.get("input_example"):
        lines.append(f"  example     {info['input_example']}")
    if info.get("requirements"):
        lines.append("  requires    " + " ".join(info["requirements"]))
    return "\n".join(lines) + "\n"


def _schema_text(specs: list[dict[str, Any]]) -> str:
    parts = []
    for s in specs:
        if s.get("type") == "tensor":
            ts = s.get("tensor-spec", {})
            text = f"tensor {ts.get('dtype')} {tuple(ts.get('shape') or ())}"
        else:
            text = str(s.get("type"))
            if not s.get("required", True):
                text += "?"
        parts.append(f"{s['name']}: {text}" if s.get("name") else text)
    return ", ".join(parts)


def predict_file(model_uri: str, input_path: str, repo: str | None = None) -> bytes:
    """Load the model, predict on a ``.csv`` or ``.json`` input file; ``{"predictions": ...}`` JSON."""
    from .api import load_model
    from .payload import predictions_json, read_input_file

    model = load_model(model_uri, repo=repo)
    sig = model.metadata.signature
    data, params = read_input_file(input_path, sig.inputs if sig else None)
    return predictions_json(model.predict(data, params=params))


def registry_rows(name: str | None = None, repo: str | None = None) -> list[dict[str, Any]]:
    """Rows for ``gitml models ls``: one per model, or one per version of ``name``."""
    from . import registry

    if name:
        return [mv.to_dict() for mv in registry.list_versions(name, repo=repo)]
    rows = []
    for model in registry.list_names(repo=repo):
        versions = registry.list_versions(model, repo=repo)
        latest = versions[-1]
        rows.append(
            {
                "name": model,
                "versions": len(versions),
                "latest": latest.version,
                "aliases": {a: v for a, v in registry.aliases(model, repo=repo).items()},
                "created": latest.created,
                "source": latest.source,
            }
        )
    return rows
