"""``pkpd fit``: the population fit printed and written against :func:`pkpd.fit_population`,
:func:`pkpd.diagnose` and :func:`pkpd.vpc`; the files' columns checked against the dataset and
against each other (RSE = 100 SE / estimate, IWRES = (DV - IPRED) / sigma)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

import pkpd

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def api_fit(theophylline):
    return pkpd.fit_population("theophylline_1cmt", str(theophylline), method="focei")


@pytest.fixture(scope="module")
def fitted(theophylline, tmp_path_factory):
    """One run of ``pkpd fit ... --out DIR`` shared by the tests of this module."""
    from pkpd.cli import main

    folder = tmp_path_factory.mktemp("fit") / "theo"
    import contextlib
    import io

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["fit", str(theophylline), "theophylline_1cmt", "--out", str(folder),
                     "--n-sim", "50", "--vpc-n", "50"])
    return code, out.getvalue(), err.getvalue(), folder


def test_prints_the_api_estimates_with_rse(fitted, api_fit) -> None:
    code, out, err, _ = fitted
    assert code == 0, err
    assert err == ""                                  # no progress bar without a terminal
    assert f"OFV {api_fit.ofv:.4f}" in out
    assert "12 subjects, 132 observations" in out
    for name, row in api_fit.summary().iterrows():
        line = next(ln for ln in out.splitlines() if ln.startswith(f"{name} "))
        kind, estimate, se, rse = line.split()[1:5]
        assert kind == row["kind"]
        assert float(estimate) == pytest.approx(row["estimate"], rel=1e-3)
        assert float(se) == pytest.approx(row["se"], rel=1e-3)
        assert float(rse) == pytest.approx(row["rse"], rel=1e-3)


def test_writes_estimates_etas_diagnostics_and_plots(fitted, api_fit, theophylline) -> None:
    _, out, _, folder = fitted
    for name in ("estimates.csv", "etas.csv", "diagnostics.csv", "gof.png", "vpc.csv",
                 "vpc.png"):
        assert f"wrote {folder / name}" in out
    est = pd.read_csv(folder / "estimates.csv")
    assert list(est.columns) == ["name", "kind", "estimate", "se", "rse", "fixed"]
    assert est["name"].tolist() == ["TVKA", "TVCL", "TVV", "omega(eta_KA)", "omega(eta_CL)",
                                    "omega(eta_V)", "CP.additive"]
    np.testing.assert_allclose(est["estimate"], api_fit.summary()["estimate"], rtol=1e-9)
    np.testing.assert_allclose(est["rse"], 100 * est["se"] / est["estimate"].abs(), rtol=1e-9)
    etas = pd.read_csv(folder / "etas.csv")
    assert list(etas.columns) == ["ID", "eta_KA", "eta_CL", "eta_V"] and len(etas) == 12
    # one diagnostics row per concentration of the file (EVID 0), in its order
    raw = pd.read_csv(theophylline)
    obs = raw[raw["EVID"] == 0]
    diag = pd.read_csv(folder / "diagnostics.csv")
    assert len(diag) == len(obs) == 132
    np.testing.assert_array_equal(diag["DV"], obs["DV"])
    np.testing.assert_array_equal(diag["ID"], obs["ID"])
    for col in ("PRED", "IPRED", "CWRES", "IWRES", "NPDE", "WT"):
        assert col in diag.columns and diag[col].notna().all(), col
    sigma = float(est.set_index("name").loc["CP.additive", "estimate"])
    np.testing.assert_allclose(diag["IWRES"], (diag["DV"] - diag["IPRED"]) / sigma, rtol=1e-6,
                               atol=1e-9)
    ref = pkpd.diagnose(api_fit, n_sim=50, seed=1).table
    np.testing.assert_allclose(diag["CWRES"], ref["CWRES"], rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(diag["NPDE"], ref["NPDE"], rtol=1e-6, atol=1e-9)
    vpc = pd.read_csv(folder / "vpc.csv")
    assert {"bin", "time", "quantile", "observed", "sim_lo", "sim_hi"} <= set(vpc.columns)
    assert vpc.loc[vpc["quantile"] == 0.5, "n_obs"].sum() == 132
    for png in ("gof.png", "vpc.png"):
        data = (folder / png).read_bytes()
        assert data[:8] == PNG and len(data) > 10_000
    m = re.search(r"shrinkage \(SD, %\): eta_KA (\S+),", out)
    assert m is not None and 0 <= float(m[1]) < 100


def test_saem_prints_the_api_estimates(cli, theophylline) -> None:
    run = cli("fit", theophylline, "theophylline_1cmt", "--method", "saem", "--seed", 3)
    assert run.code == 0, run.err
    api = pkpd.fit_population("theophylline_1cmt", str(theophylline), method="saem", seed=3)
    assert "theophylline_1cmt: SAEM fit, 12 subjects" in run.out
    assert f"OFV {api.ofv:.4f} (FOCE-I" in run.out
    for name, value in api.estimates.items():
        line = next(ln for ln in run.out.splitlines() if ln.startswith(f"{name} "))
        assert float(line.split()[2]) == pytest.approx(value, rel=1e-3), name


def test_without_out_only_prints(cli, theophylline, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    run = cli("fit", theophylline, "theophylline_1cmt")
    assert run.code == 0 and "OFV" in run.out and "wrote" not in run.out
    assert list(tmp_path.iterdir()) == []


def test_progress_bar_on_a_terminal(cli, theophylline, monkeypatch) -> None:
    """tqdm draws on stderr when it is a terminal (one update per outer iteration)."""
    import pkpd.cli._common as common

    monkeypatch.setattr(common, "_interactive", lambda: True)
    run = cli("fit", theophylline, "theophylline_1cmt")
    assert run.code == 0
    assert "FOCE-I fit" in run.err and "it" in run.err


@pytest.mark.parametrize(("argv", "message"), [
    (("missing.csv", "theophylline_1cmt"), "DATA.csv 'missing.csv': no such file"),
    (("{data}", "no_such_model"), "unknown model 'no_such_model'"),
    (("{data}", "theophylline_1cmt", "--n-sim", "0"), "--n-sim 0"),
])
def test_bad_input(cli, theophylline, argv, message) -> None:
    run = cli("fit", *(a.format(data=theophylline) for a in argv))
    assert run.code == 1 and message in run.err and "Traceback" not in run.err


def test_unknown_method_is_a_usage_error(cli, theophylline) -> None:
    run = cli("fit", theophylline, "theophylline_1cmt", "--method", "bayes")
    assert run.code == 2 and "invalid choice: 'bayes'" in run.err


def test_checkpoint_file_resumes_a_finished_fit(cli, theophylline, tmp_path) -> None:
    """--checkpoint: the first run writes the file; a second run reads the finished fit from
    it and prints the same estimates."""
    ckpt = tmp_path / "theo.ckpt"
    first = cli("fit", theophylline, "theophylline_1cmt", "--method", "fo",
                "--checkpoint", ckpt)
    assert first.code == 0 and ckpt.stat().st_size > 0
    again = cli("fit", theophylline, "theophylline_1cmt", "--method", "fo",
                "--checkpoint", ckpt)
    assert again.code == 0
    ofv = [re.search(r"OFV (\S+)", run.out).group(1) for run in (first, again)]
    assert ofv[0] == ofv[1]
    other = cli("fit", theophylline, "theophylline_1cmt", "--method", "focei",
                "--checkpoint", ckpt)
    assert other.code == 1 and "method" in other.err and "Traceback" not in other.err
