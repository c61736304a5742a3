"""NCA of the shared theophylline and warfarin datasets, against base R and known values."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pkpd.errors import DataError
from pkpd.io.nonmem import read_nonmem
from pkpd.noncompartmental import nca

R_SCRIPT = Path(__file__).with_name("nca_reference.R")


@pytest.fixture(scope="module")
def theo_path(shared_dir) -> Path:
    return shared_dir / "data" / "theophylline.csv"


@pytest.fixture(scope="module")
def theo(theo_path) -> pd.DataFrame:
    return nca(read_nonmem(theo_path), conc_unit="mg/L", dose_unit="mg")


@pytest.fixture(scope="module")
def r_reference(theo_path) -> pd.DataFrame:
    """``nca_reference.R`` run by Rscript (base R only)."""
    rscript = shutil.which("Rscript")
    if rscript is None:
        reason = "Rscript not found: install r-base-core for the base-R NCA cross-check"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    proc = subprocess.run([rscript, str(R_SCRIPT), str(theo_path)], capture_output=True,
                          text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    return pd.read_csv(io.StringIO(proc.stdout)).set_index("ID")


def test_theophylline_against_base_r(theo, theo_path, r_reference):
    res = theo.set_index("ID")
    assert list(res.index) == list(r_reference.index) == list(range(1, 13))
    linear = nca(theo_path, auc_method="linear").set_index("ID")
    for col in ("Cmax", "Tmax", "Clast", "Tlast"):
        np.testing.assert_array_equal(res[col], r_reference[col], err_msg=col)
    np.testing.assert_allclose(linear["AUClast"], r_reference["AUClast_linear"], rtol=1e-12)
    np.testing.assert_allclose(res["AUClast"], r_reference["AUClast_logdown"], rtol=1e-12)
    np.testing.assert_array_equal(res["lambda_z_n_points"], r_reference["n_points"])
    np.testing.assert_array_equal(res["lambda_z_t_first"], r_reference["t_first"])
    np.testing.assert_allclose(res["lambda_z"], r_reference["lambda_z"], rtol=1e-10)
    np.testing.assert_allclose(res["lambda_z_intercept"], r_reference["intercept"], rtol=1e-10)
    np.testing.assert_allclose(res["lambda_z_adj_r2"], r_reference["adj_r2"], rtol=1e-10)


def test_theophylline_against_numpy(theo, theo_path):
    """Without R: AUClast by numpy's trapezoid and CL/F = dose / (AUClast + Clast/lambda_z)."""
    data = pd.read_csv(theo_path)
    linear = nca(theo_path, auc_method="linear").set_index("ID")
    for ident, rows in data.groupby("ID"):
        obs = rows[rows["EVID"] == 0]
        t, c = obs["TIME"].to_numpy(), obs["DV"].to_numpy()
        last = np.flatnonzero(c > 0)[-1]
        auc = np.trapezoid(c[:last + 1], t[:last + 1])
        assert linear.loc[ident, "AUClast"] == pytest.approx(auc, rel=1e-12)
        dose = rows.loc[rows["EVID"] == 1, "AMT"].item()
        row = linear.loc[ident]
        assert row["CL_F"] == pytest.approx(dose / (auc + c[last] / row["lambda_z"]), rel=1e-12)


def test_theophylline_known_values(theo):
    """Theophylline: CL/F about 2.8-3 L/h (0.04 L/h/kg) and a half-life of 7-9 h."""
    assert len(theo) == 12 and (theo["route"] == "extravascular").all()
    assert theo["lambda_z"].notna().all() and (theo["lambda_z_note"] == "").all()
    assert 2.7 <= theo["CL_F"].median() <= 3.1
    assert 7.0 <= theo["half_life"].median() <= 9.0
    assert 25 <= theo["Vz_F"].median() <= 40
    assert (theo["AUC_pct_extrap_obs"] < 35).all()
    assert theo.attrs["units"]["CL_F"] == "L/h" and theo.attrs["units"]["AUClast"] == "mg/L*h"


def test_theophylline_concentration_at_time_zero_is_kept(theo, theo_path):
    """Subject 1 has 0.74 mg/L at TIME 0: it is C(0), not replaced by 0 (first segment
    0 -> 0.25 h rises, so it is linear either way)."""
    data = pd.read_csv(theo_path)
    data.loc[(data["ID"] == 1) & (data["EVID"] == 0) & (data["TIME"] == 0), "DV"] = 0.0
    zeroed = nca(data).set_index("ID")
    kept = theo.set_index("ID")
    assert kept.loc[1, "AUClast"] - zeroed.loc[1, "AUClast"] == pytest.approx(0.25 * 0.74 / 2)
    assert kept.loc[2, "AUClast"] == zeroed.loc[2, "AUClast"]


def test_warfarin_concentrations(shared_dir):
    path = shared_dir / "data" / "warfarin.csv"
    with pytest.raises(DataError, match=r"several outputs \(DVID in \[1, 2\]\)"):
        nca(path)
    with pytest.raises(DataError, match="ID 9 has two observations at TIME 3"):
        nca(path, dvid=1)
    res = nca(path, dvid=1, duplicates="mean", conc_unit="mg/L", dose_unit="mg")
    assert len(res) == 32 and 11 not in set(res["ID"])
    # warfarin: CL/F about 0.1-0.2 L/h, half-life about 1.5-2 days
    assert 0.1 <= res["CL_F"].median() <= 0.2
    assert 30 <= res["half_life"].median() <= 60
