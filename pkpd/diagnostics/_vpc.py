"""Visual predictive checks, the numbers (:func:`vpc`): percentiles of the observations per
bin of time against the same percentiles of replicates of the dataset simulated under the
model, with prediction correction, censoring at the LLOQ and stratification."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .._provenance import provenance
from ..errors import EstimationError
from ._binning import assign, check_bins, describe, edges_for

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from ._design import Design

__all__ = ["VPC", "vpc"]

#: The columns of :attr:`VPC.table`, in order.
COLUMNS = ("stratum", "output", "bin", "kind", "time_lo", "time_hi", "time", "n_obs",
           "quantile", "observed", "sim_lo", "sim_median", "sim_hi", "outside", "below_lloq",
           "lloq")
#: Most strata of ``stratify=``.
MAX_STRATA = 12


@dataclass(frozen=True, eq=False)
class VPC:
    """A visual predictive check (see :func:`vpc`).

    Attributes
    ----------
    table : pandas.DataFrame
        One row per (stratum, output, bin, kind, quantile), in that order, columns:

        - ``stratum``: the value of the ``stratify`` column (``"all"`` without strata);
        - ``output``: the model output (e.g. ``"CP"``);
        - ``bin``: 0, 1, ... within the stratum and output;
        - ``kind``: ``"percentile"`` (a percentile of the values) or ``"blq"`` (the fraction
          of levels below the LLOQ; only for outputs with an LLOQ);
        - ``time_lo``, ``time_hi``: the bin's edges (``time_lo <= TIME < time_hi``, the last
          bin closed); ``time``: the median observed TIME in the bin (the x of the plot);
        - ``n_obs``: the observations in the bin;
        - ``quantile``: the percentile's level (e.g. 0.05), NaN for ``"blq"`` rows;
        - ``observed``: the observed percentile (prediction-corrected with
          ``pred_corrected``) or the observed fraction below the LLOQ; NaN where the
          percentile falls below the LLOQ;
        - ``sim_lo``, ``sim_median``, ``sim_hi``: the ``(1 - ci) / 2``, 0.5 and
          ``(1 + ci) / 2`` quantiles over the replicates of the same statistic of the
          simulated values (the confidence interval of the percentile under the model); NaN
          where below the LLOQ;
        - ``outside``: the observed statistic lies outside ``[sim_lo, sim_hi]`` (a value
          below the LLOQ counts as below any value above it);
        - ``below_lloq``: the observed percentile is below the LLOQ (``observed`` NaN);
        - ``lloq``: the largest LLOQ of the bin's observations (NaN without one; on the
          uncorrected scale).
    observed : pandas.DataFrame
        One row per observation of the outputs checked (for the points of the plot):
        ``ROW`` (dataset row), ``ID, TIME, OUTPUT, stratum, bin`` (``-1`` outside given
        edges), ``DV`` (prediction-corrected with ``pred_corrected``), ``BLQ`` (below the
        LLOQ), ``LLOQ`` (the limit used, NaN without one), ``PRED`` (the population
        prediction).
    bins : dict
        The edges used, keyed by ``(stratum, output)``.
    binning : str
        How the bins were chosen.
    model : str
    n : int
        Replicates of the dataset simulated.
    seed : Any
    quantiles : tuple of float
    ci : float
    pred_corrected : bool
    stratify : str or None
    units : dict
        The unit of DV of each output.
    time_unit : str
        The unit of TIME (the model's time unit).
    provenance : dict of str to str
        Model (name, hash, source file and its sha256), data file and its sha256, versions,
        platform, seed, replicates, UTC time.

    Examples
    --------
    Ten subjects simulated from ``theophylline_1cmt`` (between-subject variability and
    residual error), one 320 mg oral dose each, as a NONMEM-format table:

    >>> import pkpd
    >>> from pkpd.testing.datasets import simulated_oral
    >>> frame = simulated_oral("theophylline_1cmt", 320, times=[0.5, 1, 2, 4, 8, 12, 24])
    >>> v = pkpd.vpc("theophylline_1cmt", frame, n=100, seed=1)
    >>> v
    VPC(model='theophylline_1cmt', 70 observations, 1 stratum/output group(s), n=100, ...)
    >>> sorted(set(v.table["quantile"]))
    [0.05, 0.5, 0.95]
    """

    table: pd.DataFrame
    observed: pd.DataFrame
    bins: dict[tuple[Any, str], np.ndarray]
    binning: str
    model: str
    n: int
    seed: Any
    quantiles: tuple[float, ...]
    ci: float
    pred_corrected: bool
    stratify: str | None
    units: dict[str, str] = field(default_factory=dict)
    time_unit: str = ""
    provenance: dict[str, str] = field(default_factory=dict)

    def summary(self) -> pd.DataFrame:
        """Bins and bins outside the simulated interval per stratum, output, kind and
        quantile (columns ``n_bins``, ``n_outside``)."""
        t = self.table[self.table["n_obs"] > 0]
        keys = ["stratum", "output", "kind", "quantile"]
        return (t.groupby(keys, sort=False, dropna=False)["outside"]
                .agg(n_bins="size", n_outside="sum").reset_index())

    def __repr__(self) -> str:
        return (f"VPC(model={self.model!r}, {len(self.observed)} observations, "
                f"{len(self.bins)} stratum/output group(s), n={self.n}, "
                f"pred_corrected={self.pred_corrected})")


def percentiles(x: np.ndarray, censored: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Percentiles ``(r, len(probs))`` of the rows of ``x`` ``(r, m)`` with censored values
    taken as below all others; NaN where a percentile falls on or between censored values.

    Linear interpolation between order statistics (R's type 7, numpy's default): with ``k``
    censored values, the percentile ``p`` is censored when ``p (m - 1) < k``.
    """
    r, m = x.shape
    if m == 0:
        return np.full((r, len(probs)), np.nan)
    xs = np.sort(np.where(censored, -np.inf, x), axis=-1)
    pos = probs * (m - 1)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, m - 1)
    t = pos - lo
    with np.errstate(invalid="ignore"):
        q = xs[:, lo] + (xs[:, hi] - xs[:, lo]) * t
    k = censored.sum(axis=-1)
    return np.where(pos[None, :] < k[:, None], np.nan, q)


