"""Sampled virtual cohorts chunk by chunk: etas, occasion etas and residual errors drawn per
block of subjects, so that the same seed gives the same cohort for any chunking and any thread
count, bit for bit equal to the in-process :func:`pkpd.simulate` of the same cohort."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import pkpd
from pkpd import scale
from tests.conftest import assert_same_run

REGIMEN = "500 mg PO q12h x 2"
TIMES = "0..24 h by 4 h"
N = 2100        # three blocks of random streams (1024 subjects each), the last one partial
N_SAMPLES = 3


@pytest.fixture(scope="module")
def two_cmt() -> pkpd.CompiledModel:
    return pkpd.compile_model(pkpd.load_model("two_cmt_oral"))


@pytest.fixture(scope="module")
def cohort() -> pd.DataFrame:
    rng = np.random.default_rng(5)
    return pd.DataFrame({"ID": np.arange(1, N + 1), "WT": rng.uniform(45, 120, N)})


@pytest.fixture(scope="module")
def reference(two_cmt, cohort) -> xr.Dataset:
    return pkpd.simulate(two_cmt, REGIMEN, cohort, times=TIMES, n=N_SAMPLES, seed=2024)


def _bov_model() -> pkpd.CompiledModel:
    mb = pkpd.ModelBuilder("bov_sampling", time_unit="h")
    central, = mb.states(central="mg")
    mb.parameters(TVCL="2 L/h", V="20 L")
    mb.etas(eta_CL=0.09, eta_occ=0.04)
    mb.occasion("eta_occ")
    mb.derive("CL", "TVCL*exp(eta_CL + eta_occ)")
    mb.ode(central, "-CL/V*central")
    mb.output("C", "central/V", unit="mg/L")
    mb.error("C", proportional=0.1)
    mb.route("IV", "central")
    return pkpd.compile_model(mb.build())


@pytest.mark.parametrize("chunks", [700, 300, 1024, 5000])
def test_chunked_sampling_equals_in_process(two_cmt, cohort, reference, chunks):
    # 700 and 300 are not multiples of the block: chunks start and end inside blocks, and 300
    # is smaller than a block
    ds = scale.simulate_chunked(two_cmt, REGIMEN, cohort, times=TIMES, n=N_SAMPLES, seed=2024,
                                chunks=chunks)
    assert ds["CP"].dims == ("id", "sample", "time")
    assert ds["CP_obs"].chunks[0][0] == min(chunks, N)
    assert_same_run(ds, reference)


def test_a_subject_draws_the_same_in_any_cohort(two_cmt, cohort, reference):
    # subjects 1000..1099 alone, as the first subjects of their run: other draws; at their
    # index in the cohort (the streams positioned there, as a chunk does): the same draws
    from pkpd._sampling import Streams

    part = cohort.iloc[1000:1100]
    alone = pkpd.simulate(two_cmt, REGIMEN, part, times=TIMES, n=N_SAMPLES, seed=2024)
    assert not np.array_equal(alone["CP_obs"].values, reference["CP_obs"].values[1000:1100])
    placed = pkpd.simulate(two_cmt, REGIMEN, part, times=TIMES, n=N_SAMPLES,
                           seed=Streams.of(2024).at(1000))
    np.testing.assert_array_equal(placed["CP_obs"].values,
                                  reference["CP_obs"].values[1000:1100])


def test_seed_kinds(two_cmt, cohort, reference):
    part = cohort.iloc[:40]
    one = pkpd.simulate(two_cmt, REGIMEN, part, times=TIMES, n=2, seed=np.random.SeedSequence(7))
    np.testing.assert_array_equal(
        one["CP_obs"].values,
        pkpd.simulate(two_cmt, REGIMEN, part, times=TIMES, n=2, seed=7)["CP_obs"].values)
    np.testing.assert_array_equal(
        pkpd.simulate(two_cmt, REGIMEN, part, times=TIMES, n=2, seed=[7, 8])["CP_obs"].values,
        pkpd.simulate(two_cmt, REGIMEN, part, times=TIMES, n=2,
                      seed=np.random.SeedSequence([7, 8]))["CP_obs"].values)
    # a Generator gives one integer seed drawn from it: same state, same cohort; it moves on
    a = pkpd.simulate(two_cmt, REGIMEN, part, times=TIMES, n=2, seed=np.random.default_rng(3))
    gen = np.random.default_rng(3)
    b = pkpd.simulate(two_cmt, REGIMEN, part, times=TIMES, n=2, seed=gen)
    c = pkpd.simulate(two_cmt, REGIMEN, part, times=TIMES, n=2, seed=gen)
    np.testing.assert_array_equal(a["CP_obs"].values, b["CP_obs"].values)
    assert not np.array_equal(b["CP_obs"].values, c["CP_obs"].values)
    assert a.attrs["seed"] == str(np.random.default_rng(3).integers(2**63))
    # chunked with a Generator: drawn once, shared by all chunks
    gen = np.random.default_rng(3)
    chunked = scale.simulate_chunked(two_cmt, REGIMEN, part, times=TIMES, n=2, seed=gen,
                                     chunks=7)
    assert_same_run(chunked, a)
    with pytest.raises(pkpd.DataError, match="seed"):
        pkpd.simulate(two_cmt, REGIMEN, part, times=TIMES, n=2, seed=-1)


def test_between_occasion_and_residual_chunked_equals_in_process():
    bov = _bov_model()
    args = {"times": [6.0, 23.0, 30.0, 47.0], "n": 2, "seed": 11, "occasions": ["0 h", "24 h"]}
    patients = {"ID": np.arange(1, 1501)}
    ref = pkpd.simulate(bov, "100 mg IV q24h x 2", patients, **args)
    assert {"C", "C_obs"} <= set(ref.data_vars)
    for chunks in (1000, 250, 1501):
        assert_same_run(scale.simulate_chunked(bov, "100 mg IV q24h x 2", patients, chunks=chunks,
                                            **args), ref)
    # the occasion etas differ between occasions (drawn anew), the residuals are there
    c = ref["C"].values
    assert not np.allclose(np.log(c[:, :, 1] / c[:, :, 0]), np.log(c[:, :, 3] / c[:, :, 2]))
    assert np.all(ref["C_obs"].values != c)


def _digest(ds: xr.Dataset) -> str:
    h = hashlib.sha256()
    for name in sorted(ds.data_vars):
        h.update(np.ascontiguousarray(ds[name].values).data)
    return h.hexdigest()


_CHILD = """
import hashlib, sys
import numpy as np, pandas as pd, pkpd
rng = np.random.default_rng(5)
cohort = pd.DataFrame({"ID": np.arange(1, 1301), "WT": rng.uniform(45, 120, 1300)})
ds = pkpd.simulate_chunked("two_cmt_oral", "500 mg PO q12h x 2", cohort, times="0..24 h by 4 h",
                           n=2, seed=99, chunks=400).compute()
