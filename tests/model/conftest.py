"""Fixtures of the model tests: the Python declaration of the bundled two_cmt_oral model."""

from __future__ import annotations

import pytest
import sympy as sp

from pkpd.model import Model, ModelBuilder

TWO_CMT_META = {
    "source": "Textbook two-compartment model with first-order absorption; typical values "
              "chosen for benchmarking, not fitted to data",
    "references": "Gabrielsson J, Weiner D. Pharmacokinetic and Pharmacodynamic Data Analysis: "
                  "Concepts and Applications, 5th ed. Swedish Pharmaceutical Press, 2016 "
                  "(chapter 2, multi-compartment models)",
    "status": "reference model for tests and benchmarks; not a clinical model",
    "tags": ["structural", "pk", "reference"],
}


def build_two_cmt_oral() -> Model:
    """two_cmt_oral declared through the Python API, mixing sympy expressions and text."""
    mb = ModelBuilder("two_cmt_oral", time_unit="h",
                      description="Two compartments, oral, allometric weight scaling (benchmark "
                                  "model M1). Two-compartment disposition with first-order "
                                  "absorption and linear elimination")
    TVKA, TVCL, _, TVQ, TVV2 = mb.parameters(
        TVKA={"value": 1.0, "unit": "1/h", "description": "absorption rate constant"},
        TVCL={"value": 5.0, "unit": "L/h", "description": "clearance at 70 kg"},
        TVV1={"value": 50.0, "unit": "L", "description": "central volume at 70 kg"},
        TVQ={"value": 8.0, "unit": "L/h",
             "description": "inter-compartmental clearance at 70 kg"},
        TVV2={"value": 100.0, "unit": "L", "description": "peripheral volume at 70 kg"},
    )
    (WT,) = mb.covariates(WT={"unit": "kg", "default": 70, "description": "body weight"})
    eta_CL, _, eta_KA, eta_Q, eta_V2 = mb.etas(
        eta_CL=0.09, eta_V1=0.0625, eta_KA=0.16, eta_Q=0.04, eta_V2=0.04)
    KA = mb.derive("KA", TVKA * sp.exp(eta_KA))
    CL = mb.derive("CL", TVCL * (WT / 70) ** 0.75 * sp.exp(eta_CL))
    V1 = mb.derive("V1", "TVV1 * (WT/70) * exp(eta_V1)")
    Q = mb.derive("Q", TVQ * (WT / 70) ** 0.75 * sp.exp(eta_Q))
    V2 = mb.derive("V2", TVV2 * (WT / 70) * sp.exp(eta_V2))
    depot, central, periph = mb.states(
        depot={"unit": "mg", "description": "amount at the absorption site"},
        central={"unit": "mg", "description": "amount in the central compartment"},
        periph={"unit": "mg", "description": "amount in the peripheral compartment"},
    )
    mb.ode(depot, -KA * depot)
    mb.ode(central, KA * depot - CL / V1 * central - Q / V1 * central + Q / V2 * periph)
    mb.ode("periph", "Q/V1*central - Q/V2*periph")
    mb.output("CP", central / V1, unit="mg/L")
    mb.route("po", depot)
    mb.route("IV", "central")
    mb.default_route("PO")
    mb.error("CP", proportional=0.1, additive=0.05)
    mb.metadata(**TWO_CMT_META)
    return mb.build()


@pytest.fixture(scope="session")
def two_cmt_python() -> Model:
    return build_two_cmt_oral()
