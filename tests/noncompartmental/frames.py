"""Small NONMEM-format tables and closed-form profiles for the NCA tests (not tests)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd


def nonmem(doses: Iterable[dict], obs: Iterable[tuple[float, float, float]], *,
           obs_cmt: int = 2) -> pd.DataFrame:
    """A NONMEM DataFrame from dose dicts (ID, TIME, AMT, CMT, optional RATE, SS, II, ADDL) and
    observations (ID, TIME, DV) in ``obs_cmt``; sorted by ID, TIME, doses first."""
    rows = []
    for d in doses:
        rows.append({"ID": d["ID"], "TIME": d["TIME"], "AMT": d["AMT"], "DV": np.nan,
                     "EVID": 1, "MDV": 1, "CMT": d.get("CMT", 1), "RATE": d.get("RATE", 0.0),
                     "SS": d.get("SS", 0), "II": d.get("II", 0.0), "ADDL": d.get("ADDL", 0),
                     "_order": 0})
    for ident, t, dv in obs:
        rows.append({"ID": ident, "TIME": t, "AMT": 0.0, "DV": dv, "EVID": 0, "MDV": 0,
                     "CMT": obs_cmt, "RATE": 0.0, "SS": 0, "II": 0.0, "ADDL": 0, "_order": 1})
    frame = pd.DataFrame(rows).sort_values(["ID", "TIME", "_order"], kind="stable")
    return frame.drop(columns="_order").reset_index(drop=True)


def table(times: Sequence[float], conc: Sequence[float], ident: int = 1) -> pd.DataFrame:
    """A concentration table (ID, TIME, DV) of one subject."""
    return pd.DataFrame({"ID": ident, "TIME": np.asarray(times, dtype=float),
                         "DV": np.asarray(conc, dtype=float)})


def bateman(t: np.ndarray, dose: float, V: float, CL: float, ka: float,
            F: float = 1.0) -> np.ndarray:
    """One-compartment first-order absorption after one dose at 0:
    C = F D ka / (V (ka - k)) (exp(-k t) - exp(-ka t)), k = CL / V."""
    k = CL / V
    return F * dose * ka / (V * (ka - k)) * (np.exp(-k * t) - np.exp(-ka * t))


def hand_fit(t: Sequence[float], c: Sequence[float]) -> tuple[float, float, float]:
    """Least squares of ln c on t from the textbook sums: (lambda_z, intercept, adjusted R^2)."""
    t = [float(x) for x in t]
    y = [float(np.log(x)) for x in c]
    n = len(t)
    tbar, ybar = sum(t) / n, sum(y) / n
    sxy = sum((a - tbar) * (b - ybar) for a, b in zip(t, y, strict=True))
    sxx = sum((a - tbar) ** 2 for a in t)
    syy = sum((b - ybar) ** 2 for b in y)
    slope = sxy / sxx
    intercept = ybar - slope * tbar
    r2 = sxy**2 / (sxx * syy)
    return -slope, intercept, 1 - (1 - r2) * (n - 1) / (n - 2)
