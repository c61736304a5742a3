"""Concurrent calls from several Python threads give exactly the serial results.

The engine's kernels release the GIL, so a user may run simulations and fits from a thread pool;
the shared state that pkpd fills lazily (compiled models, engine variants, the model store) is
filled under locks. The engine runs its blocks of subjects in Python threads, not in numba's
parallel threading layer, so concurrent calls never enter numba's workqueue layer (which is not
thread-safe); a test below checks that no engine function is compiled with ``parallel=True``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

import pkpd
from pkpd.library import model_path

THREADS = 8
TIMES = "0..24 h by 4 h"


def _sim(seed: int) -> dict[str, np.ndarray]:
    name, regimen = (("one_cmt_mm", "100 mg IV q12h x 2") if seed % 2
                     else ("two_cmt_oral", "500 mg PO q12h x 2"))
    ds = pkpd.simulate(name, regimen, n=150, seed=seed, times=TIMES)
    return {k: ds[k].values for k in ds.data_vars}


def _assert_same(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], strict=True)


@pytest.fixture(scope="module")
def theo(shared_dir):
    return pkpd.read_nonmem(shared_dir / "data" / "theophylline.csv")


def _fit(data, subject: int) -> tuple[float, dict[str, float], np.ndarray]:
    fit = pkpd.fit_individual("theophylline_1cmt", data.subject(subject))
    return fit.ofv, dict(fit.etas), fit.covariance.to_numpy()


def test_concurrent_simulations_and_fits_equal_serial(theo):
    jobs = [("sim", s) for s in range(1, 9)] + [("fit", s) for s in (1, 2, 3, 4)]

    def run(job):
        kind, arg = job
        return _sim(arg) if kind == "sim" else _fit(theo, arg)

    serial = [run(job) for job in jobs]
    for _ in range(2):
        with ThreadPoolExecutor(THREADS) as pool:
            parallel = list(pool.map(run, jobs[::-1]))[::-1]
        for (kind, _arg), one, other in zip(jobs, serial, parallel, strict=True):
            if kind == "sim":
                _assert_same(one, other)
            else:
                assert one[:2] == other[:2]
                np.testing.assert_array_equal(one[2], other[2], strict=True)
    # the jobs differ from one another (a mix-up between threads would show)
    assert serial[0]["CP"].shape != serial[1]["CP"].shape or \
        not np.array_equal(serial[0]["CP"], serial[1]["CP"])
    assert len({fit[0] for fit in serial[8:]}) == 4


def test_concurrent_load_model_of_one_file(tmp_path, monkeypatch):
    expected = pkpd.load_model("one_cmt_mm").hash
    monkeypatch.setenv("PKPD_CACHE_DIR", str(tmp_path / "cache"))
    path = tmp_path / "mm.toml"
    path.write_text(model_path("one_cmt_mm").read_text(encoding="utf-8"), encoding="utf-8")
    for _ in range(2):   # a cold store (every thread builds and writes), then a warm one
        with ThreadPoolExecutor(THREADS) as pool:
            models = list(pool.map(lambda _: pkpd.load_model(path), range(2 * THREADS)))
        assert {m.hash for m in models} == {expected}
        stored = list((tmp_path / "cache" / "models").iterdir())
        assert [p.suffix for p in stored] == [".pkl"]       # one entry, no temporary left


def test_engine_uses_no_numba_parallel_layer():
    from pkpd.engine import _entry, _loop

    _entry.compiled_run(True, False, False)
    assert not _loop.run.targetoptions.get("parallel")
    assert _loop.run.targetoptions.get("nogil")


_CHILD = """
import sys
from concurrent.futures import ThreadPoolExecutor
import pkpd
sys.path.insert(0, {root!r})
from tests.test_threads import THREADS, _assert_same, _fit, _sim
data = pkpd.read_nonmem({data!r})
jobs = [("sim", s) for s in range(1, 2 * THREADS + 1)] + [("fit", 1), ("fit", 2)]
run = lambda job: _sim(job[1]) if job[0] == "sim" else _fit(data, job[1])
# a fresh process and an empty kernel cache: the first calls build the models, compile them
# (and the sensitivity model of the fits) and load the engine's variants, all at the same time
with ThreadPoolExecutor(THREADS) as pool:
    parallel = list(pool.map(run, jobs))
for job, got in zip(jobs, parallel):
    if job[0] == "sim":
        _assert_same(got, run(job))
    else:
        one = run(job)
        assert one[:2] == got[:2] and (one[2] == got[2]).all()
print("ok")
"""


@pytest.mark.slow
def test_first_compile_from_several_threads(tmp_path, shared_dir):
    root = Path(__file__).resolve().parents[1]
    data = str(shared_dir / "data" / "theophylline.csv")
    env = {**os.environ, "PKPD_CACHE_DIR": str(tmp_path / "cache")}
    script = _CHILD.format(root=str(root), data=data)
    child = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                           text=True, timeout=600, cwd=root)
    assert child.returncode == 0, child.stderr
    assert child.stdout.strip().endswith("ok")
    assert len(list((tmp_path / "cache").glob("m_*.py"))) == 4   # 3 models, 1 sensitivity
