"""Scale out: chunked (dask) simulation, a real local cluster, and zarr streaming with resume.

The reference everywhere is the in-process :func:`pkpd.simulate` of the same cohort: a subject's
numbers must not depend on the chunk it is simulated in, so results are compared bit for bit.
"""

from __future__ import annotations

import pickle

import dask
import numpy as np
import pandas as pd
import pytest
import xarray as xr

import pkpd
from pkpd import scale
from tests.conftest import assert_same_run

REGIMEN = "500 mg PO q12h x 4"
TIMES = "0..60 h by 1 h"
N = 23  # not a multiple of the chunk size: the last chunk is smaller
CHUNKS = 5


@pytest.fixture(scope="module")
def two_cmt() -> pkpd.CompiledModel:
    return pkpd.compile_model(pkpd.load_model("two_cmt_oral"))


@pytest.fixture(scope="module")
def params() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(20240611)
    return {"eta_CL": rng.normal(0, 0.3, N), "eta_V1": rng.normal(0, 0.25, N),
            "TVKA": rng.uniform(0.5, 2.0, N)}


@pytest.fixture(scope="module")
def patients() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    return pd.DataFrame({"ID": np.arange(101, 101 + N), "WT": rng.uniform(45, 120, N)})


@pytest.fixture(scope="module")
def reference(two_cmt, params, patients) -> xr.Dataset:
    return pkpd.simulate(two_cmt, REGIMEN, patients, params=params, times=TIMES)


@pytest.fixture(scope="module")
def theophylline(shared_dir):
    data = pkpd.read_nonmem(shared_dir / "data" / "theophylline.csv")
    n = data.events.n_subjects
    rng = np.random.default_rng(11)
    params = pd.DataFrame({"TVCL": rng.uniform(1.5, 4.0, n), "TVV": rng.uniform(25, 40, n),
                           "TVKA": rng.uniform(0.8, 2.5, n)})
    return data, params


def test_compiled_model_pickles_as_its_model(two_cmt):
    func, args = two_cmt.__reduce__()
    assert func is pkpd.compile_model and args == (two_cmt.model,)
    # in this process the compiled model comes back from the in-memory cache
    assert pickle.loads(pickle.dumps(two_cmt)) is two_cmt


def test_chunked_regimen_equals_in_process(two_cmt, params, patients, reference):
    ds = scale.simulate_chunked(two_cmt, REGIMEN, patients, params=params, times=TIMES,
                                chunks=CHUNKS)
    cp = ds["CP"].data
    assert dask.is_dask_collection(cp)
    assert cp.chunks == ((5, 5, 5, 5, 3), (61,))
    # one simulation task per chunk; the ids come from the ID column
    sims = [k for k in cp.__dask_graph__() if str(k[0] if isinstance(k, tuple) else k)
            .startswith("pkpd-simulate-")]
    assert len(sims) == 5
    np.testing.assert_array_equal(ds["id"].values, np.arange(101, 101 + N))
    assert_same_run(ds, reference)


def test_chunked_options_and_one_big_chunk(two_cmt, params, patients):
    ref = pkpd.simulate(two_cmt, REGIMEN, patients, params=params, times=TIMES, states=True,
                        solver="rosenbrock", rtol=1e-8)
    for chunks in (2, 1000):
        ds = scale.simulate_chunked(two_cmt, REGIMEN, patients, params=params, times=TIMES,
                                    chunks=chunks, states=True, solver="rosenbrock", rtol=1e-8)
        assert_same_run(ds, ref)


def test_chunked_auc_accumulators_equal_in_process(two_cmt, params, patients):
    ref = pkpd.simulate(two_cmt, REGIMEN, patients, params=params, times=TIMES, auc=["CP"])
    ds = scale.simulate_chunked(two_cmt, REGIMEN, patients, params=params, times=TIMES,
                                chunks=CHUNKS, auc=["CP"])
    assert "AUC_CP" in ds.data_vars
    assert_same_run(ds, ref)


