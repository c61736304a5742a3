"""The simulate() entry point: result schema, units, input errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import pkpd


@pytest.fixture(scope="module")
def two_cmt():
    return pkpd.compile_model(pkpd.load_model("two_cmt_oral"))


def test_dataset_schema_and_units(two_cmt):
    ds = pkpd.simulate(two_cmt, "500 mg PO q12h x 3", params={"eta_CL": [0.0, 0.2, -0.2]},
                       times="0..36 h by 0.5 h", states=True)
    assert ds["CP"].dims == ("id", "time")
    assert ds.sizes == {"id": 3, "time": 73}
    assert ds["CP"].attrs["units"] == "mg/L"
    assert ds["time"].attrs["units"] == "h"
    assert ds["central"].attrs["units"] == "mg"
    import pint_xarray  # noqa: F401  (registers the .pint accessor)

    q = ds.pint.quantify()
    assert str(q["CP"].data.units) in ("milligram / liter", "mg/L")
    # higher clearance, lower concentrations
    auc = ds["CP"].integrate("time").values
    assert auc[1] < auc[0] < auc[2]


def test_times_in_other_units_give_the_same_grid(two_cmt):
    a = pkpd.simulate(two_cmt, "500 mg PO q12h x 2", times="0..1 d by 30 min")
    b = pkpd.simulate(two_cmt, "500 mg PO q12h x 2", times=np.arange(0, 24.25, 0.5))
    np.testing.assert_array_equal(a["time"].values, b["time"].values)
    np.testing.assert_allclose(a["CP"].values, b["CP"].values, rtol=1e-12)


def test_dose_units_are_converted(two_cmt):
    a = pkpd.simulate(two_cmt, "0.5 g PO q12h x 2", times="0..24 h by 1 h")
    b = pkpd.simulate(two_cmt, "500000 ug PO q12h x 2", times="0..24 h by 1 h")
    np.testing.assert_allclose(a["CP"].values, b["CP"].values, rtol=1e-9)


def test_python_and_toml_declarations_give_identical_results():
    import sympy as sp

    mb = pkpd.ModelBuilder("two_cmt_py", time_unit="h")
    depot, central, periph = mb.states(depot="mg", central="mg", periph="mg")
    TVKA, TVCL, TVV1, TVQ, TVV2 = mb.parameters(TVKA="1 1/h", TVCL="5 L/h", TVV1="50 L",
                                                TVQ="8 L/h", TVV2="100 L")
    KA = mb.derive("KA", TVKA)
    CL = mb.derive("CL", TVCL)
    V1 = mb.derive("V1", TVV1)
    Q = mb.derive("Q", TVQ)
    V2 = mb.derive("V2", TVV2)
    mb.ode(depot, -KA * depot)
    mb.ode(central, KA * depot - CL / V1 * central - Q / V1 * central + Q / V2 * periph)
    mb.ode(periph, Q / V1 * central - Q / V2 * periph)
    mb.output("CP", central / V1, unit="mg/L")
    mb.route("PO", "depot")
    py_model = mb.build()
    toml_text = """
