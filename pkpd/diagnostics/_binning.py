r"""Bins of observation times for visual predictive checks (:func:`pkpd.vpc`).

Automatic bins (``bins="auto"``) are clusters of the observed times:

1. The distinct times are put on the scale :math:`z = \log(t + c)`, with :math:`c` one tenth
   of the median positive time: logarithmic for times well above :math:`c` (sampling windows
   that widen with the nominal time, such as 24 h ± 1 h next to 0.5 h ± 5 min, become
   clusters of similar width) and nearly linear below it (time 0 and additive jitter of early
   samples stay together).
2. For every number of bins :math:`K = 1 \dots K_{max}`, the optimal one-dimensional
   k-means partition of :math:`z` (weighted by the number of observations at each time) is
   found exactly by dynamic programming (Fisher's exact grouping; the "Jenks natural breaks"
   of the vpc R package and PsN), with within-bin sum of squares :math:`W(K)`.
3. A clustered design shows as a sharp drop of :math:`W` at the number of clusters: the
   number of bins is the largest :math:`K` for which
   :math:`W(K-1) / W(K) \ge 2 (K / (K - 1))^2`, that is, adding the :math:`K`-th bin reduces
   the spread twice as much as it would for times spread evenly (where
   :math:`W \propto K^{-2}`). Times without such clusters get
   :math:`K = \min(10, \max(3, N // 25))` bins of the same k-means (:math:`N` observations).
   :math:`K_{max} = \min(20, \text{distinct times}, \max(1, N // 3))`.

The edges are the first and last observed times and, between two neighbouring bins, the
midpoint between the last time of one and the first time of the next, so a bin holds whole
clusters. Bin :math:`i` is ``edges[i] <= TIME < edges[i + 1]``; the last bin also holds
``TIME == edges[-1]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import EstimationError

__all__ = ["assign", "auto_edges", "check_bins", "describe", "edges_for"]

#: Most bins chosen automatically; fewest and most of the fallback for unclustered times.
MAX_BINS = 20
FALLBACK_MIN, FALLBACK_MAX, FALLBACK_PER_BIN = 3, 10, 25
#: Required drop of W at the number of clusters, relative to evenly spread times.
SEPARATION = 2.0
#: The offset of the log scale, as a fraction of the median positive time.
OFFSET = 0.1
#: Distinct times beyond this are pooled into groups of neighbours before clustering.
MAX_DISTINCT = 600


def check_bins(bins: Any) -> str | int | np.ndarray:
    """``bins`` checked: ``"auto"``, ``"time"``, a number of bins or increasing edges."""
    if isinstance(bins, str):
        if bins not in ("auto", "time"):
            raise EstimationError(f"bins = {bins!r}: valid are 'auto', 'time', a number of "
                                  "bins or a sequence of increasing edges")
        return bins
    if isinstance(bins, bool):
        raise EstimationError(f"bins = {bins!r}: give 'auto', 'time', a number of bins or "
                              "edges")
    if isinstance(bins, int | np.integer):
        if bins < 1:
            raise EstimationError(f"bins = {bins}: the number of bins must be at least 1")
        return int(bins)
    if isinstance(bins, Sequence | np.ndarray):
        try:
            edges = np.asarray(bins, dtype=float)
        except (TypeError, ValueError):
            raise EstimationError(f"bins: edges must be numbers, got {bins!r}") from None
        if edges.ndim != 1 or len(edges) < 2 or not np.isfinite(edges).all():
            raise EstimationError(f"bins: edges must be at least two finite numbers, got "
                                  f"{bins!r}")
        if not (np.diff(edges) > 0).all():
            raise EstimationError(f"bins: edges must be strictly increasing, got "
                                  f"{edges.tolist()}")
        return edges
    raise EstimationError(f"bins: expected 'auto', 'time', a number of bins or a sequence "
                          f"of edges, got {type(bins).__name__}")


def _scale(x: np.ndarray) -> np.ndarray:
    pos = x[x > 0]
    c = OFFSET * float(np.median(pos)) if len(pos) else 1.0
    return np.log(np.maximum(x, 0.0) + c)


def _kmeans_1d(z: np.ndarray, w: np.ndarray, kmax: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """Exact weighted k-means of sorted ``z`` for 1..kmax groups: within sums of squares
    ``W[k - 1]`` and the first index of each group."""
    m = len(z)
    c0 = np.r_[0.0, np.cumsum(w)]
    c1 = np.r_[0.0, np.cumsum(w * z)]
    c2 = np.r_[0.0, np.cumsum(w * z * z)]
    i, j = np.arange(m)[:, None], np.arange(m)[None, :]
    with np.errstate(invalid="ignore", divide="ignore"):
        s = c1[j + 1] - c1[i]
        sse = c2[j + 1] - c2[i] - s * s / (c0[j + 1] - c0[i])
    sse = np.where(i <= j, np.maximum(sse, 0.0), np.inf)   # group z[i..j]
    cost = sse[0].copy()                                    # best cost of z[0..j], k groups
    back: list[np.ndarray] = []
    ws, starts = [cost[-1]], [np.array([0])]
    cols = np.arange(m)
    for _ in range(2, kmax + 1):
        cand = cost[:-1, None] + sse[1:, :]    # the last group starts at i = 1 .. m - 1
        arg = np.argmin(cand, axis=0)
        cost = cand[arg, cols]
        back.append(arg + 1)
        first, jj = [], m - 1
        for b in reversed(back):
            jj = int(b[jj])
            first.append(jj)
            jj -= 1
        ws.append(cost[-1])
        starts.append(np.array([0, *reversed(first)]))
    return np.array(ws), starts


def _edges(x: np.ndarray, first: np.ndarray) -> np.ndarray:
    """Edges of groups of sorted distinct times ``x`` starting at indices ``first``."""
    inner = 0.5 * (x[first[1:] - 1] + x[first[1:]])
    return np.r_[x[0], inner, x[-1]]


def auto_edges(times: np.ndarray, n_bins: int | None = None) -> tuple[np.ndarray, bool]:
    """Edges of clusters of ``times`` (``n_bins`` of them, or chosen as in the module
    docstring), and whether clusters were found (rather than the fallback number)."""
    x, w = np.unique(times, return_counts=True)
    if len(x) == 1:
        return np.array([x[0], x[0]]), True
    xw, ww, keys = x, w.astype(float), np.arange(len(x))
    if len(x) > MAX_DISTINCT:        # pool neighbouring times into groups of equal counts
        keys = np.minimum((np.cumsum(w) - w) * MAX_DISTINCT // w.sum(), MAX_DISTINCT - 1)
        _, first = np.unique(keys, return_index=True)
        ww = np.add.reduceat(w.astype(float), first)
        xw = np.add.reduceat(w * x, first) / ww
    z = _scale(xw)
    n = int(w.sum())
    kmax = min(MAX_BINS, len(xw), max(1, n // 3))
    if n_bins is not None:
        kmax = min(n_bins, len(xw))
    ws, starts = _kmeans_1d(z, ww, kmax)
    found = True
    if n_bins is not None:
        k = kmax
    else:
        ks = np.arange(2, kmax + 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            score = ws[:-1] / ws[1:] / (ks / (ks - 1.0)) ** 2
        good = ks[score >= SEPARATION]
        found = bool(len(good))
        k = int(good.max()) if found else min(
            kmax, max(FALLBACK_MIN, min(FALLBACK_MAX, n // FALLBACK_PER_BIN)))
    first = starts[k - 1]
    if len(x) > MAX_DISTINCT:        # group starts back to distinct times
        first = np.searchsorted(keys, np.unique(keys)[first])
    return _edges(x, first), found


def edges_for(times: np.ndarray, bins: str | int | np.ndarray) -> tuple[np.ndarray, bool]:
    """The edges of one stratum and output from a checked ``bins``."""
    if isinstance(bins, np.ndarray):
        return bins, True
    if bins == "time":
        x = np.unique(times)
        return (np.array([x[0], x[0]]) if len(x) == 1 else _edges(x, np.arange(len(x)))), True
    return auto_edges(times, None if bins == "auto" else int(bins))


def assign(times: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """The bin of each time (``-1`` outside the edges)."""
    b = np.searchsorted(edges, times, side="right") - 1
    b = np.where(times == edges[-1], len(edges) - 2, b)
    return np.where((times < edges[0]) | (times > edges[-1]), -1, np.maximum(b, 0))


def describe(bins: str | int | np.ndarray, clustered: Sequence[bool], left_out: int) -> str:
    """A sentence saying how the bins were chosen (``clustered``: whether clusters were found,
    per stratum and output)."""
    if isinstance(bins, np.ndarray):
        text = (f"bins at the given edges {np.round(bins, 6).tolist()} (edges[i] <= TIME < "
                "edges[i + 1], the last bin closed)")
        if left_out:
            text += f"; {left_out} observation(s) outside the edges left out"
        return text + "."
    if bins == "time":
        return ("one bin per distinct observed time (edges midway between neighbouring "
                "times).")
    how = ("optimal one-dimensional k-means (Fisher's exact grouping, 'Jenks natural "
           "breaks') of the observed times on the scale log(TIME + c), c = 0.1 x the median "
           "positive time, weighted by the number of observations; edges midway between "
           "neighbouring bins")
    if bins != "auto":
        return f"{bins} bins (at most one per distinct time) by {how}."
    rule = ("the number of bins is the largest K at which the within-bin sum of squares W "
            "drops at least twice as much as for evenly spread times (W(K-1)/W(K) >= "
            f"2 (K/(K-1))^2, K <= {MAX_BINS})")
    fallback = (f"min({FALLBACK_MAX}, max({FALLBACK_MIN}, observations // "
                f"{FALLBACK_PER_BIN})) bins")
    n_found = sum(clustered)
    if n_found == len(clustered):
        return f"bins at the clusters of the observed times by {how}; {rule}."
    if n_found == 0:
        return (f"bins by {how}; the times show no clusters ({rule} holds for no K), so "
                f"{fallback}.")
    return (f"bins by {how}; {rule}; in {len(clustered) - n_found} of {len(clustered)} "
            f"strata/outputs the times show no clusters and get {fallback}.")
