"""The theophylline population model of the estimation tests (test helper, not a test)."""

from __future__ import annotations

import pkpd

THEO_SD = 0.7


def theophylline_model(*, eta_v: bool = True, allometric: bool = False,
                       error: dict[str, float] | None = None) -> pkpd.Model:
    """One-compartment oral model as in test_data_fits.py; ``eta_v=False`` drops the IIV of V,
    ``allometric`` estimates an exponent of weight on CL (WT_CL)."""
    mb = pkpd.ModelBuilder("theophylline_1cmt_oral", time_unit="h")
    depot, central = mb.states(depot="mg", central="mg")
    mb.parameters(TVKA="1.5 1/h", TVCL="2.8 L/h", TVV="32 L")
    if allometric:
        mb.parameters(WT_CL=0.75)
        mb.covariates(WT="kg")
    mb.etas(eta_KA=0.4, eta_CL=0.1, **({"eta_V": 0.05} if eta_v else {}))
    mb.derive("KA", "TVKA * exp(eta_KA)")
    mb.derive("CL", "TVCL * (WT / 70) ** WT_CL * exp(eta_CL)" if allometric
              else "TVCL * exp(eta_CL)")
    mb.derive("V", "TVV * exp(eta_V)" if eta_v else "TVV")
    mb.ode(depot, "-KA * depot")
    mb.ode(central, "KA * depot - CL / V * central")
    mb.output("CP", "central / V", unit="mg/L")
    mb.route("PO", depot)
    mb.error("CP", **(error or {"additive": THEO_SD}))
    return mb.build()
