"""Plots with matplotlib (imported only when a plot is made), one module per kind of plot.

- :func:`concentration_time`: outputs against time, the median and percentile bands of a
  cohort or of samples, observed levels, dose markers, a target window;
- :func:`spaghetti`: every subject's curve, coloured by a covariate, the median on top;
- :func:`target_attainment`: probability of target attainment against dose or MIC;
- :func:`twin`: a patient's population prior against the posterior after its levels;
- :func:`gof`, :func:`eta_covariates`: goodness of fit of an estimation;
- :func:`vpc`: visual predictive checks;
- :func:`published_comparison`: simulated trials against published summaries.

Every function returns the :class:`matplotlib.figure.Figure` and, given ``path=``, saves it
as a PNG (150 dpi) and closes it. Artists carry gids (``"median"``, ``"observed"``,
``"doses"``...) so that tests and callers can find what was drawn.
"""

from __future__ import annotations

from ._attainment import target_attainment
from ._concentration import concentration_time
from ._gof import eta_covariates, gof
from ._spaghetti import spaghetti
from ._trials import published_comparison
from ._twin import twin
from ._vpc import vpc

__all__ = ["concentration_time", "eta_covariates", "gof", "published_comparison", "spaghetti",
           "target_attainment", "twin", "vpc"]
