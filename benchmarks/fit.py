"""Warm MAP fits of one patient to four levels: a two-compartment oral model (M1's
``two_cmt_oral``, 500 mg q12h x 2, five etas) and a one-compartment oral model
(``theophylline_1cmt``, 320 mg once, three etas).

Usage::

    python benchmarks/fit.py [--repeat 100] [--scipy-repeat 4]

Prints JSON: per model, the median and range of the wall time of many warm
``fit_individual`` calls with the exact gradient (forward sensitivities) and with finite
differences, their engine calls (``n_simulations``) and evaluations; for the two-compartment
model also the same MAP fit written with scipy alone (``solve_ivp`` LSODA at rtol 1e-8 and
BFGS with its own finite-difference gradient) as the baseline measured in the same run, with
the ratios.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np
import pandas as pd
from scipy.integrate import solve_ivp
from scipy.optimize import minimize

import pkpd

TYPICAL = np.array([1.0, 5.0, 50.0, 8.0, 100.0])      # KA, CL, V1, Q, V2 (WT 70 kg)
OMEGA = np.diag([0.16, 0.09, 0.0625, 0.04, 0.04])
ETAS = ("eta_KA", "eta_CL", "eta_V1", "eta_Q", "eta_V2")
TIMES = (2.0, 6.0, 11.5, 23.5)
LEVELS = np.array([5.2, 4.9, 2.7, 3.1])


#: The one-compartment case: 320 mg orally at 0 h, levels (mg/L) at these times (h).
ONE_CMT_DOSES = (0.0,)
ONE_CMT_TIMES = (1.0, 3.5, 7.0, 24.0)
ONE_CMT_LEVELS = np.array([6.5, 9.0, 7.5, 3.0])


def dataset(dose_times=(0.0, 12.0), amount=500.0, times=TIMES,
            levels=LEVELS) -> pd.DataFrame:
    doses = pd.DataFrame({"ID": 1, "TIME": list(dose_times), "AMT": amount, "EVID": 1,
                          "CMT": 1, "DV": np.nan, "MDV": 1})
    obs = pd.DataFrame({"ID": 1, "TIME": times, "AMT": 0.0, "EVID": 0, "CMT": 2, "DV": levels,
                        "MDV": 0})
    return pd.concat([doses, obs]).sort_values("TIME", kind="stable").reset_index(drop=True)


def scipy_map() -> np.ndarray:
    """The same objective with scipy only: LSODA per dose interval, BFGS, numerical gradient."""
    precision = np.linalg.inv(OMEGA)

    def predict(eta: np.ndarray) -> np.ndarray:
        ka, cl, v1, q, v2 = TYPICAL * np.exp(eta)

        def rhs(t: float, a: np.ndarray) -> list[float]:
            return [-ka * a[0], ka * a[0] - (cl + q) / v1 * a[1] + q / v2 * a[2],
                    q / v1 * a[1] - q / v2 * a[2]]

        state, out = np.zeros(3), []
        for start, stop in ((0.0, 12.0), (12.0, 24.5)):
            state[0] += 500.0
            inside = [t for t in TIMES if start <= t < stop]
            sol = solve_ivp(rhs, (start, stop), state, method="LSODA", rtol=1e-8, atol=1e-10,
                            t_eval=[*inside, stop])
            out += list(sol.y[1, :-1] / v1)
            state = sol.y[:, -1].copy()
        return np.array(out)

    def objective(eta: np.ndarray) -> float:
        f = predict(eta)
        sd = np.sqrt(0.05**2 + (0.1 * f) ** 2)
        return float(np.sum(((LEVELS - f) / sd) ** 2 + 2 * np.log(sd)) + eta @ precision @ eta)

    return minimize(objective, np.zeros(5), method="BFGS").x


def timed(fn, repeat: int) -> tuple[list[float], object]:
    out = fn()                       # warm-up (compilation, caches)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return times, out


def summary(times: list[float]) -> dict[str, float]:
    return {"median": 1e3 * statistics.median(times), "min": 1e3 * min(times),
            "max": 1e3 * max(times)}


def fits(model: str, frame: pd.DataFrame, repeat: int) -> tuple[dict, dict]:
    """Warm fits of ``model`` to ``frame``, exact gradient and finite differences."""
    cm = pkpd.compile_model(pkpd.load_model(model))
    data = pkpd.read_nonmem(frame, model=cm.model)
    result, fitted = {}, {}
    for gradient in ("exact", "fd"):
        times, fit = timed(lambda g=gradient: pkpd.fit_individual(cm, data, gradient=g), repeat)
        fitted[gradient] = fit
        result[f"pkpd_{gradient}_ms"] = summary(times)
    result["engine_calls"] = {g: f.n_simulations for g, f in fitted.items()}
    result["evaluations"] = {g: f.n_evaluations for g, f in fitted.items()}
    return result, fitted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=100, help="warm fits timed per case")
    parser.add_argument("--scipy-repeat", type=int, default=4, help="runs of the scipy fit")
    args = parser.parse_args()
    one, _ = fits("theophylline_1cmt", dataset(ONE_CMT_DOSES, 320.0, ONE_CMT_TIMES,
                                               ONE_CMT_LEVELS), args.repeat)
    two, fitted = fits("two_cmt_oral", dataset(), args.repeat)
    times, x = timed(scipy_map, max(1, args.scipy_repeat))
    two["scipy_ms"] = summary(times)
    base = two["scipy_ms"]["median"]
    for gradient in ("exact", "fd"):
        two[f"speedup_{gradient}_vs_scipy"] = base / two[f"pkpd_{gradient}_ms"]["median"]
    two["max_abs_eta_difference_exact_vs_scipy"] = float(np.max(np.abs(
        np.array([fitted["exact"].etas[e] for e in ETAS]) - x)))
    print(json.dumps({"one_cmt_oral_4_levels": one, "two_cmt_oral_4_levels": two}, indent=1))


if __name__ == "__main__":
    main()
