"""Processes sharing one kernel cache folder.

Two processes started together on an empty cache both compile (and write) the same model, one
of them a second model too; both succeed with identical results. A third process then loads
every kernel from numba's disk cache (no compilation: each kernel a cache hit) and matches.
Damaged entries (a truncated numba index and data file, generated module, lowered-model pickle
and built-model pickle) are rebuilt by the next process, which gives the same results, and the
process after it hits the cache again.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MODELS = {"one_cmt_mm": "100 mg IV q12h x 2", "two_cmt_oral": "500 mg PO q12h x 2"}

SCRIPT = """
import hashlib, json, sys, warnings
import numpy as np, pkpd
from pkpd.codegen import compile_model
regimens = json.loads(sys.argv[1])
out = {}
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    for name in sys.argv[2:]:
        cm = compile_model(pkpd.load_model(name))
        ds = pkpd.simulate(cm, regimens[name], n=20, seed=1, times="0..24 h by 2 h")
        h = hashlib.sha256()
        for var in sorted(ds.data_vars):
            h.update(np.ascontiguousarray(ds[var].values).data)
        stats = [getattr(cm, k).dispatcher.stats
                 for k in ("rhs", "jac", "derive", "outputs", "dosing", "init")]
        out[name] = {"digest": h.hexdigest(),
                     "hits": sum(sum(s.cache_hits.values()) for s in stats),
                     "misses": sum(sum(s.cache_misses.values()) for s in stats)}
out["warnings"] = [str(w.message) for w in caught if issubclass(w.category, pkpd.PkpdWarning)]
print(json.dumps(out))
"""


def start(cache: Path, *models: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PKPD_CACHE_DIR": str(cache)}
    env.pop("NUMBA_CACHE_DIR", None)
    return subprocess.Popen([sys.executable, "-c", SCRIPT, json.dumps(MODELS), *models],
                            env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def finish(proc: subprocess.Popen[str]) -> dict:
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])


def run(cache: Path, *models: str) -> dict:
    return finish(start(cache, *models))


def truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


@pytest.mark.slow
def test_two_processes_share_one_cache_and_recover_from_damage(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    both = start(cache, "one_cmt_mm", "two_cmt_oral")
    one = start(cache, "one_cmt_mm")
    first, second = finish(both), finish(one)
    assert first["one_cmt_mm"]["digest"] == second["one_cmt_mm"]["digest"]
    assert first["warnings"] == second["warnings"] == []
    assert len(list(cache.glob("m_*.py"))) == 2
    assert len(list((cache / "models").glob("*.pkl"))) == 2

    third = run(cache, "one_cmt_mm", "two_cmt_oral")
    for name in MODELS:
        assert third[name]["digest"] == first[name]["digest"]
        # all six kernels loaded from numba's cache: nothing compiled
        assert third[name]["hits"] == 6 and third[name]["misses"] == 0, third

    # damage: half of one numba index and of another kernel's machine code (one_cmt_mm), of
    # the generated module and lowered pickle of two_cmt_oral, and of every built-model pickle
    modules = {p.read_text().count("one_cmt_mm") > 0: p for p in cache.glob("m_*.py")}
    mm, oral = modules[True], modules[False]
    numba_files = sorted((cache / "__pycache__").glob(f"{mm.stem}.*"))
    index = next(f for f in numba_files if f.suffix == ".nbi")
    data = next(f for f in numba_files if f.suffix == ".nbc" and
                not f.name.startswith(index.name.split(".py")[0]))
    for path in (index, data, oral, oral.with_name(f"{oral.stem}.lowered.pkl"),
                 *(cache / "models").glob("*.pkl")):
        truncate(path)
    fourth = run(cache, "one_cmt_mm", "two_cmt_oral")
    for name in MODELS:
        assert fourth[name]["digest"] == first[name]["digest"]
    assert fourth["warnings"] == []
    # numba failed to load a damaged file: the module's numba files were dropped, all recompiled
    assert fourth["one_cmt_mm"]["misses"] == 6
    assert fourth["two_cmt_oral"]["misses"] == 6          # a new module: compiled again
    fifth = run(cache, "one_cmt_mm", "two_cmt_oral")
    for name in MODELS:
        assert fifth[name]["digest"] == first[name]["digest"]
        assert fifth[name]["hits"] == 6 and fifth[name]["misses"] == 0, fifth
