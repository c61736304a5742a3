"""``pkpd.qualify``: run the qualification checks on this installation and write the report."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from .._provenance import utc_now
from ._installation import environment
from ._registry import GROUPS, CheckResult, Context, data_folder, registered, run_check
from ._report import QualificationReport, verdict_of

__all__ = ["qualify"]


def qualify(out: str | os.PathLike[str] | None = ".", *,
            data: str | os.PathLike[str] | None = None,
            groups: Iterable[str] | None = None, quick: bool = False,
            progress: Callable[[CheckResult], None] | None = None) -> QualificationReport:
    """Qualify this installation: run the reference checks and write a dated report.

    Four groups of checks (:data:`pkpd.qualification.GROUPS`), each comparing the installed
    package with an independent reference:

    * ``installation``: versions of pkpd and its dependencies, Python and platform, a writable
      kernel cache, ``import pkpd`` in a new process, every bundled model loads;
    * ``reference``: the engine against the closed forms of :mod:`pkpd.testing.analytic`
      (one, two, three compartments; bolus, infusion, oral; single and multiple doses, steady
      state), a mass balance, and a Michaelis-Menten model against its Lambert-W solution
      and a scipy Radau solve;
    * ``conformance``: NONMEM 7.5's own output for 29 dosing scenarios and a time-varying
      covariate (``conformance/nmtests`` of the data folder);
    * ``estimation``: an individual fit that must return the parameters its levels were
      computed with, and the theophylline FOCE-I fit against R's nlme (``data/`` of the data
      folder).

    The verdict is ``"PASSED"`` only when every registered check ran and passed,
    ``"FAILED"`` when one failed, and ``"INCOMPLETE"`` otherwise (no data folder, groups left
    out, or ``quick``).

    Parameters
    ----------
    out : path or None
        Folder of the report (created if missing): ``qualification-YYYYMMDDTHHMMSSZ.md`` and
        ``.json``. None: write nothing.
    data : path, optional
        The shared data folder (holding ``conformance/`` and ``data/``); default
        ``$PKPD_SHARED_DIR``. Without it the checks that need it are "not run".
    groups : iterable of str, optional
        Run only these groups; the checks of the others are reported as "not run".
    quick : bool
        Leave out the slow checks (reported as "not run").
    progress : callable, optional
        Called with each :class:`CheckResult` as soon as its check has run.

    Returns
    -------
    QualificationReport
        The verdict, one result per check, the environment and the paths written.

    Raises
    ------
    PkpdError
        An unknown group.

    Examples
    --------
    >>> import tempfile
    >>> import pkpd
    >>> report = pkpd.qualify(tempfile.mkdtemp(), groups=["installation"])
    >>> [r.status for r in report.results if r.group == "installation"]
    ['passed', 'passed', 'passed', 'passed', 'passed']
    >>> report.verdict          # the other groups did not run
    'INCOMPLETE'
    >>> report.markdown.name.startswith("qualification-"), report.json.exists()
    (True, True)
    """
    start = time.perf_counter()
    started = utc_now()
    chosen = set(registered(groups)) if groups is not None else None
    folder = data_folder(data)
    context = Context(data=folder, quick=quick)
    results = []
    for check in registered():
        if chosen is not None and check not in chosen:
            result = CheckResult(check.name, check.group, check.compares, check.figure, None,
                                 check.tolerance, "not run", "its group was not selected", 0.0)
        elif quick and check.slow:
            result = CheckResult(check.name, check.group, check.compares, check.figure, None,
                                 check.tolerance, "not run", "left out by the quick run", 0.0)
        else:
            result = run_check(check, context)
        results.append(result)
        if progress is not None:
            progress(result)
    report = QualificationReport(verdict_of(results), tuple(results), started, environment(),
                                 None if folder is None else str(Path(folder).resolve()),
                                 round(time.perf_counter() - start, 2),
                                 groups=GROUPS if groups is None else tuple(groups))
    return report if out is None else report.write(out)
