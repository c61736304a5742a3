"""Estimation checks: fits whose answer is known independently of pkpd.

* An individual maximum-likelihood fit of noise-free levels computed with the closed form of
  :mod:`pkpd.testing.analytic` must return the parameters the levels were computed with.
* The FOCE-I population fit of the theophylline data (shared data folder) must agree with R's
  nlme fit of the same model (``pkpd/_data/theophylline_nlme.toml``) within a fraction of its
  standard errors.
"""

from __future__ import annotations

import math
import tomllib
from importlib.resources import files
from typing import Any

import numpy as np

from ..testing import analytic
from ._registry import Check, Context, Measured, NotRun, register

#: The individual fit: a model with an additive error (so that noise-free levels put the
#: likelihood's optimum exactly at the truth), its typical values and the true etas.
FIT_MODEL = "theophylline_1cmt"
TRUE_ETAS = {"eta_KA": 0.3, "eta_CL": -0.25, "eta_V": 0.15}
TYPICAL = {"TVKA": 1.2, "TVCL": 3.0, "TVV": 30.0}
LEVEL_TIMES = (0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 18.0, 24.0)
THEO_TOL_SE = 0.5


def nlme_reference() -> dict[str, Any]:
    """The nlme reference of the theophylline fit (``pkpd/_data/theophylline_nlme.toml``)."""
    text = files("pkpd").joinpath("_data/theophylline_nlme.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)["nlme_diagonal"]


def _individual(ctx: Context) -> Measured:
    import pandas as pd

    from ..estimation import fit_individual

    dose = 320.0
    p = {k: TYPICAL[f"TV{k}"] * math.exp(TRUE_ETAS[f"eta_{k}"]) for k in ("KA", "CL", "V")}
    t = np.array(LEVEL_TIMES)
    levels = analytic.one_cmt_oral(t, [(0.0, dose)], CL=p["CL"], V=p["V"], KA=p["KA"])
    rows = [{"ID": 1, "TIME": 0.0, "EVID": 1, "AMT": dose, "CMT": 1, "DV": 0.0, "MDV": 1}]
    rows += [{"ID": 1, "TIME": ti, "EVID": 0, "AMT": 0.0, "CMT": 2, "DV": float(c), "MDV": 0}
             for ti, c in zip(t, levels, strict=True)]
    fit = fit_individual(ctx.compiled(FIT_MODEL), pd.DataFrame(rows), method="ml",
                         params=dict(TYPICAL))
    est = dict(fit.etas)
    err = max(abs(est[k] - v) for k, v in TRUE_ETAS.items())
    shown = ", ".join(f"{k} {est[k]:.6f} (true {v})" for k, v in TRUE_ETAS.items())
    return Measured(err, f"{len(t)} noise-free levels after {dose:g} mg PO; {shown}")


def _theophylline(ctx: Context) -> Measured:
    import pandas as pd

    from .._provenance import file_sha256
    from ..estimation import fit_population

    csv = ctx.shared("data", "theophylline.csv")
    ref = nlme_reference()
    digest = file_sha256(csv)
    if digest != ref["data_sha256"]:
        raise NotRun(f"{csv} is not the dataset the nlme reference was computed on (sha256 "
                     f"{digest[:12]}..., expected {ref['data_sha256'][:12]}...)")
    fit = fit_population(ctx.compiled(ref["model"]), pd.read_csv(csv), "focei", seed=1)
    diffs = {k: abs(fit.estimates[k] - v) / fit.se[k] for k, v in ref["estimates"].items()}
    worst = max(diffs, key=lambda k: diffs[k])
    return Measured(diffs[worst], f"largest for {worst}: pkpd {fit.estimates[worst]:.4g}, nlme "
                                  f"{ref['estimates'][worst]:.4g}; OFV {fit.ofv:.3f} (nlme's "
                                  f"-2 log L on NONMEM's scale {ref['ofv_nonmem_scale']:.3f})")


register(Check("individual fit recovers the truth", "estimation",
               f"{FIT_MODEL}, maximum-likelihood fit of levels computed with the closed form "
               "(pkpd.testing.analytic), against the etas used", "max |eta - true eta|", 1e-6,
               _individual))
register(Check("theophylline FOCE-I vs nlme", "estimation",
               "theophylline_1cmt FOCE-I fit of data/theophylline.csv against R nlme's estimates "
               "(pkpd/_data/theophylline_nlme.toml)", "max |pkpd - nlme| / SE", THEO_TOL_SE,
               _theophylline, slow=True))
