"""One dose's concentration profile: BLQ rule, concentration at the dose time, Cmax, Tlast.

Times are relative to the dose. The *analysis window* of a dose runs from the dose to the next
dose (a sample at the next dose time included, as this dose's trough), or to the end of the data
after the last dose.

BLQ rule (PKNCA's default ``conc.blq``: first "keep", middle "drop", last "keep")
-------------------------------------------------------------------------------------
A concentration is below the limit of quantification (BLQ) when it is below ``lloq``, flagged by
the dataset's BLQ/CENS column (or below its LLOQ column), or exactly 0. BLQ values up to the
first measurable concentration are set to 0 and kept; BLQ values between the first and the last
measurable concentrations are dropped; BLQ values after the last measurable concentration are
set to 0 and kept (they count in AUCall only).

Concentration at the dose time, C(0)
------------------------------------
* IV bolus: the observed concentration at the dose time if it is > 0 and this is the subject's
  first dose (a sample at a later dose time is its pre-dose trough); otherwise the log-linear
  back-extrapolation through the first two samples after the dose when they decline (both > 0);
  otherwise the first sample after the dose (noted). These are PKNCA's ``c0``, ``logslope`` and
  ``c1`` methods, in that order.
* Extravascular or infusion: the observed sample at the dose time; without one, 0 after the
  subject's first dose when it is not at steady state; at steady state, the concentration at the
  end of the dosing interval (C(0) = C(tau), noted); otherwise unknown (NaN, noted), and so are
  the areas.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from numpy.typing import NDArray

from ._auc import interpolate
from ._data import Dose, Subject

FloatArray = NDArray[np.float64]


@dataclass
class Profile:
    """The cleaned samples of one analysis window and the series used for the areas."""

    dose: Dose
    start: float
    first_dose: bool
    steady_state: bool
    n_obs: int                   # observation records in the window (before the BLQ rule)
    t_obs: FloatArray            # cleaned samples, relative times (BLQ as 0)
    c_obs: FloatArray
    measurable: NDArray[np.bool_]
    c0: float = math.nan         # concentration at the dose time used for the areas
    c0_observed: bool = False
    cmax: float = math.nan
    tmax: float = math.nan
    clast: float = math.nan
    tlast: float = math.nan
    notes: list[str] = field(default_factory=list)

    @cached_property
    def series(self) -> tuple[FloatArray, FloatArray]:
        """Times and concentrations with C(0) at time 0 (NaN when unknown); read it only once
        the profile is complete."""
        if self.c0_observed:
            return self.t_obs, self.c_obs
        return (np.concatenate(([0.0], self.t_obs)),
                np.concatenate(([self.c0], self.c_obs)))


def profile(subject: Subject, k: int, *, analysis_end: float, steady_state: bool,
            tau: float, method: str) -> Profile:
    """The profile after dose ``k`` of ``subject`` (``tau`` may be NaN: no interval)."""
    dose = subject.doses[k]
    first = k == 0
    in_window = (subject.time >= dose.time) & (subject.time <= analysis_end)
    t = subject.time[in_window] - dose.time
    c = subject.conc[in_window]
    blq = subject.blq[in_window]
    bolus = dose.route == "iv-bolus"
    if bolus and len(t) and t[0] == 0 and not (first and c[0] > 0 and not blq[0]):
        t, c, blq = t[1:], c[1:], blq[1:]          # a later bolus: that sample is pre-dose
    prof = Profile(dose=dose, start=dose.time, first_dose=first, steady_state=steady_state,
                   n_obs=int(in_window.sum()), t_obs=t, c_obs=c,
                   measurable=np.zeros(len(t), dtype=bool))
    if not len(t):
        prof.notes.append("no observation after the dose")
        return prof
    good = ~blq & (c > 0)
    if not good.any():
        prof.t_obs, prof.c_obs = t, np.zeros(len(t))
        prof.notes.append("no measurable concentration")
        return prof
    t_first, t_last = t[good][0], t[good][-1]
    keep = ~(blq & (t > t_first) & (t < t_last))
    prof.t_obs, prof.c_obs = t[keep], np.where(blq, 0.0, c)[keep]
    prof.measurable = good[keep]
    i = int(np.argmax(prof.c_obs))                  # the first of equal maxima
    prof.cmax, prof.tmax = float(prof.c_obs[i]), float(prof.t_obs[i])
    j = int(np.flatnonzero(prof.measurable)[-1])
    prof.clast, prof.tlast = float(prof.c_obs[j]), float(prof.t_obs[j])
    _set_c0(prof, tau, method)
    return prof


def _set_c0(prof: Profile, tau: float, method: str) -> None:
    t, c = prof.t_obs, prof.c_obs
    if prof.dose.route == "iv-bolus":
        if t[0] == 0:
            prof.c0, prof.c0_observed = float(c[0]), True
            return
        after = np.flatnonzero(t > 0)
        if len(after) >= 2:
            (t1, t2), (c1, c2) = t[after[:2]], c[after[:2]]
            if c1 > c2 > 0:
                prof.c0 = float(c1 * (c1 / c2) ** (t1 / (t2 - t1)))
                return
        prof.c0 = float(c[after[0]])
        prof.notes.append("C0 of the bolus taken as the first sample (the first two samples "
                          "do not decline)")
        return
    if t[0] == 0:
        prof.c0, prof.c0_observed = float(c[0]), True
    elif prof.first_dose and not prof.steady_state:
        prof.c0 = 0.0
    elif prof.steady_state and math.isfinite(tau):
        end = interpolate(t, c, tau, method)
        prof.c0 = end
        prof.notes.append(f"no sample at the dose time: C(0) taken as C(tau) = {end:.6g} "
                          "(steady state)" if math.isfinite(end) else
                          "no sample at the dose time nor at its end: areas unknown")
    else:
        prof.notes.append(f"no sample at the dose time (TIME {prof.start:g}) after earlier "
                          "doses: areas unknown")


def conc_at_end(prof: Profile, tau: float, method: str,
                lambda_z: float) -> tuple[float, str]:
    """C(tau): observed, interpolated, C(0) at steady state, or extrapolated with lambda_z."""
    t, c = prof.t_obs, prof.c_obs
    value = interpolate(t, c, tau, method)
    if math.isfinite(value):
        return value, "" if tau in t else f"C(tau) interpolated ({value:.6g})"
    if prof.steady_state and prof.c0_observed:
        return prof.c0, "C(tau) taken as the pre-dose C(0) (steady state)"
    if math.isfinite(lambda_z) and len(t) and tau > prof.tlast:
        value = prof.clast * math.exp(-lambda_z * (tau - prof.tlast))
        return value, f"C(tau) extrapolated with lambda_z from Clast ({value:.6g})"
    return math.nan, "no concentration at the end of the interval: AUCtau unknown"
