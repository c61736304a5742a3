"""Parameter estimation: individual fits (MAP Bayesian and maximum likelihood) and population
fits (FOCE-I, FOCE, FO and SAEM).

:func:`fit_individual` conditions a model on one subject's measured levels: it finds the
random effects (etas) that minimise minus twice the log posterior (MAP) or log likelihood
(ML), with predictions and their forward sensitivities from the one engine, and returns a
frozen :class:`FitResult` with the Laplace approximation of the posterior. From it,
:meth:`FitResult.posterior` draws from the posterior (Laplace, importance resampling or
MCMC, in a :class:`PosteriorSample`) and :meth:`FitResult.predict` predicts any regimen
with a posterior band.

:func:`fit_population` learns a population model (thetas, omegas, sigmas) from a NONMEM-format
dataset and returns a :class:`PopulationFit` with the OFV, estimates, standard errors,
per-subject etas and predictions.

Modules, one job each: ``_data`` (one subject's records and observations), ``_popdata`` (all
subjects'), ``_likelihood`` (residual-error terms), ``_prediction`` and ``_batch`` (predictions
with sensitivities, for one subject or a whole dataset), ``_individual`` (the twin's fits) and
``_optimise`` (its minimiser), ``_parameters`` (estimated parameters as an unconstrained
vector), ``_foce`` (the FO, FOCE and FOCE-I objective), ``_saem``, ``_population`` (the
population driver), ``_covariance`` (the covariance step), ``_differences`` (second
differences), ``_posterior`` (posterior draws), ``_results`` and ``_popresults`` (result
classes).
"""

from __future__ import annotations

from ._individual import fit_individual
from ._popresults import PopulationFit
from ._population import fit_population
from ._posterior import PosteriorSample
from ._results import FitResult, SubjectFits
from ._subjects import fit_subjects

__all__ = ["FitResult", "PopulationFit", "PosteriorSample", "SubjectFits", "fit_individual",
           "fit_population", "fit_subjects"]