def _check(n: Any, quantiles: Any, ci: Any) -> tuple[int, np.ndarray, float]:
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise EstimationError(f"n = {n!r}: the number of replicates must be an integer >= 1")
    try:
        q = np.atleast_1d(np.asarray(quantiles, dtype=float))
    except (TypeError, ValueError):
        raise EstimationError(f"quantiles = {quantiles!r}: expected numbers in (0, 1)") from None
    if q.ndim != 1 or not len(q) or not ((q > 0) & (q < 1)).all():
        raise EstimationError(f"quantiles = {quantiles!r}: each must lie in (0, 1), e.g. "
                              "(0.05, 0.5, 0.95)")
    if len(set(q.tolist())) != len(q):
        raise EstimationError(f"quantiles = {quantiles!r}: each may be given once")
    if isinstance(ci, bool) or not isinstance(ci, int | float | np.floating) or not 0 < ci < 1:
        raise EstimationError(f"ci = {ci!r}: the confidence level must lie in (0, 1), e.g. "
                              "0.95")
    return int(n), q, float(ci)


def _design(fit_or_model: Any, data: Any, outputs: Mapping[Any, str] | None,
            lloq: float | str | None, params: Mapping[str, Any] | None
            ) -> tuple[Design, float | str | None]:
    from ..estimation import FitResult, PopulationFit, SubjectFits
    from ._design import design_from_model, design_of

    if isinstance(fit_or_model, PopulationFit | FitResult | SubjectFits):
        if outputs is not None or lloq is not None or params is not None:
            raise EstimationError("outputs=, lloq= and params= come from the fit; give them "
                                  "only with a model")
        return design_of(fit_or_model, data), fit_or_model.settings.get("lloq")
    if data is None:
        raise EstimationError("data: a VPC of a model needs the dataset (data=)")
    return design_from_model(fit_or_model, data, outputs=outputs, lloq=lloq,
                             params=params), lloq


