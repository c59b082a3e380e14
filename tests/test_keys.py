"""Key, name, run id and artifact path validation (gitml.keys), with hypothesis."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

import gitml
from gitml import keys
from gitml.errors import ArtifactError, InvalidKey

SEGMENT = st.text(alphabet="abcXYZ019_-. ", min_size=1, max_size=12).filter(
    lambda s: s.strip() not in ("", ".", "..")
)
VALID_KEY = st.lists(SEGMENT, min_size=1, max_size=5).map("/".join).filter(lambda k: len(k) <= 250)


@given(VALID_KEY)
def test_valid_keys_are_accepted(key: str) -> None:
    assert keys.validate_key(key) == key
    assert keys.is_valid_key(key)


@pytest.mark.parametrize(
    "key, words",
    [
        ("../x", "'..' path segment"),
        ("", "empty"),
        ("a" * 300, "300 characters"),
        ("a//b", "empty path segment"),
        ("/abs", "starts with '/'"),
        ("a/./b", "'.' path segment"),
        ("trailing/", "empty path segment"),
        ("semi;colon", "';'"),
        ("tab\there", "not allowed"),
        ("a/ /b", "blank path segment"),
        (".git", "git refuses '.git'"),
        ("runs/.GIT/loss", "'.GIT' path segment"),
        ("x/.git. ", "'.git. ' path segment"),
    ],
)
def test_invalid_keys_name_the_key_and_the_problem(key: str, words: str) -> None:
    with pytest.raises(InvalidKey) as err:
        keys.validate_key(key, "param key")
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith("invalid param key ")
    assert repr(key)[:40].rstrip("'") in message
    assert words in message
    assert isinstance(err.value, gitml.GitmlError)


def test_key_must_be_a_string() -> None:
    with pytest.raises(InvalidKey, match="must be strings"):
        keys.validate_key(3)


@given(st.text(max_size=300))
def test_validation_agrees_with_the_documented_rules(key: str) -> None:
    """Letters, digits, _ - . / space; <= 250 chars; no empty, '.', '..', '.git' segment or
    leading '/'."""
    segments = key.split("/")
    expected = (
        0 < len(key) <= 250
        and re.fullmatch(r"[A-Za-z0-9_\-. /]+", key) is not None
        and not key.startswith("/")
        and all(s.strip() and s not in (".", "..") for s in segments)
        and not any(s.lower().rstrip(". ") == ".git" or s.lower() == "git~1" for s in segments)
    )
    assert keys.is_valid_key(key) is expected
    if not expected:
        with pytest.raises(InvalidKey):
            keys.validate_key(key)


@given(st.uuids())
def test_run_ids_are_32_lowercase_hex(u: object) -> None:
    rid = u.hex  # type: ignore[attr-defined]
    assert keys.is_run_id(rid)
    assert not keys.is_run_id(rid.upper())
    assert not keys.is_run_id(rid[:31])
    assert keys.is_hex_prefix(rid[:4]) and not keys.is_hex_prefix(rid[:3])


@given(st.uuids())
def test_run_ref_names_round_trip(u: object) -> None:
    from gitml.record import RUN_REF
    from gitml.runs import run_ref

    rid = u.hex  # type: ignore[attr-defined]
    ref = run_ref(rid)
    assert ref == f"refs/gitml/runs/{rid}"
    assert ref.startswith(RUN_REF) and ref[len(RUN_REF):] == rid
    assert keys.is_run_id(ref.rsplit("/", 1)[1])


@pytest.mark.parametrize(
    "path, expected",
    [(None, ""), ("", ""), (".", ""), ("plots", "plots"), ("a/b/", "a/b"), ("./a//b", "a/b"),
     ("win\\dir", "win/dir")],
)  # fmt: skip
def test_artifact_paths_are_normalized(path: str | None, expected: str) -> None:
    assert keys.artifact_path(path) == expected


@pytest.mark.parametrize("path", ["../x", "a/../../b", "/etc/passwd", "a/..", ".git/config", "m/.Git"])
def test_artifact_paths_escaping_their_folder_are_rejected(path: str) -> None:
    with pytest.raises(ArtifactError) as err:
        keys.artifact_path(path)
    assert repr(path) in str(err.value) and "\n" not in str(err.value)


@given(st.lists(SEGMENT, min_size=1, max_size=4))
def test_artifact_path_normalization_is_idempotent(parts: list[str]) -> None:
    path = "/".join(parts)
    norm = keys.artifact_path(path)
    assert keys.artifact_path(norm) == norm
    assert not norm.startswith("/") and ".." not in norm.split("/")


@pytest.mark.parametrize("name", ["", "   ", "two\nlines", "x" * 251, 7])
def test_invalid_run_names(name: object) -> None:
    with pytest.raises(InvalidKey, match="invalid run name"):
        keys.validate_name(name)


def test_run_names_may_hold_any_single_line() -> None:
    assert keys.validate_name("baseline (v2): lr=0.1 ✓") == "baseline (v2): lr=0.1 ✓"
