"""``pkpd twin``: one subject's MAP fit and dose recommendation against
:func:`pkpd.fit_individual` and :func:`pkpd.dosing.optimise`, the recommended AUC against the
steady-state law AUC(tau) = F dose / CL; the former ``pkpd fit MODEL DATA.csv`` order."""

from __future__ import annotations

import re

import pytest

import pkpd
from pkpd.dosing import AUC, Trough


@pytest.fixture(scope="module")
def subject3(theophylline):
    data = pkpd.read_nonmem(theophylline).subject(3)
    return pkpd.fit_individual("theophylline_1cmt", data)


def test_fit_of_one_subject_prints_the_api_estimates(cli, theophylline, subject3) -> None:
    run = cli("twin", theophylline, "theophylline_1cmt", "--id", 3)
    assert run.code == 0, run.err
    assert "ID 3: MAP fit of 11 level(s)" in run.out
    for name, value in subject3.etas.items():
        assert re.search(rf"^{name}\s+{value:.4f}\s", run.out, re.M), name
    for name, value in subject3.individual.items():
        assert f"{name} = {value:.4g}" in run.out
    # the levels of subject 3 in the file (11 concentrations), IPRED of the API
    lines = [ln.split() for ln in run.out.splitlines()]
    fitted = [ln for ln in lines if len(ln) == 6 and ln[1] == "CP"]
    assert len(fitted) == 11
    for line, (_, row) in zip(fitted, subject3.predictions.iterrows(), strict=True):
        assert float(line[0]) == pytest.approx(row["TIME"], rel=1e-3)
        assert float(line[2]) == pytest.approx(row["DV"], rel=1e-3)
        assert float(line[4]) == pytest.approx(row["IPRED"], rel=1e-3)


def test_auc_target_recommends_the_api_regimen_at_steady_state(cli, theophylline,
                                                                subject3) -> None:
    run = cli("twin", theophylline, "theophylline_1cmt", "--id", "3", "--target",
              "AUC24 200-300 mg*h/L", "--draws", 50)
    assert run.code == 0, run.err
    rec = pkpd.dosing.optimise("theophylline_1cmt", AUC(200, 300, over="24 h"),
                               template="{dose} PO every {interval} for 4 days",
                               window=("72 h", "96 h"), fit=subject3, n=50, seed=1)
    assert f"recommended: {rec.regimen_text}\n" in run.out
    m = re.search(r"predicted AUC24 (\S+), 90 % band (\S+)-(\S+), PTA (\S+)", run.out)
    assert m is not None
    assert float(m[1]) == pytest.approx(rec.predicted, rel=1e-3)
    assert float(m[4]) == pytest.approx(rec.pta, abs=0.005)
    # independent: on the last of 4 days (> 8 half-lives of this subject) the AUC over 24 h
    # is F * daily dose / CL (F = 1) with the individual CL printed
    cl = float(re.search(r"CL = (\S+),", run.out)[1])
    daily = float(rec.dose.split()[0]) * 24 / float(rec.interval.split()[0])
    assert float(m[1]) == pytest.approx(daily / cl, rel=5e-3)
    assert 200 <= float(m[1]) <= 300


def test_trough_target_and_start_after_the_history(cli, theophylline, subject3) -> None:
    run = cli("twin", theophylline, "theophylline_1cmt", "--id", 3, "--target",
              "trough 5-10 mg/L", "--start", "24 h", "--draws", 0)
    assert run.code == 0, run.err
    assert "over 96 h to 120 h" in run.out              # the last day of 4, after 24 h
    rec = pkpd.dosing.optimise("theophylline_1cmt", Trough(5, 10, unit="mg/L"),
                               template="{dose} PO every {interval} for 4 days",
                               window=("96 h", "120 h"), fit=subject3, n=0, seed=1,
                               start="24 h")
    assert f"recommended: {rec.regimen_text} (from 24 h)" in run.out
    assert f"predicted trough {rec.predicted:.4g}" in run.out


