"""Replicate trials of a published design, and where the published summaries fall among the
simulated ones (internal; the public names are re-exported by :mod:`pkpd.trials`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import DataError, PkpdError
from ._frame import summaries_from_frame
from ._spec import (
    PublishedSummary,
    Resolved,
    Stat,
    TrialArm,
    dose_times,
    resolve,
)

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from ..codegen import CompiledModel
    from ..model import Model

__all__ = ["PublishedComparison", "compare_published"]

_SOURCES = ("iiv", "bov", "ruv")


def _level_name(level: float) -> str:
    return f"{100.0 * level:g}"


@dataclass(frozen=True)
class PublishedComparison:
    """Published summaries against the same summaries of replicate simulated trials.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per published summary: ``row`` (its position, from 1), ``group``, ``label``,
        ``statistic``, ``n``, ``unit`` (the model's), ``observed`` (the published value in
        that unit), ``sim_median`` (median of the simulated statistic over the trials),
        ``lo_<L>`` / ``hi_<L>`` (central ``L`` % interval of the simulated statistic, for each
        level), ``percentile`` (percentile rank of the observed value among the simulated
        statistics, 0-100, ties counted half), ``inside_<L>`` (observed within the
        interval), ``rel_diff`` (``(sim_median - observed) / observed``, the prediction
        error of the simulated median) and ``n_valid`` (trials whose statistic is defined).
    simulated : numpy.ndarray
        The simulated statistic, shape ``(rows, n_trials)`` (NaN where undefined, e.g. a
        geometric mean of a trial with a value <= 0).
    levels : tuple of float
        The interval levels; the first one is the primary one (:attr:`coverage`).
    n_trials : int
    model : str
        The model's name.
    variability : tuple of str
    seed : object

    Examples
    --------
    See :func:`compare_published` for the arguments:

    >>> import pkpd
    >>> from pkpd.trials import PublishedSummary, TrialArm, compare_published
    >>> arm = TrialArm("1 g", "1 g IV over 1 h q12h x 8", n=10, population={"CRCL": 110})
    >>> rows = [PublishedSummary("1 g", "mean", 25, unit="ug/mL", time="2 h",
    ...                          after="end of last infusion")]
    >>> res = compare_published("vancomycin_goti2018", rows, [arm], n_trials=100, seed=1)
    >>> res.simulated.shape, res.levels, res.n_trials
    ((1, 100), (0.9, 0.95), 100)
    >>> list(res.table.columns[:6])
    ['row', 'group', 'label', 'statistic', 'n', 'unit']
    """

    table: pd.DataFrame
    simulated: np.ndarray
    levels: tuple[float, ...]
    n_trials: int
    model: str
    variability: tuple[str, ...]
    seed: Any = None
    arms: tuple[TrialArm, ...] = field(default=(), repr=False)

    @property
    def coverage(self) -> float:
        """Fraction of rows whose observed value lies in the interval of the first level."""
        return self.coverages[self.levels[0]]

    @property
    def coverages(self) -> dict[float, float]:
        """Fraction of rows inside the interval, for every level."""
        return {lv: float(self.table[f"inside_{_level_name(lv)}"].mean()) for lv in self.levels}

    def summary(self) -> str:
        """A plain-text table of the comparison and the coverage."""
        t = self.table
        main = _level_name(self.levels[0])
        head = (f"{'row':>3}  {'group':<14} {'summary':<40} {'statistic':<14} {'n':>3}  "
                f"{'observed':>9} {'sim median':>10}  {main + ' % interval':<21} "
                f"{'rel.diff':>8} {'pct':>5}  in")
        lines = [f"Published summaries against {self.n_trials} simulated trials of model "
                 f"{self.model!r} (variability {', '.join(self.variability) or 'none'}, "
                 f"seed {self.seed})", head]
        for _, r in t.iterrows():
            interval = f"[{r[f'lo_{main}']:.4g}, {r[f'hi_{main}']:.4g}]"
            lines.append(
                f"{r['row']:>3}  {str(r['group'])[:14]:<14} {str(r['label'])[:40]:<40} "
                f"{r['statistic']:<14} {r['n']:>3}  {r['observed']:>9.4g} {r['sim_median']:>10.4g}"
                f"  {interval:<21} {100 * r['rel_diff']:>+7.0f}% {r['percentile']:>5.1f}  "
                f"{'yes' if r[f'inside_{main}'] else 'NO'}")
        cov = ", ".join(f"{100 * c:.0f} % of rows inside the {_level_name(lv)} % interval "
                        f"({int(t[f'inside_{_level_name(lv)}'].sum())}/{len(t)})"
                        for lv, c in self.coverages.items())
        lines.append(f"coverage: {cov}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (f"PublishedComparison(model={self.model!r}, rows={len(self.table)}, "
                f"n_trials={self.n_trials}, coverage={self.coverage:.2f})")


def _statistic(stat: Stat, x: np.ndarray, threshold: float | None) -> np.ndarray:
    """The statistic over axis 1 of ``x`` (trials x subjects)."""
    k = stat.kind
    with np.errstate(invalid="ignore", divide="ignore"):
        if k == "mean":
            return x.mean(axis=1)
        if k == "sd":
            return x.std(axis=1, ddof=1) if x.shape[1] > 1 else np.full(len(x), np.nan)
        if k == "median":
            return np.median(x, axis=1)
        if k == "min":
            return x.min(axis=1)
        if k == "max":
            return x.max(axis=1)
        if k == "cv%":
            sd = x.std(axis=1, ddof=1) if x.shape[1] > 1 else np.full(len(x), np.nan)
            return 100.0 * sd / x.mean(axis=1)
        if k == "percentile":
            return np.percentile(x, stat.q, axis=1)
        if k == "fraction above":
            return (x > threshold).mean(axis=1)
        if k == "fraction below":
            return (x < threshold).mean(axis=1)
        logs = np.where(x > 0, np.log(np.where(x > 0, x, 1.0)), np.nan)
        if k == "geometric mean":
            return np.exp(logs.mean(axis=1))
        if k == "geometric cv%":
            if x.shape[1] < 2:
                return np.full(len(x), np.nan)
            return 100.0 * np.sqrt(np.expm1(logs.var(axis=1, ddof=1)))
    raise AssertionError(k)  # pragma: no cover  (parse_statistic admits no other kind)


def percentile_rank(simulated: np.ndarray, value: float) -> float:
    """Percentage of ``simulated`` below ``value``, ties counted half (NaNs ignored)."""
    s = simulated[np.isfinite(simulated)]
    if not len(s):
        return float("nan")
    return float(100.0 * (np.sum(s < value) + 0.5 * np.sum(s == value)) / len(s))


def _subjects(arm: TrialArm, model: Model, size: int, rng: np.random.Generator
              ) -> tuple[Any, int | None]:
    """``(patients, n)`` for :func:`pkpd.simulate`: ``size`` subjects drawn from the arm's
    population (each its own row, n = 1), or one fixed subject sampled ``size`` times."""
    import pandas as pd

    from ..patient import Patient
    from ..population import Population

    pop = arm.population
    if isinstance(pop, pd.DataFrame):
        pop = Population.from_table(pop)
    if isinstance(pop, Population):
        if pop.kind == "child" and "CRCL" in model.covariate_names:
            raise DataError(f"trial arm {arm.name!r}: model {model.name!r} needs CRCL, which a "
                            "virtual child population does not have")
        return pop.sample(size, rng=rng), 1
    if pop is None:
        return None, size
    if isinstance(pop, Patient):
        return pop, size
    if isinstance(pop, Mapping):
        return {str(k): [v] for k, v in pop.items()}, size
    raise DataError(f"trial arm {arm.name!r}: population must be a pkpd.Population, a "
                    f"pkpd.Patient, a mapping of covariates or a DataFrame of patients, got "
                    f"{type(pop).__name__}")


def _arm_values(cm: CompiledModel, arm: TrialArm, regimen: Any, rows: list[Resolved],
                n_trials: int, rng: np.random.Generator, variability: tuple[str, ...],
                grid: int, solver: str) -> list[np.ndarray]:
    """Simulate ``n_trials`` trials of the arm in one engine call; each row's statistic per
    trial."""
    import xarray as xr

    from ..results import exposure
    from ..simulation import simulate

    model = cm.model
    tu = model.time_unit
    starts, ends = dose_times(regimen, tu)
    times = {r.time for r in rows if r.time is not None}
    for r in rows:
        if r.window is not None:
            t0, t1 = r.window
            events = np.concatenate([starts, ends])
            times.update(np.linspace(t0, t1, grid).tolist())
            times.update(events[(events > t0) & (events < t1)].tolist())
    grid_t = np.array(sorted(times))
    outputs = sorted({r.output for r in rows})
    auc = sorted({r.output for r in rows if r.metric in ("auc", "cavg")})
    size = n_trials * arm.n
    patients, n = _subjects(arm, model, size, rng)
    try:
        ds = simulate(cm if not auc else model, regimen, patients, times=grid_t,
                      outputs=outputs + [f"AUC_{o}" for o in auc], n=n, seed=rng,
                      variability=variability, auc=auc or False, solver=solver)
    except PkpdError as exc:
        raise type(exc)(f"trial arm {arm.name!r}: {exc}") from None

    def block(name: str) -> np.ndarray:
        return np.asarray(ds[name].values).reshape(n_trials, arm.n, len(grid_t))

    out = []
    for r in rows:
        if r.time is not None:
            k = int(np.argmin(np.abs(grid_t - r.time)))
            name = f"{r.output}_obs" if f"{r.output}_obs" in ds else r.output
            x = block(name)[:, :, k]
        else:
            t0, t1 = r.window
            coords = {"time": ("time", grid_t, {"units": tu})}
            pred = xr.DataArray(block(r.output), dims=("trial", "subject", "time"),
                                coords=coords, attrs=ds[r.output].attrs)
            acc = None
            if r.metric in ("auc", "cavg"):
                acc = xr.DataArray(block(f"AUC_{r.output}"), dims=pred.dims, coords=coords)
            if r.metric == "trough":
                x = pred.sel(time=t1, method="nearest").values
            else:
                m = exposure(pred, start=t0 - 1e-9, end=t1 + 1e-9, accumulator=acc)
                if r.metric == "cavg":
                    x = m["auc"].values / (t1 - t0)
                elif r.metric == "tmax":
                    x = m["tmax"].values - r.ref
                else:
                    x = m[r.metric].values
        out.append(_statistic(r.stat, np.asarray(x, dtype=float)[:, :r.n], r.threshold))
    return out


def compare_published(
    model: Model | CompiledModel | str,
    summaries: pd.DataFrame | Sequence[PublishedSummary],
    arms: Sequence[TrialArm] | TrialArm | None = None,
    *,
    population: Any = None,
    n_trials: int = 500,
    seed: int | np.random.Generator | None = None,
    levels: Sequence[float] = (0.90, 0.95),
    variability: Sequence[str] = ("iiv", "ruv"),
    grid: int = 121,
    solver: str = "auto",
) -> PublishedComparison:
    """Check a model against published summaries by simulating the trial many times.

    For each arm, ``n_trials`` replicate trials of the published size are simulated in one
    engine call (``n_trials * n`` subjects, each with its own random effects and residual
    errors); every published summary row is computed on each simulated trial, and the
    published value is placed among those ``n_trials`` simulated values.

    Parameters
    ----------
    model : Model, CompiledModel or str
    summaries : DataFrame or sequence of PublishedSummary
        The published values. A DataFrame (columns in :data:`FRAME_COLUMNS`) also defines the
        arms (see :func:`summaries_from_frame`).
    arms : sequence of TrialArm, optional
        The design, needed with a sequence of :class:`PublishedSummary`.
    population : optional
        With a DataFrame only: the subjects of every arm, or a dict of them by group (see
        :class:`TrialArm`).
    n_trials : int
        Replicate trials (>= 20).
    seed : int or numpy.random.Generator, optional
        The same seed gives the same result.
    levels : sequence of float
        Levels of the intervals reported (the first is the primary one).
    variability : sequence of {"iiv", "bov", "ruv"}
        Sampled sources (see :func:`pkpd.simulate`). With ``"ruv"`` a concentration row uses
        observations with residual error (``<output>_obs``); exposure metrics always come
        from the prediction.
    grid : int
        Output times per metric window (dose starts and infusion ends inside it are added),
        so Cmax, Cmin and Tmax are read on that grid; AUC is exact.
    solver : str
        As in :func:`pkpd.simulate`.

    Returns
    -------
    PublishedComparison

    Raises
    ------
    DataError, UnitError
        A bad row (named by its position, from 1, and its group) or arm, or a bad option.
    RegimenError
        An arm's regimen cannot be read.

    Examples
    --------
    >>> import pkpd
    >>> from pkpd.trials import PublishedSummary, TrialArm, compare_published
    >>> arm = TrialArm("1 g", "1 g IV over 1 h q12h x 8", n=10, population={"CRCL": 110})
    >>> rows = [PublishedSummary("1 g", "mean", 25, unit="ug/mL", time="2 h",
    ...                          after="end of last infusion")]
    >>> res = compare_published("vancomycin_goti2018", rows, [arm], n_trials=100, seed=1)
    >>> bool(0 <= res.table["percentile"].iloc[0] <= 100)
    True
    """
    import pandas as pd

    from .._plan import as_compiled
    from ..events import Regimen

    if isinstance(summaries, pd.DataFrame):
        if arms is not None:
            raise DataError("compare_published: a summary table defines its arms (columns "
                            "group, regimen, n); do not also give `arms`")
        arm_list, rows = summaries_from_frame(summaries, population=population)
    else:
        if arms is None:
            raise DataError("compare_published: give the trial's `arms` (TrialArm) with a "
                            "sequence of PublishedSummary")
        if population is not None:
            raise DataError("compare_published: `population` is for a summary table; give "
                            "each TrialArm its population")
        arm_list = (arms,) if isinstance(arms, TrialArm) else tuple(arms)
        rows = tuple(summaries)
    if not rows:
        raise DataError("compare_published: no summary rows")
    by_name: dict[str, TrialArm] = {}
    for a in arm_list:
        if not isinstance(a, TrialArm):
            raise DataError(f"compare_published: arms must be TrialArm, got {type(a).__name__}")
        if a.name in by_name:
            raise DataError(f"compare_published: two arms are named {a.name!r}")
        by_name[a.name] = a
    if isinstance(n_trials, bool) or not isinstance(n_trials, (int, np.integer)) \
            or n_trials < 20:
        raise DataError(f"compare_published: n_trials must be an integer >= 20, got "
                        f"{n_trials!r}")
    lv = tuple(float(x) for x in levels)
    if not lv or not all(0.0 < x < 1.0 for x in lv):
        raise DataError(f"compare_published: levels must be in (0, 1), got {levels!r}")
    var = tuple(variability)
    bad = [v for v in var if v not in _SOURCES]
    if bad:
        raise DataError(f"compare_published: variability {', '.join(map(repr, bad))} is not "
                        f"supported; valid: {', '.join(_SOURCES)} (parameter uncertainty "
                        "would need one draw per trial)")
    if isinstance(grid, bool) or not isinstance(grid, (int, np.integer)) or grid < 2:
        raise DataError(f"compare_published: grid must be an integer >= 2, got {grid!r}")

    cm = as_compiled(model)
    regimens = {}
    for a in arm_list:
        try:
            regimens[a.name] = a.regimen if isinstance(a.regimen, Regimen) \
                else Regimen.parse(a.regimen)
        except PkpdError as exc:
            raise type(exc)(f"trial arm {a.name!r}: {exc}") from None
    resolved = resolve(cm.model, rows, by_name, regimens)

    rng = np.random.default_rng(seed)
    sims: dict[int, np.ndarray] = {}
    for a in arm_list:
        mine = [r for r in resolved if r.group == a.name]
        if mine:
            for r, v in zip(mine, _arm_values(cm, a, regimens[a.name], mine, int(n_trials), rng,
                                              var, int(grid), solver), strict=True):
                sims[r.index] = v
    simulated = np.stack([sims[r.index] for r in resolved])
    records = []
    for r, s in zip(resolved, simulated, strict=True):
        ok = s[np.isfinite(s)]
        rec: dict[str, Any] = {
            "row": r.index, "group": r.group, "label": r.label, "statistic": r.stat.name,
            "n": r.n, "unit": r.unit, "observed": r.observed,
            "sim_median": float(np.median(ok)) if len(ok) else np.nan}
        for level in lv:
            name = _level_name(level)
            lo, hi = (np.quantile(ok, [(1 - level) / 2, (1 + level) / 2]) if len(ok)
                      else (np.nan, np.nan))
            rec[f"lo_{name}"], rec[f"hi_{name}"] = float(lo), float(hi)
        rec["percentile"] = percentile_rank(s, r.observed)
        for level in lv:
            name = _level_name(level)
            rec[f"inside_{name}"] = bool(rec[f"lo_{name}"] <= r.observed <= rec[f"hi_{name}"])
        rec["rel_diff"] = ((rec["sim_median"] - r.observed) / r.observed if r.observed != 0
                           else np.nan)
        rec["n_valid"] = len(ok)
        records.append(rec)
    return PublishedComparison(pd.DataFrame.from_records(records), simulated, lv,
                               int(n_trials), cm.model.name, var,
                               seed if not isinstance(seed, np.random.Generator) else
                               "generator", tuple(arm_list))
