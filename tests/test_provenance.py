"""Provenance records: every simulated Dataset, chunked or zarr run, individual and population
fit carries the model (name, hash, file and the sha256 of its bytes, or "python"), the data
(file and sha256), dependency versions, platform, seed and UTC time. Hashes are checked against
:mod:`hashlib` of the files, versions against :func:`importlib.metadata.version`, the seed by
passing it back, and the attributes by writing to netCDF and zarr and reading back."""

from __future__ import annotations

import datetime
import hashlib
import importlib.metadata
import platform
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import pkpd
from pkpd._provenance import DEPENDENCIES, provenance
from tests.conftest import shared_path

MODELS = Path(__file__).resolve().parents[1] / "models"
TIMES = "0..24 h by 2 h"


def sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def compiled():
    return pkpd.compile_model(pkpd.load_model("two_cmt_oral"))


@pytest.fixture(scope="module")
def theophylline() -> Path:
    return shared_path("data", "theophylline.csv")


def check_versions(rec: dict) -> None:
    for dist in DEPENDENCIES:
        assert rec[f"version_{dist}"] == importlib.metadata.version(dist)
    assert rec["version_pkpd"] == pkpd.__version__
    assert rec["version_python"] == platform.python_version()
    assert rec["platform"]
    when = datetime.datetime.fromisoformat(rec["created_utc"])
    assert when.utcoffset() == datetime.timedelta(0)
    now = datetime.datetime.now(datetime.UTC)
    assert abs((now - when).total_seconds()) < 3600


def test_simulation_records_the_bundled_model_file(compiled) -> None:
    ds = pkpd.simulate(compiled, "500 mg PO", times=TIMES)
    file = MODELS / "two_cmt_oral.toml"
    assert ds.attrs["model"] == "two_cmt_oral"
    assert ds.attrs["model_hash"] == compiled.model.hash
    assert Path(ds.attrs["model_source"]).resolve() == file.resolve()
    assert ds.attrs["model_file_sha256"] == sha(file)
    check_versions(ds.attrs)


def test_a_copied_file_is_recorded_with_its_own_path_and_same_hash(tmp_path) -> None:
    copy = tmp_path / "one_cmt.toml"
    shutil.copyfile(MODELS / "one_cmt.toml", copy)
    with copy.open("a", encoding="utf-8") as fh:
        fh.write("\n# a comment changes the file's sha256, not the model\n")
    m = pkpd.load_model(copy)
    rec = provenance(m)
    assert rec["model_source"] == str(copy)
    assert rec["model_file_sha256"] == sha(copy) != sha(MODELS / "one_cmt.toml")
    assert m.hash == pkpd.load_model("one_cmt").hash   # the file is not part of the model hash


def test_a_model_built_in_python_says_so() -> None:
    mb = pkpd.ModelBuilder("decay_py", time_unit="h")
    x, = mb.states(x="mg")
    mb.parameters(K="0.3 1/h")
    mb.ode(x, "-K*x")
    mb.output("X", x, unit="mg")
    mb.route("IV", "x")
    ds = pkpd.simulate(mb.build(), "10 mg IV", times=TIMES)
    assert ds.attrs["model_source"] == "python"
    assert "model_file_sha256" not in ds.attrs
    t = ds["time"].values
    np.testing.assert_allclose(ds["X"].values[0], 10 * np.exp(-0.3 * t), rtol=1e-4)


def test_the_recorded_seed_reproduces_the_cohort(compiled) -> None:
    first = pkpd.simulate(compiled, "500 mg PO", times=TIMES, n=4, seed=None)
    seed = first.attrs["seed"]
    again = pkpd.simulate(compiled, "500 mg PO", times=TIMES, n=4, seed=int(seed))
    assert again.attrs["seed"] == seed
    np.testing.assert_array_equal(first["CP_obs"].values, again["CP_obs"].values)
    other = pkpd.simulate(compiled, "500 mg PO", times=TIMES, n=4, seed=int(seed) + 1)
    assert not np.array_equal(first["CP_obs"].values, other["CP_obs"].values)


def test_netcdf_round_trips_the_attributes(compiled, tmp_path) -> None:
    ds = pkpd.simulate(compiled, "500 mg PO", times=TIMES, n=2, seed=5)
    path = tmp_path / "run.nc"
    ds.to_netcdf(path)
    with xr.open_dataset(path) as back:
        assert dict(back.attrs) == dict(ds.attrs)


