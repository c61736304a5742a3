"""Atomic writes (pkpd/_atomic.py): a failed write leaves neither a partial target nor a temp."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
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


# -- the writers routed through it ---------------------------------------------------------------

def _half_then_fail(path: object, *args: object, **kwargs: object) -> None:
    """A writer that gets half way: it writes some bytes to its target, then fails."""
    Path(str(path)).write_bytes(b"partial")
    raise OSError("disk full")


def _writers() -> dict[str, tuple[object, str, object]]:
    """name -> (class whose method writes, method name, call writing to a path)."""
    import matplotlib
    import pandas as pd
    import xarray as xr

    matplotlib.use("Agg")
    import matplotlib.figure

    from pkpd.cli._common import write_csv, write_dataset
    from pkpd.io.nonmem import write_nonmem
    from pkpd.plot._common import save_figure

    frame = pd.DataFrame({"ID": [1, 2], "DV": [0.5, 1.5]})
    nonmem = pd.DataFrame({"ID": [1, 1], "TIME": [0.0, 1.5], "AMT": [100, 0], "DV": [0, 2.25],
                           "EVID": [1, 0], "CMT": [1, 2]})
    ds = xr.Dataset({"CP": ("time", np.array([1.0, 2.0]))}, coords={"time": [0.0, 1.0]})
    fig = matplotlib.figure.Figure()
    fig.add_subplot().plot([0, 1], [1, 0])
    return {
        "csv": (pd.DataFrame, "to_csv", lambda p: write_csv(frame, p, index=False)),
        "dataset.nc": (xr.Dataset, "to_netcdf", lambda p: write_dataset(ds, str(p))),
        "dataset.csv": (pd.DataFrame, "to_csv", lambda p: write_dataset(ds, str(p))),
        "figure": (matplotlib.figure.Figure, "savefig", lambda p: save_figure(fig, p)),
        "nonmem": (pd.DataFrame, "to_csv", lambda p: write_nonmem(nonmem, p)),
    }


SUFFIX = {"csv": ".csv", "dataset.nc": ".nc", "dataset.csv": ".csv", "figure": ".png",
          "nonmem": ".csv"}


@pytest.mark.parametrize("name", sorted(SUFFIX))
def test_writer_writes_complete_file(tmp_path: Path, name: str) -> None:
    _, _, write = _writers()[name]
    target = tmp_path / f"out{SUFFIX[name]}"
    write(target)
    assert _names(tmp_path) == [target.name] and target.stat().st_size > 0
    if name == "figure":
        assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if name == "csv":
        assert target.read_text().splitlines() == ["ID,DV", "1,0.5", "2,1.5"]
    if name == "nonmem":
        assert target.read_text().splitlines()[1:] == ["1,0,100,0,1,1", "1,1.5,0,2.25,0,2"]


@pytest.mark.parametrize("exists", [False, True])
@pytest.mark.parametrize("name", sorted(SUFFIX))
def test_writer_failing_midway_leaves_no_partial_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, exists: bool) -> None:
    owner, method, write = _writers()[name]
    monkeypatch.setattr(owner, method, lambda self, path, *a, **k: _half_then_fail(path))
    target = tmp_path / f"out{SUFFIX[name]}"
    if exists:
        target.write_bytes(b"previous result")
    with pytest.raises(OSError, match="disk full"):
        write(target)
    assert _names(tmp_path) == ([target.name] if exists else [])
    if exists:
        assert target.read_bytes() == b"previous result"


def test_figure_without_suffix_uses_default_format(tmp_path: Path) -> None:
    _, _, write = _writers()["figure"]
    write(tmp_path / "plot")
    assert (tmp_path / "plot").read_bytes()[:4] == b"\x89PNG"


def test_validation_report_written_atomically(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util
    import sys

    folder = Path(__file__).resolve().parents[1] / "validation"
    monkeypatch.syspath_prepend(str(folder))
    spec = importlib.util.spec_from_file_location("validation_report_atomic",
                                                  folder / "_report.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    report = module.Report("t", tmp_path)
    report.text("body")
    path = report.write()
    assert path == tmp_path / "report.md" and "body" in path.read_text()
    before = path.read_text()
    report.text("more")
    monkeypatch.setattr(Path, "write_text", lambda self, *a, **k: _half_then_fail(self))
    with pytest.raises(OSError, match="disk full"):
        report.write()
    assert _names(tmp_path) == ["report.md"] and path.read_text() == before
