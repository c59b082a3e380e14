"""Figures, images and tables as artifacts (gitml.media): MLflow's log_figure, log_image
and log_table, read back through git."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import GitRepo

import gitml
from gitml import Client
from gitml.errors import ArtifactError, InvalidValue


def artifact(repo: GitRepo, run_id: str, path: str) -> bytes:
    out = repo.path.parent / "downloaded" / run_id
    return Path(Client().download_artifacts(run_id, path, str(out))).read_bytes()


def test_log_figure_matplotlib_png_and_svg(repo: GitRepo) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([0, 1, 2], [2, 1, 3])
    with gitml.start_run() as run:
        gitml.log_figure(fig, "plots/curve.png")
        gitml.log_figure(fig, "plots/curve.svg")
    plt.close(fig)
    rid = run.info.run_id
    assert artifact(repo, rid, "plots/curve.png").startswith(b"\x89PNG\r\n\x1a\n")
    assert b"<svg" in artifact(repo, rid, "plots/curve.svg")
    assert repo.git("cat-file", "-t", f"refs/gitml/runs/{rid}:artifacts/plots/curve.png") == "blob\n"
    repo.fsck()


def test_log_figure_plotly_style_html(repo: GitRepo) -> None:
    class HtmlFigure:  # what gitml asks of a plotly figure: to_html()
        def to_html(self) -> str:
            return "<html><div>chart</div></html>"

    with gitml.start_run() as run:
        gitml.log_figure(HtmlFigure(), "chart.html")
    assert artifact(repo, run.info.run_id, "chart.html") == b"<html><div>chart</div></html>"


@pytest.mark.parametrize(
    ("image", "mode", "first"),
    [
        (np.array([[0, 128], [255, 7]], dtype=np.uint8), "L", 0),
        (np.full((3, 4, 3), 200, dtype=np.uint8), "RGB", (200, 200, 200)),
        (np.zeros((2, 2, 4), dtype=np.int64) + 9, "RGBA", (9, 9, 9, 9)),
        (np.array([[0.0, 1.0]]), "L", 0),
        (np.array([[True, False]]), "L", 255),
        (np.ones((2, 3, 1), dtype=np.uint8), "L", 1),
    ],
)
def test_log_image_arrays_as_png(repo: GitRepo, image: np.ndarray, mode: str, first: object) -> None:
    from PIL import Image

    with gitml.start_run() as run:
        gitml.log_image(image, "images/sample.png")
    data = artifact(repo, run.info.run_id, "images/sample.png")
    decoded = Image.open(io.BytesIO(data))
    assert decoded.mode == mode and decoded.size == (image.shape[1], image.shape[0])
    assert decoded.getpixel((0, 0)) == first


def test_log_image_pil_and_jpeg(repo: GitRepo) -> None:
    from PIL import Image

    with gitml.start_run() as run:
        gitml.log_image(Image.new("RGB", (5, 3), (10, 20, 30)), "a.png")
        gitml.log_image(np.zeros((4, 4, 3), dtype=np.uint8), "b.jpg")
    assert Image.open(io.BytesIO(artifact(repo, run.info.run_id, "a.png"))).size == (5, 3)
    assert Image.open(io.BytesIO(artifact(repo, run.info.run_id, "b.jpg"))).format == "JPEG"


def test_log_table_dict_and_dataframe(repo: GitRepo) -> None:
    frame = pd.DataFrame({"x": [1, 2], "label": ["a", "b"], "score": [0.5, float("nan")]})
    with gitml.start_run() as run:
        gitml.log_table({"x": [1, 2, 3], "y": ["a", "b", "c"]}, "tables/dict.json")
        gitml.log_table(frame, "tables/frame.json")
    rid = run.info.run_id
    assert json.loads(artifact(repo, rid, "tables/dict.json")) == {
        "columns": ["x", "y"], "data": [[1, "a"], [2, "b"], [3, "c"]]
    }
    assert json.loads(artifact(repo, rid, "tables/frame.json")) == {
        "columns": ["x", "label", "score"], "data": [[1, "a", 0.5], [2, "b", None]]
    }


def test_client_logs_text_dict_figure_image_and_table(repo: GitRepo) -> None:
    client = Client()
    rid = client.create_run(run_name="by-client").info.run_id
    client.log_text(rid, "hello\n", "notes/hello.txt")
    client.log_dict(rid, {"a": 1}, "conf.yaml")
    client.log_image(rid, np.zeros((2, 2), dtype=np.uint8), "img.png")
    client.log_table(rid, {"k": [1]}, "t.json")
    client.set_terminated(rid)
    paths = {a.path for a in client.list_artifacts(rid)}
    assert {"notes", "conf.yaml", "img.png", "t.json"} <= paths
    assert artifact(repo, rid, "notes/hello.txt") == b"hello\n"
    assert artifact(repo, rid, "conf.yaml") == b"a: 1\n"


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: gitml.log_image("not an image", "x.png"), InvalidValue, "numpy array or a PIL image"),
        (lambda: gitml.log_image(np.zeros((2, 2, 2)), "x.png"), InvalidValue, "(height, width"),
        (lambda: gitml.log_image(np.array([[2.0]]), "x.png"), InvalidValue, "from 0 to 1"),
        (lambda: gitml.log_image(np.array([[300]]), "x.png"), InvalidValue, "from 0 to 255"),
        (lambda: gitml.log_figure(object(), "x.png"), InvalidValue, "matplotlib or plotly"),
        (lambda: gitml.log_figure(object(), "noext"), InvalidValue, "needs an extension"),
        (lambda: gitml.log_table([1, 2], "t.json"), InvalidValue, "dict of columns"),
        (lambda: gitml.log_table({"a": [1], "b": [1, 2]}, "t.json"), InvalidValue, "a=1, b=2"),
        (lambda: gitml.log_table({"a": [1]}, "../t.json"), ArtifactError, "invalid artifact path"),
    ],
)
def test_bad_input_is_a_clear_error_and_starts_no_run(
    repo: GitRepo, call: object, error: type, message: str
) -> None:
    with pytest.raises(error, match=None) as caught:
        call()  # type: ignore[operator]
    assert message in str(caught.value)
    assert gitml.active_run() is None and repo.run_refs() == {}


def test_png_writer_matches_pillow_pixel_for_pixel(tmp_path: Path) -> None:
    from PIL import Image

    from gitml.media import image_bytes

    rng = np.random.default_rng(3)
    image = rng.integers(0, 256, size=(17, 9, 3), dtype=np.uint8)
    decoded = Image.open(io.BytesIO(image_bytes(image, "x.png")))
    assert np.array_equal(np.asarray(decoded), image)


def test_log_image_key_and_step_make_a_series(repo: GitRepo) -> None:
    with gitml.start_run() as run:
        for step in range(3):
            gitml.log_image(np.full((2, 2), step * 100, dtype=np.uint8), key="recon", step=step)
    listed = Client().list_artifacts(run.info.run_id, "images/recon")
    assert [a.path for a in listed] == [f"images/recon/step-{s:06d}.png" for s in range(3)]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "needs artifact_file"),
        ({"artifact_file": "a.png", "key": "k"}, "needs artifact_file"),
        ({"artifact_file": "a.png", "step": 1}, "step goes with key"),
        ({"key": "k", "step": -1}, "whole number >= 0"),
        ({"key": "k/../..", "step": 1}, "invalid artifact path"),
    ],
)
def test_log_image_key_errors(repo: GitRepo, kwargs: dict, message: str) -> None:
    with pytest.raises((InvalidValue, ArtifactError)) as caught:
        gitml.log_image(np.zeros((1, 1), dtype=np.uint8), **kwargs)
    assert message in str(caught.value) and repo.run_refs() == {}


def test_more_image_and_figure_errors(repo: GitRepo, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with pytest.raises(InvalidValue, match="an image array holds numbers, not <U1"):
        gitml.log_image(np.array([["a"]]), "x.png")
    fig = plt.figure()
    with pytest.raises(InvalidValue, match="matplotlib cannot write 'plot.xyz'"):
        gitml.log_figure(fig, "plot.xyz")
    plt.close(fig)

    class NoKaleido:  # a plotly figure whose image export fails, as without kaleido
        def to_html(self) -> str:
            return "<html></html>"

        def to_image(self, format: str) -> bytes:  # noqa: A002 - plotly's name
            raise ValueError("Image export using the 'kaleido' engine requires kaleido")

    with pytest.raises(InvalidValue, match="log it as '.html' instead"):
        gitml.log_figure(NoKaleido(), "chart.png")
    monkeypatch.setitem(sys.modules, "PIL", None)  # Pillow not installed
    with pytest.raises(InvalidValue, match="arrays are written as PNG without Pillow"):
        gitml.log_image(np.zeros((2, 2), dtype=np.uint8), "x.jpg")
    gitml.log_image(np.zeros((2, 2), dtype=np.uint8), "x.png")  # PNG needs no Pillow
    run = gitml.active_run()
    assert run is not None
    gitml.end_run()
    assert [a.path for a in Client().list_artifacts(run.info.run_id)] == ["x.png"]
