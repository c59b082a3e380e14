"""gitml run: real commands through the installed entry point, recorded as runs."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from gitml import launch, params_file, runs
from gitml.cli import cli
from gitml.errors import InvalidKey, InvalidValue
from gitml.store import MODE_TREE, Store

GITML = shutil.which("gitml") or "gitml"
pytestmark = pytest.mark.skipif(
    shutil.which("gitml") is None, reason="the gitml entry point is not installed"
)


def gitml(*args: str, env: dict[str, str] | None = None, timeout: float = 60,
          **kw: Any) -> subprocess.CompletedProcess[bytes]:  # fmt: skip
    """Run the installed ``gitml`` with stdout/stderr captured as bytes."""
    full = {**os.environ, **(env or {})}
    return subprocess.run([GITML, *args], env=full, capture_output=True, timeout=timeout, **kw)


def only_run(repo: Any) -> Any:
    """The one run of the repository, loaded."""
    ids = list(repo.run_refs())
    assert len(ids) == 1, ids
    return runs.load(Store.discover(str(repo.path)), ids[0])


def tree_file(record: Any, path: str) -> bytes | None:
    store = Store.discover()
    return store.blob_at(store.commit_tree(record.commit), path)


def start(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [GITML, *args],
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def wait_for_line(proc: subprocess.Popen[bytes], text: bytes, timeout: float = 20) -> bytes:
    """Read the wrapped command's output until a line containing ``text`` has come."""
    assert proc.stdout is not None
    seen = b""
    deadline = time.monotonic() + timeout
    while text not in seen:
        assert time.monotonic() < deadline, f"no {text!r} in {seen!r}"
        line = proc.stdout.readline()
        assert line, f"output ended before {text!r}: {seen!r}"
        seen += line
    return seen


# ---------------------------------------------------------------------- end to end
TRAIN = textwrap.dedent(
    """
    import json, sys, time
    import gitml

    p = gitml.params()
    print("argv", sys.argv[1:], flush=True)
    print("params", json.dumps(p, sort_keys=True), flush=True)
    with gitml.start_run():
        for step in range(5):
            gitml.log_metric("loss", 1.0 / (step + 1), step=step)
            time.sleep(0.1)
        gitml.set_tag("from_script", "yes")
    with open("metrics.yaml", "w") as f:
        f.write("eval:\\n  acc: 0.93\\n  n: 7\\nnote: hello\\n")
    with open("extra.json", "w") as f:
        json.dump({"f1": 0.5}, f)
    import os
    os.makedirs("plots", exist_ok=True)
    open("plots/a.png", "wb").write(b"\\x89PNG a")
    open("plots/b.png", "wb").write(b"\\x89PNG b")
    open("model.bin", "wb").write(b"\\x00weights")
    """
)


