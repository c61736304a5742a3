"""Parameter estimation: individual fits (MAP Bayesian and maximum likelihood).

:func:`fit_individual` conditions a model on one subject's measured levels: it finds the
random effects (etas) that minimise minus twice the log posterior (MAP) or log likelihood
(ML), with predictions from :func:`pkpd.simulate` (the one engine), and returns a frozen
:class:`FitResult` with the Laplace approximation of the posterior.
"""

from __future__ import annotations

from ._map import FitResult, fit_individual
from ._posterior import PosteriorSample

__all__ = ["FitResult", "PosteriorSample", "fit_individual"]
