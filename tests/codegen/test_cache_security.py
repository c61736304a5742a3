"""The kernel cache loads only entries written for the requested key by the current user.

Every entry (generated module, numba's cache files, pickled lowered model, pickled built model)
records its key; an entry copied under another model's name is ignored and rebuilt, and the
results are the other model's (checked against the closed form of a one-compartment IV bolus).
An entry that another user could have written (owned by someone else, group- or world-writable,
in a folder anyone may write to without the sticky bit) is ignored, rebuilt and warned about.
"""

from __future__ import annotations

import itertools
import os
import shutil
import stat
import warnings
from pathlib import Path

import numpy as np
import pytest

import pkpd
from pkpd import _cachefile
from pkpd.codegen import compile_model
from pkpd.codegen._cache import disk_key
from pkpd.library import model_path

posix = pytest.mark.skipif(os.name != "posix", reason="file ownership and modes are POSIX")
DOSE, CL, TIMES = 100.0, 2.0, [1.0, 5.0]
_volumes = itertools.count(11)


def bolus(volume: float) -> pkpd.Model:
    """A one-compartment IV bolus (a model new to this process for each volume)."""
    mb = pkpd.ModelBuilder("bolus", time_unit="h")
    mb.states(central="mg")
    mb.parameters(TVCL=f"{CL} L/h", TVV=f"{volume} L")
    mb.ode("central", "-TVCL / TVV * central")
    mb.output("CP", "central / TVV", unit="mg/L")
    mb.route("IV", "central")
    return mb.build()


def fresh() -> tuple[pkpd.Model, float]:
    volume = next(_volumes) + 0.25
    return bolus(volume), volume


def assert_is(cm: pkpd.CompiledModel, volume: float) -> None:
    cp = pkpd.simulate(cm, f"{DOSE} mg IV", times=TIMES)["CP"].values.ravel()
    np.testing.assert_allclose(cp, DOSE / volume * np.exp(-CL / volume * np.array(TIMES)),
                               rtol=1e-9)


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("PKPD_CACHE_DIR", str(folder))
    monkeypatch.setattr(_cachefile, "_WARNED", set())
    return folder


def entries(cache: Path, model: pkpd.Model) -> dict[str, Path]:
    stem = f"m_{disk_key(model.hash)[:20]}"
    found = {"py": cache / f"{stem}.py", "lowered": cache / f"{stem}.lowered.pkl"}
    for f in (cache / "__pycache__").glob(f"{stem}.*"):
        found[f.name[len(stem) + 1:]] = f
    return found