h = hashlib.sha256()
for name in sorted(ds.data_vars):
    h.update(np.ascontiguousarray(ds[name].values).data)
print(h.hexdigest())
"""


def test_thread_count_does_not_change_the_cohort(monkeypatch, two_cmt):
    rng = np.random.default_rng(5)
    cohort = pd.DataFrame({"ID": np.arange(1, 1301), "WT": rng.uniform(45, 120, 1300)})
    digests = []
    for threads in ("1", "2"):
        monkeypatch.setenv("PKPD_NUM_THREADS", threads)
        digests.append(_digest(scale.simulate_chunked(
            two_cmt, REGIMEN, cohort, times=TIMES, n=2, seed=99, chunks=400).compute()))
    # numba itself on one thread, in a fresh process
    env = {k: v for k, v in os.environ.items() if k != "PKPD_NUM_THREADS"}
    env["NUMBA_NUM_THREADS"] = "1"
    child = subprocess.run([sys.executable, "-c", _CHILD], env=env, capture_output=True,
                           text=True, check=True, timeout=300)
    digests.append(child.stdout.strip())
    assert digests[0] == digests[1] == digests[2]


def test_interrupted_sampled_zarr_run_resumes(tmp_path, monkeypatch, two_cmt, cohort):
    part = cohort.iloc[:1500]
    ref = pkpd.simulate(two_cmt, REGIMEN, part, times=TIMES, n=2, seed=8)
    path = tmp_path / "sampled.zarr"
    real = scale.simulate
    calls: list[int] = []

    def failing_third(*args, **kwargs):
        calls.append(1)
        if len(calls) == 4:   # the check of the first subject, chunks 1 and 2, then this one
            raise RuntimeError("interrupted")
        return real(*args, **kwargs)

    def run():
        return scale.simulate_to_zarr(path, two_cmt, REGIMEN, part, times=TIMES, n=2, seed=8,
                                      chunks=400)

    monkeypatch.setattr(scale, "simulate", failing_third)
    with pytest.raises(RuntimeError, match="interrupted"):
        run()
    partial = xr.open_zarr(path, consolidated=False)
    np.testing.assert_array_equal(partial["_chunk_done"].values, [1, 1, 0, 0])
    monkeypatch.setattr(scale, "simulate", real)
    assert_same_run(run(), ref)
    # another seed is another run
    with pytest.raises(pkpd.DataError, match="different run"):
        scale.simulate_to_zarr(path, two_cmt, REGIMEN, part, times=TIMES, n=2, seed=9,
                               chunks=400)


def test_sampled_etas_have_the_model_omega():
    # the etas are read back through outputs equal to them; their sample covariance must be
    # the model's omega (block included) within Monte Carlo error
    omega = np.array([[0.09, 0.03, 0.0], [0.03, 0.04, 0.0], [0.0, 0.0, 0.25]])
    mb = pkpd.ModelBuilder("omega_probe", time_unit="h")
    central, = mb.states(central="mg")
    mb.parameters(TVCL="2 L/h", V="20 L")
    mb.omega_block(["eta_CL", "eta_V"], omega[:2, :2].tolist())
    mb.etas(eta_KA=0.25)
    mb.derive("CL", "TVCL*exp(eta_CL)")
    mb.ode(central, "-CL/(V*exp(eta_V))*central")
    mb.output("C", "central/V", unit="mg/L")
    for eta in ("eta_CL", "eta_V", "eta_KA"):
        mb.output(f"E_{eta[4:]}", eta)
    mb.route("IV", "central")
    model = mb.build()
    n_sub, n = 3000, 4
    ds = scale.simulate_chunked(model, "100 mg IV", {"ID": np.arange(n_sub)}, times=[1.0],
                                n=n, seed=31, chunks=700).compute()
    etas = np.stack([ds[f"E_{e}"].values[:, :, 0].ravel() for e in ("CL", "V", "KA")], axis=1)
    m = len(etas)
    cov = np.cov(etas, rowvar=False)
    # standard error of a sample covariance of normals: sqrt((s_ij^2 + s_ii s_jj) / m)
    se = np.sqrt((omega**2 + np.outer(np.diag(omega), np.diag(omega))) / m)
    assert np.all(np.abs(cov - omega) < 4.5 * se), (cov, omega)
    assert np.all(np.abs(etas.mean(axis=0)) < 4.5 * np.sqrt(np.diag(omega) / m))
    # subjects are independent: no correlation between neighbours, within or across blocks
    e_cl = ds["E_CL"].values[:, 0, 0]
    assert abs(np.corrcoef(e_cl[:-1], e_cl[1:])[0, 1]) < 4.5 / np.sqrt(n_sub)
    assert abs(np.corrcoef(e_cl[:1024], e_cl[1024:2048])[0, 1]) < 4.5 / np.sqrt(1024)
