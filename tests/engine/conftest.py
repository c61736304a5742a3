"""Small test models, compiled once per session."""

from __future__ import annotations

import pytest

import pkpd


def _one_cmt_iv() -> pkpd.Model:
    mb = pkpd.ModelBuilder("test_one_cmt_iv", time_unit="h",
                           description="one compartment, IV, with an elimination accumulator")
    central, elim = mb.states(central="mg", elim="mg")
    CL, V = mb.parameters(CL="2 L/h", V="20 L")
    mb.ode(central, -CL / V * central)
    mb.ode(elim, CL / V * central)
    mb.output("C", central / V, unit="mg/L")
    mb.route("IV", "central")
    return mb.build()


def _one_cmt_oral() -> pkpd.Model:
    mb = pkpd.ModelBuilder("test_one_cmt_oral", time_unit="h",
                           description="one compartment, first-order absorption with F and lag")
    depot, central, elim = mb.states(depot="mg", central="mg", elim="mg")
    CL, V, KA, F, TLAG = mb.parameters(CL="2 L/h", V="20 L", KA="1.2 1/h", F=0.7, TLAG="0.75 h")
    mb.ode(depot, -KA * depot)
    mb.ode(central, KA * depot - CL / V * central)
    mb.ode(elim, CL / V * central)
    mb.dosing("depot", F=F, lag=TLAG)
    mb.output("C", central / V, unit="mg/L")
    mb.route("PO", "depot")
    mb.route("IV", "central")
    return mb.build()


def _two_cmt_iv_mass() -> pkpd.Model:
    mb = pkpd.ModelBuilder("test_two_cmt_mass", time_unit="h",
                           description="two compartments, oral, elimination accumulator")
    depot, central, periph, elim = mb.states(depot="mg", central="mg", periph="mg", elim="mg")
    CL, V1, Q, V2, KA = mb.parameters(CL="5 L/h", V1="50 L", Q="8 L/h", V2="100 L",
                                      KA="1 1/h")
    mb.ode(depot, -KA * depot)
    mb.ode(central, KA * depot - (CL + Q) / V1 * central + Q / V2 * periph)
    mb.ode(periph, Q / V1 * central - Q / V2 * periph)
    mb.ode(elim, CL / V1 * central)
    mb.output("C", central / V1, unit="mg/L")
    mb.route("PO", "depot")
    mb.route("IV", "central")
    return mb.build()


@pytest.fixture(scope="session")
def one_cmt_iv() -> pkpd.CompiledModel:
    return pkpd.compile_model(_one_cmt_iv())


@pytest.fixture(scope="session")
def one_cmt_oral() -> pkpd.CompiledModel:
    return pkpd.compile_model(_one_cmt_oral())


@pytest.fixture(scope="session")
def two_cmt_mass() -> pkpd.CompiledModel:
    return pkpd.compile_model(_two_cmt_iv_mass())


@pytest.fixture(scope="session")
def two_cmt_oral() -> pkpd.CompiledModel:
    return pkpd.compile_model(pkpd.load_model("two_cmt_oral"))


@pytest.fixture(scope="session")
def mm_model() -> pkpd.CompiledModel:
    return pkpd.compile_model(pkpd.load_model("mm_indirect_response"))