def test_old_fit_order_runs_the_twin_with_a_note(cli, tmp_path) -> None:
    one = tmp_path / "one.csv"
    one.write_text("ID,TIME,AMT,DV,EVID,MDV,CMT\n1,0,320,,1,1,1\n1,1,0,7.5,0,0,2\n"
                   "1,6,0,5.1,0,0,2\n1,24,0,1.2,0,0,2\n")
    old = cli("fit", "theophylline_1cmt", one)
    new = cli("twin", one, "theophylline_1cmt")
    assert old.code == new.code == 0
    assert "deprecated" in old.err and "pkpd twin DATA.csv MODEL" in old.err
    assert new.err == ""
    strip = [re.sub(r"\d+ ms\)", "ms)", out) for out in (old.out, new.out)]
    assert strip[0] == strip[1]
    fit = pkpd.fit_individual("theophylline_1cmt", pkpd.read_nonmem(one))
    assert re.search(rf"^eta_CL\s+{fit.etas['eta_CL']:.4f}\s", old.out, re.M)


@pytest.mark.parametrize(("argv", "message"), [
    (("{data}", "theophylline_1cmt"), "choose one with --id"),
    (("{data}", "theophylline_1cmt", "--id", "99"), "no subject with ID"),
    (("{data}", "no_such_model", "--id", "3"), "unknown model 'no_such_model'"),
    (("missing.csv", "theophylline_1cmt", "--id", "3"), "DATA.csv 'missing.csv': no such file"),
    (("{data}", "theophylline_1cmt", "--id", "3", "--target", "AUC24 400"), "--target"),
    (("{data}", "theophylline_1cmt", "--id", "3", "--target", "AUC24 600-400"), "low < high"),
    (("{data}", "theophylline_1cmt", "--id", "3", "--auc", "400-600"), "needs --window"),
    (("{data}", "theophylline_1cmt", "--id", "3", "--patient", "WT=70 lightyear"), "WT"),
])
def test_bad_input(cli, theophylline, argv, message) -> None:
    run = cli("twin", *(a.format(data=theophylline) for a in argv))
    assert run.code == 1 and message in run.err and "Traceback" not in run.err


def test_readme_fit_command_still_recommends(cli, tmp_path) -> None:
    """The command of README.md (old order, --cov, --auc with --window and --start): the same
    fit and recommendation as the Python API, with the deprecation note."""
    csv = tmp_path / "patient.csv"
    csv.write_text("ID,TIME,AMT,RATE,EVID,CMT,DV,MDV\n1,0,1250,1250,1,1,,1\n"
                   "1,12,1250,1250,1,1,,1\n1,24,1250,1250,1,1,,1\n1,26,0,0,0,1,27.9,0\n"
                   "1,35.5,0,0,0,1,21.3,0\n1,36,1250,1250,1,1,,1\n")
    covs = ["--cov", "AGE=68", "--cov", "SEX=M", "--cov", "WT=92 kg", "--cov", "SCR=1.4 mg/dL"]
    run = cli("fit", "vancomycin_goti2018", csv, *covs, "--auc", "400-600", "--window",
              "120 h,144 h", "--start", "48 h", "--draws", 100)
    assert run.code == 0 and "deprecated" in run.err
    patient = pkpd.Patient(AGE=68, SEX="M", WT="92 kg", SCR="1.4 mg/dL")
    fit = pkpd.fit_individual("vancomycin_goti2018", pkpd.read_nonmem(csv), patient=patient)
    rec = pkpd.dosing.optimise("vancomycin_goti2018", AUC(400, 600),
                               template="{dose} IV over 1 h every {interval} for 4 days",
                               window=("120 h", "144 h"), patient=patient, fit=fit, n=100,
                               seed=1, start="48 h")
    assert re.search(rf"^eta_CL\s+{fit.etas['eta_CL']:.4f}\s", run.out, re.M)
    assert f"recommended: {rec.regimen_text} (from 48 h)" in run.out
    assert f"predicted AUC {rec.predicted:.4g}" in run.out
    # the same through the new spelling, whose default window is the same last day
    new = cli("twin", csv, "vancomycin_goti2018", "--patient",
              "AGE=68,SEX=M,WT=92kg,SCR=1.4mg/dL", "--target", "AUC24 400-600 mg*h/L",
              "--start", "48 h", "--draws", 100)
    assert new.code == 0 and "over 120 h to 144 h" in new.out
    assert f"recommended: {rec.regimen_text} (from 48 h)" in new.out
    assert f"predicted AUC24 {rec.predicted:.4g}" in new.out
