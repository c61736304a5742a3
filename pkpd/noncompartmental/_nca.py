"""The function :func:`nca`: dosing intervals, options, and the output table."""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..errors import DataError
from ..io.nonmem import NonmemData
from ._auc import METHODS
from ._data import ROUTES, Subject, label, load
from ._params import COLUMNS, EV_ONLY, IV_ONLY, TAU_ONLY, Options, Window, analyse, first_dose_auc
from ._units import column_units

__all__ = ["nca"]

Interval = tuple[float, float]


def _check_lambda_z(spec: Any, what: str = "lambda_z") -> None:
    if spec is None or spec == "best-fit":
        return
    if isinstance(spec, Mapping) and what == "lambda_z":
        for key, value in spec.items():
            _check_lambda_z(value, f"lambda_z[{key!r}]")
        return
    if isinstance(spec, numbers.Integral) and not isinstance(spec, bool):
        if spec < 2:
            raise DataError(f"{what}={spec}: a number of points must be >= 2")
        return
    if (isinstance(spec, Sequence) and not isinstance(spec, str) and len(spec) == 2
            and all(isinstance(x, numbers.Real) and math.isfinite(x) for x in spec)
            and spec[0] < spec[1]):
        return
    raise DataError(f"{what}={spec!r}; valid: 'best-fit', None (not estimated), a number of "
                    "last points n >= 2, a time window (t_start, t_end) after the dose with "
                    "t_start < t_end, or a mapping ID -> one of these")


def _intervals(interval: Any) -> list[Interval] | None:
    if interval is None:
        return None
    pairs = ([interval] if (isinstance(interval, Sequence) and len(interval) == 2
                            and all(isinstance(x, numbers.Real) for x in interval))
             else list(interval))
    out = []
    for pair in pairs:
        try:
            start, end = (float(x) for x in pair)
        except (TypeError, ValueError):
            raise DataError(f"interval={interval!r}: give (start, end) or a list of them, "
                            "with numbers") from None
        if not (math.isfinite(start) and start >= 0 and end > start):
            raise DataError(f"interval ({start:g}, {end:g}): valid intervals have a finite "
                            "start >= 0 (a dose time) and end > start (end may be inf)")
        out.append((start, end))
    return out


def _windows(subject: Subject, intervals: list[Interval] | None,
             steady_state: bool | None) -> list[Window]:
    doses = subject.doses
    times = np.array([d.time for d in doses])
    nexts = np.r_[times[1:], math.inf]

    def ss(k: int) -> bool:
        return doses[k].ss if steady_state is None else steady_state

    out = []
    if intervals is None:
        for k, d in enumerate(doses):
            gap = nexts[k] - d.time
            tau = min(d.ii, gap) if d.ii > 0 else gap if math.isfinite(gap) else math.nan
            if ((subject.time > d.time) & (subject.time <= nexts[k])).any():
                out.append(Window(k, float(tau), float(nexts[k]), ss(k)))
        return out or [Window(0, math.nan, float(nexts[0]), ss(0))]
    for start, end in intervals:
        hit = np.flatnonzero(np.abs(times - start) <= 1e-9 * max(1.0, abs(start)))
        if not len(hit):
            shown = ", ".join(f"{t:g}" for t in times[:10])
            raise DataError(f"interval ({start:g}, {end:g}) of ID {label(subject.id)} does not "
                            f"start at a dose; its doses are at TIME {shown}")
        k = int(hit[0])
        if end > nexts[k] * (1 + 1e-9):
            raise DataError(f"interval ({start:g}, {end:g}) of ID {label(subject.id)} spans the "
                            f"next dose at TIME {nexts[k]:g}; an interval ends at or before it")
        tau = end - start if math.isfinite(end) else math.nan
        out.append(Window(k, tau, float(nexts[k]), ss(k)))
    return out


