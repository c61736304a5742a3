"""Fuzzing the command line: every argument list either works (exit 0), is a usage error
(exit 2, argparse's message), or is bad input (exit 1 with one line ``pkpd: error: ...``);
never a Python exception or a traceback.

Arguments are drawn from pieces that are each valid somewhere (model names, regimen words,
patient covariates, units, file names) and from random text, so that both the parsers' error
paths and the runs behind them are reached. The counts of outcomes are printed (``-s``)."""

from __future__ import annotations

import collections
import io
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pkpd.cli import main

OUTCOMES: collections.Counter[str] = collections.Counter()


@pytest.fixture(scope="module", autouse=True)
def _print_counts():
    """Print the outcome counts of this module's runs at its end (see them with ``-s``)."""
    yield
    print("\nCLI fuzz outcomes:", dict(sorted(OUTCOMES.items())),
          "total", sum(OUTCOMES.values()))

MODELS = st.sampled_from(["one_cmt", "theophylline_1cmt", "nope", "", "../models/one_cmt",
                          "one_cmt.toml", "ONE_CMT", "two_cmt_oral"])
AMOUNT = st.sampled_from(["500 mg", "0 mg", "-5 mg", "nan mg", "1e400 mg", "5 kg", "500",
                          "500 mg/L", "2 mg/kg", "1e-300 mg", "inf mg", "five mg"])
ROUTE = st.sampled_from(["", " IV", " PO", " into depot", " into central", " into liver",
                         " IV over 1 h", " IV over 0 h", " IV over -1 h", " over 2 days"])
REPEAT = st.sampled_from(["", " q12h", " q12h x 4", " q0h x 4", " q12h x -1", " q12h x 1e9",
                          " q12h for 7 days", " q12h for 1e9 days", " qd x 3", " q2 weeks x 2",
                          " x 4", " q12h x 1.5"])
REGIMEN = st.one_of(st.builds(lambda a, r, q: a + r + q, AMOUNT, ROUTE, REPEAT),
                    st.text(max_size=30))
TIMES = st.sampled_from(["0..24 h by 1 h", "0..24 h by 0 h", "24..0 h by 1 h",
                         "0..1e9 h by 1 h", "0, 1, 2", "0..24 by 1", "0..24 h by 1 kg",
                         "-1..2 h by 1 h", "nan", "", "0..24 h by 1e-9 h"])
COVARIATE = st.sampled_from(["WT=82kg", "WT=82", "WT=800kg", "WT=-1kg", "WT=82L", "WT=",
                             "CRCL=55mL/min", "CRCL=55mg/L", "SEX=M", "SEX=X", "AGE=300",
                             "=5", "WT=82kg=3", "DIAL=1", "wt=82kg", "SCR=97umol/L"])
PATIENT = st.lists(COVARIATE, min_size=1, max_size=3).map(",".join)
COUNT = st.sampled_from(["1", "0", "-1", "3", "1e3", "x", "99999999999999999999"])
OUT = st.sampled_from(["out.nc", "out.csv", "out.zarr", "out.txt", "no/such/dir/out.csv",
                       "", "out"])


def simulate_args() -> st.SearchStrategy[list[str]]:
    def build(model, regimen, times, patient, n, out, flags):
        argv = ["simulate", model, "--regimen", regimen, "--times", times]
        if "patient" in flags:
            argv += ["--patient", patient]
        if "n" in flags:
            argv += ["--n", n, "--seed", "3"]
        if "out" in flags:
            argv += ["--out", out]
        return argv
    return st.builds(build, MODELS, REGIMEN, TIMES, PATIENT, COUNT, OUT,
                     st.sets(st.sampled_from(["patient", "n", "out"])))


COMMANDS = ("models", "show", "simulate", "fit", "twin", "nca", "vpc", "validate")


def run(argv: list[str], cwd: Path, monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.chdir(cwd)
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(argv)   # an exception here fails the test: that is the point
    text = err.getvalue()
    assert "Traceback" not in text and "Traceback" not in out.getvalue(), argv
    assert code in (0, 1, 2), (argv, code)
    if code == 1:
        lines = [ln for ln in text.splitlines() if ln.startswith("pkpd: error: ")]
        assert lines, (argv, text)
        assert len(lines[0]) > len("pkpd: error: ") + 10, (argv, text)   # says something
    command = argv[0] if argv and argv[0] in COMMANDS else "(no command)"
    OUTCOMES[f"{command} exit {code}"] += 1
    return code


FUZZ = settings(max_examples=120, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])


