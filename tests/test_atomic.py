"""Atomic writes (pkpd/_atomic.py): a failed write leaves neither a partial target nor a temp."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from pkpd._atomic import atomic_path, write_bytes_atomic, write_text_atomic


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_success_replaces_target_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "a.csv"
    target.write_text("old")
    with atomic_path(target) as tmp:
        assert tmp.parent == tmp_path and tmp != target
        assert tmp.suffix == ".csv"   # writers that pick the format by suffix still work
        tmp.write_text("new")
        assert target.read_text() == "old"   # not visible before the block ends
    assert target.read_text() == "new"
    assert _names(tmp_path) == ["a.csv"]


@pytest.mark.parametrize("exists", [False, True])
def test_failure_midway_keeps_target_and_removes_temp(tmp_path: Path, exists: bool) -> None:
    target = tmp_path / "out.nc"
    if exists:
        target.write_bytes(b"intact")
    with pytest.raises(RuntimeError, match="midway"):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"partial")
            raise RuntimeError("midway")
    assert _names(tmp_path) == (["out.nc"] if exists else [])
    if exists:
        assert target.read_bytes() == b"intact"


def test_failed_replace_removes_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "x.json"
    target.write_text("{}")

    def broken(*args: object) -> None:
        raise OSError("rename failed")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(OSError, match="rename failed"):
        write_text_atomic(target, '{"a": 1}')
    assert _names(tmp_path) == ["x.json"] and target.read_text() == "{}"


def test_permissions_follow_umask_or_existing_file(tmp_path: Path) -> None:
    plain = tmp_path / "plain.txt"
    plain.write_text("x")   # what open(path, "w") gives under this process's umask
    fresh = write_text_atomic(tmp_path / "fresh.txt", "x")
    assert stat.S_IMODE(fresh.stat().st_mode) == stat.S_IMODE(plain.stat().st_mode)
    kept = tmp_path / "kept.txt"
    kept.write_text("x")
    os.chmod(kept, 0o600)
    write_bytes_atomic(kept, b"y")
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600 and kept.read_bytes() == b"y"
