"""`gitml models predict` (CliRunner and a real process), help texts, and docs coverage."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from sklearn.linear_model import LogisticRegression

import gitml
from gitml.cli.models import models as models_cli

ROOT = Path(gitml.__file__).resolve().parents[1]
X = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "b": [1, 5, 2, 7]})


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    clf = LogisticRegression().fit(X, [0, 1, 0, 1])
    path = tmp_path_factory.mktemp("cli") / "m"
    gitml.sklearn.save_model(clf, path, input_example=X[:2])
    return str(path), clf.predict(X).tolist()


@pytest.mark.parametrize(
    "name, content",
    [
        ("in.csv", "b,a\n1,1.0\n5,2.0\n2,3.0\n7,4.0\n"),
        (
            "split.json",
            json.dumps({"dataframe_split": {"columns": ["a", "b"], "data": X.values.tolist()}}),
        ),
        ("records.json", json.dumps(X.to_dict(orient="records"))),
        ("bare-split.json", json.dumps({"columns": ["a", "b"], "data": X.values.tolist()})),
        ("inputs.json", json.dumps({"inputs": {"a": X["a"].tolist(), "b": X["b"].tolist()}})),
    ],
)
def test_predict_from_files(tmp_path, model, name, content):
    path, expected = model
    (tmp_path / name).write_text(content)
    r = CliRunner().invoke(models_cli, ["predict", path, "-i", str(tmp_path / name)])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output) == {"predictions": expected}


def test_predict_to_an_output_file(tmp_path, model):
    path, expected = model
    (tmp_path / "in.csv").write_text(X.to_csv(index=False))
    r = CliRunner().invoke(
        models_cli,
        ["predict", path, "-i", str(tmp_path / "in.csv"), "-o", str(tmp_path / "out.json")],
    )
    assert r.exit_code == 0 and r.output == ""
    assert json.loads((tmp_path / "out.json").read_text()) == {"predictions": expected}


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("in.txt", "a,b", "Error: input file '{dir}/in.txt': use a .csv or .json file"),
        ("bad.json", "{oops", "Error: the body is not valid JSON"),
        (
            "cols.csv",
            "a\n1.0\n",
            "Error: the input is missing column 'b' (the model expects columns: a, b)",
        ),
        ("empty.csv", "", "Error: the CSV body is empty"),
    ],
)
def test_predict_errors(tmp_path, model, name, content, message):
    path, _ = model
    (tmp_path / name).write_text(content)
    r = CliRunner().invoke(models_cli, ["predict", path, "-i", str(tmp_path / name)])
    assert r.exit_code == 1
    assert r.output.strip() == message.format(dir=tmp_path) or r.output.startswith(
        message.format(dir=tmp_path)
    )
    assert len(r.output.strip().splitlines()) == 1


def test_predict_missing_input_and_usage(tmp_path, model):
    path, _ = model
    r = CliRunner().invoke(models_cli, ["predict", path, "-i", str(tmp_path / "none.csv")])
    assert r.exit_code == 1 and r.output.startswith(
        f"Error: cannot read input file '{tmp_path}/none.csv'"
    )
    r = CliRunner().invoke(models_cli, ["predict", path])
    assert r.exit_code == 2 and "Missing option '--input'" in r.output


def test_dropped_columns_are_a_warning_line(tmp_path, model):
    path, expected = model
    (tmp_path / "in.csv").write_text(X.assign(extra=1).to_csv(index=False))
    r = CliRunner().invoke(models_cli, ["predict", path, "-i", str(tmp_path / "in.csv")])
    assert r.exit_code == 0
    lines = r.output.splitlines()
    assert "Warning: dropping input column(s) not in the model's signature: extra" in lines
    assert json.loads(lines[-1]) == {"predictions": expected}


def test_predict_in_a_real_process(tmp_path, model):
    path, expected = model
    (tmp_path / "in.json").write_text(json.dumps(X.to_dict(orient="records")))
    exe = shutil.which("gitml")
    cmd = [exe] if exe else [sys.executable, "-c", "from gitml.cli import main; main()"]
    out = subprocess.run([*cmd, "models", "predict", path, "-i", str(tmp_path / "in.json")],
                         capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"predictions": expected}


def test_every_command_has_help_and_docs():
    docs = (ROOT / "docs" / "models.md").read_text()
    runner = CliRunner()
    for name, command in models_cli.commands.items():
        assert command.help and command.help.strip(), f"{name} has no help"
        r = runner.invoke(models_cli, [name, "--help"])
        assert r.exit_code == 0 and "Usage:" in r.output
        assert f"gitml models {name}" in docs, f"docs/models.md does not show `gitml models {name}`"
    assert sorted(models_cli.commands) == ["alias", "ls", "predict", "register", "serve", "show"]


def test_docs_python_examples_run(repo):
    import re

    docs = (ROOT / "docs" / "models.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", docs, flags=re.S)
    assert len(blocks) >= 2
    for block in blocks:
        out = subprocess.run([sys.executable, "-c", block], cwd=repo.path, capture_output=True, text=True,
                             env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)  # fmt: skip
        assert out.returncode == 0, f"{block}\n{out.stderr}"
    assert "['low']" in out.stdout