def test_python_script_logs_through_api_and_writes_metrics(repo: Any) -> None:
    repo.commit_files(
        {"train.py": TRAIN, "params.yaml": "lr: 0.1\nepochs: 2\nmodel:\n  depth: 3\n"}
    )
    proc = gitml(
        "run", "-n", "lr-sweep-1", "-e", "mnist", "-p", "lr=0.01", "-p", "model.depth=5",
        "--tag", "team=vision", "--metrics-file", "extra.json",
        "--out", "plots/*.png", "--out", "model.bin",
        "--", sys.executable, "train.py", "--lr", "{lr}", "--depth", "{model.depth}",
        env={"GITML_CHECKPOINT_INTERVAL": "0.2"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.decode()
    assert "argv ['--lr', '0.01', '--depth', '5']" in out
    assert '"epochs": 2, "lr": 0.01, "model": {"depth": 5}' in out
    err = proc.stderr.decode().strip().splitlines()
    assert err[-1].startswith("gitml: run lr-sweep-1 FINISHED (exit 0")
    assert err[-1].endswith("see `gitml show lr-sweep-1`")
    assert "note" in proc.stderr.decode()  # the non-numeric entry is named as skipped

    rec = only_run(repo)
    info = rec.info
    assert (info["name"], info["experiment"], info["status"], info["exit_code"]) == (
        "lr-sweep-1", "mnist", "FINISHED", 0,
    )  # fmt: skip
    assert info["command"] == [sys.executable, "train.py", "--lr", "0.01", "--depth", "5"]
    assert info["pid"] != proc.args  # the wrapper's pid, recorded as an int
    assert isinstance(info["pid"], int)
    assert info["start_time"] <= info["end_time"]
    assert info["environment"]["gitml"] and info["environment"]["python"]
    assert rec.params == {"lr": 0.01, "epochs": 2, "model": {"depth": 5}}
    assert rec.tags == {"team": "vision", "from_script": "yes"}
    assert rec.metrics["loss"]["count"] == 5 and rec.metrics["loss"]["step"] == 4
    assert rec.metrics["eval.acc"]["last"] == 0.93
    assert rec.metrics["eval.n"]["last"] == 7.0
    assert rec.metrics["f1"]["last"] == 0.5
    assert "note" not in rec.metrics
    assert tree_file(rec, "artifacts/plots/a.png") == b"\x89PNG a"
    assert tree_file(rec, "artifacts/plots/b.png") == b"\x89PNG b"
    assert tree_file(rec, "artifacts/model.bin") == b"\x00weights"
    assert tree_file(rec, "output.log") == proc.stdout
    assert tree_file(rec, "code/train.py") == TRAIN.encode()
    assert (repo / "params.yaml").read_text() == "lr: 0.1\nepochs: 2\nmodel:\n  depth: 3\n"
    repo.fsck()


def test_shell_command_streams_output_unchanged(repo: Any) -> None:
    script = "printf 'one\\n'; printf 'two\\n' >&2; printf 'no newline at end'"
    proc = gitml("run", "--", "sh", "-c", script)
    assert proc.returncode == 0
    assert proc.stdout == b"one\ntwo\nno newline at end"  # stdout and stderr, combined, in order
    rec = only_run(repo)
    assert rec.info["status"] == "FINISHED"
    assert tree_file(rec, "output.log") == proc.stdout
    assert rec.info["source"]["commit"] == repo.head()
    assert rec.info["source"]["dirty"] is False
    assert rec.parents == [repo.head()]
    name = rec.info["name"]
    assert f"see `gitml show {name}`" in proc.stderr.decode()
    assert gitml("show", name).returncode == 0


def test_failing_command_propagates_exit_code_and_keeps_outputs(repo: Any) -> None:
    proc = gitml(
        "run", "--out", "result.txt", "--", "sh", "-c", "echo partial > result.txt; exit 3"
    )
    assert proc.returncode == 3
    rec = only_run(repo)
    assert (rec.info["status"], rec.info["exit_code"]) == ("FAILED", 3)
    assert tree_file(rec, "artifacts/result.txt") == b"partial\n"
    assert "FAILED (exit 3" in proc.stderr.decode()


def test_command_not_found_records_failed_run(repo: Any) -> None:
    proc = gitml("run", "-n", "typo", "--", "no-such-command-xyz", "--flag")
    assert proc.returncode == 1
    err = proc.stderr.decode()
    assert "Error: cannot run 'no-such-command-xyz': command not found" in err
    assert "recorded as FAILED run typo" in err and "Traceback" not in err
    rec = only_run(repo)
    assert (rec.info["status"], rec.info["exit_code"]) == ("FAILED", 127)
    assert b"command not found" in tree_file(rec, "output.log")  # type: ignore[operator]


def test_command_not_executable_records_failed_run(repo: Any) -> None:
    (repo / "script.sh").write_text("echo hi\n")
    proc = gitml("run", "--", "./script.sh")
    assert proc.returncode == 1
    assert "Error: cannot run './script.sh': permission denied" in proc.stderr.decode()
    rec = only_run(repo)
    assert (rec.info["status"], rec.info["exit_code"]) == ("FAILED", 126)


SLEEPER = textwrap.dedent(
    """
    import os, signal, sys, time
    def on_term(signum, frame):
        print("child got", signal.Signals(signum).name, flush=True)
        sys.exit(0)
    signal.signal(signal.SIGTERM, on_term)
    open("child.pid", "w").write(str(os.getpid()))
    try:
        print("ready", flush=True)
        time.sleep(60)
    except KeyboardInterrupt:
        print("child interrupted", flush=True)
        raise
    """
)


@pytest.mark.parametrize(
    ("sig", "child_says"),
    [(signal.SIGINT, b"child interrupted"), (signal.SIGTERM, b"child got SIGTERM")],
)
def test_signal_to_gitml_is_forwarded_and_run_killed(
    repo: Any, sig: int, child_says: bytes
) -> None:
    (repo / "sleeper.py").write_text(SLEEPER)
    proc = start("run", "--", sys.executable, "sleeper.py")
    wait_for_line(proc, b"ready")
    ids = list(repo.run_refs())
    assert runs.load(Store.discover(), ids[0]).info["status"] == "RUNNING"  # visible while running
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == -sig  # gitml dies of the same signal, as a shell expects
    assert child_says in out
    rec = only_run(repo)
    assert rec.info["status"] == "KILLED"
    log = tree_file(rec, "output.log")
    assert log is not None and b"ready" in log and child_says in log
    assert f"KILLED ({signal.Signals(sig).name} passed on" in err.decode()
    child = int((repo / "child.pid").read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(child, 0)


def test_wrapped_process_killed_with_sigkill(repo: Any) -> None:
    (repo / "sleeper.py").write_text(SLEEPER)
    proc = start("run", "--", sys.executable, "sleeper.py")
    wait_for_line(proc, b"ready")
    os.kill(int((repo / "child.pid").read_text()), signal.SIGKILL)
    proc.communicate(timeout=30)
    assert proc.returncode == 128 + signal.SIGKILL
    rec = only_run(repo)
    assert (rec.info["status"], rec.info["exit_code"]) == ("KILLED", 137)


def test_gitml_killed_with_sigkill_leaves_stale_run(repo: Any) -> None:
    (repo / "sleeper.py").write_text(SLEEPER)
    proc = start("run", "-n", "doomed", "--", sys.executable, "sleeper.py")
    wait_for_line(proc, b"ready")
    proc.kill()
    proc.communicate(timeout=30)
    child = int((repo / "child.pid").read_text())
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # the command is told to stop when gitml dies
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        os.kill(child, signal.SIGKILL)
        pytest.fail("the command outlived gitml")
    store = Store.discover()
    summary = only_run(repo).summary()
    assert summary["status"] == "RUNNING" and runs.is_stale(summary)
    shown = gitml("show", "doomed").stdout.decode()
    assert "stale" in shown
    assert launch.mark_stale_killed(store) == [summary["run_id"]]
    rec = only_run(repo)
    assert rec.info["status"] == "KILLED" and rec.info["end_time"]
    assert launch.mark_stale_killed(store) == []
    repo.fsck()


def test_huge_output_is_bounded_with_head_and_tail(repo: Any) -> None:
    code = "import sys\nfor i in range(200000): sys.stdout.write(f'line {i}\\n')\n"
    proc = gitml("run", "--", sys.executable, "-c", code, env={"GITML_LOG_LIMIT": "65536"})
    assert proc.returncode == 0
    assert proc.stdout.count(b"\n") == 200000  # the terminal got everything
    log = tree_file(only_run(repo), "output.log")
    assert log is not None and len(log) < 65536 + 300
    assert log.startswith(b"line 0\nline 1\n")
    assert log.endswith(b"line 199999\n")
    assert b"bytes cut from the middle of the output" in log
    assert f"({len(proc.stdout):,} bytes in all)".encode() in log


def test_binary_output_passes_unchanged(repo: Any) -> None:
    code = "import sys\nsys.stdout.buffer.write(bytes(range(256)) * 300 + b'\\xff\\xfe\\r\\x00')\n"
    proc = gitml("run", "--", sys.executable, "-c", code)
    assert proc.returncode == 0
    expected = bytes(range(256)) * 300 + b"\xff\xfe\r\x00"
    assert proc.stdout == expected
    assert tree_file(only_run(repo), "output.log") == expected


def snapshot_workspace(root: Path) -> dict[str, bytes]:
    out = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_file() and not rel.startswith(".git/"):
            out[rel] = path.read_bytes()
    return out


def test_dirty_workspace_snapshot_leaves_user_state_unchanged(repo: Any) -> None:
    repo.commit_files({".gitignore": "*.ckpt\ncache/\n", "src/a.py": "a = 1\n", "b.txt": "b\n"})
    repo.write_files({
        "src/a.py": "a = 2  # modified\n",
        "staged.txt": "staged\n",
        "notes.md": "untracked\n",
        "model.ckpt": b"\x00ignored",
        "cache/big.bin": b"ignored dir",
    })  # fmt: skip
    repo.git("add", "staged.txt")
    (repo / "b.txt").unlink()
    index_before = (repo / ".git" / "index").read_bytes()
    files_before = snapshot_workspace(repo.path)
    status_before = repo.git("status", "--porcelain", "--ignored")
    head_before = repo.head()

    proc = gitml("run", "--", "true")
    assert proc.returncode == 0, proc.stderr

    assert (repo / ".git" / "index").read_bytes() == index_before
    assert snapshot_workspace(repo.path) == files_before
    assert repo.git("status", "--porcelain", "--ignored") == status_before
    assert repo.head() == head_before
    rec = only_run(repo)
    assert rec.info["source"]["dirty"] is True
    store = Store.discover()
    code = store.lookup(store.commit_tree(rec.commit), "code")
    assert code is not None and code[0] == MODE_TREE
    snap = {path: store.read_blob(sha) for path, _mode, sha in store.walk_tree(code[1])}
    assert snap["src/a.py"] == b"a = 2  # modified\n"
    assert snap["staged.txt"] == b"staged\n" and snap["notes.md"] == b"untracked\n"
    assert "b.txt" not in snap
    assert "model.ckpt" not in snap and "cache/big.bin" not in snap
    repo.fsck()


def test_no_code_skips_snapshot(repo: Any) -> None:
    (repo / "notes.md").write_text("dirty\n")
    assert gitml("run", "--no-code", "--", "true").returncode == 0
    rec = only_run(repo)
    assert tree_file(rec, "code/README.md") is None


def test_terminal_output_goes_through_a_pty(repo: Any) -> None:
    import pty

    code = (
        "import sys; print('tty', sys.stdout.isatty(), sys.stderr.isatty()); "
        "print('\\x1b[31mred\\x1b[0m')"
    )
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [GITML, "run", "--", sys.executable, "-c", code],
        stdin=subprocess.DEVNULL, stdout=slave, stderr=subprocess.PIPE,
    )  # fmt: skip
    os.close(slave)
    seen = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    proc.wait(timeout=30)
    os.close(master)
    assert proc.returncode == 0
    assert b"tty True True" in seen and b"\x1b[31mred\x1b[0m" in seen  # colours kept
    log = tree_file(only_run(repo), "output.log")
    assert log == b"tty True True\n\x1b[31mred\x1b[0m\n"  # no \r added by the terminal


def test_default_metrics_file_only_when_changed(repo: Any) -> None:
    repo.commit_files({"metrics.json": '{"acc": 0.5}'})
    assert gitml("run", "--", "true").returncode == 0
    assert only_run(repo).metrics == {}


def test_malformed_metrics_file_is_a_warning_not_a_lost_run(repo: Any) -> None:
    proc = gitml("run", "--", "sh", "-c", "echo 'acc: [' > metrics.yaml")
    assert proc.returncode == 0
    assert "gitml: warning: metrics file" in proc.stderr.decode()
    assert only_run(repo).info["status"] == "FINISHED"


def test_quiet_records_without_streaming(repo: Any) -> None:
    proc = gitml("run", "-q", "--", "echo", "hidden")
    assert proc.returncode == 0 and proc.stdout == b""
    assert tree_file(only_run(repo), "output.log") == b"hidden\n"
    assert len(proc.stderr.decode().strip().splitlines()) == 1  # only the final line


# ---------------------------------------------------------------------- CliRunner & errors
def invoke(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args))


def test_cli_runner_records_run_and_exit_code(repo: Any) -> None:
    result = invoke("run", "-n", "cr", "-p", "n=3", "--", "sh", "-c", "echo n={n}; exit 4")
    assert result.exit_code == 4
    assert "n=3" in result.stdout
    rec = only_run(repo)
    assert rec.params == {"n": 3} and rec.info["status"] == "FAILED"


def test_command_options_after_the_command_are_its_own(repo: Any) -> None:
    result = invoke("run", "echo", "-n", "x", "--tag", "y")
    assert result.exit_code == 0
    assert only_run(repo).info["command"] == ["echo", "-n", "x", "--tag", "y"]


def test_out_folder_holding_a_git_checkout(repo: Any) -> None:
    script = "mkdir -p ckpt/.git && echo x > ckpt/.git/HEAD && echo w > ckpt/w.bin"
    result = invoke("run", "--out", "ckpt", "--out", "ckpt/.git", "--", "sh", "-c", script)
    assert result.exit_code == 0, result.output
    assert "--out ckpt/.git could not be stored" in result.output
    rec = only_run(repo)
    assert tree_file(rec, "artifacts/ckpt/w.bin") == b"w\n"
    assert tree_file(rec, "artifacts/ckpt/.git/HEAD") is None
    repo.fsck()


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["run"], 2, "missing COMMAND"),
        (["run", "-p", "lr", "--", "true"], 1, "Error: -p 'lr' must look like key=value"),
        (["run", "-p", "a//b=1", "--", "true"], 1, "Error: invalid param key 'a//b'"),
        (["run", "--tag", "bad key!=1", "--", "true"], 1, "Error: invalid tag key"),
        (["run", "--params-file", "nope.yaml", "--", "true"], 1, "does not exist"),
        (["run", "-n", "", "--", "true"], 1, "Error: invalid run name"),
        (["run", "-e", "", "--", "true"], 1, "Error: invalid experiment name"),
        (["run", "--out", " ", "--", "true"], 1, "Error: --out needs a path"),
    ],
)
def test_usage_errors_write_nothing(repo: Any, args: list[str], code: int, message: str) -> None:
    objects_before = sorted(p.name for p in (repo / ".git" / "objects").rglob("*"))
    result = invoke(*args)
    assert result.exit_code == code
    assert message in result.output
    assert "Traceback" not in result.output
    assert repo.run_refs() == {}
    assert sorted(p.name for p in (repo / ".git" / "objects").rglob("*")) == objects_before