@FUZZ
@given(argv=simulate_args())
def test_simulate_arguments(argv, tmp_path, monkeypatch) -> None:
    run(argv, tmp_path, monkeypatch)


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(model=st.sampled_from(["one_cmt", "two_cmt_oral", "theophylline_1cmt"]),
       amount=st.sampled_from(["500 mg", "0.5 g", "1e-3 mg", "2 mg/kg"]),
       repeat=st.sampled_from(["", " q12h x 4", " q8h for 2 days", " qd x 3"]),
       times=st.sampled_from(["0..24 h by 1 h", "0..12 h by 0.25 h", "0..3 days by 6 h"]),
       patient=st.lists(st.sampled_from(["WT=82kg", "WT=180lb", "AGE=40", "SEX=F"]),
                        min_size=1, max_size=3, unique=True).map(",".join),
       out=st.sampled_from(["out.nc", "out.csv"]))
def test_valid_simulate_arguments_succeed(model, amount, repeat, times, patient, out, tmp_path,
                                          monkeypatch) -> None:
    argv = ["simulate", model, "--regimen", amount + repeat, "--times", times,
            "--patient", patient, "--out", out]
    assert run(argv, tmp_path, monkeypatch) == 0, argv
    assert (tmp_path / out).stat().st_size > 0


CSV_LINES = st.sampled_from([
    "ID,TIME,AMT,DV,EVID,MDV,CMT", "1,0,100,.,1,1,1", "1,1,0,5.2,0,0,1", "1,2,0,3.1,0,0,1",
    "1,4,0,1.0,0,0,1", "2,0,100,.,1,1,1", "2,1,0,x,0,0,1", "2,0.5,0,4,0,0,1", "1,-1,0,2,0,0,1",
    "1,3,0,2,0,0,9", "1,3,0,2,7,0,1", "1,3,nan,2,1,1,1", "", ",,,,,,", "ID;TIME;DV",
    "1,3,0,2,0,2,1", "1,3,0,1e400,0,0,1"])


@FUZZ
@given(lines=st.lists(CSV_LINES, min_size=0, max_size=8),
       header=st.booleans(),
       extra=st.lists(st.sampled_from([("--route", "iv-bolus"), ("--conc-unit", "mg/L"),
                                       ("--conc-unit", "kg"), ("--dose-unit", "mg"),
                                       ("--time-unit", "parsec"), ("--time-unit", "min"),
                                       ("--out", "nca.csv"), ("--auc-method", "log")]),
                      max_size=3).map(lambda pairs: [a for pair in pairs for a in pair]))
def test_nca_on_corrupted_files(lines, header, extra, tmp_path, monkeypatch) -> None:
    head = ["ID,TIME,AMT,DV,EVID,MDV,CMT"] if header else []
    (tmp_path / "data.csv").write_text("\n".join([*head, *lines]) + "\n")
    run(["nca", "data.csv", *extra], tmp_path, monkeypatch)


@FUZZ
@given(lines=st.lists(CSV_LINES, min_size=1, max_size=8), model=MODELS,
       subject=st.sampled_from(["1", "2", "3", "x", ""]),
       target=st.sampled_from(["AUC24 400-600 mg*h/L", "AUC24 600-400 mg*h/L", "CMIN 10-20",
                               "TROUGH 10-20 mg/L", "AUC24 400-600 kg", "nonsense", "",
                               "AUC24 -5-600 mg*h/L", "CMAX 1e400-1e401 mg/L"]))
def test_twin_on_corrupted_files(lines, model, subject, target, tmp_path, monkeypatch) -> None:
    (tmp_path / "data.csv").write_text("\n".join(["ID,TIME,AMT,DV,EVID,MDV,CMT", *lines]) + "\n")
    run(["twin", "data.csv", model, "--id", subject, "--target", target, "--draws", "20"],
        tmp_path, monkeypatch)


@settings(max_examples=150, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(argv=st.lists(st.one_of(st.sampled_from(
    ["models", "show", "simulate", "fit", "twin", "nca", "vpc", "--tag", "pd", "--help", "-h",
     "one_cmt", "--regimen", "--n", "--out", "--plot", "x.png", "--method", "saem", "--id",
     "--patient", "--version", "missing.csv"]), st.text(max_size=12)), max_size=6))
def test_any_argument_list(argv, tmp_path, monkeypatch) -> None:
    run(argv or ["--help"], tmp_path, monkeypatch)
