"""``pkpd simulate``: the printed and saved predictions against a closed form written here and
against :func:`pkpd.simulate` for the same input; units of --patient; replicates and bands."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import pkpd

from .conftest import table_rows

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def two_cmt_oral() -> pkpd.CompiledModel:
    return pkpd.compile_model(pkpd.load_model("two_cmt_oral"))


def two_cmt_oral_cp(t: np.ndarray, doses: list[tuple[float, float]], wt: float) -> np.ndarray:
    """Two compartments with first-order absorption (Gibaldi & Perrier, Pharmacokinetics, 2nd
    ed. 1982, ch. 2): C = D ka/V1 sum over alpha, beta, ka of (k21 - r) / prod(other - r)
    e^(-r s), at the typical values of models/two_cmt_oral.toml scaled to ``wt`` kg."""
    ka, cl = 1.0, 5.0 * (wt / 70) ** 0.75
    v1, q, v2 = 50.0 * wt / 70, 8.0 * (wt / 70) ** 0.75, 100.0 * wt / 70
    k10, k12, k21 = cl / v1, q / v1, q / v2
    s, p = k10 + k12 + k21, k10 * k21
    alpha = (s + math.sqrt(s * s - 4 * p)) / 2
    beta = (s - math.sqrt(s * s - 4 * p)) / 2
    rates = (alpha, beta, ka)
    out = np.zeros_like(t)
    for t_dose, amount in doses:
        dt = np.clip(t - t_dose, 0.0, None)
        for r in rates:
            others = [o for o in rates if o is not r]
            coef = (k21 - r) / ((others[0] - r) * (others[1] - r))
            out += np.where(t >= t_dose, amount * ka / v1 * coef * np.exp(-r * dt), 0.0)
    return out


def test_readme_command_prints_the_closed_form_and_plots(cli, tmp_path) -> None:
    """The README's first command, exactly: 500 mg PO q12h x 14, printed every 6 h."""
    png = tmp_path / "cp.png"
    run = cli("simulate", "two_cmt_oral", "--regimen", "500 mg PO q12h x 14", "--times",
              "0..168 h by 0.5 h", "--plot", png)
    assert run.code == 0 and run.err == ""
    rows = np.array(table_rows(run.out, "time (h)", 2))
    assert len(rows) == 29                                  # 337 times, every 12th
    assert np.array_equal(rows[:, 0], np.arange(0, 169, 6.0))
    expected = two_cmt_oral_cp(rows[:, 0], [(12.0 * k, 500.0) for k in range(14)], 70.0)
    np.testing.assert_allclose(rows[:, 1], expected, rtol=2e-5, atol=1e-9)  # 6 digits printed
    # the peak line: the largest value on the 0.5 h grid, checked against the closed form
    grid = np.arange(0, 168.25, 0.5)
    cp = two_cmt_oral_cp(grid, [(12.0 * k, 500.0) for k in range(14)], 70.0)
    m = re.search(r"CP: Cmax (\S+) mg/L at (\S+) h", run.out)
    assert m is not None
    assert float(m[1]) == pytest.approx(cp.max(), rel=2e-5)
    assert float(m[2]) == grid[cp.argmax()]
    assert png.stat().st_size > 10_000 and png.read_bytes()[:8] == PNG


def test_patient_weight_in_pounds_is_converted(cli, tmp_path, two_cmt_oral) -> None:
    """WT=180.7787lb is 82.0 kg (1 lb = 0.45359237 kg exactly): the CSV written equals the
    closed form at 82 kg and the Python API given 82 kg."""
    out = tmp_path / "cp.csv"
    lb = 82.0 / 0.45359237
    run = cli("simulate", "two_cmt_oral", "--patient", f"WT={lb:.10f}lb", "--regimen",
              "1 g PO q24h x 3", "--times", "0..72 h by 1 h", "--out", out)
    assert run.code == 0, run.err
    assert "WT = 82" in run.out
    frame = pd.read_csv(out)
    assert list(frame.columns) == ["id", "time", "CP"]
    expected = two_cmt_oral_cp(frame["time"].to_numpy(), [(0.0, 1000.0), (24.0, 1000.0),
                                                          (48.0, 1000.0)], 82.0)
    np.testing.assert_allclose(frame["CP"], expected, rtol=1e-5, atol=1e-9)
    api = pkpd.simulate(two_cmt_oral, "1 g PO q24h x 3", {"WT": [82.0]},
                        times="0..72 h by 1 h")
    np.testing.assert_allclose(frame["CP"], api["CP"].squeeze("id"), rtol=1e-12)


def test_csv_is_an_alias_of_out(cli, tmp_path) -> None:
    csv = tmp_path / "cp.csv"
    run = cli("simulate", "two_cmt_oral", "--regimen", "500 mg PO q12h x 14", "--times",
              "0..168 h by 0.5 h", "--csv", csv)
    assert run.code == 0 and f"wrote {csv}" in run.out
    assert len(csv.read_text().splitlines()) == 1 + 337           # header + 0..168 by 0.5


def test_cov_is_an_alias_of_patient(cli) -> None:
    a = cli("simulate", "two_cmt_oral", "--cov", "WT=90 kg", "--regimen", "500 mg PO",
            "--times", "0..24 h by 2 h", "--every", "1")
    b = cli("simulate", "two_cmt_oral", "--patient", "WT=90kg", "--regimen", "500 mg PO",
            "--times", "0..24 h by 2 h", "--every", "1")
    assert a.code == b.code == 0 and a.out == b.out
    rows = np.array(table_rows(a.out, "time (h)", 2))
    np.testing.assert_allclose(rows[:, 1], two_cmt_oral_cp(rows[:, 0], [(0.0, 500.0)], 90.0),
                               rtol=2e-5, atol=1e-9)


