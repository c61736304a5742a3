"""The same seed gives bit-identical results with one and with several engine threads.

The engine splits a cohort into blocks of subjects run by parallel threads, each writing only its
own rows; every reduction over subjects (objective, gradient) happens afterwards in numpy, in
subject order. So neither a simulation with between-subject and residual variability nor a
FOCE-I fit may depend on the thread count, in this process (``PKPD_NUM_THREADS``) or in a fresh
one started with ``NUMBA_NUM_THREADS=1``. Chunked simulation on a dask cluster of worker
processes must give the in-process cohort too (the unsampled case is in test_scale.py).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import pkpd
from pkpd import engine, scale

N = 200            # sampled subjects: more than two blocks of 64, so two threads split them
TIMES = "0..24 h by 4 h"
CASES = {"ode": ("one_cmt_mm", "100 mg IV q12h x 2"),
         "linear": ("two_cmt_oral", "500 mg PO q12h x 2")}
ROOT = Path(__file__).resolve().parents[1]


def _digest(ds: xr.Dataset) -> str:
    h = hashlib.sha256()
    for name in sorted(ds.data_vars):
        h.update(name.encode())
        h.update(np.ascontiguousarray(ds[name].values).data)
    return h.hexdigest()


def _fit_digest(fit: pkpd.PopulationFit) -> str:
    values = [fit.ofv, *(fit.estimates[k] for k in sorted(fit.estimates))]
    return hashlib.sha256(np.array(values, dtype=float).tobytes()).hexdigest()


def _theo_data(shared_dir: Path) -> pd.DataFrame:
    return pd.read_csv(shared_dir / "data" / "theophylline.csv")


def _theo_fit(data: pd.DataFrame) -> pkpd.PopulationFit:
    from tests.estimation.theophylline import theophylline_model

    return pkpd.fit_population(theophylline_model(), data, "focei", maxiter=3, covariance=None)


@pytest.fixture
def blocks(monkeypatch) -> list[int]:
    """The number of thread blocks of every engine call."""
    seen: list[int] = []
    original = engine._blocks

    def record(n_sub: int, threads: int) -> np.ndarray:
        bounds = original(n_sub, threads)
        seen.append(len(bounds) - 1)
        return bounds

    monkeypatch.setattr(engine, "_blocks", record)
    return seen


def _simulate(case: str) -> xr.Dataset:
    name, regimen = CASES[case]
    return pkpd.simulate(name, regimen, n=N, seed=20261203, times=TIMES)


@pytest.mark.parametrize("case", sorted(CASES))
def test_simulation_is_the_same_on_one_and_two_threads(monkeypatch, blocks, case):
    runs = {}
    for threads in ("1", "2"):
        monkeypatch.setenv("PKPD_NUM_THREADS", threads)
        blocks.clear()
        runs[threads] = _simulate(case)
        assert max(blocks) == int(threads)       # the engine did split the cohort
    ref = runs["1"]
    assert {"CP", "CP_obs"} <= set(ref.data_vars)
    # variability was drawn: subjects differ and observations carry residual error
    assert np.unique(ref["CP"].values[..., -1]).size == N
    assert np.all(ref["CP_obs"].values != ref["CP"].values)
    for var in ref.data_vars:
        np.testing.assert_array_equal(runs["2"][var].values, ref[var].values, strict=True)


def test_focei_fit_is_the_same_on_one_and_two_threads(monkeypatch, blocks, shared_dir):
    data = _theo_data(shared_dir)
    fits = {}
    for threads in ("1", "2"):
        monkeypatch.setenv("PKPD_NUM_THREADS", threads)
        blocks.clear()
        fits[threads] = _theo_fit(data)
        assert max(blocks) == int(threads)       # some batches were split between threads
    assert fits["1"].ofv == fits["2"].ofv
    assert fits["1"].estimates == fits["2"].estimates
    # the fit moved from the initial values (three iterations were made)
    assert fits["1"].estimates["TVKA"] != 1.5


_CHILD = """
import json, sys
sys.path.insert(0, {root!r})
from pkpd import engine
from tests.test_determinism import _digest, _fit_digest, _simulate, _theo_data, _theo_fit
from pathlib import Path
out = {{case: _digest(_simulate(case)) for case in ("ode", "linear")}}
out["fit"] = _fit_digest(_theo_fit(_theo_data(Path({shared!r}))))
out["threads"] = engine.n_threads()
print(json.dumps(out))
"""


@pytest.mark.slow
def test_a_single_threaded_process_gives_the_same(monkeypatch, shared_dir):
    monkeypatch.delenv("PKPD_NUM_THREADS", raising=False)
    here = {case: _digest(_simulate(case)) for case in CASES}
    here["fit"] = _fit_digest(_theo_fit(_theo_data(shared_dir)))
    env = {k: v for k, v in os.environ.items() if k != "PKPD_NUM_THREADS"}
    env["NUMBA_NUM_THREADS"] = "1"
    child = subprocess.run(
        [sys.executable, "-c", _CHILD.format(root=str(ROOT), shared=str(shared_dir))],
        env=env, capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert child.returncode == 0, child.stderr
    there = json.loads(child.stdout.strip().splitlines()[-1])
    assert there.pop("threads") == 1
    assert there == here


@pytest.mark.slow
def test_sampled_cohort_on_a_local_cluster_equals_in_process():
    distributed = pytest.importorskip("distributed")
    name, regimen = CASES["ode"]
    patients = {"ID": np.arange(1, 151)}
    args = {"times": TIMES, "n": 2, "seed": 7}
    ref = pkpd.simulate(name, regimen, patients, **args)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster):
        ds = scale.simulate_chunked(name, regimen, patients, chunks=40, **args).compute()
    assert {"CP", "CP_obs"} <= set(ds.data_vars)
    for var in ref.data_vars:
        np.testing.assert_array_equal(ds[var].values, ref[var].values, strict=True)