def _limits(design: Design, lloq: float | str | None) -> np.ndarray:
    """The LLOQ of every observation (NaN where none is known): ``lloq`` (a number or a
    column), else the dataset's LLOQ column, else the LLOQ of the output's censored levels
    (the smallest, for levels that were measured)."""
    pop = design.pop
    obs, data = pop.obs, pop.data
    if isinstance(lloq, str):
        frame = data.frame.set_index("ROW")
        limit = frame.loc[design.rows, lloq.strip().upper()].to_numpy(dtype=float)
    elif lloq is not None:
        limit = np.full(pop.n_obs, float(lloq))
    elif "LLOQ" in data.observations:
        limit = data.observations["LLOQ"].to_numpy(dtype=float).copy()
    else:
        limit = np.full(pop.n_obs, np.nan)
    limit = np.where(np.isnan(limit), obs.lloq, limit)
    for i in range(len(obs.outputs)):
        sel = obs.output == i
        known = limit[sel & ~np.isnan(limit)]
        if len(known):
            limit[sel & np.isnan(limit)] = known.min()
    return limit


def _strata(design: Design, stratify: str | None) -> tuple[np.ndarray, str | None]:
    """The stratum of every observation."""
    import pandas as pd

    pop = design.pop
    if stratify is None:
        return np.full(pop.n_obs, "all", dtype=object), None
    if not isinstance(stratify, str):
        raise EstimationError(f"stratify = {stratify!r}: give the name of a dataset column")
    name = stratify.strip().upper()
    frame = pop.data.frame
    ids = pop.obs.frame["ID"].to_numpy()
    if name == "AMT" or (name == "DOSE" and "DOSE" not in frame):
        dose = frame["AMT"].to_numpy(dtype=float) > 0 if "AMT" in frame else None
        if dose is None or not dose.any():
            raise EstimationError(f"stratify = {stratify!r}: the dataset has no doses (AMT)")
        if "EVID" in frame:
            dose &= frame["EVID"].isin([1, 4]).to_numpy()
        first = frame[dose].groupby("ID", sort=False)["AMT"].first()
        values = pd.Series(ids).map(first).to_numpy(dtype=object)
    elif design.covariates is not None and name in design.covariates:
        values = design.covariates[name].to_numpy(dtype=object)
    elif name in frame:
        values = frame.set_index("ROW").loc[design.rows, name].to_numpy(dtype=object)
    else:
        raise EstimationError(f"stratify = {stratify!r}: not a column of the dataset; valid: "
                              f"{', '.join(c for c in frame.columns if c != 'ROW')}, or "
                              "'DOSE'/'AMT' for the subject's first dose")
    values = np.array(["missing" if pd.isna(v) else v for v in values], dtype=object)
    n_strata = len(pd.unique(values))
    if n_strata > MAX_STRATA:
        raise EstimationError(f"stratify = {stratify!r}: {n_strata} distinct values (at most "
                              f"{MAX_STRATA}); add a column of groups to the dataset")
    return values, name


def _ordered(values: np.ndarray) -> list[Any]:
    import pandas as pd

    uniq = list(pd.unique(values))
    try:
        return sorted(uniq)
    except TypeError:
        return sorted(uniq, key=str)