def test_chunked_nonmem_dataset_equals_in_process(theophylline):
    data, params = theophylline
    ref = pkpd.simulate("one_cmt_oral_nm", data, params=params, times="0..24 h by 0.5 h")
    ds = scale.simulate_chunked("one_cmt_oral_nm", data, params=params,
                                times="0..24 h by 0.5 h", chunks=5)
    assert ds["CP"].chunks == ((5, 5, 2), (49,))
    assert_same_run(ds, ref)
    assert ds.attrs["data_sha256"] == data.sha256
    # an EventTable is sliced the same way (it has no file: no data record)
    table_ref = ref.copy()
    table_ref.attrs = {k: v for k, v in ref.attrs.items() if not k.startswith("data_")}
    assert_same_run(scale.simulate_chunked("one_cmt_oral_nm", data.events, params=params,
                                        times="0..24 h by 0.5 h", chunks=7), table_ref)


def test_nothing_runs_until_computed(monkeypatch, two_cmt, params):
    sizes: list[int] = []
    real = scale.simulate

    def counting(*args, params=None, **kwargs):
        sizes.append(len(params["eta_CL"]))
        return real(*args, params=params, **kwargs)

    monkeypatch.setattr(scale, "simulate", counting)
    ds = scale.simulate_chunked(two_cmt, REGIMEN, params=params, times=TIMES, chunks=CHUNKS)
    assert sizes == [1]  # the first subject, to check the inputs
    ds["CP"].isel(id=slice(0, 7)).compute()
    assert sorted(sizes[1:]) == [5, 5]  # only the chunks that hold subjects 1..7


@pytest.mark.parametrize(("change", "error", "match"), [
    ({"model": "no_such_model"}, pkpd.ModelError, "no_such_model"),
    ({"params": {"eta_XX": np.zeros(N)}}, pkpd.DataError, "eta_XX"),
    ({"params": {"eta_CL": np.zeros(N), "eta_V1": np.zeros(N - 1)}}, pkpd.DataError,
     "different lengths"),
    ({"patients": {"WT": np.full(N + 1, 70.0)}}, pkpd.DataError, "rows"),
    ({"times": "0..24 kg by 1 kg"}, pkpd.UnitError, "times"),
    ({"chunks": 0}, pkpd.DataError, "chunks"),
    ({"outputs": ["NOPE"]}, pkpd.ModelError, "NOPE"),
    ({"events": "500 mg PO every"}, pkpd.RegimenError, "expected an interval"),
])
def test_invalid_input_fails_at_call_time(two_cmt, params, change, error, match):
    args = {"model": two_cmt, "events": REGIMEN, "params": params, "times": TIMES,
            "chunks": CHUNKS} | change
    with pytest.raises(error, match=match):
        scale.simulate_chunked(args.pop("model"), args.pop("events"), **args)


def test_unknown_option_is_a_type_error(two_cmt, params):
    with pytest.raises(TypeError, match="rtoll"):
        scale.simulate_chunked(two_cmt, REGIMEN, params=params, times=TIMES, chunks=5, rtoll=1)


def test_bad_row_in_a_later_chunk_names_the_chunk(two_cmt, params):
    bad = dict(params, eta_CL=params["eta_CL"].copy())
    bad["eta_CL"][12] = np.nan
    ds = scale.simulate_chunked(two_cmt, REGIMEN, params=bad, times=TIMES, chunks=CHUNKS)
    with pytest.raises(pkpd.DataError, match="eta_CL") as info:
        ds.compute()
    assert any("subjects 11..15 of 23 (chunk 3 of 5" in note for note in info.value.__notes__)


@pytest.mark.slow
def test_local_cluster_computes_the_same(tmp_path, two_cmt, params, patients, reference):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster):
        # the workers unpickle the compiled model: they recompile it from the disk cache
        ds = scale.simulate_chunked(two_cmt, REGIMEN, patients, params=params, times=TIMES,
                                    chunks=CHUNKS)
        assert_same_run(ds, reference)
        stored = scale.simulate_to_zarr(tmp_path / "cluster.zarr", two_cmt, REGIMEN, patients,
                                        params=params, times=TIMES, chunks=CHUNKS)
        assert_same_run(stored, reference)


# -- zarr ----------------------------------------------------------------------------------------

def _to_zarr(path, two_cmt, params, patients, **kwargs):
    return scale.simulate_to_zarr(path, two_cmt, REGIMEN, patients, params=params, times=TIMES,
                                  chunks=CHUNKS, **kwargs)


def test_zarr_store_equals_in_memory(tmp_path, two_cmt, params, patients, reference):
    out = _to_zarr(tmp_path / "run.zarr", two_cmt, params, patients)
    assert dask.is_dask_collection(out["CP"])
    assert out["CP"].chunks == ((5, 5, 5, 5, 3), (61,))
    assert_same_run(out, reference)