def test_bad_params_file_is_an_error(repo: Any) -> None:
    (repo / "params.yaml").write_text("- just\n- a list\n")
    result = invoke("run", "--", "true")
    assert result.exit_code == 1
    assert "Error: params file" in result.output and "must hold a mapping" in result.output
    (repo / "params.yaml").write_text("lr: [\n")
    assert "is not valid YAML" in invoke("run", "--", "true").output
    assert repo.run_refs() == {}


def test_not_a_repository(not_a_repo: Path) -> None:
    result = invoke("run", "--", "true")
    assert result.exit_code == 1 and "Error: not a git repository" in result.output


# ---------------------------------------------------------------------- units
def test_bounded_log_keeps_everything_under_the_limit() -> None:
    log = launch.BoundedLog(4096)
    for i in range(100):
        log.write(f"{i}\n".encode())
    assert log.cut == 0
    assert log.getvalue() == b"".join(f"{i}\n".encode() for i in range(100))


def test_bounded_log_cuts_the_middle_at_line_ends() -> None:
    log = launch.BoundedLog(4096)
    data = b"".join(f"row {i:05d}\n".encode() for i in range(10000))
    for k in range(0, len(data), 777):
        log.write(data[k : k + 777])
    value = log.getvalue()
    head, marker, tail = value.partition(b"[gitml: ")
    assert data.startswith(head) and head.endswith(b"\n")
    rest = tail.split(b"\n", 1)[1]
    assert data.endswith(rest) and len(head) + len(rest) <= 4096
    assert f"({len(data):,} bytes in all)".encode() in value