[model]
name = "two_cmt_py"
time_unit = "h"
[parameters]
TVKA = { value = 1.0, unit = "1/h" }
TVCL = { value = 5.0, unit = "L/h" }
TVV1 = { value = 50.0, unit = "L" }
TVQ = { value = 8.0, unit = "L/h" }
TVV2 = { value = 100.0, unit = "L" }
[individual]
KA = "TVKA"
CL = "TVCL"
V1 = "TVV1"
Q = "TVQ"
V2 = "TVV2"
[states]
depot = { unit = "mg" }
central = { unit = "mg" }
periph = { unit = "mg" }
[odes]
depot = "-KA*depot"
central = "KA*depot - CL/V1*central - Q/V1*central + Q/V2*periph"
periph = "Q/V1*central - Q/V2*periph"
[outputs]
CP = { expr = "central/V1", unit = "mg/L" }
[routes]
PO = "depot"
"""
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "two_cmt_py.toml"
        path.write_text(toml_text)
        file_model = pkpd.load_model(path)
    assert sp.srepr(file_model.odes[1]) == sp.srepr(py_model.odes[1])
    kw = {"times": "0..48 h by 0.5 h"}
    a = pkpd.simulate(py_model, "500 mg PO q12h x 4", **kw)
    b = pkpd.simulate(file_model, "500 mg PO q12h x 4", **kw)
    np.testing.assert_array_equal(a["CP"].values, b["CP"].values)


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"params": {"CLX": [1.0]}}, pkpd.DataError, "CLX"),
    ({"params": {"eta_CL": [np.nan]}}, pkpd.DataError, "eta_CL"),
    ({"params": {"eta_CL": [0.0, 0.1]}, "patients": {"WT": [70.0]}}, pkpd.DataError, "rows"),
    ({"patients": {"WT": ["70 L"]}}, pkpd.UnitError, "WT"),
    ({"times": "0..24 banana by 1 h"}, pkpd.UnitError, "times"),
    ({"times": [0.0, 2.0, 1.0]}, pkpd.UnitError, "increasing"),
    ({"times": [0.0, np.nan]}, pkpd.UnitError, "finite"),
    ({"outputs": ["CX"]}, pkpd.ModelError, "CX"),
    ({"solver": "euler"}, pkpd.SolverError, "euler"),
])
def test_bad_input_raises_a_named_error(two_cmt, kwargs, error, match):
    kwargs.setdefault("times", "0..24 h by 1 h")
    with pytest.raises(error, match=match):
        pkpd.simulate(two_cmt, "500 mg PO q12h x 2", **kwargs)


@pytest.mark.parametrize(("regimen", "match"), [
    ("500 mg into gut q12h x 2", "gut"),
    ("-500 mg PO q12h x 2", "500"),
    ("500 mL PO q12h x 2", "mL"),
    ("500 mg PO q12x x 2", "q12x"),
])
def test_bad_regimen_raises(two_cmt, regimen, match):
    with pytest.raises(pkpd.PkpdError, match=match):
        pkpd.simulate(two_cmt, regimen, times="0..24 h by 1 h")


def test_regimen_without_times_is_an_error(two_cmt):
    with pytest.raises(pkpd.UnitError, match="times"):
        pkpd.simulate(two_cmt, "500 mg PO q12h x 2")


def test_dataset_cmt_outside_the_model_is_a_data_error(two_cmt):
    frame = pd.DataFrame({"ID": [1, 1], "TIME": [0, 1], "AMT": [100, 0], "CMT": [4, 2],
                          "EVID": [1, 0]})
    with pytest.raises(pkpd.DataError, match="CMT"):
        pkpd.simulate(two_cmt, pkpd.read_nonmem(frame, model=two_cmt.model))
    with pytest.raises(pkpd.DataError, match="CMT"):
        pkpd.simulate(two_cmt, pkpd.read_nonmem(frame))


def test_solver_failure_names_subject_time_and_state():
    mb = pkpd.ModelBuilder("blowup", time_unit="h")
    x, = mb.states(x="mg")
    mb.parameters(K="1 1/h", XS="1 mg")
    mb.ode(x, "K*x*x/XS")
    mb.output("X", x, unit="mg")
    mb.route("IV", "x")
    cm = pkpd.compile_model(mb.build())
    with pytest.raises(pkpd.SolverError) as info:
        pkpd.simulate(cm, "1 mg IV", params={"K": [0.1, 2.0]}, times="0..2 h by 0.5 h")
    err = info.value
    assert err.subject == 2 and err.state == "x"
    assert 0.4 < err.time < 0.51  # x = 1/(1 - K t) blows up at t = 1/K = 0.5 h
    assert "subject 2" in str(err)


def test_stiff_problem_switches_to_rosenbrock():
    # Robertson's chemical kinetics: classic stiff test, conservation x1 + x2 + x3 = 1
    mb = pkpd.ModelBuilder("robertson", time_unit="s")
    x1, x2, x3 = mb.states(x1="mol", x2="mol", x3="mol")
    mb.parameters(K1="0.04 1/s", K2="3e7 1/(mol*s)", K3="1e4 1/(mol*s)")
    mb.ode(x1, "-K1*x1 + K3*x2*x3")
    mb.ode(x2, "K1*x1 - K3*x2*x3 - K2*x2**2")
    mb.ode(x3, "K2*x2**2")
    mb.initial(x1, "ONE")
    mb.parameters(ONE="1 mol")
    mb.output("total", "x1 + x2 + x3", unit="mol")
    mb.output("y1", "x1", unit="mol")
    cm = pkpd.compile_model(mb.build())
    frame = pd.DataFrame({"ID": 1, "TIME": [0.0, 40.0, 400.0, 4e3, 4e4], "EVID": 0, "CMT": 1})
    ds = pkpd.simulate(cm, pkpd.read_nonmem(frame), rtol=1e-6, atol=1e-10, max_steps=5000)
    np.testing.assert_allclose(ds["total"].values, 1.0, rtol=1e-6)
    from scipy.integrate import solve_ivp

    def f(t, y):
        return [-0.04 * y[0] + 1e4 * y[1] * y[2], 0.04 * y[0] - 1e4 * y[1] * y[2] - 3e7 * y[1] ** 2,
                3e7 * y[1] ** 2]
    ref = solve_ivp(f, (0, 4e4), [1, 0, 0], method="Radau", rtol=1e-10, atol=1e-14,
                    t_eval=[0.0, 40.0, 400.0, 4e3, 4e4])
    np.testing.assert_allclose(ds["y1"].values, ref.y[0], rtol=1e-4)
    # DOPRI5 alone cannot do this within the step budget
    with pytest.raises(pkpd.SolverError, match="too many steps"):
        pkpd.simulate(cm, pkpd.read_nonmem(frame), solver="dopri5", max_steps=5000)


def test_per_kg_doses_use_each_patients_weight():
    vanco = pkpd.compile_model(pkpd.load_model("vancomycin_goti2018"))
    kw = {"times": "0..24 h by 1 h"}
    per_kg = pkpd.simulate(vanco, "25 mg/kg IV over 2 h", {"WT": ["82 kg", "180.78 lb"]}, **kw)
    fixed = pkpd.simulate(vanco, "2050 mg IV over 2 h", {"WT": [82.0]}, **kw)
    np.testing.assert_allclose(per_kg["CP"].values[0], fixed["CP"].values[0], rtol=1e-12)
    # 180.78 lb is 82.0 kg (to 4 digits): same exposure
    np.testing.assert_allclose(per_kg["CP"].values[1], fixed["CP"].values[0], rtol=1e-4)


def test_per_kg_dose_without_a_weight_is_an_error():
    mb = pkpd.ModelBuilder("no_weight", time_unit="h")
    central, = mb.states(central="mg")
    mb.parameters(CL="2 L/h", V="20 L")
    mb.ode(central, "-CL/V*central")
    mb.output("C", "central/V", unit="mg/L")
    mb.route("IV", "central")
    with pytest.raises(pkpd.RegimenError, match="weight"):
        pkpd.simulate(mb.build(), "25 mg/kg IV", times=[1.0])


def test_no_dose_runs_the_model_from_its_initial_conditions():
    """events=None: untreated Simeoni growth against a tight scipy solve of its own ODE
    (written here), a turnover model staying at its baseline, a PK model staying at zero."""
    from scipy.integrate import solve_ivp

    lam0, lam1, psi, w0 = 0.273, 0.814, 20.0, 0.05

    def rhs(_t, x):
        return [lam0 * x[0] / (1 + (lam0 / lam1 * x[0]) ** psi) ** (1 / psi)]

    days = np.array([0.0, 5.0, 10.0, 20.0, 30.0])
    ref = solve_ivp(rhs, (0, 30), [w0], t_eval=days, method="Radau", rtol=1e-12,
                    atol=1e-14).y[0]
    ds = pkpd.simulate("tumour_growth_simeoni", None, times=days, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ds["W"].values[0], ref, rtol=1e-8)
    assert np.all(ds["CP"].values == 0.0)
    turnover = pkpd.simulate("indirect_response_1", None, times=[0.0, 1.0, 240.0])
    assert np.all(turnover["R"].values == turnover["R"].values[0, 0])
    assert np.all(pkpd.simulate("two_cmt", None, times=[0.0, 5.0])["CP"].values == 0.0)
    with pytest.raises(pkpd.UnitError, match="give output times"):
        pkpd.simulate("two_cmt", None)
