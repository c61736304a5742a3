"""``pkpd vpc``: the VPC table of a fit, of given estimates and of the model's values against
:func:`pkpd.vpc`; the observed percentiles of each bin recomputed here from the raw file."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import pkpd

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def api_fit(theophylline):
    return pkpd.fit_population("theophylline_1cmt", str(theophylline), method="focei")


def _same_table(written: pd.DataFrame, api: pd.DataFrame) -> None:
    assert list(written.columns) == list(api.columns)
    for col in ("time", "observed", "sim_lo", "sim_median", "sim_hi"):
        np.testing.assert_allclose(written[col], api[col], rtol=1e-9, equal_nan=True)
    assert written["outside"].tolist() == api["outside"].tolist()


def test_fit_then_vpc_equals_the_api(cli, theophylline, tmp_path, api_fit) -> None:
    table, png = tmp_path / "vpc.csv", tmp_path / "vpc.png"
    run = cli("vpc", theophylline, "theophylline_1cmt", "--n", 40, "--out", table,
              "--plot", png)
    assert run.code == 0, run.err
    assert f"VPC of 40 replicates at FOCE-I (Laplace, interaction) fit, OFV {api_fit.ofv:.4f}" \
        in run.out
    api = pkpd.vpc(api_fit, n=40, seed=1).table
    _same_table(pd.read_csv(table), api)
    assert png.read_bytes()[:8] == PNG and png.stat().st_size > 10_000
    # the printed rows: one per bin, the observed median and the simulated median
    med = api[api["quantile"] == 0.5]
    rows = [ln.split() for ln in run.out.splitlines() if ln.split()[:2] == ["all", "CP"]]
    assert len(rows) == len(med)
    for row, (_, ref) in zip(rows, med.iterrows(), strict=True):
        assert float(row[6]) == pytest.approx(ref["observed"], rel=1e-3, abs=1e-9)
        assert float(row[9]) == pytest.approx(ref["sim_median"], rel=1e-3, abs=1e-9)


def test_estimates_file_of_a_previous_fit(cli, theophylline, tmp_path, api_fit) -> None:
    est = tmp_path / "estimates.csv"
    api_fit.summary().to_csv(est)
    table = tmp_path / "vpc.csv"
    run = cli("vpc", theophylline, "theophylline_1cmt", "--estimates", est, "--n", 40,
              "--out", table, "--pc")
    assert run.code == 0, run.err
    assert "(prediction-corrected)" in run.out
    _same_table(pd.read_csv(table), pkpd.vpc(api_fit, n=40, seed=1, pred_corrected=True).table)


def test_observed_percentiles_from_the_file(cli, theophylline, tmp_path) -> None:
    """At the model's values (no fit): each bin's observed median is the median of the
    concentrations of the raw file whose times fall in the bin."""
    table = tmp_path / "vpc.csv"
    run = cli("vpc", theophylline, "theophylline_1cmt", "--at-model-values", "--n", 20,
              "--out", table)
    assert run.code == 0, run.err
    vpc = pd.read_csv(table)
    raw = pd.read_csv(theophylline)
    obs = raw[raw["EVID"] == 0]
    med = vpc[vpc["quantile"] == 0.5]
    assert med["n_obs"].sum() == len(obs)
    edges = sorted(set(med["time_lo"]) | set(med["time_hi"]))
    assert len(edges) == len(med) + 1
    for k, (_, row) in enumerate(med.iterrows()):
        inside = obs[(obs["TIME"] >= edges[k]) & ((obs["TIME"] < edges[k + 1])
                                                  | (k == len(med) - 1))]
        assert len(inside) == row["n_obs"]
        assert row["observed"] == pytest.approx(float(np.median(inside["DV"])), rel=1e-12)


@pytest.mark.parametrize(("argv", "message"), [
    (("missing.csv", "theophylline_1cmt"), "DATA.csv 'missing.csv': no such file"),
    (("{data}", "no_such_model", "--at-model-values"), "unknown model 'no_such_model'"),
    (("{data}", "theophylline_1cmt", "--estimates", "none.csv"), "--estimates 'none.csv'"),
    (("{data}", "theophylline_1cmt", "--estimates", "{data}"), "no column(s) estimate, name"),
    (("{data}", "theophylline_1cmt", "--n", "0"), "--n 0"),
])
def test_bad_input(cli, theophylline, argv, message) -> None:
    run = cli("vpc", *(a.format(data=theophylline) for a in argv))
    assert run.code == 1 and message in run.err and "Traceback" not in run.err


def test_estimates_and_model_values_exclude_each_other(cli, theophylline) -> None:
    run = cli("vpc", theophylline, "theophylline_1cmt", "--estimates", "e.csv",
              "--at-model-values")
    assert run.code == 2 and "not allowed with" in run.err