def test_parse_value_reads_yaml_scalars() -> None:
    pv = params_file.parse_value
    assert pv("0.01") == 0.01 and pv("3") == 3 and pv("true") is True
    assert pv("null") is None and pv("") == "" and pv("adam") == "adam"
    assert pv("[1, 2]") == [1, 2] and pv("2024-01-01") == "2024-01-01" and pv("a: [") == "a: ["


def test_substitute_placeholders() -> None:
    params = {"lr": 0.01, "opt": "adam", "flag": True, "model": {"depth": 3}}
    argv = [
        "--lr={lr}",
        "{opt}",
        "{flag}",
        "{model.depth}",
        "{{lr}}",
        "{unknown}",
        "awk",
        "{print $1}",
        "{}",
    ]
    assert params_file.substitute(argv, params) == [
        "--lr=0.01", "adam", "true", "3", "{lr}", "{unknown}", "awk", "{print $1}", "{}",
    ]  # fmt: skip


def test_overrides_reach_into_nested_params() -> None:
    base = {"train": {"lr": 0.1, "epochs": 2}, "seed": 1}
    out = params_file.apply_overrides(base, [("train.lr", "0.5"), ("seed", "2"), ("new.key", "x")])
    assert out == {"train": {"lr": 0.5, "epochs": 2}, "seed": 2, "new.key": "x"}
    assert base["train"]["lr"] == 0.1  # the file's data is not modified


