"""Reference population fit of theophylline computed by R's ``nlme`` (test helper, not a test).

What the reference is
---------------------
``validation/references/nlme_theophylline.R`` (run by ``validation/references/rscript.py``,
which the report ``validation/theophylline.py`` uses too) fits the 12-subject theophylline data
(observation rows only; the 0.74 mg/L concentration of subject 1 at TIME 0 is kept) with
``nlme::nlme``, ``method = "ML"``: one compartment with first-order absorption in closed form,
``C(t) = Dose ka / (V (ka - ke)) (exp(-ke t) - exp(-ka t))``, ``ke = CL / V``, dose in mg (AMT),
fixed effects ``lKA, lCL, lV`` on the log scale with random effects on all three (so
``KA = exp(lKA + eta_KA)`` etc., exponential between-subject variability), additive residual
error. Two variants are fitted and reported under separate keys: ``"diagonal"``
(``pdDiag(lKA + lCL + lV ~ 1)``) and ``"block"`` (``pdSymm``, the full 3x3 covariance; marked
``converged: false`` with nlme's message when it fails). The script prints JSON with the fixed
effects (log scale and exponentiated), their standard errors (fixed effects only: nlme gives none
for the variance parameters), omega^2 (log scale), sigma and sigma^2, logLik, -2 logLik, and
``-2 logLik - n_obs log(2 pi)`` (the scale of NONMEM's objective function), and the per-subject
random effects.

The approximation nlme makes
----------------------------
nlme maximises the Lindstrom-Bates approximation of the likelihood: it alternates a penalised
nonlinear least-squares step (random effects given the variance parameters) with a linear
mixed-effects step on the model linearised around the current fixed and random effects. At
convergence this is a first-order conditional estimate about the individual random effects,
close to but not identical with NONMEM's FOCE-I (the linearisation and the objective differ in
detail), so FOCE-I and SAEM estimates are expected near it but not equal to it to the last
digit; compare with tolerances, looser for the variances than for the fixed effects. The ML
estimate of sigma is the penalised one: ``sigma^2 (n_obs - sum_i b_i' Omega^-1 b_i)`` equals the
residual sum of squares of the individual predictions, so sigma exceeds their root mean squared
residual.

Source
------
Pinheiro J. C. & Bates D. M. (2000), *Mixed-Effects Models in S and S-PLUS*, Springer,
section 8.2, fits this model to these data with ``nlme``. The book uses the self-starting
``SSfol`` model parameterised by ``lKe, lKa, lCl`` with the dose in mg/kg; the script uses
``lKA, lCL, lV`` with the dose in mg, which gives the same structural model in another
parameterisation.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

import pytest

_PATH = Path(__file__).resolve().parents[2] / "validation" / "references" / "rscript.py"
_spec = importlib.util.spec_from_file_location("validation_references_rscript", _PATH)
references = sys.modules.setdefault(_spec.name, importlib.util.module_from_spec(_spec))
_spec.loader.exec_module(references)

_MISSING = "Rscript not found: install r-base-core r-cran-nlme for the nlme cross-check"


def require_rscript() -> str:
    """Path of ``Rscript``; skip the calling test without it (fail instead under ``CI=true``)."""
    try:
        return references.rscript()
    except references.RscriptMissing:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(_MISSING)
        pytest.skip(_MISSING)


def nlme_theophylline(csv_path: str | os.PathLike[str]) -> dict[str, Any]:
    """Run ``nlme_theophylline.R`` on the theophylline CSV and return its JSON output as a dict."""
    require_rscript()
    return references.nlme_theophylline(csv_path)
