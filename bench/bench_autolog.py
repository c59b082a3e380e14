"""Autolog overhead on a LogisticRegression fit of 1,000 rows: gitml vs MLflow, measured in one run.

Each tool runs in its own interpreter (both patch scikit-learn) on the same data:
gitml in a fresh git repository, MLflow with a file store in a temporary folder, both
with their default autolog options (params, training metrics, tags, the model).
Overhead = median autologged fit time - median plain fit time.

    python bench/bench_autolog.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time


def _data():  # type: ignore[no-untyped-def]
    from sklearn.datasets import make_classification

    return make_classification(n_samples=1000, n_features=20, random_state=0)


def _fits(repeat: int) -> list[float]:
    from sklearn.linear_model import LogisticRegression

    X, y = _data()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        LogisticRegression(max_iter=200).fit(X, y)
        times.append(time.perf_counter() - t)
    return times


def worker(tool: str, repeat: int, log_models: bool = True) -> dict[str, float]:
    """Time plain fits, autolog setup, the first autologged fit and the following ones."""
    import warnings

    warnings.simplefilter("ignore")
    import sklearn.linear_model  # noqa: F401  (import cost outside the measurements)

    _fits(2)  # warm-up: the first fits of a process are slower
    plain = _fits(repeat)
    t = time.perf_counter()
    if tool == "gitml":
        import gitml

        gitml.autolog(log_models=log_models)
    else:
        import mlflow

        mlflow.set_tracking_uri("file:" + os.path.join(os.getcwd(), "mlruns"))
        mlflow.sklearn.autolog(log_models=log_models)
    setup = time.perf_counter() - t
    first = _fits(1)[0]
    logged = _fits(repeat)
    if tool == "gitml":
        run = gitml.last_active_run()
    else:
        run = mlflow.last_active_run()
    # a tool that silently logged nothing would win for the wrong reason
    n_metrics = len(run.data.metrics) if run is not None else 0
    if n_metrics < 5:
        raise SystemExit(f"{tool} autolog logged {n_metrics} metrics: the measurement is not valid")
    return {
        "plain": statistics.median(plain),
        "setup": setup,
        "first": first,
        "logged": statistics.median(logged),
        "metrics": n_metrics,
        "params": len(run.data.params),
    }


def run_worker(tool: str, repeat: int, log_models: bool = True) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix=f"bench-autolog-{tool}-") as tmp:
        env = dict(os.environ)
        if tool == "gitml":
            subprocess.run(["git", "init", "-q", tmp], check=True)
            env.update(GIT_AUTHOR_NAME="bench", GIT_AUTHOR_EMAIL="bench@example.com",
                       GIT_COMMITTER_NAME="bench", GIT_COMMITTER_EMAIL="bench@example.com")  # fmt: skip
        else:  # MLflow 3 refuses the file store unless asked; without this it logs nothing
            env["MLFLOW_ALLOW_FILE_STORE"] = "true"
        env.pop("GITML_RUN_ID", None)
        env.pop("GITML_DIR", None)
        out = subprocess.run(
            [sys.executable, os.path.abspath(__file__), "--worker", tool, "--repeat", str(repeat)]
            + ([] if log_models else ["--no-models"]),
            cwd=tmp, env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        if out.returncode != 0:
            raise SystemExit(f"{tool} worker failed:\n{out.stderr}")
        return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    from _bytecode import compile_gitml

    compile_gitml()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--worker", choices=["gitml", "mlflow"])
    parser.add_argument("--no-models", action="store_true", help="autolog(log_models=False)")
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.repeat, not args.no_models)))
        return
    res = {tool: run_worker(tool, args.repeat) for tool in ("gitml", "mlflow")}
    bare = {tool: run_worker(tool, args.repeat, log_models=False) for tool in ("gitml", "mlflow")}

    def ms(seconds: float) -> str:
        return f"{seconds * 1000:8.1f} ms"

    print(f"LogisticRegression fit, 1,000 rows x 20 features, median of {args.repeat} fits")
    print(f"{'':34}{'gitml':>12}{'mlflow':>12}{'ratio':>9}")
    rows = [
        ("plain fit (no autolog)", "plain", None),
        ("autolog() call", "setup", None),
        ("first autologged fit", "first", None),
        ("autologged fit", "logged", None),
    ]
    for label, key, _ in rows:
        g, m = res["gitml"][key], res["mlflow"][key]
        print(f"{label:34}{ms(g):>12}{ms(m):>12}{m / g:8.1f}x")
    g_over = res["gitml"]["logged"] - res["gitml"]["plain"]
    m_over = res["mlflow"]["logged"] - res["mlflow"]["plain"]
    print(
        f"{'overhead per fit (logged - plain)':34}{ms(g_over):>12}{ms(m_over):>12}{m_over / g_over:8.1f}x"
    )
    verdict = "lower" if g_over < m_over else "NOT lower"
    g_bare = bare["gitml"]["logged"] - bare["gitml"]["plain"]
    m_bare = bare["mlflow"]["logged"] - bare["mlflow"]["plain"]
    print(
        f"{'overhead, log_models=False':34}{ms(g_bare):>12}{ms(m_bare):>12}{m_bare / g_bare:8.1f}x"
    )
    for tool in ("gitml", "mlflow"):
        print(
            f"{tool}: each autologged run has {res[tool]['params']} params and {res[tool]['metrics']} metrics"
        )
    print(f"gitml's autolog overhead is {verdict} than MLflow's ({m_over / g_over:.1f}x less)")


if __name__ == "__main__":
    main()
