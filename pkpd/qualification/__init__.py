"""Installation and operational qualification: reference checks run on this installation.

:func:`qualify` runs every registered check and writes a dated report (Markdown and JSON);
``pkpd validate`` is the same from the command line. A check (:class:`Check`) compares what the
installed package computes with an independent reference and measures one figure against a
tolerance; its result (:class:`CheckResult`) is passed, failed or not run (with the reason).

The groups (:data:`GROUPS`): ``installation``, ``reference`` (closed forms, mass balance, a
scipy solve), ``conformance`` (NONMEM's output, from the shared data folder) and
``estimation`` (fits with a known answer). :func:`register` adds a check, e.g. a site's own.
"""

from __future__ import annotations

# the built-in checks register themselves when their modules are imported
from . import _estimation, _installation, _reference  # noqa: F401
from ._conformance import ABS_TOL as NONMEM_ABS_TOL
from ._conformance import REL_TOL as NONMEM_REL_TOL
from ._conformance import compare_nonmem
from ._qualify import qualify
from ._registry import (
    GROUPS,
    Check,
    CheckFailed,
    CheckResult,
    Context,
    Measured,
    NotRun,
    register,
    registered,
    run_check,
    unregister,
)
from ._report import QualificationReport, verdict_of

__all__ = ["GROUPS", "NONMEM_ABS_TOL", "NONMEM_REL_TOL", "Check", "CheckFailed", "CheckResult",
           "Context", "Measured", "NotRun",
           "QualificationReport", "compare_nonmem", "qualify", "register", "registered",
           "run_check", "unregister", "verdict_of"]