def test_vancomycin_patient_units_and_netcdf(cli, tmp_path) -> None:
    """The brief's example: WT and CRCL given in other units (82000 g, 3.3 L/h = 55 mL/min)
    print the same as in the model's units, and the .nc file holds the API's values."""
    nc = tmp_path / "vanco.nc"
    args = ("--regimen", "1 g IV over 1 h q12h for 7 days", "--times", "0..48 h by 1 h")
    a = cli("simulate", "vancomycin_goti2018", "--patient", "WT=82kg,CRCL=55mL/min", *args,
            "--out", nc)
    b = cli("simulate", "vancomycin_goti2018", "--patient", "WT=82000g,CRCL=3.3L/h", *args)
    assert a.code == b.code == 0
    assert a.out.split("wrote")[0] == b.out
    ds = xr.open_dataset(nc)
    api = pkpd.simulate("vancomycin_goti2018", "1 g IV over 1 h q12h for 7 days",
                        {"WT": [82.0], "CRCL": [55.0]}, times="0..48 h by 1 h")
    np.testing.assert_allclose(ds["CP"].to_numpy(), api["CP"].to_numpy(), rtol=1e-12)
    assert ds["CP"].attrs["units"] == "mg/L"
    ds.close()
    rows = np.array(table_rows(a.out, "time (h)", 2))
    np.testing.assert_allclose(rows[:, 1], api["CP"].squeeze("id").sel(time=rows[:, 0]),
                               rtol=1e-5)


def test_replicates_print_the_api_percentiles_and_plot_bands(cli, tmp_path,
                                                              two_cmt_oral) -> None:
    png, zarr = tmp_path / "band.png", tmp_path / "sim.zarr"
    run = cli("simulate", "two_cmt_oral", "--patient", "WT=82kg", "--regimen",
              "500 mg PO q12h x 4", "--times", "0..48 h by 1 h", "--n", 50, "--seed", 7,
              "--every", 6, "--plot", png, "--out", zarr)
    assert run.code == 0, run.err
    assert "50 replicates" in run.out
    rows = np.array(table_rows(run.out, "time (h)", 4))
    api = pkpd.simulate(two_cmt_oral, "500 mg PO q12h x 4", pkpd.Patient(WT="82 kg"),
                        times="0..48 h by 1 h", n=50, seed=7)
    cp = api["CP"].squeeze("id").sel(time=rows[:, 0]).to_numpy()      # (sample, time)
    for column, q in ((1, 50), (2, 5), (3, 95)):
        np.testing.assert_allclose(rows[:, column], np.percentile(cp, q, axis=0), rtol=2e-5,
                                   atol=1e-12)
    # replicates vary: the band is wide where the typical curve is not zero
    assert np.all(rows[1:, 3] > rows[1:, 2])
    assert png.stat().st_size > 10_000 and png.read_bytes()[:8] == PNG
    saved = xr.open_zarr(zarr, consolidated=False)
    np.testing.assert_allclose(saved["CP"].to_numpy(), api["CP"].to_numpy(), rtol=1e-12)
    assert saved.sizes["sample"] == 50


def test_the_seed_changes_the_replicates_and_is_reproducible(cli) -> None:
    args = ("simulate", "two_cmt_oral", "--regimen", "500 mg PO", "--times", "0..12 h by 1 h",
            "--n", 10)
    a, b, c = cli(*args, "--seed", 1), cli(*args, "--seed", 1), cli(*args, "--seed", 2)
    assert a.out == b.out and a.out != c.out


@pytest.mark.parametrize(("argv", "message"), [
    (("no_such_model", "--regimen", "500 mg PO"), "unknown model 'no_such_model'"),
    (("two_cmt_oral", "--regimen", "500 mg PO", "--patient", "WT82kg"), "--patient 'WT82kg'"),
    (("two_cmt_oral", "--regimen", "500 mg PO", "--patient", "WT=82kg,,"), "--patient"),
    (("two_cmt_oral", "--regimen", "500 mg PO", "--patient", "WT=82 furlong"), "WT"),
    (("two_cmt_oral", "--regimen", "500 mg PO", "--patient", "WT=82 parsec"), "parsec"),
    (("two_cmt_oral", "--regimen", "500 mg PO q12x"), "q12x"),
    (("two_cmt_oral", "--regimen", "500 mg PO", "--out", "x.txt"), "--out 'x.txt'"),
    (("two_cmt_oral", "--regimen", "500 mg PO", "--n", "0"), "--n 0"),
])
def test_bad_input_exits_1_with_a_message(cli, argv, message) -> None:
    run = cli("simulate", *argv)
    assert run.code == 1 and run.out == ""
    assert run.err.startswith("pkpd: error:") and message in run.err
    assert "Traceback" not in run.err


def test_usage_errors_exit_2(cli) -> None:
    run = cli("simulate", "two_cmt_oral")                  # --regimen is required
    assert run.code == 2 and "--regimen" in run.err
    assert cli("simulate", "two_cmt_oral", "--regimen", "x", "--n", "many").code == 2
