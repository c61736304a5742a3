"""``pkpd nca``: Cmax, Tmax and AUClast of the theophylline subjects computed here from the raw
file (linear-up/log-down trapezoids, Gabrielsson & Weiner 2016 ch. 2), and the whole table
against :func:`pkpd.nca`."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import pkpd


def auc_linear_up_log_down(t: np.ndarray, c: np.ndarray) -> float:
    total = 0.0
    for k in range(len(t) - 1):
        dt, c0, c1 = t[k + 1] - t[k], c[k], c[k + 1]
        if c1 < c0 and c1 > 0:
            total += dt * (c0 - c1) / math.log(c0 / c1)
        else:
            total += dt * (c0 + c1) / 2
    return total


def test_prints_and_writes_the_nca_of_every_subject(cli, theophylline, tmp_path) -> None:
    out = tmp_path / "nca.csv"
    run = cli("nca", theophylline, "--out", out)
    assert run.code == 0, run.err
    lines = run.out.splitlines()
    header = lines[0].split()
    assert header[:5] == ["ID", "dose", "Cmax", "Tmax", "AUClast"]
    printed = pd.DataFrame([[float(v) for v in ln.split()] for ln in lines[1:13]],
                           columns=header)
    raw = pd.read_csv(theophylline)
    obs = raw[raw["EVID"] == 0]
    for _, row in printed.iterrows():
        subject = obs[obs["ID"] == row["ID"]]
        t, c = subject["TIME"].to_numpy(), subject["DV"].to_numpy()
        assert row["Cmax"] == pytest.approx(c.max(), rel=1e-3)
        assert row["Tmax"] == pytest.approx(t[c.argmax()], rel=1e-3)
        assert row["AUClast"] == pytest.approx(auc_linear_up_log_down(t, c), rel=1e-3)
        dose = raw[(raw["ID"] == row["ID"]) & (raw["EVID"] == 1)]["AMT"].item()
        assert row["dose"] == pytest.approx(dose, rel=1e-3)
    assert f"wrote {out}" in run.out
    written = pd.read_csv(out)
    api = pkpd.nca(str(theophylline))
    assert list(written.columns) == list(api.columns)
    numeric = api.select_dtypes("number").columns
    np.testing.assert_allclose(written[numeric].to_numpy(float), api[numeric].to_numpy(float),
                               rtol=1e-12, equal_nan=True)
    # the printed columns are the written ones, to 4 significant figures
    for col in ("AUCinf_obs", "half_life", "CL_F"):
        np.testing.assert_allclose(printed[col], written[col], rtol=1e-3)


def test_linear_trapezoids_on_request(cli, theophylline) -> None:
    run = cli("nca", theophylline, "--auc-method", "linear")
    assert run.code == 0
    first = run.out.splitlines()[1].split()
    raw = pd.read_csv(theophylline)
    s1 = raw[(raw["ID"] == 1) & (raw["EVID"] == 0)]
    t, c = s1["TIME"].to_numpy(), s1["DV"].to_numpy()
    assert float(first[4]) == pytest.approx(float(np.sum(np.diff(t) * (c[1:] + c[:-1]) / 2)),
                                            rel=1e-3)


def test_missing_file(cli) -> None:
    run = cli("nca", "nowhere.csv")
    assert run.code == 1 and run.err == "pkpd: error: DATA.csv 'nowhere.csv': no such file\n"
