"""Patient: units, ranges, derived covariates, model tables and time-varying covariates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import pkpd
from pkpd.patient import Patient, TimeVarying, patients_table
from pkpd.units import registry


@pytest.fixture(scope="module")
def vanco() -> pkpd.Model:
    return pkpd.load_model("vancomycin_goti2018")  # CRCL mL/min, WT kg, DIAL (defaults given)


def test_values_are_converted_to_canonical_units() -> None:
    p = Patient(WT="180 lb", HT="5 ft", AGE="18 months", SEX="female", SCR="97 umol/L",
                CRCL="1.2 L/h", PMA="100 week", ALB="35 g/L")
    # 1 lb = 0.45359237 kg; 1 ft = 30.48 cm; 1 mg/dL creatinine = 88.42 umol/L; 1.2 L/h = 20 mL/min
    assert p["WT"] == pytest.approx(180 * 0.45359237, rel=1e-12)
    assert p["HT"] == pytest.approx(152.4, rel=1e-12)
    assert p["AGE"] == pytest.approx(1.5, rel=1e-12)
    assert p["SCR"] == pytest.approx(97 / 88.42, rel=1e-12)
    assert p["CRCL"] == pytest.approx(20.0, rel=1e-12)
    assert p["ALB"] == pytest.approx(3.5, rel=1e-12)
    assert p["PMA"] == pytest.approx(100.0)
    assert p["SEX"] == "F"
    assert Patient(WT=82)["WT"] == 82.0          # a bare number is in the canonical unit
    assert Patient(SEX=1)["SEX"] == "M" and Patient(SEX=0)["SEX"] == "F"  # 1 = male


def test_unit_invariance_of_derived_covariates() -> None:
    si = Patient(WT=81.64662660, HT=177.8, AGE=60, SEX="M", SCR=1.0)
    us = Patient(WT="180 lb", HT="70 in", AGE="720 months", SEX="M", SCR="88.42 umol/L")
    for name in ("BSA", "BMI", "IBW", "LBW", "ABW", "CRCL", "EGFR"):
        assert us.derive(name) == pytest.approx(si.derive(name), rel=1e-9), name
    # Cockcroft-Gault by hand: (140-60)*81.6466266/(72*1.0)
    assert us.crcl == pytest.approx(80 * 81.6466266 / 72, rel=1e-9)


def test_derived_covariates_by_hand() -> None:
    p = Patient(WT=70, HT=170, AGE=60, SEX="F", SCR=0.7)
    assert p.bsa == pytest.approx(np.sqrt(70 * 170 / 3600))                    # Mosteller
    assert p.derive("BSA", method="dubois") == pytest.approx(0.007184 * 70**0.425 * 170**0.725)
    assert p.bmi == pytest.approx(70 / 1.7**2)
    assert p.ibw == pytest.approx(45.5 + 2.3 * (170 / 2.54 - 60))             # Devine
    assert p.abw == pytest.approx(p.ibw + 0.4 * (70 - p.ibw))
    assert p.crcl == pytest.approx(80 * 70 / (72 * 0.7) * 0.85)
    assert p.egfr == pytest.approx(142 * 1.012 * 0.9938**60)                   # SCR = kappa
    child = Patient(HT=120, AGE=8, SCR=0.5)
    assert child.egfr == pytest.approx(0.413 * 120 / 0.5)                      # bedside Schwartz
    given = Patient(WT=70, HT=170, AGE=60, SEX="F", SCR=0.7, CRCL=55)
    assert given.crcl == 55.0 and given.derive("CRCL") == pytest.approx(p.crcl)


def test_missing_inputs_are_named() -> None:
    with pytest.raises(pkpd.DataError, match=r"CRCL .*needs AGE, WT, SCR, SEX; missing: AGE, SCR"):
        Patient(WT=70, SEX="M").derive("CRCL")
    with pytest.raises(pkpd.DataError, match="missing: HT"):
        Patient(AGE=8, SCR=0.5).derive("EGFR")
    with pytest.raises(pkpd.DataError, match="derivable covariates are"):
        Patient(WT=70).derive("XYZ")
    with pytest.raises(pkpd.DataError, match="'HT' is not given"):
        Patient(WT=70)["HT"]


@pytest.mark.parametrize("kwargs,error,message", [
    (dict(WT="800 kg"), pkpd.DataError, "WT = 800 kg is outside 0.3-400 kg"),
    (dict(WT=0.1), pkpd.DataError, "WT = 0.1 kg is outside 0.3-400 kg"),
    (dict(HT="3 m"), pkpd.DataError, "HT = 300 cm is outside 20-250 cm"),
    (dict(AGE=130), pkpd.DataError, "AGE = 130 years is outside 0-120 years"),
    (dict(SCR="30 mg/dL"), pkpd.DataError, "SCR = 30 mg/dL is outside 0.1-20 mg/dL"),
    (dict(WT=float("nan")), pkpd.DataError, "WT = nan is not a finite number"),
    (dict(SEX="X"), pkpd.DataError, "SEX = 'X' is not valid"),
    (dict(SEX=2), pkpd.DataError, "SEX = 2 is not valid"),
    (dict(AGE="3 kg"), pkpd.UnitError, "AGE = '3 kg': cannot be read in years"),
    (dict(SCR="1 g"), pkpd.UnitError, "SCR = '1 g'"),
    (dict(DIAL=float("inf")), pkpd.DataError, "DIAL = inf is not a finite number"),
    (dict(DIAL=[1, 2]), pkpd.DataError, "DIAL: expected a number"),
])
def test_invalid_values(kwargs: dict, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        Patient(**kwargs)


def test_frozen_and_hashable() -> None:
    a = Patient(WT="82 kg", AGE=67, id=1)
    b = Patient(WT=82, AGE="67 years", id=1)
    assert a == b and hash(a) == hash(b)
    with pytest.raises(AttributeError):
        a.id = 2  # type: ignore[misc]


def test_table_converts_to_model_units_and_derives(vanco: pkpd.Model) -> None:
    p = Patient(WT="82 kg", HT="178 cm", AGE=67, SEX="F", SCR="1.1 mg/dL", DIAL=1)
    t = p.table(vanco)
    assert set(t) == {"CRCL", "WT", "DIAL"}
    assert t["CRCL"] == pytest.approx([(140 - 67) * 82 / (72 * 1.1) * 0.85])  # Cockcroft-Gault
    assert t["WT"].tolist() == [82.0] and t["DIAL"].tolist() == [1.0]
    given = Patient(WT="82 kg", CRCL="3.3 L/h").table(vanco)
    assert given["CRCL"] == pytest.approx([55.0]) and given["DIAL"].tolist() == [0.0]  # default


def test_table_in_other_model_units() -> None:
    mb = pkpd.ModelBuilder("units", time_unit="h")
    (central,) = mb.states(central="mg")
    CL, TVV = mb.parameters(CL="5 L/h", TVV="50 L")
    WT, SCR, SEX, CRCL = mb.covariates(WT="g", SCR="umol/L", SEX="1", CRCL="L/h")
    V = mb.derive("V", TVV * WT / 70_000 * (1 + 1e-9 * SCR * SEX * CRCL))
    mb.ode(central, -CL / V * central)
    mb.output("CP", central / V, unit="mg/L")
    model = mb.build()
    t = Patient(WT=70, SCR=1.0, SEX="F", AGE=60).table(model)
    assert t["WT"] == pytest.approx([70_000.0])
    assert t["SCR"] == pytest.approx([88.42])
    assert t["SEX"].tolist() == [0.0]  # 1 = male, 0 = female
    assert t["CRCL"] == pytest.approx([80 * 70 / 72 * 0.85 * 60 / 1000])
    with pytest.raises(pkpd.DataError, match=r"needs covariate\(s\) WT; SCR; SEX; CRCL \(or AGE"):
        Patient(HT=170).table(model)


def test_unknown_covariates_kept_and_converted(vanco: pkpd.Model) -> None:
    p = Patient(WT=70, DIAL=1, FOO="3 mg", BAR=registry().Quantity(2.0, "L"))
    assert p["FOO"] == "3 mg" and p["BAR"] == registry().Quantity(2.0, "L")
    with pytest.raises(pkpd.UnitError, match="covariate WT"):
        mb = pkpd.ModelBuilder("badunit", time_unit="h")
        (central,) = mb.states(central="mg")
        (WT,) = mb.covariates(WT="L")
        (K,) = mb.parameters(K="1 1/h")
        mb.ode(central, -K * central * WT / 70)
        Patient(WT=70).table(mb.build())


def test_patients_table_and_from_row(vanco: pkpd.Model) -> None:
    frame = pd.DataFrame({"ID": [1, 2], "WT": [82.0, 60.0], "AGE": [67, 40],
                          "SEX": ["F", "M"], "SCR": [1.1, np.nan], "CRCL": [np.nan, 90.0]})
    patients = [Patient.from_row(row) for _, row in frame.iterrows()]
    assert patients[0].id == 1 and "SCR" not in patients[1].names
    table = patients_table(patients, vanco)
    np.testing.assert_array_equal(table["ID"], [1, 2])
    np.testing.assert_allclose(table["CRCL"], [73 * 82 / (72 * 1.1) * 0.85, 90.0])
    np.testing.assert_allclose(table["WT"], [82.0, 60.0])
    assert "ID" not in patients_table([Patient(WT=70)], vanco)
    with pytest.raises(pkpd.DataError, match="some have an id"):
        patients_table([Patient(WT=70, id=1), Patient(WT=70)], vanco)
    with pytest.raises(pkpd.DataError, match="not unique"):
        patients_table([Patient(WT=70, id=1), Patient(WT=80, id=1)], vanco)
    with pytest.raises(pkpd.UnitError, match=r"patients\[1\]: covariate DIAL"):
        patients_table([Patient(WT=70), Patient(DIAL="2 kg")], vanco)
    with pytest.raises(pkpd.DataError, match=r"patients\[1\]: expected a pkpd.Patient"):
        patients_table([Patient(WT=70), {"WT": 80}], vanco)  # type: ignore[list-item]
    with pytest.raises(pkpd.DataError, match="empty"):
        patients_table([], vanco)


def test_time_varying_locf(vanco: pkpd.Model) -> None:
    p = Patient(WT=90, AGE=50, SEX="M", SCR=0.8, DIAL=0,
                timeseries={"SCR": ([24, "2 d"], ["88.42 umol/L", 2.0]),
                            "DIAL": TimeVarying(["3 d"], [1])})
    assert p.at(23.9)["SCR"] == 0.8 and p.at(24)["SCR"] == pytest.approx(1.0)
    assert p.at("1.5 d")["SCR"] == pytest.approx(1.0) and p.at(1000)["SCR"] == 2.0
    frame = p.timeseries_frame(vanco)
    assert list(frame.columns) == ["TIME", "CRCL", "WT", "DIAL"]
    np.testing.assert_allclose(frame["TIME"], [0, 24, 48, 72])
    cg = 90 * 90 / 72  # (140-50)*90/72
    np.testing.assert_allclose(frame["CRCL"], [cg / 0.8, cg / 1.0, cg / 2.0, cg / 2.0])
    np.testing.assert_array_equal(frame["DIAL"], [0, 0, 0, 1])
    # a change that does not touch the model's covariates adds no row
    q = Patient(WT=70, timeseries={"ALB": ([0, 10], [4.0, 3.0])})
    assert len(q.timeseries_frame(vanco)) == 1
    # without a static value, the first value holds before the first change point
    r = Patient(timeseries={"WT": ([10], [80])})
    assert r["WT"] == 80.0 and r.at(0)["WT"] == 80.0
    # without a static DIAL=0, a dialysis series starting on day 3 would hold from the start
    assert Patient(timeseries={"DIAL": (["3 d"], [1])}).at(0)["DIAL"] == 1


def test_time_varying_in_model_time_unit() -> None:
    mb = pkpd.ModelBuilder("minutes", time_unit="min")
    (central,) = mb.states(central="mg")
    (WT,) = mb.covariates(WT="kg")
    (K,) = mb.parameters(K="0.01 1/min")
    mb.ode(central, -K * central * WT / 70)
    model = mb.build()
    frame = Patient(timeseries={"WT": (["0 h", "2 h"], [70, 60])}).timeseries_frame(model)
    np.testing.assert_allclose(frame["TIME"], [0, 120])
    np.testing.assert_allclose(frame["WT"], [70, 60])


@pytest.mark.parametrize("spec,message", [
    (([0, 0], [70, 80]), "strictly increasing"),
    (([0, 1], [70]), "1 values"),
    (([0, 1], [70, 800]), "WT = 800 kg is outside"),
])
def test_time_varying_invalid(spec: tuple, message: str) -> None:
    with pytest.raises(pkpd.DataError, match=message):
        Patient(timeseries={"WT": spec})


@given(wt=st.floats(40, 200), ht=st.floats(140, 210), age=st.floats(18, 100),
       scr=st.floats(0.3, 10), sex=st.sampled_from(["F", "M"]))
def test_unit_invariance_property(wt: float, ht: float, age: float, scr: float,
                                  sex: str) -> None:
    metric = Patient(WT=wt, HT=ht, AGE=age, SEX=sex, SCR=scr)
    imperial = Patient(WT=f"{wt / 0.45359237!r} lb", HT=f"{ht / 2.54!r} in",
                       AGE=f"{age * 12!r} months", SEX=sex, SCR=f"{scr * 88.42!r} umol/L")
    for name in ("BSA", "LBW", "ABW", "CRCL", "EGFR"):
        assert imperial.derive(name) == pytest.approx(metric.derive(name), rel=1e-9)


def test_simulate_with_patients_table(vanco: pkpd.Model) -> None:
    patients = [Patient(WT="82 kg", AGE=67, SEX="F", SCR="97 umol/L", id=1),
                Patient(WT="150 lb", CRCL="55 mL/min", id=2)]
    crcl_1 = (140 - 67) * 82 / (72 * 97 / 88.42) * 0.85  # Cockcroft-Gault by hand
    regimen = "1 g IV over 1 h q12h x 2"
    a = pkpd.simulate(vanco, regimen, patients_table(patients, vanco), times="0..24 h by 1 h")
    b = pkpd.simulate(vanco, regimen, {"ID": [1, 2], "WT": ["82 kg", "150 lb"],
                                       "CRCL": [crcl_1, 55.0]}, times="0..24 h by 1 h")
    np.testing.assert_allclose(a["CP"].values, b["CP"].values, rtol=1e-12)
    np.testing.assert_array_equal(a["id"].values, [1, 2])


def test_time_varying_covariates_of_a_patient_change_clearance():
    import numpy as np

    import pkpd
    from pkpd.patient import TimeVarying

    model = pkpd.load_model("vancomycin_goti2018")
    kw = {"times": "0..72 h by 1 h"}
    before = pkpd.Patient(WT="80 kg", CRCL="100 mL/min")
    after = pkpd.Patient(WT="80 kg", CRCL="30 mL/min")
    changing = pkpd.Patient(WT="80 kg", CRCL="100 mL/min",
                            timeseries={"CRCL": TimeVarying([0.0, 24.0], [100.0, 30.0])})
    regimen = "1 g IV over 1 h q12h x 6"
    a = pkpd.simulate(model, regimen, before, **kw)["CP"].values[0]
    b = pkpd.simulate(model, regimen, after, **kw)["CP"].values[0]
    c = pkpd.simulate(model, regimen, changing, **kw)["CP"].values[0]
    t = np.arange(0, 73.0)
    np.testing.assert_allclose(c[t <= 24], a[t <= 24], rtol=1e-12)
    assert np.all(c[t > 30] > a[t > 30]) and np.all(c[t > 30] < b[t > 30] * 1.0001 + 1e3)
    # several patients, each with their own covariates, in one call
    both = pkpd.simulate(model, regimen, [before, changing], **kw)["CP"].values
    np.testing.assert_allclose(both[0], a, rtol=1e-12)
    np.testing.assert_allclose(both[1], c, rtol=1e-12)


def test_misspelt_covariate_in_other_case_is_refused(vanco: pkpd.Model) -> None:
    # "dial" would leave DIAL at its default 0: a dialysis patient simulated as not on dialysis
    with pytest.raises(pkpd.DataError, match=r"'dial'.*did you mean 'DIAL'.*default 0"):
        Patient(WT=70, CRCL=40, dial=1).table(vanco)


def test_misspelt_covariate_warns_with_the_default_used(vanco: pkpd.Model) -> None:
    with pytest.warns(pkpd.PkpdWarning, match=r"DIAL = 0 \(given 'DIALYSIS': misspelt\?\)"):
        table = Patient(WT=70, CRCL=40, DIALYSIS=1).table(vanco)
    assert table["DIAL"][0] == 0.0            # the default, as the warning says


def test_extra_known_or_unused_names_without_defaults_pass_quietly(vanco: pkpd.Model) -> None:
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # every covariate given: an extra name is harmless
        Patient(WT=70, CRCL=40, DIAL=0, SITE="Leeds").table(vanco)
        # defaults used, but the extra names are clinical covariates the model does not use
        Patient(WT=70, CRCL=40, AGE=50, HT=170, SEX="F").table(vanco)


def test_patients_for_a_model_without_covariates() -> None:
    # one_cmt declares no covariates: each patient is one subject, simulated at the model's
    # own values (this used to fail with "params/patients have 0 rows")
    plain = pkpd.simulate("one_cmt", "500 mg", times=[1.0, 2.0])
    one = pkpd.simulate("one_cmt", "500 mg", Patient(WT=82), times=[1.0, 2.0])
    two = pkpd.simulate("one_cmt", "500 mg", [Patient(WT=82), Patient(WT=60)], times=[1.0, 2.0])
    np.testing.assert_array_equal(one["CP"].values, plain["CP"].values)
    assert two["CP"].shape == (2, 2)
    np.testing.assert_array_equal(two["CP"].values[1], plain["CP"].values[0])
    with pytest.raises(pkpd.DataError, match="params has 3 rows but patients has 2"):
        pkpd.simulate("one_cmt", "500 mg", [Patient(WT=82), Patient(WT=60)],
                      params={"CL": [1.0, 2.0, 3.0]}, times=[1.0])


def test_per_kg_dose_takes_the_patients_weight_when_the_model_has_no_wt() -> None:
    # one_cmt has no WT covariate: the weight for "mg/kg" comes from the patient itself
    per_kg = pkpd.simulate("one_cmt", "2 mg/kg", Patient(WT="180 lb"), times=[1.0, 4.0])
    mg = pkpd.simulate("one_cmt", f"{2 * 180 * 0.45359237!r} mg", times=[1.0, 4.0])
    np.testing.assert_allclose(per_kg["CP"].values, mg["CP"].values, rtol=1e-14)


def test_implausible_values_in_a_patients_table_warn(vanco: pkpd.Model) -> None:
    # a table is simulated as given (research may want it), but 10^6 kg is named
    with pytest.warns(pkpd.PkpdWarning, match=r"column WT has 1 of 2 values outside the "
                                              r"plausible range 0.3-400 kg \(row 1: 1e\+06 kg\)"):
        ds = pkpd.simulate(vanco, "1 g IV over 1 h", {"WT": [1e6, 70.0], "CRCL": [80.0, 80.0]},
                           times=[2.0])
    assert ds["CP"].shape == (2, 1)
    # in another unit the range is checked after conversion (the model's WT is in kg)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pkpd.simulate(vanco, "1 g IV over 1 h", {"WT": ["180 lb"], "CRCL": [80.0]}, times=[2.0])