def test_params_files_in_three_formats(tmp_path: Path) -> None:
    (tmp_path / "p.toml").write_text("lr = 0.1\n[model]\ndepth = 3\nday = 2024-01-02\n")
    (tmp_path / "p.json").write_text('{"lr": 0.1}')
    assert params_file.load_file(str(tmp_path / "p.toml")) == {
        "lr": 0.1, "model": {"depth": 3, "day": "2024-01-02"},
    }  # fmt: skip
    assert params_file.load_file(str(tmp_path / "p.json")) == {"lr": 0.1}
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(InvalidValue, match="is not valid JSON"):
        params_file.load_file(str(tmp_path / "bad.json"))


def test_flatten_metrics() -> None:
    flat, skipped = params_file.flatten_metrics(
        {"eval": {"acc": 0.9, "f1": 1}, "ok": True, "bad key!": 1}
    )
    assert flat == {"eval.acc": 0.9, "eval.f1": 1.0}
    assert skipped == ["ok", "bad key!"]


def test_assignment_keys_are_validated() -> None:
    with pytest.raises(InvalidKey):
        params_file.parse_assignments(["../x=1"])
    assert params_file.parse_assignments(["a=b=c"]) == [("a", "b=c")]


def test_params_visible_to_command_as_json(repo: Any) -> None:
    show = "import os; print(os.environ['GITML_PARAMS']); print(os.environ['GITML_DIR'])"
    proc = gitml("run", "-p", "lr=1e-3", "-p", "name=x", "--", sys.executable, "-c", show)
    lines = proc.stdout.decode().splitlines()
    assert json.loads(lines[0]) == {"lr": 0.001, "name": "x"}
    assert lines[1] == str(repo.path)