def nca(data: str | os.PathLike[str] | pd.DataFrame | NonmemData, *,
        dose: float | Mapping[Any, float] | None = None, route: str | None = None,
        duration: float | Mapping[Any, float] | None = None, dvid: float | None = None,
        cmt: float | None = None, auc_method: str = "linear-up/log-down",
        lambda_z: Any = "best-fit", min_points: int = 3, adj_r2_factor: float = 1e-4,
        allow_tmax_in_lambda_z: bool = False, lloq: float | Mapping[Any, float] | None = None,
        interval: Interval | Sequence[Interval] | None = None,
        steady_state: bool | None = None, duplicates: str = "error", time_unit: str = "h",
        conc_unit: str | None = None, dose_unit: str | None = None) -> pd.DataFrame:
    """Non-compartmental analysis: one row per subject and dose, one column per parameter.

    Parameters
    ----------
    data : path, pandas.DataFrame or NonmemData
        A NONMEM dataset (a file, a DataFrame with an AMT or EVID column, or the result of
        :func:`pkpd.read_nonmem`); its dose records (EVID 1, ADDL expanded) are the doses. Or a
        concentration table: a DataFrame with ID, TIME (after the dose), DV and optionally CMT,
        DVID, LLOQ, BLQ, with ``dose=``; each subject then has one dose at TIME 0. Missing DV in
        a concentration table are dropped.
    dose : float or mapping ID -> float, optional
        The dose of a concentration table (not allowed with dose records).
    route : {"extravascular", "iv-bolus", "iv-infusion"}, optional
        Needed for a concentration table. For a dataset, by default per dose: a dose into the
        observed compartment (CMT) is an IV bolus (RATE 0) or infusion (RATE > 0, duration
        AMT/RATE), a dose into another compartment is extravascular.
    duration : float or mapping ID -> float, optional
        Infusion duration, when RATE does not give it.
    dvid, cmt : number, optional
        The output analysed when the observations have several DVID or CMT values (required
        then; for example ``dvid=1`` for warfarin's concentrations).
    auc_method : {"linear-up/log-down", "linear"}
        Log trapezoid on falling segments with both ends > 0 and linear elsewhere, or linear
        everywhere. Used for AUC, AUMC and interpolation of C(tau).
    lambda_z : "best-fit", None, int, (t_start, t_end), or a mapping ID -> one of these
        "best-fit" (default) is PKNCA's rule: log-linear fits of the last 3, 4, ... measurable
        points after Tmax (Tmax excluded, and for an infusion points up to its end); among the
        fits with lambda_z > 0 and adjusted R^2 > (best adjusted R^2 of all fits) -
        ``adj_r2_factor``, the one with the most points. An int n uses the last n measurable
        points; a pair the measurable points with t_start <= time after dose <= t_end. None skips
        lambda_z. Without a fit, the parameters that need it are NaN and ``lambda_z_note`` says
        why (e.g. fewer than ``min_points`` points after Tmax).
    min_points : int
        Fewest points of an automatic fit (>= 3).
    adj_r2_factor : float
        Tolerance on the adjusted R^2 (PKNCA's ``adj.r.squared.factor``, 1e-4).
    allow_tmax_in_lambda_z : bool
        Let the automatic fit start at Tmax.
    lloq : float or mapping ID -> float, optional
        Concentrations below it are BLQ, as are 0 and those flagged by the dataset's BLQ/CENS
        column (or below its LLOQ column). PKNCA's default rule: BLQ before the first measurable
        concentration -> 0, between the first and last measurable -> dropped, after the last
        measurable -> 0 (counted in AUCall only).
    interval : (start, end) or list of them, optional
        Dosing intervals to analyse, in dataset time; each starts at a dose of every subject and
        ends at or before its next dose (end may be ``inf``). By default every dose with
        observations after it gets a row, its interval tau being II of the dose record, else the
        time to the next dose; the last dose without II has no interval (tau NaN).
    steady_state : bool, optional
        Whether the intervals are at steady state; by default a dose with SS = 1 or 2 (and its
        ADDL copies) is, the others are not. The steady-state parameters need an interval tau
        (II of the dose record, or ``interval=``).
    duplicates : {"error", "mean"}
        Two observations of a subject at one time are an error, or are replaced by their mean
        (BLQ if all of them are).
    time_unit, conc_unit, dose_unit : str
        Units of TIME, DV and the doses (unknown ones are written ``conc``, ``dose``). When the
        dose and concentration units give a volume, volumes are in L and clearances in
        L/``time_unit``.

    Returns
    -------
    pandas.DataFrame
        One row per subject and analysed dose. Times other than ``start`` and ``end`` are
        relative to the dose. Units are in ``df.attrs["units"]`` (column -> unit string; "1" for
        dimensionless). Columns:

        * ID, dose_number (1 = first dose), start, end, tau, dose, route, steady_state, n_obs
          (observations from the dose to the next one);
        * C0 (IV bolus: concentration at the dose time, observed or back-extrapolated), Cmax,
          Tmax (first time of Cmax), Clast, Tlast (last measurable concentration);
        * AUClast, AUCall (to the last sample, BLQ after Tlast as 0), AUMClast;
        * lambda_z, lambda_z_intercept (of ln C at the dose time), lambda_z_n_points,
          lambda_z_r2, lambda_z_adj_r2, lambda_z_t_first, lambda_z_t_last, half_life,
          Clast_pred (Clast from the regression);
        * AUCinf_obs = AUClast + Clast/lambda_z, AUCinf_pred (with Clast_pred),
          AUC_pct_extrap_obs/pred, AUMCinf_obs = AUMClast + Clast Tlast/lambda_z +
          Clast/lambda_z^2, MRT = AUMCinf_obs/AUCinf_obs (minus half the infusion duration);
        * IV doses: CL = dose/AUCinf_obs, Vz = dose/(lambda_z AUCinf_obs), Vss = MRT CL;
          extravascular doses: the apparent CL_F and Vz_F instead (no Vss). At steady state CL,
          MRT and Vss are NaN and Vz (Vz_F) = dose/(lambda_z AUCtau);
        * with an interval tau: AUCtau (to tau, with C(tau) observed, interpolated, taken as the
          pre-dose C(0) at steady state, or extrapolated with lambda_z, noted), Cmin (lowest
          sample in [0, tau]), Ctrough (sample at tau), Cavg = AUCtau/tau, fluctuation_pct =
          100 (Cmax - Cmin)/Cavg and swing = (Cmax - Cmin)/Cmin (Cmax within [0, tau]),
          Rac = AUCtau / (AUC from the first dose to tau after it) at steady state,
          Rac_lambda_z = 1/(1 - exp(-lambda_z tau)), and at steady state CLss (CLss_F) =
          dose/AUCtau;
        * Cmax_D, AUClast_D, AUCinf_D, AUCtau_D: divided by the dose;
        * lambda_z_note and note: why a value is missing, and any imputation made.

        Columns that no row can have are left out: C0 without IV bolus, the IV or the
        extravascular ones, the interval ones without any interval.

    Raises
    ------
    DataError
        For a malformed dataset (see :func:`pkpd.read_nonmem`), a subject with observations
        but no dose, two observations at one time, a negative concentration, several outputs
        without ``dvid``/``cmt`` (or an unknown one), an unknown route, method or option, or an
        interval not starting at a dose; the message names the subject and what is valid.

    Notes
    -----
    Concentration at the dose time: after a subject's first extravascular dose or infusion
    without a sample at the dose time, C(0) = 0; after an IV bolus, the sample at the dose time
    if > 0 (first dose), else the log-linear back-extrapolation of the first two samples (when
    they decline), else the first sample. See :mod:`pkpd.noncompartmental` for the BLQ and
    lambda_z rules.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> t = np.array([0.5, 1, 2, 4, 6, 8, 12, 24])
    >>> conc = 11.1 * (np.exp(-0.1 * t) - np.exp(-t))
    >>> table = pd.DataFrame({"ID": 1, "TIME": t, "DV": conc})
    >>> res = nca(table, dose=100, route="extravascular", conc_unit="mg/L", dose_unit="mg")
    >>> round(float(res.loc[0, "lambda_z"]), 3), int(res.loc[0, "lambda_z_n_points"])
    (0.1, 4)
    >>> res.attrs["units"]["CL_F"], res.attrs["units"]["AUCinf_obs"]
    ('L/h', 'mg/L*h')
    """
    if auc_method not in METHODS:
        raise DataError(f"auc_method={auc_method!r}; valid: {', '.join(map(repr, METHODS))}")
    _check_lambda_z(lambda_z)
    if isinstance(min_points, bool) or not isinstance(min_points, int) or min_points < 3:
        raise DataError(f"min_points={min_points!r}: a whole number >= 3")
    if not 0 < adj_r2_factor < 1:
        raise DataError(f"adj_r2_factor={adj_r2_factor!r}: between 0 and 1 (PKNCA: 1e-4)")
    if steady_state not in (None, True, False):
        raise DataError(f"steady_state={steady_state!r}: None (from SS), True or False")
    if route is not None and route not in ROUTES:
        raise DataError(f"route={route!r}; valid: {', '.join(map(repr, ROUTES))}")
    units, factor = column_units(time_unit, conc_unit, dose_unit)
    intervals = _intervals(interval)
    if duplicates not in ("error", "mean"):
        raise DataError(f"duplicates={duplicates!r}; valid: 'error', 'mean'")
    subjects = load(data, dose=dose, route=route, duration=duration, dvid=dvid, cmt=cmt,
                    lloq=lloq, duplicates=duplicates)
    opts = Options(method=auc_method, lambda_z=lambda_z, min_points=min_points,
                   adj_r2_factor=adj_r2_factor, allow_tmax=bool(allow_tmax_in_lambda_z),
                   volume_factor=factor)
    rows = []
    for subject in subjects:
        for win in _windows(subject, intervals, steady_state):
            row = analyse(subject, win, opts)
            if win.steady_state and win.k > 0 and math.isfinite(win.tau):
                first = first_dose_auc(subject, win.tau, opts)
                row["Rac"] = row["AUCtau"] / first if first > 0 else math.nan
            rows.append(row)
    routes = {r["route"] for r in rows}
    drop = set()
    if "iv-bolus" not in routes:
        drop.add("C0")
    if not routes & {"iv-bolus", "iv-infusion"}:
        drop.update(IV_ONLY)
    if "extravascular" not in routes:
        drop.update(EV_ONLY)
    if not any(math.isfinite(r["tau"]) for r in rows):
        drop.update(TAU_ONLY)
    names = [name for name, _ in COLUMNS if name not in drop]
    out = pd.DataFrame(rows, columns=names)
    out["dose_number"] = out["dose_number"].astype(int)
    out["lambda_z_n_points"] = out["lambda_z_n_points"].astype(int)
    out["n_obs"] = out["n_obs"].astype(int)
    out["steady_state"] = out["steady_state"].astype(bool)
    out.attrs["units"] = {name: units[kind] for name, kind in COLUMNS
                          if name in names and kind != "text"}
    return out
