"""``gitml ui`` in a real browser: Playwright driving Debian's Chromium against a real server.

Every page is saved as a screenshot under ``$GITML_TEST_ARTIFACTS`` (default
``tests/artifacts/``). The tests skip only when Playwright or Chromium is missing
(``.ci/setup-browser.sh`` installs Chromium; ``pip install -e '.[test]'`` Playwright).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import IDENTITY, git
from ui_helpers import LOSS_POINTS, UI, make_repo

CHROMIUM = os.environ.get("GITML_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
ARTIFACTS = Path(os.environ.get("GITML_TEST_ARTIFACTS") or Path(__file__).parent / "artifacts")
TIMEOUT_MS = 15_000

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="Playwright is not installed: pip install playwright"
)
if not os.path.exists(CHROMIUM):
    pytest.skip(
        f"no Chromium at {CHROMIUM}: run .ci/setup-browser.sh (or set GITML_CHROMIUM)",
        allow_module_level=True,
    )


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[UI, dict[str, str]]]:
    path = tmp_path_factory.mktemp("ui-browser") / "repo"
    with pytest.MonkeyPatch.context() as mp:
        for key, value in IDENTITY.items():
            mp.setenv(key, value)
        mp.setenv("GIT_CONFIG_GLOBAL", str(path.parent / "gitconfig"))
        ids = make_repo(path)
    server = UI(path)
    yield server, ids
    code, err = server.stop()
    assert code == 0, err


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    tab = context.new_page()
    tab.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    yield tab
    context.close()
    assert errors == [], f"JavaScript errors: {errors}"


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def row_names(page: Any) -> list[str]:
    return page.locator("#runs tbody tr td:nth-child(2) a").all_inner_texts()  # type: ignore[no-any-return]


def wait_rows(page: Any, count: int) -> None:
    page.wait_for_function(
        "n => document.querySelectorAll('#runs tbody tr').length === n", arg=count
    )


# --------------------------------------------------------------------------- runs table


def test_table_filter_and_sort(page: Any, served: tuple[UI, dict[str, str]]) -> None:
    ui, ids = served
    page.goto(ui.base)
    wait_rows(page, 3)
    assert row_names(page) == ["alpha", "beta", "gamma/γ 1"]
    headers = page.locator("#runs thead tr.cols th").all_inner_texts()
    assert headers[1:7] == ["Name", "Status", "Experiment", "Started", "Duration", "Baseline"]
    assert headers[7:] == ["lr", "optim", "acc", "loss", "weird"]  # tags hidden by default
    assert page.locator("#runs tbody tr").first.locator(".badge").inner_text() == "FINISHED"
    shot(page, "runs-table")

    page.fill("#filter", "params.lr < 0.05")
    page.press("#filter", "Enter")
    wait_rows(page, 2)
    assert row_names(page) == ["beta", "gamma/γ 1"]
    assert "filter=params.lr" in page.url

    page.fill("#filter", "metrics.acc >")
    page.click("#filter-form button")
    error = page.locator("#filter-error")
    error.wait_for(state="visible")
    assert error.inner_text().startswith("invalid filter at column 14: expected a value after '>'")
    assert "invalid" in (page.get_attribute("#filter", "class") or "")
    shot(page, "runs-filter-error")

    page.fill("#filter", "")
    page.press("#filter", "Enter")
    wait_rows(page, 3)
    assert not error.is_visible()
    lr = page.locator('#runs th[data-sort="params.`lr`"]')
    lr.click()  # first click: descending
    # The URL changes before the fetch and the table is redrawn after it: wait for the
    # redrawn header, whose arrow only exists once the sorted rows are in.
    page.wait_for_function(
        "() => (document.querySelector('#runs th[data-sort=\"params.`lr`\"] .arrow') || {})"
        ".textContent === '▼'"
    )
    assert "sort=params.%60lr%60+DESC" in page.url
    assert row_names(page) == ["alpha", "beta", "gamma/γ 1"]
    lr.click()  # second click: ascending
    page.wait_for_function(
        "() => document.querySelector('#runs tbody tr td:nth-child(2) a').textContent"
        " === 'gamma/γ 1'"
    )
    assert row_names(page) == ["gamma/γ 1", "beta", "alpha"]
    shot(page, "runs-sorted")

    page.select_option("#experiment", "cifar")
    wait_rows(page, 1)
    assert row_names(page) == ["gamma/γ 1"]


def test_column_chooser_and_paging(page: Any, served: tuple[UI, dict[str, str]]) -> None:
    ui, _ = served
    page.goto(f"{ui.base}?size=50")
    wait_rows(page, 3)
    page.click("#columns-button")
    page.check('#columns-panel input[data-column="tags.team"]')
    page.uncheck('#columns-panel input[data-column="metrics.weird"]')
    page.wait_for_selector('#runs td[data-column="tags.team"]')
    headers = page.locator("#runs thead tr.cols th").all_inner_texts()
    assert "team" in headers and "weird" not in headers
    shot(page, "runs-columns")
    page.reload()  # the choice is remembered
    wait_rows(page, 3)
    assert "team" in page.locator("#runs thead tr.cols th").all_inner_texts()
    page.select_option("#page-size", "50")
    assert page.locator("#page-info").inner_text() == "1–3 of 3 runs"
    assert page.locator("#next").is_disabled()


# --------------------------------------------------------------------------- run page


def test_run_page_with_charts(page: Any, served: tuple[UI, dict[str, str]]) -> None:
    ui, ids = served
    page.goto(ui.base)
    wait_rows(page, 3)
    page.click("text=alpha")
    page.wait_for_url(f"**/runs/{ids['alpha']}")
    chart = page.locator('.chart[data-metric="loss"][data-ready]')
    chart.wait_for()
    assert chart.get_attribute("data-points") == str(LOSS_POINTS)
    assert chart.locator("canvas").count() == 1
    assert page.locator('.chart[data-metric="acc"][data-ready]').get_attribute(
        "data-points"
    ) == str(LOSS_POINTS)
    page.wait_for_selector('.chart[data-metric="weird"][data-ready]')
    assert page.locator('.chart[data-metric="weird"]').get_attribute("data-points") == "2"
    assert page.locator("#run-name").inner_text() == "alpha"
    assert page.locator('#params tr[data-key="lr"] td').inner_text() == "0.1"
    image = page.locator('.artifact[data-path="plots/curve.png"] img')
    image.wait_for()
    page.wait_for_function(
        "img => img.complete && img.naturalWidth === 8", arg=image.element_handle()
    )
    page.wait_for_selector('.artifact[data-path="config.yaml"] pre')
    assert "b: [1, 2]" in page.locator('.artifact[data-path="config.yaml"] pre').inner_text()
    assert page.locator('.artifact[data-path="data.bin"] a').inner_text() == "download"
    assert page.locator('.model[data-model="model"] table.signature').count() == 2
    assert "epoch 2" in page.locator("#log").inner_text()
    page.wait_for_selector("#sec-code pre.patch")
    assert "+print('training harder')" in page.locator("#sec-code pre.patch").inner_text()
    page.wait_for_timeout(200)  # let the charts paint
    shot(page, "run-page")


def test_run_page_with_a_long_history_and_child_runs(page: Any, repo: Any) -> None:
    import gitml

    with gitml.start_run(run_name="sweep") as parent:
        for step in range(20_000):
            gitml.log_metric("loss", 1.0 / (step + 1), step=step)
        gitml.log_table({"fold": [1, 2], "acc": [0.91, 0.93]}, "folds.json")
        for name in ("trial-a", "trial-b"):
            with gitml.start_run(run_name=name, nested=True):
                gitml.log_param("lr", 0.1)
    server = UI(repo.path)
    try:
        page.goto(f"{server.base}runs/{parent.info.run_id}")
        chart = page.locator('.chart[data-metric="loss"][data-ready]')
        chart.wait_for()
        assert chart.get_attribute("data-points") == "20000"
        assert int(chart.get_attribute("data-sampled") or 0) <= 2000
        assert "20,000 points" in page.locator("p.sampled").inner_text()
        table = page.locator('.artifact[data-path="folds.json"] .logged-table table')
        table.wait_for()
        assert table.locator("th").all_inner_texts() == ["fold", "acc"]
        assert table.locator("tbody tr").nth(1).locator("td").all_inner_texts() == ["2", "0.93"]
        rows = page.locator("#children tbody tr")
        assert rows.count() == 2
        assert rows.locator("td a").all_inner_texts() == ["trial-a", "trial-b"]
        shot(page, "run-page-children-sampled")
        page.goto(server.base)
        wait_rows(page, 3)
        marks = page.locator("#runs a.child-of")
        assert marks.count() == 2  # the two child rows point at their parent
        assert marks.first.get_attribute("href") == f"/runs/{parent.info.run_id}"
        page.goto(f"{server.base}runs/{parent.info.run_id}")
        rows = page.locator("#children tbody tr")
        rows.locator("td a").first.click()
        page.wait_for_selector("#run-name")
        page.wait_for_function("() => document.getElementById('run-name').textContent === 'trial-a'")
        assert "Parent run" in page.locator("#sec-overview").inner_text()
    finally:
        server.stop()


def _identity(x: Any) -> Any:
    return x


def test_models_page(page: Any, repo: Any) -> None:
    import gitml
    from gitml.models import registry

    server = UI(repo.path)
    try:
        page.goto(f"{server.base}models")
        page.wait_for_selector("#no-models")
        assert "No registered models yet." in page.locator("#no-models").inner_text()
        with gitml.start_run(run_name="trainer") as run:
            gitml.pyfunc.log_model(_identity, "model", registered_model_name="churn")
            gitml.pyfunc.log_model(_identity, "model2", registered_model_name="churn")
        registry.set_alias("churn", "champion", 1)
        page.goto(server.base)
        page.click("header nav >> text=Models")
        page.wait_for_url("**/models")
        rows = page.locator('table.versions[data-model="churn"] tbody tr')
        rows.first.wait_for()
        assert rows.count() == 2
        assert rows.nth(0).locator("td").first.inner_text() == "2"
        assert rows.nth(1).locator(".badge.alias").inner_text() == "@champion"
        assert rows.nth(1).locator("td").last.inner_text() == "models:/churn/1"
        shot(page, "models")
        rows.nth(1).locator(f'a[href="/runs/{run.info.run_id}"]').click()
        page.wait_for_function("() => document.getElementById('run-name')?.textContent === 'trainer'")
        registered = page.locator('.model[data-model="model"] p.registered')
        assert registered.inner_text() == "Registered as churn v1 @champion"
        registered.locator("a").click()
        page.wait_for_url("**/models?name=churn")
    finally:
        server.stop()


def test_run_without_metrics(page: Any, served: tuple[UI, dict[str, str]]) -> None:
    ui, ids = served
    page.goto(f"{ui.base}runs/{ids['gamma/γ 1'][:8]}")
    page.wait_for_selector("#no-metrics")
    assert page.locator("#run-name").inner_text() == "gamma/γ 1"
    assert page.locator(".badge").first.inner_text() == "FAILED"
    shot(page, "run-without-metrics")


def test_missing_run_page(page: Any, served: tuple[UI, dict[str, str]]) -> None:
    ui, _ = served
    response = page.goto(f"{ui.base}runs/nosuchrun")
    assert response.status == 404
    page.wait_for_function("() => document.getElementById('why').textContent !== ''")
    assert page.locator("#what").inner_text() == "No run matches “nosuchrun”."
    assert "gitml ls" in page.locator("#why").inner_text()
    shot(page, "run-404")


# --------------------------------------------------------------------------- compare


def test_compare_two_runs(page: Any, served: tuple[UI, dict[str, str]]) -> None:
    ui, ids = served
    page.goto(ui.base)
    wait_rows(page, 3)
    assert page.locator("#compare").is_disabled()
    page.check(f'#runs tr[data-run-id="{ids["alpha"]}"] td.sel input')
    page.check(f'#runs tr[data-run-id="{ids["beta"]}"] td.sel input')
    assert page.locator("#compare").inner_text() == "Compare (2)"
    page.click("#compare")
    page.wait_for_url("**/compare?runs=*")
    lr = page.locator('#params tr[data-key="lr"]')
    lr.wait_for()
    assert "changed" in (lr.get_attribute("class") or "")
    assert lr.locator("td.differs").count() == 1  # beta's value differs from alpha's
    assert lr.locator("td").all_inner_texts() == ["0.1", "0.01"]
    optim = page.locator('#params tr[data-key="optim"]')
    assert "changed" not in (optim.get_attribute("class") or "")
    page.wait_for_selector("#compare-chart[data-ready]")
    page.select_option("#metric", "loss")
    page.wait_for_function(
        "() => document.getElementById('compare-chart').dataset.points === '12,5'"
    )
    assert page.locator("#compare-chart").get_attribute("data-series") == "2"
    page.check("#log-scale")
    page.locator("#smoothing").fill("0.6")
    page.wait_for_timeout(200)
    assert page.locator("#compare-chart canvas").count() == 1
    # a log axis labels some ticks and leaves the others blank (no "—" placeholders)
    labels = page.evaluate("() => document.getElementById('compare-chart')._plot.axes[1]._values")
    assert "—" not in labels and "" in labels
    assert {"0.1", "1"} <= set(labels)
    # run columns share the width equally, whatever their values' lengths
    widths = page.evaluate(
        "() => [...document.querySelectorAll('#compare-table thead th')].slice(1)"
        ".map((th) => th.getBoundingClientRect().width)"
    )
    assert len(widths) == 2 and abs(widths[0] - widths[1]) < 1.5, widths
    page.wait_for_selector("#scatter-chart[data-ready]")
    assert page.locator("#scatter-x").input_value() == "params.lr"  # the param that changed
    page.select_option("#scatter-y", "metrics.loss")
    page.wait_for_function(
        "() => document.getElementById('scatter-chart').dataset.points === '2'"
    )
    assert "y=metrics.loss" in page.url
    xs = page.evaluate("() => document.getElementById('scatter-chart')._plot.data[0]")
    assert xs == [0.01, 0.1]  # one point per run, sorted by x
    assert page.locator("#scatter-note").inner_text() == "beta (0.01, 0.4) · alpha (0.1, 0.0833333)"
    page.wait_for_selector("#code-diff p")
    shot(page, "compare")

    page.check("#only-changed")
    assert page.locator('#params tr[data-key="optim"]').count() == 0
    assert page.locator('#params tr[data-key="lr"]').count() == 1
    assert "changed=1" in page.url
    shot(page, "compare-only-changed")


# --------------------------------------------------------------------------- empty and live


def test_empty_repository(page: Any, tmp_path: Path) -> None:
    git("init", "-q", "-b", "main", cwd=tmp_path)
    server = UI(tmp_path)
    try:
        page.goto(server.base)
        page.wait_for_selector("#empty")
        assert "No runs in this repository yet." in page.locator("#empty").inner_text()
        shot(page, "runs-empty")
    finally:
        server.stop()


def test_running_run_refreshes_live(page: Any, repo: Any) -> None:
    from gitml import runs
    from gitml.store import Store

    store = Store.discover()
    writer = runs.create(
        store, experiment="live", name="live-run", params={"lr": 1}, pid=os.getpid()
    )
    writer.log_metric("loss", 1.0, step=0)
    writer.flush()
    server = UI(repo.path)
    try:
        page.goto(server.base)
        badge = page.locator("#runs tbody tr .badge")
        badge.wait_for()
        assert badge.inner_text() == "RUNNING"
        page.goto(f"{server.base}runs/live-run")
        page.wait_for_selector('.chart[data-metric="loss"][data-ready]')
        assert page.locator('.chart[data-metric="loss"]').get_attribute("data-points") == "1"
        writer.log_metric("loss", 0.5, step=1)
        writer.flush()
        page.wait_for_function(
            "() => document.querySelector('.chart[data-metric=\"loss\"]')?.dataset.points === '2'"
        )
        page.goto(server.base)
        page.locator("#runs tbody tr .badge").wait_for()
        runs.set_status(store, writer.run_id, "FINISHED")
        page.wait_for_function(
            "() => document.querySelector('#runs tbody tr .badge').textContent === 'FINISHED'"
        )
        shot(page, "runs-live-finished")
    finally:
        server.stop()
