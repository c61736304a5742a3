"""The parameter layout shared by estimation and simulation: thetas, omega blocks, sigmas,
fixed flags and bounds from the model declaration; new values put back into the model."""

from __future__ import annotations

import numpy as np
import pytest

from pkpd import ModelError
from pkpd.model import ModelBuilder, model_from_toml


def builder() -> ModelBuilder:
    mb = ModelBuilder("layout_test", time_unit="h")
    mb.states(central="mg")
    mb.parameters(TVCL={"value": 5.0, "unit": "L/h", "lower": 0.1, "upper": 50.0},
                  TVV={"value": 50.0, "unit": "L", "fixed": True},
                  SHIFT={"value": -1.0, "unit": "1"})
    mb.omega_block(["eta_CL", "eta_V"], [[0.09, 0.03], [0.03, 0.04]])
    mb.etas(eta_occ=0.01)
    mb.occasion("eta_occ")
    mb.fix_omega("eta_occ")
    mb.derive("CL", "TVCL * exp(eta_CL + eta_occ + SHIFT + 1)")
    mb.derive("V", "TVV * exp(eta_V)")
    mb.ode("central", "-CL / V * central")
    mb.output("CP", "central / V", unit="mg/L")
    mb.error("CP", additive=0.1, proportional=0.2, fixed=["additive"])
    return mb


def test_layout_lists_thetas_omegas_sigmas_with_flags_and_bounds():
    layout = builder().build().parameter_layout
    assert layout.names("theta") == ("TVCL", "TVV", "SHIFT")
    assert layout.names("omega") == ("omega(eta_CL)", "omega(eta_CL,eta_V)", "omega(eta_V)",
                                     "omega(eta_occ)")
    assert layout.names("sigma") == ("CP.additive", "CP.proportional")
    assert layout.names(estimated=False) == ("TVV", "omega(eta_occ)", "CP.additive")
    assert (layout["TVCL"].lower, layout["TVCL"].upper) == (0.1, 50.0)
    assert layout["SHIFT"].lower == -np.inf            # a negative value: unbounded
    assert layout["TVV"].lower == 0.0                  # a positive value: positive
    assert layout["omega(eta_CL,eta_V)"].value == 0.03
    assert layout["omega(eta_CL,eta_V)"].lower == -np.inf


def test_apply_puts_values_back_and_the_model_simulates_them():
    m = builder().build()
    new = m.parameter_layout.apply(m, {"TVCL": 7.0, "omega(eta_CL,eta_V)": -0.01,
                                       "CP.proportional": 0.3})
    assert new.parameter_layout.values["TVCL"] == 7.0
    assert new.omega[0, 1] == new.omega[1, 0] == -0.01
    assert new.error["CP"].proportional == 0.3 and new.error["CP"].additive == 0.1
    assert new.hash != m.hash
    with pytest.raises(ModelError, match="not parameters"):
        m.parameter_layout.apply(m, {"CL": 1.0})
    with pytest.raises(ModelError, match="positive"):
        m.parameter_layout.apply(m, {"omega(eta_CL,eta_V)": 0.5})


def test_bsv_bov_correlation_is_refused():
    mb = ModelBuilder("bad", time_unit="h")
    mb.states(central="mg")
    mb.parameters(TVCL="5 L/h", V="50 L")
    mb.omega_block(["eta_CL", "eta_occ"], [[0.09, 0.01], [0.01, 0.04]])
    mb.occasion("eta_occ")
    mb.derive("CL", "TVCL * exp(eta_CL + eta_occ)")
    mb.ode("central", "-CL / V * central")
    with pytest.raises(ModelError, match="between-occasion etas"):
        mb.build()


@pytest.mark.parametrize(("spec", "match"), [
    ({"value": 5.0, "unit": "L/h", "lower": 6.0}, "within lower"),
    ({"value": 5.0, "unit": "L/h", "fixed": "yes"}, "true or false"),
    ({"value": 5.0, "unit": "L/h", "upper": "ten"}, "must be a number"),
])
def test_bad_estimation_fields(spec, match):
    mb = ModelBuilder("bad", time_unit="h")
    with pytest.raises(ModelError, match=match):
        mb.parameters(TVCL=spec)


def test_model_file_fields():
    m = model_from_toml({
        "model": {"name": "file_layout"},
        "parameters": {"TVK": {"value": 0.1, "unit": "1/h", "upper": 5.0}},
        "variability": {"omega": {"eta_K": 0.2}, "fixed": ["eta_K"]},
        "individual": {"K": "TVK * exp(eta_K)"},
        "states": {"central": "mg"},
        "odes": {"central": "-K * central"},
        "outputs": {"A": {"expr": "central", "unit": "mg"}},
        "error": {"A": {"proportional": 0.1, "power": 0.8, "fixed": True}},
    })
    layout = m.parameter_layout
    assert layout["TVK"].upper == 5.0
    assert layout["omega(eta_K)"].fixed and layout["A.proportional"].fixed
    assert m.error["A"].kind == "power"
