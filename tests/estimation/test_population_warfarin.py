"""Warfarin PK (32 subjects, one oral dose, 251 concentrations; ../shared/data/warfarin.csv,
DVID 1): one compartment with first-order absorption after a fixed lag time, exponential IIV on
CL, V and KA, combined error. FOCE-I and SAEM are two independent estimators of the same
model: their estimates must agree within a fraction of the standard errors (measured: thetas
within 0.33 SE (KA), omegas within 0.7 SE (the KA variance, 41 % RSE), sigmas within 0.1 SE),
and SAEM's estimates, evaluated by FOCE-I, may not beat the FOCE-I minimum."""

from __future__ import annotations

import pandas as pd
import pytest

import pkpd

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def warfarin(shared_dir) -> tuple[pkpd.CompiledModel, pd.DataFrame]:
    mb = pkpd.ModelBuilder("warfarin_pk", time_unit="h")
    mb.states(depot="mg", central="mg")
    mb.parameters(TVCL="0.13 L/h", TVV="8 L", TVKA="1 1/h",
                  TLAG={"value": 0.75, "unit": "h", "fixed": True})
    mb.etas(eta_CL=0.1, eta_V=0.1, eta_KA=0.5)
    mb.derive("CL", "TVCL * exp(eta_CL)")
    mb.derive("V", "TVV * exp(eta_V)")
    mb.derive("KA", "TVKA * exp(eta_KA)")
    mb.ode("depot", "-KA * depot")
    mb.ode("central", "KA * depot - CL / V * central")
    mb.dosing("depot", lag="TLAG")
    mb.output("CP", "central / V", unit="mg/L")
    mb.route("PO", "depot")
    mb.error("CP", additive=0.3, proportional=0.1)
    frame = pd.read_csv(shared_dir / "data" / "warfarin.csv")
    frame = frame[frame.DVID != 2].drop(columns=["DVNAME"])
    return pkpd.compile_model(mb.build()), frame


def test_focei_and_saem_agree(warfarin):
    cm, frame = warfarin
    focei = pkpd.fit_population(cm, frame, "focei")
    saem = pkpd.fit_population(cm, frame, "saem", seed=1)
    assert focei.success, focei.status
    assert focei.n_subjects == 32 and focei.n_obs == 251
    assert "TLAG" not in focei.estimated and focei.estimates["TLAG"] == 0.75
    for name in focei.estimated:
        tol = {"theta": 0.5, "omega": 1.0, "sigma": 0.5}[
            focei.model.parameter_layout[name].kind]
        assert abs(saem.estimates[name] - focei.estimates[name]) < tol * focei.se[name], name
    assert focei.ofv - 0.01 < saem.ofv < focei.ofv + 1.0
    # clearance and volume are well determined (RSE < 10 %)
    assert focei.rse["TVCL"] < 10 and focei.rse["TVV"] < 10
