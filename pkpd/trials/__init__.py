"""Validation of a model against published trial summaries.

Trials often publish only summaries: the mean (SD) or median (range) of concentrations at
nominal times, Cmax or AUC by dose group, a trough, a target attainment. This module simulates
the trial's design (:class:`TrialArm`: regimen, subjects, group size) with the model's
variability as many replicate trials of the published size, computes each published summary
(:class:`PublishedSummary`) on every simulated trial, and reports where the published value
falls among the simulated ones: percentile rank, the central 90 % / 95 % intervals of the
simulated statistic, and the coverage (fraction of rows inside the interval).
:func:`pkpd.plot.published_comparison` draws it.

If the model describes the trial's population, a published value is a draw from the
distribution simulated for it: its percentile rank is uniform on 0-100 and about 90 % of rows
fall inside the 90 % intervals (fewer rows give a rough figure; the rows of one group are not
independent).

Modules: ``_spec`` (the typed rows and arms, the check of each row against the model and its
conversion to model units), ``_frame`` (a table of summaries to rows and arms), ``_compare``
(the simulation and the comparison).

Examples
--------
>>> import pkpd
>>> from pkpd.trials import PublishedSummary, TrialArm, compare_published
>>> arm = TrialArm("1 g", "1 g IV over 1 h q12h x 8", n=10, population={"CRCL": 110})
>>> rows = [PublishedSummary("1 g", "mean", 25, unit="ug/mL", time="2 h",
...                          after="end of last infusion")]
>>> res = compare_published("vancomycin_goti2018", rows, [arm], n_trials=100, seed=1)
>>> list(res.table.columns[:4])
['row', 'group', 'label', 'statistic']
"""

from __future__ import annotations

from ._compare import PublishedComparison, compare_published, percentile_rank
from ._frame import FRAME_COLUMNS, summaries_from_frame
from ._spec import (
    METRICS,
    REFERENCES,
    STATISTICS,
    PublishedSummary,
    TrialArm,
)

__all__ = ["FRAME_COLUMNS", "METRICS", "REFERENCES", "STATISTICS", "PublishedComparison",
           "PublishedSummary", "TrialArm", "compare_published", "percentile_rank",
           "summaries_from_frame"]