# ---------------------------------------------------------------------- the snapshot vs git
def git_add_all_tree(repo: Any, tmp_path: Path) -> str:
    """The tree git itself makes of the workspace: ``git add -A`` into a copy of the index."""
    index = tmp_path / "index-copy"
    shutil.copyfile(repo / ".git" / "index", index)
    env = {**os.environ, "GIT_INDEX_FILE": str(index)}
    subprocess.run(["git", "add", "-A"], cwd=repo.path, env=env, check=True)
    out = subprocess.run(
        ["git", "write-tree"], cwd=repo.path, env=env, check=True, capture_output=True
    )
    return out.stdout.decode().strip()


@pytest.mark.parametrize("version", ["2", "3", "4"])
def test_snapshot_tree_matches_git_add_all(repo: Any, tmp_path: Path, version: str) -> None:
    repo.commit_files({f"pkg{i}/m{j}.py": f"# {i} {j}\n" for i in range(5) for j in range(30)})
    repo.commit_files({".gitignore": "*.log\n", "run.sh": "#!/bin/sh\n"})
    (repo / "run.sh").chmod(0o755)
    repo.write_files({"pkg1/m3.py": "changed\n", "new/file.txt": "new\n", "x.log": "ignored\n"})
    (repo / "pkg2" / "m4.py").unlink()
    repo.write_files({"later.txt": "intent to add\n"})
    repo.git("add", "-N", "later.txt")  # an extended (version 3) index entry
    repo.git("update-index", "--index-version", version)
    store = Store.discover()
    snap = store.snapshot()
    assert snap.dirty
    assert snap.tree == git_add_all_tree(repo, tmp_path)
    repo.fsck()


