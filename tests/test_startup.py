"""A warm start reads the built model and its lowered code from the disk cache.

The cache must give the same numbers as a cold build, follow every change of the model file,
ignore corrupted entries and work without a writable cache folder. No timing is asserted here
(see ``benchmarks/startup.py``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import pkpd
from pkpd.codegen._cache import read_lowered, write_lowered
from pkpd.library import model_path

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = """
import json, sys
import pkpd
model = pkpd.load_model(sys.argv[1])
light = "pint" not in sys.modules
ds = pkpd.simulate(model, "500 mg PO q12h x 3", times="0..72 h by 1 h")
out = model.output_names[0]
print(json.dumps({"hash": model.hash, "pint_free_load": light,
                  "values": [float(v) for v in ds[out].values.ravel()]}))
"""


def _run(cache: Path, model: str) -> dict:
    env = {**os.environ, "PKPD_CACHE_DIR": str(cache)}
    proc = subprocess.run([sys.executable, "-c", SCRIPT, model], env=env, capture_output=True,
                          text=True, timeout=600, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("PKPD_CACHE_DIR", str(folder))
    return folder


@pytest.mark.slow
@pytest.mark.parametrize("name", ["two_cmt_oral", "mm_indirect_response"])
def test_warm_process_gives_the_cold_numbers(tmp_path: Path, name: str) -> None:
    cold = _run(tmp_path, name)
    assert list((tmp_path / "models").glob("*.pkl")), "the built model is stored"
    assert list(tmp_path.glob("m_*.lowered.pkl")), "the lowered code is stored"
    warm = _run(tmp_path, name)
    assert warm["hash"] == cold["hash"]
    assert warm["values"] == cold["values"]
    assert warm["pint_free_load"], "a warm load_model builds nothing (no unit analysis)"


def _model_file(tmp_path: Path) -> Path:
    path = tmp_path / "mine.toml"
    path.write_text(Path(model_path("two_cmt_oral")).read_text(encoding="utf-8"),
                    encoding="utf-8")
    return path


def test_editing_the_file_gives_a_new_model(tmp_path: Path, cache: Path) -> None:
    path = _model_file(tmp_path)
    first = pkpd.load_model(path)
    assert pkpd.load_model(path) == first                     # from the cache
    text = path.read_text(encoding="utf-8")
    old = 'TVCL = { value = 5.0,'
    assert old in text
    path.write_text(text.replace(old, 'TVCL = { value = 7.5,'), encoding="utf-8")
    second = pkpd.load_model(path)
    assert dict((p.name, p.value) for p in second.parameters)["TVCL"] == 7.5
    assert second.hash != first.hash
    assert len(list((cache / "models").glob("*.pkl"))) == 2
    regimen = "500 mg PO q12h x 2"
    cp1 = pkpd.simulate(first, regimen, times="0..24 h by 1 h")["CP"].values
    cp2 = pkpd.simulate(second, regimen, times="0..24 h by 1 h")["CP"].values
    assert (cp1 != cp2).any()


def test_a_new_package_version_misses_the_cache(tmp_path: Path, cache: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    path = _model_file(tmp_path)
    pkpd.load_model(path)
    monkeypatch.setattr(pkpd, "__version__", pkpd.__version__ + ".post1")
    pkpd.load_model(path)
    assert len(list((cache / "models").glob("*.pkl"))) == 2


@pytest.mark.parametrize("damage", [b"", b"garbage", None])
def test_a_corrupted_entry_is_rebuilt(tmp_path: Path, cache: Path, damage: bytes | None
                                      ) -> None:
    path = _model_file(tmp_path)
    first = pkpd.load_model(path)
    (entry,) = (cache / "models").glob("*.pkl")
    data = entry.read_bytes()
    entry.write_bytes(data[: len(data) // 2] if damage is None else damage)   # half-written
    again = pkpd.load_model(path)
    assert again == first and again.canonical_text == first.canonical_text
    assert entry.read_bytes() == data                                      # rewritten


def test_an_unusable_cache_folder_still_loads(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("PKPD_CACHE_DIR", str(blocker / "cache"))
    path = _model_file(tmp_path)
    assert pkpd.load_model(path).name == pkpd.load_model("two_cmt_oral").name


def test_a_corrupted_lowered_entry_is_ignored(cache: Path) -> None:
    key = "ab" * 32
    write_lowered(key, "def f(): pass\n", None, True)
    assert read_lowered(key) == ("def f(): pass\n", None, True)
    assert read_lowered("cd" * 32) is None
    (entry,) = cache.glob("m_*.lowered.pkl")
    entry.write_bytes(entry.read_bytes()[:-5])
    assert read_lowered(key) is None
