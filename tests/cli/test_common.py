"""Helpers of :mod:`pkpd.cli._common`: --patient parsing, patients with units, progress."""

from __future__ import annotations

import io
import sys
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pkpd
from pkpd.cli import _common


def test_patient_items_and_cov_alias() -> None:
    assert _common.patient_items("WT=82kg,CRCL=55mL/min", []) == {"WT": "82kg",
                                                                  "CRCL": "55mL/min"}
    assert _common.patient_items(" WT = 82 kg , AGE=67", ["AGE=70", "SEX=F"]) == {
        "WT": "82 kg", "AGE": "70", "SEX": "F"}
    assert _common.patient_items(None, []) == {}
    assert _common.make_patient({}) is None


@pytest.mark.parametrize("text", ["", "WT", "WT=", "=82kg", "WT=82kg,", "WT=82kg,,AGE=3",
                                  "W T=3", "WT:82kg"])
def test_malformed_patient(text) -> None:
    with pytest.raises(pkpd.PkpdError, match="--patient"):
        _common.patient_items(text, [])


@settings(max_examples=15, deadline=None)
@given(wt=st.floats(40.0, 150.0), crcl=st.floats(10.0, 150.0))
def test_patient_units_are_converted(wt: float, crcl: float) -> None:
    """Grams and litres per hour come out in kg and mL/min (1 L/h = 1000/60 mL/min)."""
    items = _common.patient_items(f"WT={wt * 1000!r}g,CRCL={crcl * 60 / 1000!r}L/h", [])
    patient = _common.make_patient(items)
    assert patient is not None
    assert patient.covariates["WT"] == pytest.approx(wt, rel=1e-12)
    assert patient.covariates["CRCL"] == pytest.approx(crcl, rel=1e-12)


def test_unknown_unit_names_the_covariate() -> None:
    with pytest.raises(pkpd.UnitError, match="WT"):
        _common.make_patient({"WT": "82 stone-ish"})


def test_summary_line() -> None:
    assert _common.summary_line("One. Two. Three") == "One."
    assert _common.summary_line("Only one") == "Only one"


def test_working_is_silent_off_a_terminal(monkeypatch) -> None:
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    with _common.working("busy", after=0.0):
        time.sleep(0.3)
    assert err.getvalue() == ""


def test_working_shows_the_elapsed_time_on_a_terminal(monkeypatch) -> None:
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    monkeypatch.setattr(_common, "_interactive", lambda: True)
    with _common.working("busy", after=0.0):
        time.sleep(0.5)
    assert "busy: 00:00" in err.getvalue()


def test_iteration_progress_counts_lines(monkeypatch) -> None:
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    monkeypatch.setattr(_common, "_interactive", lambda: True)
    with _common.iteration_progress("fit", total=3) as report:
        for k in range(3):
            time.sleep(0.15)                      # tqdm redraws at most every 0.1 s
            report(f"iteration {k}  OFV 1.0")
    assert "3/3" in err.getvalue()
    err.truncate(0)
    monkeypatch.setattr(_common, "_interactive", lambda: False)
    with _common.iteration_progress("fit") as report:
        report("iteration 0")
    assert err.getvalue() == ""


def test_data_file_and_out_dir(tmp_path) -> None:
    with pytest.raises(pkpd.DataError, match="no such file"):
        _common.data_file(str(tmp_path / "x.csv"))
    with pytest.raises(pkpd.DataError, match="is not a file"):
        _common.data_file(str(tmp_path))
    (tmp_path / "f").write_text("")
    with pytest.raises(pkpd.DataError, match="not a folder"):
        _common.out_dir(str(tmp_path / "f"))
    assert _common.out_dir(str(tmp_path / "a" / "b")).is_dir()
