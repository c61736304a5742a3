"""Build-time checks: each invalid declaration raises a ModelError naming the item."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from pkpd import ModelError
from pkpd.model import ErrorModel, ModelBuilder


def base(**skip: bool) -> ModelBuilder:
    """A valid one-compartment oral model; pieces can be left out to break it."""
    mb = ModelBuilder("m", time_unit="h")
    mb.parameters(TVKA="1 1/h", TVCL="5 L/h", TVV="50 L")
    mb.covariates(WT={"unit": "kg", "default": 70})
    mb.etas(eta_CL=0.09)
    mb.derive("CL", "TVCL*(WT/70)**0.75*exp(eta_CL)")
    mb.derive("V", "TVV")
    mb.derive("KA", "TVKA")
    mb.states(depot="mg", central="mg")
    mb.ode("depot", "-KA*depot")
    if not skip.get("central_ode"):
        mb.ode("central", "KA*depot - CL/V*central")
    if not skip.get("output"):
        mb.output("CP", "central/V", unit="mg/L")
    return mb


def test_base_builds() -> None:
    model = base().build()
    assert model.state_names == ("depot", "central")
    assert model.derived[0].unit == "L/h"


def err(mb: ModelBuilder) -> str:
    with pytest.raises(ModelError) as e:
        mb.build()
    return str(e.value)


def test_undefined_symbol() -> None:
    mb = base(central_ode=True)
    mb.ode("central", "KA*depot - CLX/V*central")
    msg = err(mb)
    assert "ODE of 'central'" in msg and "'CLX'" in msg and "did you mean CL" in msg


def test_undefined_symbol_from_sympy() -> None:
    mb = base(output=True)
    mb.output("CP", sp.Symbol("central") / sp.Symbol("VV"))
    msg = err(mb)
    assert "output 'CP'" in msg and "undefined symbol 'VV'" in msg


@pytest.mark.parametrize(("declare", "kind", "name"), [
    (lambda mb: mb.parameters(UNUSED="1 L"), "parameter", "UNUSED"),
    (lambda mb: mb.covariates(AGE="yr"), "covariate", "AGE"),
    (lambda mb: mb.etas(eta_V=0.1), "eta", "eta_V"),
    (lambda mb: mb.derive("K", "TVCL/TVV"), "individual equation", "K"),
])
def test_unused(declare, kind: str, name: str) -> None:
    mb = base()
    declare(mb)
    msg = err(mb)
    assert f"{kind} '{name}' is declared but never used" in msg


def test_state_without_ode() -> None:
    msg = err(base(central_ode=True))
    assert "state 'central' has no ODE" in msg


def test_ode_for_unknown_state() -> None:
    mb = base()
    mb.ode("periph", "0")
    assert "ODE of 'periph': 'periph' is not a state" in err(mb)


def test_duplicate_names() -> None:
    mb = base()
    with pytest.raises(ModelError, match="covariate name 'TVV' is already declared as a parameter"):
        mb.covariates(TVV="kg")
    with pytest.raises(ModelError, match="output name 'CL' is already declared"):
        mb.output("CL", "CL")


def test_derived_reusing_parameter_name_suggests_tv() -> None:
    mb = ModelBuilder("m")
    mb.parameters(CL="5 L/h")
    with pytest.raises(ModelError, match=r"individual equation 'CL' reuses the name of parameter "
                                         r"'CL'.*'TVCL'"):
        mb.derive("CL", "CL*2")


@pytest.mark.parametrize(("name", "fragment"), [
    ("t", "reserved"), ("exp", "reserved"), ("if_else", "reserved"), ("lambda", "keyword"),
    ("_x", "reserved"), ("2x", "not a valid identifier"), ("a-b", "not a valid identifier"),
])
def test_reserved_names(name: str, fragment: str) -> None:
    with pytest.raises(ModelError, match=fragment):
        ModelBuilder("m").parameters(**{name: "1 L"})


def test_derived_order_and_states() -> None:
    mb = base()
    mb.derive("K", "CL2/V")
    mb.derive("CL2", "CL")
    msg = err(mb)
    assert "individual equation 'K'" in msg and "'CL2', which is declared later" in msg
    mb = base()
    mb.derive("K", "central/V")
    msg = err(mb)
    assert "individual equation 'K'" in msg and "refers to state 'central'" in msg


def test_output_of_unknown_thing() -> None:
    mb = base(output=True)
    mb.output("CP", "centrl/V")
    msg = err(mb)
    assert "output 'CP'" in msg and "'centrl'" in msg and "central" in msg


def test_ode_unit_mismatch_names_term() -> None:
    mb = base(central_ode=True)
    mb.ode("central", "KA*depot - CL*central")
    msg = err(mb)
    assert "ODE of 'central': term '-CL*central' has unit L*mg/h, expected mg/h" in msg


def test_ode_conversion_factor_is_refused() -> None:
    mb = ModelBuilder("m")
    mb.parameters(CL="5 L/h", V="50 mL")
    mb.states(central="mg")
    mb.ode("central", "-CL/V*central")
    msg = err(mb)
    assert "ODE of 'central'" in msg and "1000 mg/h" in msg


@pytest.mark.parametrize(("expr", "fragment"), [
    ("TVCL + TVV", "term 'TVV' has unit L, expected L/h"),
    ("TVCL*exp(TVV)", "argument 'TVV' of exp has unit L"),
    ("TVCL*log(WT*TVV)", "of log has unit L"),
    ("TVCL*TVV**WT", "non-constant power"),
    ("TVCL if TVV > 1 else 0", "compared in"),
    ("max(TVCL, TVV)", "arguments of"),
    ("TVCL if WT > 70 else TVV", "branches of"),
])
def test_dimensional_errors(expr: str, fragment: str) -> None:
    mb = base()
    mb.derive("CLX", expr)
    mb.derive("KX", "CLX/V")
    msg = err(mb)
    assert "individual equation 'CLX'" in msg and fragment in msg


def test_declared_derived_unit() -> None:
    mb = base()
    mb.derive("K", "CL/V", unit="1/min")
    msg = err(mb)
    assert "individual equation 'K'" in msg and "1/min" in msg
    mb = ModelBuilder("m")
    mb.parameters(CL="5 L/h", V="50 L")
    mb.derive("K", "CL/V", unit="h**-1")
    mb.states(central="mg")
    mb.ode("central", "-K*central")
    assert mb.build().derived[0].unit == "1/h"


def test_output_scaling() -> None:
    mb = base(output=True)
    mb.output("CP", "central/V", unit="ug/L")
    mb.output("CPM", "central/V", unit="mg/mL")
    mb.output("AMT", "central")
    model = mb.build()
    assert [o.scale for o in model.outputs] == [1000.0, pytest.approx(1e-3, rel=1e-14), 1.0]
    assert model.outputs[2].unit == "mg"
    mb = base(output=True)
    mb.output("CP", "central/V", unit="mg")
    msg = err(mb)
    assert "output 'CP'" in msg and "mg/L" in msg and "cannot be converted" in msg


@pytest.mark.parametrize(("attrs", "fragment"), [
    ({"F": "TVV"}, "dosing F of 'central': term 'TVV' has unit L, expected 1"),
    ({"lag": "TVV"}, "dosing lag of 'central'"),
    ({"rate": "TVCL"}, "expected mg/h (or dimensionless)"),
    ({"duration": "TVCL"}, "dosing duration of 'central'"),
])
def test_dosing_units(attrs: dict, fragment: str) -> None:
    mb = base()
    mb.dosing("central", **attrs)
    assert fragment in err(mb)


def test_dosing_ok_and_unknown_state() -> None:
    mb = base()
    mb.parameters(LAG="0.5 h", R="10 mg/h")
    mb.dosing("central", F="0.8", lag="LAG", rate="R", duration="2")
    model = mb.build()
    (d,) = model.dosing
    assert d.state == "central" and float(d.F) == 0.8 and d.lag == sp.Symbol("LAG", real=True)
    mb = base()
    mb.dosing("gut", F="1")
    assert "dosing attributes for 'gut': not a state" in err(mb)


def test_initial_values() -> None:
    mb = base()
    mb.initial("central", "TVV")
    assert "initial value of 'central': term 'TVV' has unit L, expected mg" in err(mb)
    mb = base()
    mb.initial("central", "central")
    assert "initial value of 'central'" in err(mb)
    mb = base()
    mb.initial("nothing", "1")
    assert "initial value of 'nothing'" in err(mb)


def test_omega() -> None:
    mb = ModelBuilder("m")
    with pytest.raises(ModelError, match="not symmetric"):
        mb.omega_block(["a", "b"], [[1, 0.5], [0.4, 1]])
    with pytest.raises(ModelError, match="not positive semi-definite"):
        mb.omega_block(["a", "b"], [[1, 2], [2, 1]])
    with pytest.raises(ModelError, match="shape"):
        mb.omega_block(["a", "b"], [[1]])
    with pytest.raises(ModelError, match="not a finite number"):
        mb.etas(a=float("nan"))
    mb = base()
    mb.omega_block(["eta_V", "eta_KA"], [[0.1, 0.02], [0.02, 0.2]])
    mb.derive("V2", "TVV*exp(eta_V)")
    mb.derive("KA2", "KA*exp(eta_KA)")
    mb.output("X", "V2*KA2")
    model = mb.build()
    np.testing.assert_array_equal(model.omega, [[0.09, 0, 0], [0, 0.1, 0.02], [0, 0.02, 0.2]])
    assert model.etas == ("eta_CL", "eta_V", "eta_KA")


def test_routes_and_error() -> None:
    mb = base()
    mb.route("PO", "gut")
    assert "route 'PO' names 'gut'" in err(mb)
    mb = base()
    mb.error("CC", proportional=0.1)
    assert "error model for 'CC': not an output" in err(mb)
    with pytest.raises(ModelError, match="unknown key 'lognormal'"):
        base().error("CP", lognormal=0.1)
    with pytest.raises(ModelError, match="cannot be combined"):
        base().error("CP", exponential=0.1, additive=0.2)
    with pytest.raises(ModelError, match="form"):
        base().error("CP", additive=0.2, form="both")
    mb = base()
    mb.error("CP", additive=0.2, proportional=0.1, form="sd")
    assert mb.build().error["CP"] == ErrorModel("CP", additive=0.2, proportional=0.1, form="sd")


def test_unsupported_sympy_function() -> None:
    mb = base(output=True)
    mb.output("CP", sp.sin(sp.Symbol("central")))
    assert "output 'CP': sin" in err(mb)


def test_time_unit() -> None:
    with pytest.raises(ModelError, match="not a unit of time"):
        ModelBuilder("m", time_unit="mg")


def test_output_sharing_a_state_name() -> None:
    mb = base()
    mb.output("central", "central")
    assert mb.build().output_names == ("CP", "central")
    mb = base()
    mb.output("central", "central/V")
    assert "output 'central'" in err(mb)


def test_zero_goes_with_any_unit() -> None:
    mb = base()
    mb.states(C="mg")
    mb.ode("C", "0")
    mb.output("POS", "central if central > 0 else 0", unit="mg")
    model = mb.build()
    assert float(model.odes[-1]) == 0.0 and model.outputs[-1].unit == "mg"
