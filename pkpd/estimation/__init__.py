"""Parameter estimation: individual fits (MAP Bayesian and maximum likelihood).

:func:`fit_individual` conditions a model on one subject's measured levels: it finds the
random effects (etas) that minimise minus twice the log posterior (MAP) or log likelihood
(ML), with predictions and their forward sensitivities from the one engine, and returns a
frozen :class:`FitResult` with the Laplace approximation of the posterior. From it,
:meth:`FitResult.posterior` draws from the posterior (Laplace, importance resampling or
MCMC, in a :class:`PosteriorSample`) and :meth:`FitResult.predict` predicts any regimen
with a posterior band.
"""

from __future__ import annotations

from ._individual import fit_individual, fit_subjects
from ._posterior import PosteriorSample
from ._results import FitResult, SubjectFits

__all__ = ["FitResult", "PosteriorSample", "SubjectFits", "fit_individual", "fit_subjects"]