def _selected(design: Design, output: str | Sequence[str] | None) -> list[int]:
    outs = design.pop.obs.outputs
    if output is None:
        return list(range(len(outs)))
    names = [output] if isinstance(output, str) else list(output)
    bad = [o for o in names if o not in outs]
    if bad or not names:
        raise EstimationError(f"output = {output!r}: not an output of the observations; "
                              f"valid: {', '.join(outs)}")
    return [outs.index(o) for o in dict.fromkeys(names)]


def vpc(fit_or_model: Any, data: Any = None, *, n: int = 500,
        seed: int | np.random.Generator | None = 1, bins: str | int | Sequence[float] = "auto",
        quantiles: Sequence[float] = (0.05, 0.5, 0.95), ci: float = 0.95,
        pred_corrected: bool = False, stratify: str | None = None,
        outputs: Mapping[Any, str] | None = None, lloq: float | str | None = None,
        params: Mapping[str, Any] | None = None,
        output: str | Sequence[str] | None = None) -> VPC:
    """A visual predictive check: percentiles of the observations in bins of time against
    the same percentiles of ``n`` replicates of the dataset simulated under the model.

    Parameters
    ----------
    fit_or_model : PopulationFit, FitResult, SubjectFits, Model, CompiledModel or str
        A fit (its model with the estimates, its dataset and options), or a model (a bundled
        name such as ``"theophylline_1cmt"``) at its own values, with ``data``.
    data : NonmemData, DataFrame or path, optional
        The dataset (default: the one the fit holds). Each replicate keeps its design: every
        subject's doses, observation times and covariates.
    n : int
        Replicates, each with etas drawn from omega and residual error.
    seed : int or Generator, optional
        Random numbers of the replicates.
    bins : "auto", "time", int or sequence of float
        ``"auto"``: bins at the clusters of the observed times (see Notes); ``"time"``: one
        bin per distinct observed (nominal) time; an int: that many bins by the same
        clustering; a sequence: the edges (strictly increasing; observations outside them
        are left out). Chosen separately in each stratum and output.
    quantiles : sequence of float
        Percentile levels in (0, 1).
    ci : float
        Level of the interval of each simulated percentile over the replicates.
    pred_corrected : bool
        Prediction-corrected VPC (see Notes).
    stratify : str, optional
        A dataset column (a covariate such as ``"SEX"``, or any column, at each observation),
        or ``"DOSE"``/``"AMT"`` for each subject's first dose amount (``"DOSE"`` is the
        dataset's own DOSE column when it has one): bins and percentiles per value.
    outputs, lloq, params
        For a model: as in :func:`pkpd.fit_population` (a fit holds its own).
    output : str or sequence of str, optional
        The output(s) checked, e.g. ``"CP"`` (default: every output observed).

    Returns
    -------
    VPC
        ``.table`` (one row per stratum, output, bin and percentile, plus ``"blq"`` rows),
        ``.observed`` (the points), ``.bins``, ``.binning``; see :class:`VPC` for the columns.

    Raises
    ------
    EstimationError
        For a bad argument (named in the message), an unknown ``stratify`` column or output,
        or a model without between-subject variability.

    Notes
    -----
    *Percentiles*: linear interpolation between order statistics (R's type 7) over the
    observations of a bin, and over the simulated values of the same observations in each
    replicate (vectorised over the replicates); ``sim_lo, sim_median, sim_hi`` are quantiles
    of the latter over the replicates.

    *Bins* (``"auto"``): optimal one-dimensional k-means of the observed times on the scale
    ``log(TIME + c)`` (``c`` = 0.1 x the median positive time), the number of bins the largest
    at which the within-bin spread drops clearly (a cluster of times), else
    ``min(10, max(3, N // 25))``; see :mod:`pkpd.diagnostics._binning`. ``.binning`` says
    which rule applied.

    *Censoring* (as the censored VPC of PsN and the vpc R package): a level is below the LLOQ
    when flagged (BLQ/CENS) or below its LLOQ (``lloq=``, the dataset's LLOQ column, or else
    the LLOQ of the output's censored levels); simulated values below their observation's
    LLOQ are censored the same way. Percentiles are computed on all values with censored
    ones ranked below every measured value, and reported (observed and simulated alike) only
    when above the LLOQ: a percentile ``p`` of ``m`` values of which ``k`` are censored is
    NaN when ``p (m - 1) < k``; the interval over the replicates treats a censored
    replicate's percentile the same way. ``"blq"`` rows compare the observed fraction
    below the LLOQ with its simulated interval.

    *Prediction correction* (Bergstrand M, Hooker AC, Wallin JE, Karlsson MO. AAPS J
    2011;13:143-51): with PRED the population prediction (etas 0) of each observation and
    PRED_bin the median PRED of its bin (stratum and output), observed and simulated values
    become ``Y x PRED_bin / PRED``; values with PRED = 0 are left as they are. Censoring is
    decided before the correction. Not done: the variability correction (pvcVPC) and the
    lower-bound variant for log-transformed data.

    Examples
    --------
    Ten subjects simulated from ``theophylline_1cmt`` (between-subject variability and
    residual error), one 320 mg oral dose each, as a NONMEM-format table:

    >>> import pkpd
    >>> from pkpd.testing.datasets import simulated_oral
    >>> frame = simulated_oral("theophylline_1cmt", 320, times=[0.5, 1, 2, 4, 8, 12, 24])
    >>> v = pkpd.vpc("theophylline_1cmt", frame, n=100, seed=1)   # the model's own values
    >>> v.table.columns[:4].tolist(), int(v.table["outside"].sum())
    (['stratum', 'output', 'bin', 'kind'], 0)

    The theophylline study of the shared data folder (not in the repository, so not run here):

    >>> v = pkpd.vpc("theophylline_1cmt", "theophylline.csv", n=500, seed=1)  # doctest: +SKIP
    >>> v.table[v.table.kind == "percentile"][["bin", "time", "quantile", "observed",
    ...                                        "sim_lo", "sim_hi", "outside"]]  # doctest: +SKIP
    >>> fit = pkpd.fit_population("theophylline_1cmt", "theophylline.csv")   # doctest: +SKIP
    >>> pkpd.vpc(fit, pred_corrected=True, stratify="DOSE").summary()      # doctest: +SKIP
    """
    import pandas as pd

    n, probs, ci = _check(n, quantiles, ci)
    checked = check_bins(bins)
    design, lloq_used = _design(fit_or_model, data, outputs, lloq, params)
    pop = design.pop
    obs = pop.obs
    selected = _selected(design, output)
    strata, strat_name = _strata(design, stratify)
    limit = _limits(design, lloq_used)
    times = obs.frame["TIME"].to_numpy(dtype=float)
    dv = obs.dv.astype(float)
    with np.errstate(invalid="ignore"):
        censored = obs.censored | (dv < limit)

    _, sims = design.replicates(n, seed)
    with np.errstate(invalid="ignore"):
        sim_cens = sims < limit
    pred = design.predict(np.zeros((1, pop.n_subjects, len(design.etas))))[0]

    bin_of = np.full(pop.n_obs, -1)
    factor = np.ones(pop.n_obs)
    edges_used: dict[tuple[Any, str], np.ndarray] = {}
    groups: list[tuple[Any, str, int, np.ndarray, np.ndarray]] = []
    clustered: list[bool] = []
    for s in _ordered(strata):
        for oi in selected:
            name = obs.outputs[oi]
            sel = np.flatnonzero((strata == s) & (obs.output == oi))
            if not len(sel):
                continue
            edges, found = edges_for(times[sel], checked)
            clustered.append(found)
            edges_used[(s, name)] = edges
            b = assign(times[sel], edges)
            bin_of[sel] = b
            for i in range(len(edges) - 1):
                idx = sel[b == i]
                if pred_corrected and len(idx):
                    pb = float(np.median(pred[idx]))
                    p = pred[idx]
                    factor[idx] = np.where(p != 0, pb / np.where(p != 0, p, 1.0), 1.0)
                groups.append((s, name, i, edges[i:i + 2], idx))

    y_obs = dv * factor
    y_sim = sims * factor
    ci_probs = np.array([(1 - ci) / 2, 0.5, (1 + ci) / 2])
    rows: list[dict[str, Any]] = []
    for s, name, i, (lo, hi), idx in groups:
        m = len(idx)
        head = {"stratum": s, "output": name, "bin": i, "time_lo": lo, "time_hi": hi,
                "time": float(np.median(times[idx])) if m else np.nan, "n_obs": m}
        lim = limit[idx]
        bin_lloq = float(np.nanmax(lim)) if m and not np.isnan(lim).all() else np.nan
        o = percentiles(y_obs[None, idx], censored[None, idx], probs)[0]
        per_rep = percentiles(y_sim[:, idx], sim_cens[:, idx], probs)      # (n, q)
        band = percentiles(per_rep.T, np.isnan(per_rep.T), ci_probs)      # (q, 3)
        for j, p in enumerate(probs):
            below = bool(m and np.isnan(o[j]))
            rows.append(head | {"kind": "percentile", "quantile": float(p),
                                "observed": o[j], "sim_lo": band[j, 0],
                                "sim_median": band[j, 1], "sim_hi": band[j, 2],
                                "outside": bool(m) and _outside(o[j], band[j, 0],
                                                                band[j, 2]),
                                "below_lloq": below, "lloq": bin_lloq})
        if not np.isnan(limit[obs.output == obs.outputs.index(name)]).all():
            frac = sim_cens[:, idx].mean(axis=1) if m else np.full(n, np.nan)
            f_lo, f_med, f_hi = (np.quantile(frac, ci_probs) if m
                                 else (np.nan, np.nan, np.nan))
            f_obs = float(censored[idx].mean()) if m else np.nan
            rows.append(head | {"kind": "blq", "quantile": np.nan, "observed": f_obs,
                                "sim_lo": f_lo, "sim_median": f_med, "sim_hi": f_hi,
                                "outside": bool(m) and not f_lo <= f_obs <= f_hi,
                                "below_lloq": False, "lloq": bin_lloq})
    table = pd.DataFrame(rows, columns=list(COLUMNS))

    keep = np.isin(obs.output, selected)
    observed = pd.DataFrame({
        "ROW": design.rows[keep], "ID": obs.frame["ID"].to_numpy()[keep], "TIME": times[keep],
        "OUTPUT": obs.frame["OUTPUT"].to_numpy()[keep], "stratum": strata[keep],
        "bin": bin_of[keep], "DV": y_obs[keep], "BLQ": censored[keep],
        "LLOQ": limit[keep], "PRED": pred[keep]})
    left_out = int((bin_of[keep] < 0).sum())
    text = describe(checked, clustered, left_out)
    out_units = {o.name: o.unit for o in design.cm.model.outputs}
    return VPC(table=table, observed=observed, bins=edges_used, binning=text,
               model=design.cm.model.name, n=n, seed=seed,
               quantiles=tuple(float(p) for p in probs), ci=ci,
               pred_corrected=bool(pred_corrected), stratify=strat_name,
               units={obs.outputs[i]: out_units.get(obs.outputs[i], "") for i in selected},
               time_unit=design.cm.model.time_unit,
               provenance=provenance(design.cm.model, data=design.pop.data, seed=seed,
                                     settings={"replicates": n,
                                               "pred_corrected": bool(pred_corrected)}))


def _outside(observed: float, lo: float, hi: float) -> bool:
    """Outside ``[lo, hi]``, a NaN (below the LLOQ) counting as below every number."""
    def low(v: float) -> float:
        return -np.inf if np.isnan(v) else v

    o = low(observed)
    return bool(o < low(lo) or o > low(hi))

