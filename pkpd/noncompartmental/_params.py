"""The NCA parameters of one dose (one output row), from its :class:`Profile`."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._auc import auc_aumc, interpolate
from ._data import Subject, per_id
from ._lambda_z import LambdaZ, best_fit, chosen_fit
from ._profile import Profile, conc_at_end, profile

NAN = math.nan

#: Output columns and the kind of their unit (see ``_units.column_units``).
COLUMNS: tuple[tuple[str, str], ...] = (
    ("ID", "text"), ("dose_number", "count"), ("start", "time"), ("end", "time"),
    ("tau", "time"), ("dose", "dose"), ("route", "text"), ("steady_state", "text"),
    ("n_obs", "count"), ("C0", "conc"), ("Cmax", "conc"), ("Tmax", "time"), ("Clast", "conc"),
    ("Tlast", "time"), ("AUClast", "auc"), ("AUCall", "auc"), ("AUMClast", "aumc"),
    ("lambda_z", "rate"), ("lambda_z_intercept", "log_conc"), ("lambda_z_n_points", "count"),
    ("lambda_z_r2", "ratio"), ("lambda_z_adj_r2", "ratio"), ("lambda_z_t_first", "time"),
    ("lambda_z_t_last", "time"), ("half_life", "time"), ("Clast_pred", "conc"),
    ("AUCinf_obs", "auc"), ("AUCinf_pred", "auc"), ("AUC_pct_extrap_obs", "percent"),
    ("AUC_pct_extrap_pred", "percent"), ("AUMCinf_obs", "aumc"), ("MRT", "time"),
    ("CL", "clearance"), ("CL_F", "clearance"), ("Vz", "volume"), ("Vz_F", "volume"),
    ("Vss", "volume"), ("AUCtau", "auc"), ("Cmin", "conc"), ("Ctrough", "conc"),
    ("Cavg", "conc"), ("fluctuation_pct", "percent"), ("swing", "ratio"), ("Rac", "ratio"),
    ("Rac_lambda_z", "ratio"), ("CLss", "clearance"), ("CLss_F", "clearance"),
    ("Cmax_D", "conc_per_dose"), ("AUClast_D", "auc_per_dose"), ("AUCinf_D", "auc_per_dose"),
    ("AUCtau_D", "auc_per_dose"), ("lambda_z_note", "text"), ("note", "text"),
)
IV_ONLY = ("CL", "Vz", "Vss", "CLss")
EV_ONLY = ("CL_F", "Vz_F", "CLss_F")
TAU_ONLY = ("AUCtau", "Cmin", "Ctrough", "Cavg", "fluctuation_pct", "swing", "Rac",
            "Rac_lambda_z", "CLss", "CLss_F", "AUCtau_D")


@dataclass(frozen=True)
class Options:
    method: str
    lambda_z: Any
    min_points: int
    adj_r2_factor: float
    allow_tmax: bool
    volume_factor: float


@dataclass(frozen=True)
class Window:
    """Dose ``k`` of a subject: its dosing interval [start, start + tau] and analysis window."""

    k: int
    tau: float              # NaN: no interval (open to infinity)
    analysis_end: float     # the next dose time, or infinity
    steady_state: bool


def _div(a: float, b: float) -> float:
    return a / b if b != 0 and math.isfinite(a) and math.isfinite(b) else NAN


def _lambda_z(prof: Profile, spec: Any, opts: Options) -> LambdaZ:
    t, c, ok = prof.t_obs, prof.c_obs, prof.measurable
    if spec is None:
        return LambdaZ(note="not estimated (lambda_z=None)")
    if spec == "best-fit":
        after = t >= prof.tmax if opts.allow_tmax else t > prof.tmax
        sel = ok & after & (t > prof.dose.duration)
        return best_fit(t[sel], c[sel], min_points=opts.min_points,
                        adj_r2_factor=opts.adj_r2_factor)
    if isinstance(spec, numbers.Integral):
        spec = int(spec)
        idx = np.flatnonzero(ok)[-spec:]
        return chosen_fit(t[idx], c[idx], f"the last {spec} points")
    lo, hi = spec
    sel = ok & (t >= lo) & (t <= hi)
    return chosen_fit(t[sel], c[sel], f"the points from {lo:g} to {hi:g} after the dose")


def auc_to(prof: Profile, tau: float, method: str, lambda_z: float) -> tuple[float, float, str]:
    """(AUC from the dose to tau, C(tau), note)."""
    c_end, note = conc_at_end(prof, tau, method, lambda_z)
    ts, cs = prof.series
    sel = ts < tau
    tt, cc = np.append(ts[sel], tau), np.append(cs[sel], c_end)
    if not np.isfinite(cc).all():
        return NAN, c_end, note
    return auc_aumc(tt, cc, method)[0], c_end, note


def analyse(subject: Subject, win: Window, opts: Options) -> dict[str, Any]:
    """One output row."""
    dose = subject.doses[win.k]
    iv = dose.route != "extravascular"
    tau = win.tau
    prof = profile(subject, win.k, analysis_end=win.analysis_end,
                   steady_state=win.steady_state, tau=tau, method=opts.method)
    notes = list(prof.notes)
    if win.steady_state and not math.isfinite(tau):
        notes.append("steady state without a dosing interval (no II): give interval=")
    if win.k == 0 and subject.n_before_dose:
        notes.append(f"{subject.n_before_dose} observation(s) before the first dose not used")
    row: dict[str, Any] = dict.fromkeys((name for name, _ in COLUMNS), NAN)
    row.update(ID=subject.id, dose_number=win.k + 1, start=dose.time,
               end=dose.time + tau if math.isfinite(tau) else math.inf, tau=tau,
               dose=dose.amount, route=dose.route, steady_state=win.steady_state,
               n_obs=prof.n_obs, lambda_z_n_points=0, lambda_z_note="", note="")
    if dose.route == "iv-bolus":
        row["C0"] = prof.c0
    row.update(Cmax=prof.cmax, Tmax=prof.tmax, Clast=prof.clast, Tlast=prof.tlast)
    if not math.isfinite(prof.tlast):
        row["lambda_z_note"] = "; ".join(notes)
        row["note"] = row["lambda_z_note"]
        return row

    ts, cs = prof.series
    ilast = int(np.searchsorted(ts, prof.tlast))
    if np.isfinite(cs).all():
        row["AUClast"], row["AUMClast"] = auc_aumc(ts[:ilast + 1], cs[:ilast + 1], opts.method)
        row["AUCall"] = auc_aumc(ts, cs, opts.method)[0]

    fit = _lambda_z(prof, per_id(opts.lambda_z, subject.id, "lambda_z"), opts)
    lz = fit.lambda_z
    row.update(lambda_z=lz, lambda_z_intercept=fit.intercept, lambda_z_n_points=fit.n_points,
               lambda_z_r2=fit.r2, lambda_z_adj_r2=fit.adj_r2, lambda_z_t_first=fit.t_first,
               lambda_z_t_last=fit.t_last, half_life=_div(math.log(2.0), lz),
               lambda_z_note=fit.note)
    if math.isfinite(lz):
        clast_pred = math.exp(fit.intercept - lz * prof.tlast)
        auclast, aumclast = row["AUClast"], row["AUMClast"]
        inf_obs = auclast + _div(prof.clast, lz)
        inf_pred = auclast + _div(clast_pred, lz)
        aumc_inf = aumclast + _div(prof.clast * prof.tlast, lz) + _div(prof.clast, lz**2)
        row.update(Clast_pred=clast_pred, AUCinf_obs=inf_obs, AUCinf_pred=inf_pred,
                   AUC_pct_extrap_obs=100.0 * _div(inf_obs - auclast, inf_obs),
                   AUC_pct_extrap_pred=100.0 * _div(inf_pred - auclast, inf_pred),
                   AUMCinf_obs=aumc_inf)

    f = opts.volume_factor
    D = dose.amount
    if not win.steady_state:
        mrt = _div(row["AUMCinf_obs"], row["AUCinf_obs"]) - dose.duration / 2.0
        cl = f * _div(D, row["AUCinf_obs"])
        row["CL" if iv else "CL_F"] = cl
        row["Vz" if iv else "Vz_F"] = f * _div(D, lz * row["AUCinf_obs"])
        row["MRT"] = mrt
        if iv:
            row["Vss"] = mrt * cl

    if math.isfinite(tau):
        auc_tau, _, note = auc_to(prof, tau, opts.method, lz)
        if note:
            notes.append(note)
        within = prof.t_obs <= tau
        c_in = prof.c_obs[within]
        cmin = float(c_in.min()) if len(c_in) else NAN
        cmax_tau = float(c_in.max()) if len(c_in) else NAN
        cavg = _div(auc_tau, tau)
        at_end = np.flatnonzero(prof.t_obs == tau)
        trough = (float(prof.c_obs[at_end[0]]) if len(at_end)
                  else prof.c0 if win.steady_state and prof.c0_observed else NAN)
        row.update(AUCtau=auc_tau, Cmin=cmin, Ctrough=trough, Cavg=cavg,
                   fluctuation_pct=100.0 * _div(cmax_tau - cmin, cavg),
                   swing=_div(cmax_tau - cmin, cmin),
                   Rac_lambda_z=_div(1.0, -math.expm1(-lz * tau)) if lz > 0 else NAN,
                   AUCtau_D=_div(auc_tau, D))
        if win.steady_state:
            row["CLss" if iv else "CLss_F"] = f * _div(D, auc_tau)
            row["Vz" if iv else "Vz_F"] = f * _div(D, lz * auc_tau)
    row.update(Cmax_D=_div(prof.cmax, D), AUClast_D=_div(row["AUClast"], D),
               AUCinf_D=_div(row["AUCinf_obs"], D), note="; ".join(notes))
    return row


def first_dose_auc(subject: Subject, tau: float, opts: Options) -> float:
    """AUC from the first dose to tau after it (observed or interpolated C(tau)), or NaN."""
    first = subject.doses[0]
    end = subject.doses[1].time if len(subject.doses) > 1 else math.inf
    if first.ss or first.time + tau > end:
        return NAN
    prof = profile(subject, 0, analysis_end=end, steady_state=False, tau=tau,
                   method=opts.method)
    if not math.isfinite(prof.tlast):
        return NAN
    if not math.isfinite(interpolate(prof.t_obs, prof.c_obs, tau, opts.method)):
        return NAN
    return auc_to(prof, tau, opts.method, NAN)[0]
