"""The patient twin: the population prior against the individual posterior, with the
patient's measured levels."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import DataError
from . import _common as c

if TYPE_CHECKING:  # pragma: no cover
    import xarray as xr
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from ..estimation import FitResult

__all__ = ["twin"]

PRIOR_COLOR = "0.55"
POSTERIOR_COLOR = "#d9731a"
POSTERIOR_LINE = "#a34a00"
_POINTS = 400


def twin(prior: FitResult | xr.Dataset, posterior: xr.Dataset | None = None, *,
         regimen: Any = None, times: Any = None, start: Any = None,
         variable: str | None = None, n: int = 500, seed: int | None = None,
         level: float = 0.90, method: str = "laplace", observed: Any = None,
         doses: Any = None, log: bool = False,
         target: Sequence[float | None] | None = None, title: str | None = None,
         path: str | Path | None = None) -> Figure:
    """The patient twin: the population prior's prediction band against the posterior band
    after the patient's levels, with the levels themselves.

    Given a fit (:func:`pkpd.fit_individual`), the prior is the model's population
    variability (etas drawn from omega, ``n`` samples) at the patient's covariates, and the
    posterior is :meth:`pkpd.FitResult.predict` (``n`` draws of the etas' posterior): the
    individual prediction at the estimates and its band. Both are simulated for the same
    doses: ``regimen`` (from time 0, or from ``start`` after the fitted dose history) or, by
    default, the fitted dose history itself.

    Parameters
    ----------
    prior : FitResult or xarray.Dataset
        A fit, or the prior's simulation (any result of :func:`pkpd.simulate` with many
        subjects or samples, e.g. ``n=1000``).
    posterior : xarray.Dataset, optional
        With a Dataset ``prior``: the posterior, a result of :meth:`pkpd.FitResult.predict`
        (an output and ``<output>_band``) or a simulation with many samples.
    regimen : str, Regimen or EventTable, optional
        The doses to predict (with a fit). Default: the fitted dose history.
    times : array, Quantity or str, optional
        Output times (with a fit); default: from 0 to 1.2 times the last dose or level, 400
        points.
    start : float, Quantity or str, optional
        The regimen begins at ``start`` after the fitted dose history
        (:meth:`pkpd.FitResult.after_history`).
    variable : str, optional
        The output (default: the model's first output, or the first variable).
    n : int
        Samples of the prior and draws of the posterior (with a fit).
    seed : int, optional
        Seed of the samples (with a fit).
    level : float
        Coverage of both bands (default 0.90: 5 % to 95 %).
    method : {"laplace", "sir", "mcmc"}
        How the posterior draws are made (:meth:`pkpd.FitResult.posterior`).
    observed : DataFrame, NonmemData or FitResult, optional
        The measured levels (default: the fit's observations; BLQ as open triangles).
    doses : optional
        Dose markers, as in :func:`pkpd.plot.concentration_time` (default: those simulated).
    log : bool
        Logarithmic concentration axis.
    target : (low, high), optional
        A target window, e.g. ``(10, 20)`` mg/L for a trough range.
    title : str, optional
    path : str or Path, optional
        Save the figure there (PNG at 150 dpi) and close it.

    Returns
    -------
    matplotlib.figure.Figure
        Artists with gids ``"prior band"``, ``"prior median"``, ``"posterior band"``,
        ``"posterior"`` (the individual prediction, or the posterior median for a sampled
        Dataset), ``"observed"``, ``"BLQ"``, ``"doses"``, ``"target"``.

    Examples
    --------
    >>> import numpy as np, pandas as pd, xarray as xr
    >>> t = np.linspace(0.0, 24.0, 97)
    >>> rng = np.random.default_rng(0)
    >>> curve = lambda cl: 2.0 * np.exp(-np.outer(cl, t) / 50.0)
    >>> prior = xr.Dataset({"CP": (("sample", "time"), curve(5 * rng.lognormal(0, 0.3, 500)),
    ...                            {"units": "mg/L"})},
    ...                    coords={"time": ("time", t, {"units": "h"})})
    >>> post = xr.Dataset({"CP": (("sample", "time"), curve(3 * rng.lognormal(0, 0.08, 500)),
    ...                           {"units": "mg/L"})}, coords=prior.coords)
    >>> levels = pd.DataFrame({"TIME": [2.0, 12.0], "DV": [1.8, 0.97]})
    >>> fig = twin(prior, post, observed=levels, doses=[0.0])
    >>> sorted(a.get_gid() for a in fig.axes[0].collections if a.get_gid())
    ['observed', 'posterior band', 'prior band']
    """
    plt = c.pyplot(path)
    if not 0.0 < level < 1.0:
        raise DataError(f"level {level!r} must be in (0, 1)")
    fit = prior if hasattr(prior, "etas") and hasattr(prior, "predict") else None
    default_title = None
    if fit is not None:
        if posterior is not None:
            raise DataError("twin: give a fit alone, or the prior and posterior Datasets")
        prior, posterior, events = _from_fit(fit, regimen, times, start, variable, n, seed,
                                             level, method)
        variable = variable or _first(posterior)
        observed = fit if observed is None else observed
        doses = events if doses is None else doses
        default_title = (f"Patient twin, {fit.model}: population prior vs posterior after "
                         f"{int(np.sum(~_blq(fit)))} levels")
    elif posterior is None:
        raise DataError("twin: give a FitResult, or both the prior and the posterior Dataset")
    variable = variable or _first(posterior)
    for what, ds in (("prior", prior), ("posterior", posterior)):
        if variable not in ds:
            raise DataError(f"twin: {variable!r} not in the {what} (variables: "
                            f"{', '.join(map(str, ds.data_vars))})")
    lo, hi = 50.0 * (1.0 - level), 50.0 * (1.0 + level)
    t, t_unit = c.time_of(posterior)
    unit = str(posterior[variable].attrs.get("units", ""))
    starts, ends = c.dose_times(doses, t_unit, posterior.attrs)
    with plt.rc_context(c.STYLE):
        fig, ax = plt.subplots(figsize=(9.5, 4.8), layout="constrained")
        shown = _prior(ax, prior, variable, (lo, hi), level, log)
        shown += _posterior(ax, posterior, variable, t, (lo, hi), level, log)
        frame = c.observed_for(observed, variable, True) if observed is not None else None
        shown.append(c.draw_observed(ax, frame, log, label_text="measured levels"))
        c.draw_target(ax, target, unit)
        c.draw_doses(ax, starts, ends)
        if fit is not None and start is not None:
            from ..units import convert

            t0 = convert(start, t_unit or "h", what="start")
            ax.axvline(t0, color="0.3", ls=":", lw=1.2, label=f"new regimen from {t0:g} {t_unit}",
                       gid="start")
        ax.set_xlabel(c.label("time", t_unit))
        ax.set_ylabel(c.label(variable, unit))
        c.finish_axis(ax, log, shown)
        c.legend(ax)
        ax.set_title(title or default_title or "Patient twin: prior vs posterior")
    return c.finish(fig, path)


def _first(ds: xr.Dataset) -> str:
    names = [str(v) for v in ds.data_vars if not str(v).endswith(("_band", "_obs"))]
    if not names:
        raise DataError("twin: the result has no output")
    return names[0]


def _blq(fit: FitResult) -> np.ndarray:
    p = fit.predictions
    return p["BLQ"].to_numpy(bool) if "BLQ" in p else np.zeros(len(p), bool)


def _prior(ax: Axes, prior: xr.Dataset, variable: str, pct: tuple[float, float],
           level: float, log: bool) -> list[np.ndarray]:
    t, _ = c.time_of(prior)
    y = c.curves(prior[variable])
    if len(y) < 2:
        raise DataError("twin: the prior needs many subjects or samples (simulate with n=)")
    with c.quiet():
        p = np.nanpercentile(y, pct, axis=0)
        med = np.nanmedian(y, axis=0)
    ax.fill_between(t, c.positive(p[0], log), c.positive(p[1], log), color=PRIOR_COLOR,
                    alpha=0.22, lw=0, label=f"prior (population) {100 * level:g} % band",
                    gid="prior band", zorder=1)
    ax.plot(t, c.positive(med, log), color="0.35", lw=1.5, ls="--", label="prior median",
            gid="prior median", zorder=2)
    return [p, med]


def _posterior(ax: Axes, post: xr.Dataset, variable: str, t: np.ndarray,
               pct: tuple[float, float], level: float, log: bool) -> list[np.ndarray]:
    band = post.get(f"{variable}_band")
    y = c.curves(post[variable])
    if band is not None and "quantile" in band.dims:
        q = np.asarray(band["quantile"].values, dtype=float)
        b = np.asarray(band.transpose("quantile", "time").values, dtype=float)
        p = b[[int(np.argmin(q)), int(np.argmax(q))]]
        what = f"posterior {100 * (q.max() - q.min()):.0f} % band"
        line, line_label = y[0], "individual prediction (posterior mode)"
    elif len(y) >= 2:
        with c.quiet():
            p = np.nanpercentile(y, pct, axis=0)
            line = np.nanmedian(y, axis=0)
        what, line_label = f"posterior {100 * level:g} % band", "posterior median"
    else:
        p, line, what, line_label = None, y[0], "", "individual prediction"
    if p is not None:
        ax.fill_between(t, c.positive(p[0], log), c.positive(p[1], log), color=POSTERIOR_COLOR,
                        alpha=0.35, lw=0, label=what, gid="posterior band", zorder=2)
    ax.plot(t, c.positive(line, log), color=POSTERIOR_LINE, lw=2.2, label=line_label,
            gid="posterior", zorder=3)
    return [line] + ([] if p is None else [p])


def _from_fit(fit: FitResult, regimen: Any, times: Any, start: Any, variable: str | None,
              n: int, seed: int | None, level: float, method: str
              ) -> tuple[xr.Dataset, xr.Dataset, Any]:
    """The prior and posterior simulations of a fit, and the doses simulated."""
    from ..events import EventTable
    from ..simulation import simulate

    model = getattr(fit, "_model", None)
    history = getattr(fit, "_history", None)
    if model is None or history is None:
        raise DataError("twin: this FitResult does not carry its model and data")
    if int(n) < 2:
        raise DataError(f"twin: n={n!r} must be at least 2 (samples of each band)")
    n = int(n)
    if regimen is None and start is not None:
        raise DataError("twin: start= needs a regimen to continue the history with")
    events = history if regimen is None else (
        fit.after_history(regimen, start) if start is not None else regimen)
    if times is None:
        times = _default_times(fit, events, model.model.time_unit)
    outputs = [variable] if variable else None
    covariates = dict(fit._covariates)
    if isinstance(events, EventTable):
        covariates = {k: v for k, v in covariates.items() if k not in events.cov_names}
    one = {k: [v] for k, v in {**covariates, **fit.fixed}.items()}
    prior = simulate(model, events, params=one or None, times=times, n=n, seed=seed,
                     variability=("iiv",), outputs=outputs)
    if regimen is not None:
        post = fit.predict(regimen, times=times, start=start, n=n, method=method, seed=seed,
                           level=level, outputs=outputs)
    else:    # the history itself: FitResult.predict takes a regimen, so the same by hand
        post = _predict_history(fit, history, covariates, times, n, method, seed, level,
                                outputs)
    return prior, post, events


def _predict_history(fit: FitResult, history: Any, covariates: dict[str, float], times: Any,
                     n: int, method: str, seed: int | None, level: float,
                     outputs: list[str] | None) -> xr.Dataset:
    """As :meth:`FitResult.predict` for the fitted dose history (one subject's records)."""
    from ..results import prediction_interval
    from ..simulation import simulate

    point = {k: [v] for k, v in {**covariates, **fit.fixed, **fit.model_etas}.items()}
    ds = simulate(fit._model, history, params=point, times=times,
                  outputs=outputs).squeeze("id", drop=True)
    draws = fit.sample(n, seed, method=method)
    values = {k: np.full(n, v) for k, v in covariates.items()} | draws
    many = simulate(fit._model, history.repeat(n), params=values, times=times, outputs=outputs)
    for name in list(ds.data_vars):
        band = prediction_interval(many[name], level=level, dim="id")
        band.attrs = dict(many[name].attrs)
        ds[f"{name}_band"] = band
    return ds


def _default_times(fit: FitResult, events: Any, unit: str) -> np.ndarray:
    """From 0 to 1.2 times the last dose (its end) or level, 400 points."""
    ends = c.dose_times(events, unit)[1]
    last = max([float(ends.max()) if len(ends) else 0.0,
                float(np.nanmax(fit.predictions["TIME"].to_numpy(float)))
                if len(fit.predictions) else 0.0])
    if not last > 0:
        raise DataError("twin: give times= (no dose or level after time 0)")
    return np.linspace(0.0, 1.2 * last, _POINTS)
