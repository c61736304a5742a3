"""The compiled engine's cache guard: numba checks a cached function against its own source file
only, so a change to any engine source must remove the engine's cached machine code."""

from __future__ import annotations

from pathlib import Path

import pytest

from pkpd.engine import _entry, _loop


@pytest.fixture()
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(_loop.run._cache, "_cache_path", str(tmp_path))
    return tmp_path


def _touch(folder: Path, *names: str) -> None:
    for name in names:
        (folder / name).write_bytes(b"x")


def test_changed_sources_remove_the_engine_cache(cache_dir: Path) -> None:
    _touch(cache_dir, "_loop.run-357.py311.nbi", "_loop.run-357.py311.1.nbc",
           "_exact._lin_fill-27.py311.nbi", "_steady._ss_dose-216.py311.2.nbc",
           "other_module.f-3.py311.nbi", "_loop.notes.txt")
    (cache_dir / "pkpd-engine.stamp").write_text("digest of older sources")
    _entry._check_cache()
    left = sorted(p.name for p in cache_dir.iterdir())
    assert left == ["_loop.notes.txt", "other_module.f-3.py311.nbi", "pkpd-engine.stamp"]
    assert (cache_dir / "pkpd-engine.stamp").read_text() == _entry._digest()


def test_unchanged_sources_keep_the_engine_cache(cache_dir: Path) -> None:
    (cache_dir / "pkpd-engine.stamp").write_text(_entry._digest())
    _touch(cache_dir, "_loop.run-357.py311.nbi", "_loop.run-357.py311.1.nbc")
    _entry._check_cache()
    assert (cache_dir / "_loop.run-357.py311.nbi").exists()
    assert (cache_dir / "_loop.run-357.py311.1.nbc").exists()


def test_digest_covers_every_engine_module() -> None:
    here = Path(_entry.__file__).parent
    modules = {p.stem for p in here.glob("_*.py")} - {"__init__", "_entry"}
    assert modules == set(_entry._SOURCES)


def test_thread_count_from_the_environment(monkeypatch) -> None:
    from pkpd import PkpdError
    from pkpd.engine import n_threads

    monkeypatch.setenv("PKPD_NUM_THREADS", "3")
    assert n_threads() == 3
    monkeypatch.setenv("PKPD_NUM_THREADS", "0")
    assert n_threads() == 1
    monkeypatch.setenv("PKPD_NUM_THREADS", "many")
    with pytest.raises(PkpdError, match="PKPD_NUM_THREADS='many': expected a whole number"):
        n_threads()
