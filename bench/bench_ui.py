"""Benchmark ``gitml ui`` on a repository of 1,000 runs: the JSON listing and the table page.

Figures: the listing endpoint (``/api/runs``, first page of 100 rows, sorted by a metric
and filtered) cold and warm; the time from navigation until table rows are visible in
Chromium (through Playwright, when installed). Targets: listing warm < 0.3 s, rows visible
< 1 s.

    python bench/bench_ui.py [--runs 1000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import math
import os
import random
import re
import shutil
import statistics
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request

CHROMIUM = os.environ.get("GITML_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
ENV = {
    "GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "Bench", "GIT_COMMITTER_EMAIL": "bench@example.com",
}  # fmt: skip


def make_repo(path: str, n: int) -> float:
    """A git repository with ``n`` finished runs (6 params, 3 metrics of 20 points, 2 tags)."""
    from gitml import runs
    from gitml.store import Store

    os.makedirs(path, exist_ok=True)
    subprocess.run(["git", "init", "-q", "-b", "main", path], check=True)
    with open(os.path.join(path, "train.py"), "w") as f:
        f.write("print('train')\n")
    subprocess.run(["git", "add", "train.py"], cwd=path, check=True)
    subprocess.run(
        ["git", "commit", "-qm", "init"], cwd=path, check=True, env={**os.environ, **ENV}
    )
    store = Store.discover(path)
    rng = random.Random(0)
    start = time.perf_counter()
    for i in range(n):
        w = runs.create(
            store,
            experiment=f"exp-{i % 5}",
            params={
                "lr": rng.choice([0.1, 0.01, 0.001]),
                "batch": rng.choice([32, 64, 128]),
                "optim": rng.choice(["adam", "sgd"]),
                "layers": i % 7,
                "dropout": 0.1 * (i % 5),
                "seed": i,
            },  # fmt: skip
            tags={"team": rng.choice(["vision", "nlp"]), "owner": f"user{i % 9}"},
            pid=0,
        )
        for step in range(20):
            w.log_metric("loss", math.exp(-step / (5 + i % 10)) + rng.random() * 0.01, step=step)
            w.log_metric("acc", 1 - math.exp(-step / (5 + i % 10)), step=step)
            w.log_metric("lr_now", 0.1 * 0.9**step, step=step)
        w.set_info(status="FINISHED", end_time=w.view().info["start_time"])
        w.flush()
    return time.perf_counter() - start


def start_server(repo: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        ["gitml", "ui", "--port", "0"],
        cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    line = proc.stdout.readline()
    match = re.search(r"http://\S+", line)
    if not match:
        proc.kill()
        raise SystemExit(f"gitml ui did not print its URL: {line!r}")
    return proc, match.group(0)


def timed_get(url: str) -> tuple[float, bytes]:
    start = time.perf_counter()
    with urllib.request.urlopen(url) as response:
        body = response.read()
    return time.perf_counter() - start, body


def bench_listing(base: str, n: int) -> dict[str, float]:
    query = urllib.parse.urlencode(
        [("sort", "metrics.acc DESC"), ("limit", "100"),
         ("filter", "params.lr > 0.0001 and tags.team != 'x'")]
    )  # fmt: skip
    url = f"{base}api/runs?{query}"
    cold, body = timed_get(url)
    assert f'"total":{n}'.encode() in body, body[:200]
    warm = [timed_get(url)[0] for _ in range(10)]
    plain = [timed_get(f"{base}api/runs")[0] for _ in range(10)]
    return {"cold": cold, "warm_median": statistics.median(warm), "warm_max": max(warm),
            "plain_warm_median": statistics.median(plain), "bytes": len(body)}  # fmt: skip


def bench_page(base: str) -> dict[str, float] | None:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("playwright is not installed: page timing skipped (pip install playwright)")
        return None
    if not os.path.exists(CHROMIUM):
        print(f"no Chromium at {CHROMIUM}: page timing skipped")
        return None
    times, marks = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(base)  # warm-up: the browser's first page
        page.wait_for_selector("#runs tbody tr")
        for _ in range(5):
            start = time.perf_counter()
            page.goto(base)
            page.wait_for_selector("#runs tbody tr", state="visible")
            times.append(time.perf_counter() - start)
            marks.append(
                page.evaluate("() => performance.getEntriesByName('gitml:rows')[0].startTime")
                / 1000
            )
        rows = page.locator("#runs tbody tr").count()
        nav = page.evaluate(
            "() => { const e = performance.getEntriesByType('navigation')[0];"
            " return {dcl: e.domContentLoadedEventEnd, load: e.loadEventEnd}; }"
        )
        browser.close()
    return {"visible_median": statistics.median(times), "visible_max": max(times), "rows": rows,
            "mark_median": statistics.median(marks), "mark_max": max(marks),
            "dom_content_loaded_ms": nav["dcl"], "load_ms": nav["load"]}  # fmt: skip


def main() -> None:
    from _bytecode import compile_gitml

    compile_gitml()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--keep", help="build (or reuse) the repository in this folder")
    args = parser.parse_args()
    for key, value in ENV.items():
        os.environ.setdefault(key, value)
    tmp = None
    if args.keep:
        repo = args.keep
    else:
        tmp = tempfile.mkdtemp(prefix="gitml-bench-ui-")
        repo = os.path.join(tmp, "repo")
    if not os.path.isdir(os.path.join(repo, ".git")):
        seconds = make_repo(repo, args.runs)
        print(f"repository of {args.runs} runs written in {seconds:.1f} s")
    try:
        proc, base = start_server(repo)
        try:
            listing = bench_listing(base, args.runs)
            page = bench_page(base)
        finally:
            proc.terminate()
            proc.wait(timeout=10)
        proc, base = start_server(repo)  # a new server over an up-to-date index cache
        try:
            listing["restart"] = bench_listing(base, args.runs)["cold"]
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    report(args.runs, listing, page)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def report(n: int, listing: dict[str, float], page: dict[str, float] | None) -> None:
    warm = listing["warm_median"]
    print(f"gitml ui over {n} runs")
    print(f"  /api/runs (filter + sort by a metric, 100 rows, {listing['bytes']:.0f} bytes):")
    print(f"    first request {ms(listing['cold'])} (builds the index cache of the new runs), "
          f"first request of a restarted server {ms(listing['restart'])}")  # fmt: skip
    print(f"    warm median {ms(warm)} (max {ms(listing['warm_max'])})"
          f"; target < 300 ms: {verdict(warm < 0.3)}")  # fmt: skip
    print(f"  /api/runs (no filter, default order): warm median {ms(listing['plain_warm_median'])}")
    if page:
        print(f"  table page: {page['rows']:.0f} rows in the DOM {ms(page['mark_median'])} after "
              f"navigation start (median of 5, max {ms(page['mark_max'])}); target < 1000 ms: "
              f"{verdict(page['mark_max'] < 1.0)}")  # fmt: skip
        print(f"  seen by Playwright (goto until rows visible): median "
              f"{ms(page['visible_median'])}, max {ms(page['visible_max'])}; DOMContentLoaded "
              f"{page['dom_content_loaded_ms']:.0f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