def test_entries_of_another_model_are_rebuilt(cache):
    (a, va), (b, vb) = fresh(), fresh()
    assert_is(compile_model(a), va)
    a_files = entries(cache, a)
    assert {"py", "lowered"} < a_files.keys() and any(k.endswith(".nbi") for k in a_files)
    b_stem = f"m_{disk_key(b.hash)[:20]}"
    for suffix, f in a_files.items():    # A's module, pickle and numba files under B's names
        shutil.copy2(f, f.with_name(f"{b_stem}.{suffix}"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")   # a foreign key is not a security warning
        cm = compile_model(b)
    assert_is(cm, vb)
    b_files = entries(cache, b)
    assert b_files["py"].read_text().startswith(f"# pkpd-cache-key: {disk_key(b.hash)}\n")


def test_model_store_entry_of_another_file_is_rebuilt(cache, tmp_path):
    text = model_path("one_cmt").read_text(encoding="utf-8")
    path_a, path_b = tmp_path / "a.toml", tmp_path / "b.toml"
    path_a.write_text(text, encoding="utf-8")
    path_b.write_text(text.replace("value = 50.0", "value = 70.0"), encoding="utf-8")
    a = pkpd.load_model(path_a)
    (entry,) = (cache / "models").iterdir()
    b = pkpd.load_model(path_b)
    b_entry = next(p for p in (cache / "models").iterdir() if p != entry)
    shutil.copy2(entry, b_entry)          # A's built model under B's name
    again = pkpd.load_model(path_b)
    assert again.hash == b.hash != a.hash
    assert {p.name: p.value for p in again.parameters}["TVV"] == 70.0


def _assert_warned(record, path: Path) -> None:
    messages = [str(w.message) for w in record if issubclass(w.category, pkpd.PkpdWarning)]
    assert any(str(path) in m for m in messages), messages


@posix
@pytest.mark.parametrize("kind", ["py", "lowered", "nbi", "nbc"])
def test_group_or_world_writable_kernel_entry_is_rebuilt(cache, kind):
    model, volume = fresh()
    compile_model(model)
    # the same model again in a new process: drop what this one holds in memory
    files = entries(cache, model)
    target = files[kind] if kind in files else next(
        f for k, f in files.items() if k.endswith("." + kind))
    os.chmod(target, stat.S_IMODE(target.stat().st_mode) | (0o020 if kind != "nbc" else 0o002))
    _forget(model)
    with pytest.warns(pkpd.PkpdWarning) as record:
        cm = compile_model(model)
    _assert_warned(record, target)
    assert_is(cm, volume)
    # rebuilt: the entry in place now is safe, and it is used without a warning
    for f in entries(cache, model).values():
        assert _cachefile.untrusted(f) is None, f
    _forget(model)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert_is(compile_model(model), volume)


@posix
def test_model_store_entry_of_another_user_is_refused(cache, tmp_path, monkeypatch):
    path = tmp_path / "m.toml"
    path.write_text(model_path("one_cmt").read_text(encoding="utf-8"),
                    encoding="utf-8")
    first = pkpd.load_model(path)
    (entry,) = (cache / "models").iterdir()
    real = os.getuid()
    monkeypatch.setattr(os, "getuid", lambda: real + 1)     # every file is someone else's
    with pytest.warns(pkpd.PkpdWarning, match="owned by user id") as record:
        assert pkpd.load_model(path).hash == first.hash
    _assert_warned(record, entry)


@posix
def test_world_writable_folder_without_sticky_bit_is_not_used(cache):
    model, volume = fresh()
    cache.mkdir()
    os.chmod(cache, 0o777)
    with pytest.warns(pkpd.PkpdWarning, match="writable by everyone") as record:
        cm = compile_model(model)
    _assert_warned(record, cache)
    assert_is(cm, volume)
    assert not list(cache.glob("m_*"))              # nothing read from or written there
    assert Path(cm.path).parent != cache
    # with the sticky bit (as /tmp) the folder is used
    os.chmod(cache, 0o1777)
    model, volume = fresh()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert_is(compile_model(model), volume)
    assert Path(compile_model(model).path).parent == cache


def _forget(model: pkpd.Model) -> None:
    """Make this process compile ``model`` as a new process would (memory caches dropped)."""
    import sys

    from pkpd import codegen

    key = disk_key(model.hash)
    codegen._MEMORY.pop(key, None)
    sys.modules.pop(f"pkpd_generated_m_{key[:20]}", None)


_PINT = """
import warnings
import pkpd
from pkpd.units import registry
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    assert registry().Quantity(1, "g").to("mg").magnitude == 1000.0
for w in caught:
    print(w.message)
"""


@posix
def test_pint_cache_files_of_another_user_are_removed(tmp_path):
    import subprocess
    import sys

    env = {**os.environ, "PKPD_CACHE_DIR": str(tmp_path)}

    def run() -> str:
        proc = subprocess.run([sys.executable, "-c", _PINT], env=env, capture_output=True,
                              text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    assert run() == ""
    pickles = sorted((tmp_path / "pint").glob("*.pickle"))
    assert pickles and all(_cachefile.untrusted(p) is None for p in pickles)
    os.chmod(pickles[0], 0o666)
    assert f"ignoring {pickles[0]}" in run()
    assert _cachefile.untrusted(pickles[0]) is None     # written again by this user, sealed
    assert run() == ""