def test_clean_snapshot_is_the_baseline_tree(repo: Any) -> None:
    repo.commit_files({"a.txt": "a\n"})
    snap = Store.discover().snapshot()
    assert not snap.dirty
    assert snap.tree == repo.git("rev-parse", "HEAD^{tree}").strip()
    (repo / "a.txt").write_text("b\n")
    repo.git("add", "a.txt")  # staged or not, a change is dirty
    assert Store.discover().snapshot().dirty


def test_snapshot_of_a_conflicted_index_takes_the_files_on_disk(repo: Any, tmp_path: Path) -> None:
    repo.commit_files({"c.txt": "base\n"})
    repo.git("checkout", "-q", "-b", "other")
    repo.commit_files({"c.txt": "other\n"})
    repo.git("checkout", "-q", "main")
    repo.commit_files({"c.txt": "main\n"})
    repo.git("merge", "-q", "other", check=False)
    assert "UU c.txt" in repo.git("status", "--porcelain")
    snap = Store.discover().snapshot()
    assert snap.dirty and snap.tree == git_add_all_tree(repo, tmp_path)
    assert b"<<<<<<<" in Store.discover().blob_at(snap.tree, "c.txt")  # type: ignore[operator]


def test_repeated_name_points_to_the_run_by_id(repo: Any) -> None:
    assert "see `gitml show twin`" in invoke("run", "-n", "twin", "--", "true").output
    second = invoke("run", "-n", "twin", "--", "true").output
    ids = [rid for rid in repo.run_refs() if f"gitml show {rid[:8]}" in second]
    assert len(ids) == 1


def test_output_is_checkpointed_while_running(repo: Any) -> None:
    code = "import time\nprint('halfway', flush=True)\ntime.sleep(30)\n"
    proc = start("run", "--", sys.executable, "-c", code, env={"GITML_CHECKPOINT_INTERVAL": "0.2"})
    try:
        wait_for_line(proc, b"halfway")
        deadline = time.monotonic() + 10
        while True:
            rec = only_run(repo)
            if tree_file(rec, "output.log") == b"halfway\n":
                break
            assert time.monotonic() < deadline, "output.log was not checkpointed"
            time.sleep(0.1)
        assert rec.info["status"] == "RUNNING"
    finally:
        proc.terminate()
        proc.communicate(timeout=30)
    assert only_run(repo).info["status"] == "KILLED"


