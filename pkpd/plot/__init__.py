"""Plots with matplotlib (imported only when a plot is made), one module per kind of plot.

Every function returns the :class:`matplotlib.figure.Figure` and, given ``path=``, saves it
as a PNG and closes it.
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
