"""The built-in checks can fail: a wrong closed form, a changed NONMEM output, another dataset.

Each check is run on its own (no report); the references are changed in a copy, never in place.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pkpd.qualification import Context, _reference, compare_nonmem, registered, run_check
from pkpd.qualification._estimation import nlme_reference


def _check(name: str):
    return next(c for c in registered() if c.name == name)


def test_a_closed_form_off_by_a_millionth_fails_its_check(monkeypatch) -> None:
    bolus, infusion, oral = _reference.CLOSED["two_cmt"]
    ctx = Context()
    assert run_check(_check("two_cmt oral"), ctx).status == "passed"
    monkeypatch.setitem(_reference.CLOSED, "two_cmt",
                        (bolus, infusion, lambda *a, **k: oral(*a, **k) * (1 + 1e-6)))
    result = run_check(_check("two_cmt oral"), ctx)
    assert result.status == "failed" and result.value == pytest.approx(1e-6, rel=1e-3)
    assert "exceeds the tolerance 1e-08" in result.message


def test_one_changed_nonmem_value_fails_that_scenario_only(shared_dir: Path, tmp_path) -> None:
    suite = tmp_path / "conformance" / "nmtests"
    shutil.copytree(shared_dir / "conformance" / "nmtests", suite)
    ref = pd.read_csv(suite / "dosing_1001-nm.csv")
    row = int(np.flatnonzero((ref.ID == 7) & (ref.CP > 100))[3])
    ref.loc[row, "CP"] *= 1.0003       # three times NONMEM's rounding
    ref.to_csv(suite / "dosing_1001-nm.csv", index=False)
    table = compare_nonmem(tmp_path)
    assert len(table) == 30
    assert list(table.loc[~table["pass"], "ID"]) == [7]
    assert table.loc[table.ID == 7, "figure"].iloc[0] == pytest.approx(3e-4, rel=0.2)
    ctx = Context(data=tmp_path)
    assert run_check(_check("nmtests dosing 7"), ctx).status == "failed"
    assert run_check(_check("nmtests dosing 8"), ctx).status == "passed"


def test_the_nlme_reference_names_its_source_and_data(shared_dir: Path, tmp_path) -> None:
    ref = nlme_reference()
    assert "nlme_theophylline.R" in ref["source"] and "nlme 3.1.162" in ref["software"]
    csv = shared_dir / "data" / "theophylline.csv"
    assert hashlib.sha256(csv.read_bytes()).hexdigest() == ref["data_sha256"]
    assert set(ref["estimates"]) == {"TVKA", "TVCL", "TVV", "omega(eta_KA)", "omega(eta_CL)",
                                     "omega(eta_V)", "CP.additive"}
    # another dataset is not compared with this reference
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "theophylline.csv").write_text(csv.read_text().replace(",", ", ", 1))
    result = run_check(_check("theophylline FOCE-I vs nlme"), Context(data=tmp_path))
    assert result.status == "not run" and "is not the dataset" in result.message


def test_the_nlme_reference_is_what_the_validation_script_computes(shared_dir: Path) -> None:
    """The numbers in pkpd/_data are those of validation/references/nlme_theophylline.R."""
    from tests.estimation.nlme import nlme_theophylline

    out = nlme_theophylline(shared_dir / "data" / "theophylline.csv")
    fresh, ref = out["diagonal"], nlme_reference()
    assert fresh["converged"] and ref["software"].startswith(f"nlme {out['nlme_version']}")
    computed = {"TVKA": fresh["fixed_effects"]["KA"], "TVCL": fresh["fixed_effects"]["CL"],
                "TVV": fresh["fixed_effects"]["V"], "CP.additive": fresh["sigma"]}
    computed |= {f"omega(eta_{k})": fresh["omega2"][f"l{k}"] for k in ("KA", "CL", "V")}
    assert computed == pytest.approx(ref["estimates"], rel=1e-9)
    assert fresh["ofv_nonmem_scale"] == pytest.approx(ref["ofv_nonmem_scale"], rel=1e-9)


def test_a_quick_run_leaves_out_the_slow_checks(shared_dir: Path) -> None:
    from pkpd.qualification import qualify

    report = qualify(None, data=shared_dir, groups=["estimation"], quick=True)
    status = {r.name: r for r in report.results}
    assert status["theophylline FOCE-I vs nlme"].status == "not run"
    assert status["theophylline FOCE-I vs nlme"].message == "left out by the quick run"
    assert status["individual fit recovers the truth"].status == "passed"
    assert report.verdict == "INCOMPLETE" and report.markdown is None
