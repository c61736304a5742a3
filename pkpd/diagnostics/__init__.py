"""Diagnostics of fits and models against data: residuals (PRED, IPRED, RES, WRES, CWRES,
IWRES), NPDE, shrinkage (:func:`diagnose`), and visual predictive checks (:func:`vpc`).

Numbers only: the plots are in :mod:`pkpd.plot`. Modules, one job each: ``_design`` (a fitted
model with its dataset, estimated etas, and replicates of the dataset simulated with
variability), ``_residuals`` (weighted residuals and shrinkage), ``_npde`` (NPDE and their
tests), ``_diagnostics`` (the table joined to the dataset), ``_vpc`` (VPC tables).
"""

from __future__ import annotations

from ._diagnostics import Diagnostics, diagnose
from ._vpc import VPC, vpc

__all__ = ["VPC", "Diagnostics", "diagnose", "vpc"]