def test_zarr_nonmem_dataset(tmp_path, theophylline):
    data, params = theophylline
    ref = pkpd.simulate("one_cmt_oral_nm", data, params=params, times="0..24 h by 1 h")
    out = scale.simulate_to_zarr(tmp_path / "theo.zarr", "one_cmt_oral_nm", data, params=params,
                                 times="0..24 h by 1 h", chunks=5)
    assert_same_run(out, ref)


def test_interrupted_run_resumes_only_missing_chunks(tmp_path, monkeypatch, two_cmt, params,
                                                     patients, reference):
    path = tmp_path / "run.zarr"
    real = scale.simulate
    sizes: list[int] = []

    def failing_at_third_chunk(*args, params=None, **kwargs):
        if params["eta_CL"][0] == params_all["eta_CL"][10]:
            raise RuntimeError("interrupted")
        sizes.append(len(params["eta_CL"]))
        return real(*args, params=params, **kwargs)

    params_all = params
    monkeypatch.setattr(scale, "simulate", failing_at_third_chunk)
    with pytest.raises(RuntimeError, match="interrupted"):
        _to_zarr(path, two_cmt, params, patients)
    assert sizes == [1, 5, 5]  # the check of the first subject, chunks 1 and 2

    partial = xr.open_zarr(path, consolidated=False)
    np.testing.assert_array_equal(partial["_chunk_done"].values, [1, 1, 0, 0, 0])
    np.testing.assert_array_equal(partial["CP"].values[:10], reference["CP"].values[:10])
    assert np.isnan(partial["CP"].values[10:]).all()

    sizes.clear()
    monkeypatch.setattr(scale, "simulate", lambda *a, params=None, **k: (
        sizes.append(len(params["eta_CL"])), real(*a, params=params, **k))[1])
    out = _to_zarr(path, two_cmt, params, patients)
    assert sizes == [5, 5, 3]  # chunks 3, 4 and 5 only
    assert_same_run(out, reference)

    sizes.clear()
    assert_same_run(_to_zarr(path, two_cmt, params, patients), reference)
    assert sizes == []  # complete: nothing left to do


def test_resume_of_a_different_run_raises(tmp_path, two_cmt, params, patients, reference):
    path = tmp_path / "run.zarr"
    _to_zarr(path, two_cmt, params, patients)
    other = dict(params, eta_CL=params["eta_CL"] + 0.01)
    with pytest.raises(pkpd.DataError, match="differs in: params"):
        _to_zarr(path, two_cmt, other, patients)
    with pytest.raises(pkpd.DataError, match="times"):
        scale.simulate_to_zarr(path, two_cmt, REGIMEN, patients, params=params,
                               times="0..60 h by 2 h", chunks=CHUNKS)
    with pytest.raises(pkpd.DataError, match="chunks"):
        scale.simulate_to_zarr(path, two_cmt, REGIMEN, patients, params=params, times=TIMES,
                               chunks=4)
    with pytest.raises(pkpd.DataError, match="events"):
        scale.simulate_to_zarr(path, two_cmt, "250 mg PO q12h x 4", patients, params=params,
                               times=TIMES, chunks=CHUNKS)
    # the failed attempts left the store as it was
    assert_same_run(_to_zarr(path, two_cmt, params, patients), reference)


def test_existing_store_without_resume(tmp_path, two_cmt, params, patients):
    path = tmp_path / "run.zarr"
    _to_zarr(path, two_cmt, params, patients)
    with pytest.raises(pkpd.DataError, match="exists"):
        _to_zarr(path, two_cmt, params, patients, resume=False)
    other = dict(params, eta_CL=params["eta_CL"] + 0.01)
    out = _to_zarr(path, two_cmt, other, patients, resume=False, overwrite=True)
    assert_same_run(out, pkpd.simulate(two_cmt, REGIMEN, patients, params=other, times=TIMES))


def test_refuses_a_path_that_is_not_its_store(tmp_path, two_cmt, params, patients):
    path = tmp_path / "notes"
    path.mkdir()
    (path / "keep.txt").write_text("mine")
    with pytest.raises(pkpd.DataError, match="not a store"):
        _to_zarr(path, two_cmt, params, patients, overwrite=True)
    assert (path / "keep.txt").read_text() == "mine"