def test_run_on_an_unborn_branch(empty_repo: Any) -> None:
    (empty_repo / "train.py").write_text("print('hi')\n")
    result = invoke("run", "--", sys.executable, "train.py")
    assert result.exit_code == 0, result.output
    rec = only_run(empty_repo)
    assert rec.parents == [] and rec.info["source"]["commit"] is None
    assert rec.info["source"]["dirty"] is True
    assert tree_file(rec, "code/train.py") == b"print('hi')\n"
    empty_repo.fsck()


# ---------------------------------------------------------------------- --grid
def test_grid_runs_every_combination(repo: Any) -> None:
    script = (
        "import gitml, sys\n"
        "p = gitml.params()\n"
        "gitml.log_metric('score', p['lr'] * p['depth'])\n"
        "sys.exit(3 if (p['lr'], p['depth']) == (0.5, 2) else 0)\n"
    )
    out = gitml("run", "-n", "sweep", "--grid", "lr=0.1,0.5", "--grid", "depth=1,2",
                "-p", "seed=7", "--", sys.executable, "-c", script, "--lr", "{lr}")  # fmt: skip
    assert out.returncode == 1, out.stderr  # one combination failed
    err = out.stderr.decode()
    lines = err.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:2] == ["run", "grid"])
    assert [line.split()[:4] for line in lines[header + 2 :]] == [
        ["sweep-1", "lr=0.1", "depth=1", "FINISHED"], ["sweep-2", "lr=0.1", "depth=2", "FINISHED"],
        ["sweep-3", "lr=0.5", "depth=1", "FINISHED"], ["sweep-4", "lr=0.5", "depth=2", "FAILED"],
    ]  # fmt: skip
    from gitml import Client

    c = Client()
    runs_by_name = {r.info.run_name: r for r in (c.get_run(f"sweep-{i}") for i in range(1, 5))}
    assert runs_by_name["sweep-2"].data.params == {"lr": 0.1, "depth": 2, "seed": 7}
    assert runs_by_name["sweep-2"].data.metrics == {"score": 0.2}
    assert runs_by_name["sweep-4"].info.status == "FAILED"
    assert runs_by_name["sweep-3"].extra["command"][-1] == "0.5"  # {lr} substituted per run


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--grid", "lr"], "--grid 'lr' must look like key=value"),
        (["--grid", "lr=0.1,"], "has an empty value; use lr=a,b,c"),
        (["--grid", "lr=1,2", "--grid", "lr=3"], "--grid lr is given twice"),
        (["-p", "lr=1", "--grid", "lr=1,2"], "lr is both a -p param and a --grid axis"),
        (["--grid", "a//b=1,2"], "invalid param key 'a//b'"),
    ],
)
def test_grid_errors_write_nothing(repo: Any, args: list[str], message: str) -> None:
    out = gitml("run", *args, "--", "true")
    assert out.returncode == 1 and message in out.stderr.decode(), out.stderr
    assert b"Traceback" not in out.stderr and repo.run_refs() == {}


def test_an_interrupt_stops_a_sweep(repo: Any) -> None:
    code = "import time\nprint('started', flush=True)\ntime.sleep(30)\n"
    proc = start("run", "-n", "long", "--grid", "k=1,2,3", "--", sys.executable, "-c", code)
    wait_for_line(proc, b"started")
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGINT, err
    text = err.decode()
    assert "(not run)" in text and text.count("(not run)") == 2, text
    (rec,) = [only_run(repo)]
    assert rec.info["name"] == "long-1" and rec.info["status"] == "KILLED"