def test_chunked_and_zarr_runs_carry_the_record(compiled, tmp_path) -> None:
    from pkpd.scale import simulate_chunked, simulate_to_zarr

    params = {"TVCL": [4.0, 5.0, 6.0]}
    lazy = simulate_chunked(compiled, "500 mg PO", params=params, times=TIMES, n=2, seed=9,
                            chunks=2)
    store = tmp_path / "run.zarr"
    out = simulate_to_zarr(store, compiled, "500 mg PO", params=params, times=TIMES, n=2,
                           seed=9, chunks=2)
    back = xr.open_zarr(store, consolidated=False)
    for attrs in (lazy.attrs, out.attrs, back.attrs):
        assert attrs["seed"] == "9"
        assert attrs["model_file_sha256"] == sha(MODELS / "two_cmt_oral.toml")
        check_versions(attrs)
    assert back.attrs["created_utc"] == out.attrs["created_utc"]


def test_data_file_and_dataframe_hashes(theophylline) -> None:
    data = pkpd.read_nonmem(theophylline)
    assert data.source == str(theophylline) and data.sha256 == sha(theophylline)
    frame = pd.read_csv(theophylline)
    from_frame = pkpd.read_nonmem(frame)
    assert from_frame.source == "DataFrame"
    expected = hashlib.sha256(frame.to_csv(index=False).encode("utf-8")).hexdigest()
    assert from_frame.sha256 == expected


def test_fits_carry_the_record(theophylline) -> None:
    data = pkpd.read_nonmem(theophylline)
    file_sha = sha(MODELS / "theophylline_1cmt.toml")
    one = pkpd.fit_individual("theophylline_1cmt", data.subject(3))
    pop = pkpd.fit_population("theophylline_1cmt", str(theophylline), method="fo")
    for fit, method in ((one, "map"), (pop, "fo")):
        rec = fit.provenance
        assert rec["model"] == "theophylline_1cmt" and rec["model_file_sha256"] == file_sha
        assert rec["data_source"] == str(theophylline)
        assert rec["data_sha256"] == sha(theophylline)
        assert rec["method"] == method
        assert all(isinstance(v, str) for v in rec.values())
        check_versions(rec)


def test_validation_reports_have_a_provenance_section(tmp_path, theophylline) -> None:
    from validation._report import Report

    report = Report("provenance check", tmp_path)
    report.record("theophylline data", pkpd.read_nonmem(theophylline))
    report.record("model", pkpd.load_model("one_cmt"))
    text = report.write().read_text()
    section = text[text.index("## Provenance"):]
    for dist in DEPENDENCIES:
        assert f"| version_{dist} | {importlib.metadata.version(dist)} |" in section
    assert sha(MODELS / "one_cmt.toml") in section
    assert f"data_sha256 `{sha(theophylline)}`" in section
    assert "model_source `models/one_cmt.toml`" in section


def test_simulating_a_dataset_records_its_file(theophylline) -> None:
    data = pkpd.read_nonmem(theophylline)
    ds = pkpd.simulate("theophylline_1cmt", data)
    assert ds.attrs["data_source"] == str(theophylline)
    assert ds.attrs["data_sha256"] == sha(theophylline)


def test_diagnostics_and_vpc_carry_the_record(theophylline, tmp_path) -> None:
    data = pkpd.read_nonmem(theophylline)
    diag = pkpd.diagnose(None, data, model="theophylline_1cmt", n_sim=20, seed=5)
    check = pkpd.vpc("theophylline_1cmt", data, n=20, seed=6)
    file_sha = sha(MODELS / "theophylline_1cmt.toml")
    for result, seed in ((diag, "5"), (check, "6")):
        rec = result.provenance
        assert rec["model"] == "theophylline_1cmt" and rec["model_file_sha256"] == file_sha
        assert rec["data_source"] == str(theophylline)
        assert rec["data_sha256"] == sha(theophylline)
        assert rec["seed"] == seed
        check_versions(rec)
    assert diag.provenance["n_sim"] == "20" and check.provenance["replicates"] == "20"
    path = tmp_path / "diag.nc"
    diag.to_xarray().to_netcdf(path)
    with xr.open_dataset(path) as back:
        assert back.attrs["data_sha256"] == sha(theophylline)
        assert back.attrs["model_hash"] == diag.provenance["model_hash"]
