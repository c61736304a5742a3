"""The closed forms of pkpd.testing.analytic against tight numerical integration of the ODEs."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.integrate import quad, solve_ivp

from pkpd.errors import RegimenError
from pkpd.testing import analytic

RTOL = 1e-8
SETTINGS = settings(max_examples=25, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

# ---------------------------------------------------------------------------------------------
# independent reference: the ODE system written from micro-constants, integrated piecewise
# ---------------------------------------------------------------------------------------------


def rate_matrix(CL: float, V1: float, periph: list[tuple[float, float]],
                KA: float | None = None) -> np.ndarray:
    """d(amounts)/dt = M @ amounts; states [depot (if KA)] + central + peripherals."""
    off = 1 if KA is not None else 0
    n = off + 1 + len(periph)
    M = np.zeros((n, n))
    c = off
    M[c, c] = -CL / V1
    for j, (Q, V) in enumerate(periph):
        p = off + 1 + j
        M[c, c] -= Q / V1
        M[p, c] += Q / V1
        M[c, p] += Q / V
        M[p, p] -= Q / V
    if KA is not None:
        M[0, 0] = -KA
        M[c, 0] = KA
    return M


def ode_central(t_obs: np.ndarray, M: np.ndarray, V1: float, central: int,
                boluses: list[tuple[float, int, float]],
                infusions: list[tuple[float, float, float]] = ()) -> np.ndarray:
    """Central concentration at t_obs; boluses (time, state, amount) applied before observations,
    infusions (start, amount, duration) into the central state; restart at every event.

    DOP853 at rtol 1e-13 with pure relative error control and steps of at most 1 h: at rtol 1e-11
    the global error after some 70 h of decay reached 2e-8 (checked against a 40-digit matrix
    exponential), too coarse to judge a closed form at 1e-8.
    """
    ends = [s + d for s, _, d in infusions]
    bps = sorted({0.0, *(b[0] for b in boluses), *(i[0] for i in infusions), *ends})
    t_end = float(np.max(t_obs))
    y = np.zeros(M.shape[0])
    out = np.full(t_obs.shape, np.nan)
    for i, tb in enumerate(bps):
        if tb > t_end:
            break
        for time, state, amount in boluses:
            if time == tb:
                y[state] += amount
        u = np.zeros_like(y)
        for start, amount, duration in infusions:
            if start <= tb < start + duration:
                u[central] += amount / duration
        nxt = bps[i + 1] if i + 1 < len(bps) and bps[i + 1] <= t_end else None
        stop = t_end if nxt is None else nxt
        mask = (t_obs >= tb) & ((t_obs < stop) if nxt is not None else (t_obs <= stop))
        if stop > tb:
            pts = t_obs[mask]
            sol = solve_ivp(lambda _t, x, u=u: M @ x + u, (tb, stop), y, method="DOP853",
                            rtol=1e-13, atol=1e-20, max_step=1.0,
                            t_eval=np.append(pts[pts < stop], stop))
            assert sol.success
            out[mask] = sol.y[central, : pts.size] / V1
            y = sol.y[:, -1]
        else:
            out[mask] = y[central] / V1
    return out


def assert_close(x: np.ndarray, ref: np.ndarray, rtol: float = RTOL) -> None:
    # exact zeros (before the first dose) compare absolutely against a negligible floor
    np.testing.assert_allclose(x, ref, rtol=rtol, atol=1e-12 * np.max(np.abs(ref)))


# ---------------------------------------------------------------------------------------------
# strategies (moderate, physiologically plausible ranges)
# ---------------------------------------------------------------------------------------------

cl = st.floats(0.5, 20.0)
vol = st.floats(5.0, 200.0)
q = st.floats(0.5, 20.0)
ka = st.floats(0.1, 5.0)
amount = st.floats(10.0, 1000.0)
dose_times = st.lists(st.floats(0.0, 48.0), min_size=1, max_size=4).map(
    lambda ts: sorted({0.0, *(round(x, 3) for x in ts)}))
infusions = st.lists(st.tuples(st.floats(0.0, 48.0), amount, st.floats(0.05, 12.0)),
                     min_size=1, max_size=3)
T_OBS = np.linspace(0.0, 72.0, 289)  # every 0.25 h: many points fall inside infusions


def periph_params(n: int) -> st.SearchStrategy[list[tuple[float, float]]]:
    return st.lists(st.tuples(q, st.floats(10.0, 300.0)), min_size=n, max_size=n)


def disposition_args(CL: float, V1: float, periph: list[tuple[float, float]]) -> tuple:
    return (CL, V1, *[x for qv in periph for x in qv])


BOLUS = {1: analytic.one_cmt_bolus, 2: analytic.two_cmt_bolus, 3: analytic.three_cmt_bolus}
INFUSION = {1: analytic.one_cmt_infusion, 2: analytic.two_cmt_infusion,
            3: analytic.three_cmt_infusion}
ORAL = {1: analytic.one_cmt_oral, 2: analytic.two_cmt_oral, 3: analytic.three_cmt_oral}


# ---------------------------------------------------------------------------------------------
# closed forms against the ODE
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("n_cmt", [1, 2, 3])
@SETTINGS
@given(data=st.data(), CL=cl, V1=vol, times=dose_times, D=amount)
def test_bolus_matches_ode(n_cmt: int, data: st.DataObject, CL: float, V1: float,
                           times: list[float], D: float) -> None:
    periph = data.draw(periph_params(n_cmt - 1))
    doses = [(td, D * (1 + i)) for i, td in enumerate(times)]
    x = BOLUS[n_cmt](T_OBS, doses, *disposition_args(CL, V1, periph))
    ref = ode_central(T_OBS, rate_matrix(CL, V1, periph), V1, 0,
                      [(td, 0, a) for td, a in doses])
    assert_close(x, ref)


@pytest.mark.parametrize("n_cmt", [1, 2, 3])
@SETTINGS
@given(data=st.data(), CL=cl, V1=vol, infs=infusions)
def test_infusion_matches_ode(n_cmt: int, data: st.DataObject, CL: float, V1: float,
                              infs: list[tuple[float, float, float]]) -> None:
    periph = data.draw(periph_params(n_cmt - 1))
    infs = [(round(s, 3), a, round(d, 3)) for s, a, d in infs]
    x = INFUSION[n_cmt](T_OBS, infs, *disposition_args(CL, V1, periph))
    ref = ode_central(T_OBS, rate_matrix(CL, V1, periph), V1, 0, [], infs)
    assert_close(x, ref)


@pytest.mark.parametrize("n_cmt", [1, 2, 3])
@SETTINGS
@given(data=st.data(), CL=cl, V1=vol, KA=ka, times=dose_times, D=amount,
       F=st.floats(0.1, 1.0), lag=st.sampled_from([0.0, 0.25, 1.3]))
def test_oral_matches_ode(n_cmt: int, data: st.DataObject, CL: float, V1: float, KA: float,
                          times: list[float], D: float, F: float, lag: float) -> None:
    periph = data.draw(periph_params(n_cmt - 1))
    doses = [(td, D) for td in times]
    x = ORAL[n_cmt](T_OBS, doses, *disposition_args(CL, V1, periph), KA, F=F, lag=lag)
    ref = ode_central(T_OBS, rate_matrix(CL, V1, periph, KA), V1, 1,
                      [(td + lag, 0, F * D) for td in times])
    assert_close(x, ref)


@pytest.mark.parametrize("n_cmt", [1, 2, 3])
@SETTINGS
@given(data=st.data(), CL=cl, V1=vol, D=amount,
       rel=st.sampled_from([0.0, 1e-9, -1e-9, 1e-12, -3e-10]))
def test_oral_ka_equal_to_a_disposition_rate(n_cmt: int, data: st.DataObject, CL: float,
                                             V1: float, D: float, rel: float) -> None:
    periph = data.draw(periph_params(n_cmt - 1))
    rates = np.sort(-np.linalg.eigvals(rate_matrix(CL, V1, periph)).real)
    lam = rates[data.draw(st.integers(0, n_cmt - 1))]
    KA = lam * (1.0 + rel)
    doses = [(0.0, D), (12.0, D)]
    x = ORAL[n_cmt](T_OBS, doses, *disposition_args(CL, V1, periph), KA)
    assert np.all(np.isfinite(x))
    ref = ode_central(T_OBS, rate_matrix(CL, V1, periph, KA), V1, 1,
                      [(td, 0, a) for td, a in doses])
    assert_close(x, ref)


@pytest.mark.parametrize("n_cmt", [1, 2, 3])
def test_oral_continuous_across_ka_equal_k(n_cmt: int) -> None:
    periph = [(8.0, 100.0), (3.0, 250.0)][: n_cmt - 1]
    args = disposition_args(5.0, 50.0, periph)
    lam = np.sort(-np.linalg.eigvals(rate_matrix(5.0, 50.0, periph)).real)[-1]
    eps = np.array([-1e-6, -1e-9, -1e-12, 0.0, 1e-12, 1e-9, 1e-6])[:, None]
    x = ORAL[n_cmt](T_OBS, [(0.0, 100.0)], *args, lam * (1 + eps))
    assert np.all(np.isfinite(x))
    # the derivative in KA is bounded: neighbouring values differ in proportion to the step
    scale = np.max(x[3])
    assert np.max(np.abs(x - x[3])) < 1e-5 * scale
    assert np.max(np.abs(x[2:5] - x[3])) < 1e-10 * scale


def test_two_cmt_oral_equals_triexponential() -> None:
    """The classical tri-exponential (macro-constant) form, written independently."""
    CL, V1, Q, V2, KA = 4.69, 43.9, 5.59, 105.9, 1.06
    k10, k12, k21 = CL / V1, Q / V1, Q / V2
    s, p = k10 + k12 + k21, k10 * k21
    a, b = (s + np.sqrt(s * s - 4 * p)) / 2, (s - np.sqrt(s * s - 4 * p)) / 2
    t = 0.5 * np.arange(337)
    ref = np.zeros_like(t)
    for td in 12.0 * np.arange(14):
        u = t[t >= td] - td
        ref[t >= td] += 500 * KA / V1 * (
            (k21 - a) / ((KA - a) * (b - a)) * np.exp(-a * u)
            + (k21 - b) / ((KA - b) * (a - b)) * np.exp(-b * u)
            + (k21 - KA) / ((a - KA) * (b - KA)) * np.exp(-KA * u))
    x = analytic.two_cmt_oral(t, [(td, 500.0) for td in 12.0 * np.arange(14)], CL, V1, Q, V2, KA)
    assert_close(x, ref, rtol=1e-12)


# ---------------------------------------------------------------------------------------------
# broadcasting over subjects
# ---------------------------------------------------------------------------------------------

def test_broadcast_over_subjects_equals_loop() -> None:
    rng = np.random.default_rng(1)
    n = 7
    CL, V1, Q, V2, KA = (v * np.exp(0.3 * rng.standard_normal((n, 1)))
                         for v in (5.0, 50.0, 8.0, 100.0, 1.0))
    doses = [(0.0, 500.0), (12.0, 500.0)]
    x = analytic.two_cmt_oral(T_OBS, doses, CL, V1, Q, V2, KA)
    assert x.shape == (n, T_OBS.size)
    for i in range(n):
        xi = analytic.two_cmt_oral(T_OBS, doses, CL[i, 0], V1[i, 0], Q[i, 0], V2[i, 0], KA[i, 0])
        np.testing.assert_array_equal(x[i], xi)
    y = analytic.three_cmt_infusion(T_OBS, [(0.0, 100.0, 2.0)], CL, V1, Q, V2, 2.0, 300.0)
    assert y.shape == (n, T_OBS.size)
    z = analytic.one_cmt_oral_ss(np.linspace(0, 12, 5), 100.0, 12.0, CL, V1, KA)
    assert z.shape == (n, 5)


# ---------------------------------------------------------------------------------------------
# mass balance, dose proportionality, superposition, limits
# ---------------------------------------------------------------------------------------------

@SETTINGS
@given(CL=cl, V=vol, times=dose_times, D=amount, t=st.floats(0.0, 72.0))
def test_one_cmt_bolus_mass_balance(CL: float, V: float, times: list[float], D: float,
                                    t: float) -> None:
    """Amount in the body plus amount eliminated (CL * AUC) equals the dose given so far."""
    doses = [(td, D) for td in times]
    conc = lambda s: analytic.one_cmt_bolus(np.array([s]), doses, CL, V)[0]  # noqa: E731
    pieces = [0.0, *[td for td in times if 0 < td < t], t]
    auc = sum(quad(conc, lo, hi, epsabs=0, epsrel=1e-12)[0] for lo, hi in pairwise(pieces))
    given_so_far = D * sum(td <= t for td in times)
    assert V * conc(t) + CL * auc == pytest.approx(given_so_far, rel=1e-9)


CASES = [
    (analytic.one_cmt_bolus, (5.0, 50.0), False),
    (analytic.two_cmt_bolus, (5.0, 50.0, 8.0, 100.0), False),
    (analytic.three_cmt_bolus, (5.0, 50.0, 8.0, 100.0, 3.0, 250.0), False),
    (analytic.one_cmt_infusion, (5.0, 50.0), True),
    (analytic.two_cmt_infusion, (5.0, 50.0, 8.0, 100.0), True),
    (analytic.three_cmt_infusion, (5.0, 50.0, 8.0, 100.0, 3.0, 250.0), True),
    (analytic.one_cmt_oral, (5.0, 50.0, 1.0), False),
    (analytic.two_cmt_oral, (5.0, 50.0, 8.0, 100.0, 1.0), False),
    (analytic.three_cmt_oral, (5.0, 50.0, 8.0, 100.0, 3.0, 250.0, 1.0), False),
]


@pytest.mark.parametrize(("fn", "params", "infusion"), CASES,
                         ids=[c[0].__name__ for c in CASES])
@settings(max_examples=20, deadline=None)
@given(factor=st.floats(1e-3, 1e3), D=amount)
def test_dose_proportionality_and_superposition(fn, params: tuple, infusion: bool,
                                                factor: float, D: float) -> None:
    def doses(amounts: list[float]) -> list[tuple]:
        return [(12.0 * i, a, 1.5) if infusion else (12.0 * i, a) for i, a in enumerate(amounts)]

    base = fn(T_OBS, doses([D, 2 * D]), *params)
    assert np.all(base >= 0)
    np.testing.assert_allclose(fn(T_OBS, doses([factor * D, factor * 2 * D]), *params),
                               factor * base, rtol=1e-12, atol=1e-300)
    split = fn(T_OBS, doses([D, 0.0]), *params) + fn(T_OBS, doses([0.0, 2 * D]), *params)
    np.testing.assert_allclose(split, base, rtol=1e-12, atol=1e-14 * base.max())


def test_short_infusion_tends_to_bolus() -> None:
    bolus = analytic.two_cmt_bolus(T_OBS, [(0.0, 100.0), (24.0, 50.0)], 5.0, 50.0, 8.0, 100.0)
    for duration, tol in [(1e-6, 1e-5), (1e-9, 1e-8)]:
        inf = analytic.two_cmt_infusion(T_OBS, [(0.0, 100.0, duration), (24.0, 50.0, duration)],
                                        5.0, 50.0, 8.0, 100.0)
        later = (T_OBS > 0.01) & ((T_OBS < 24) | (T_OBS > 24.01))
        np.testing.assert_allclose(inf[later], bolus[later], rtol=tol)
    zero = analytic.two_cmt_infusion(T_OBS, [(0.0, 100.0, 0.0), (24.0, 50.0, 0.0)],
                                     5.0, 50.0, 8.0, 100.0)
    np.testing.assert_allclose(zero, bolus, rtol=1e-14)


# ---------------------------------------------------------------------------------------------
# steady state
# ---------------------------------------------------------------------------------------------

def many_doses(tau: float, k: float) -> int:
    return int(np.ceil(40.0 / (k * tau))) + 1  # the first dose has decayed below e^-40


@SETTINGS
@given(CL=cl, V=vol, D=amount, tau=st.floats(4.0, 48.0), F=st.floats(0.1, 1.0),
       ka_rel=st.one_of(st.floats(0.05, 20.0), st.sampled_from([1.0, 1 + 1e-9, 1 - 1e-10])))
def test_oral_ss_is_sum_of_many_doses(CL: float, V: float, D: float, tau: float, F: float,
                                      ka_rel: float) -> None:
    k = CL / V
    KA = k * ka_rel
    n = many_doses(tau, min(k, KA))
    t_after = np.linspace(0.0, tau, 49)
    last = (n - 1) * tau
    multi = analytic.one_cmt_oral(last + t_after, [(i * tau, D) for i in range(n)], CL, V, KA,
                                  F=F)
    ss = analytic.one_cmt_oral_ss(t_after, D, tau, CL, V, KA, F=F)
    np.testing.assert_allclose(ss, multi, rtol=1e-8)
    avg = quad(lambda s: analytic.one_cmt_oral_ss(np.array([s]), D, tau, CL, V, KA, F=F)[0],
               0.0, tau, epsabs=0, epsrel=1e-12)[0] / tau
    assert avg == pytest.approx(float(analytic.css_average(F, D, CL, tau)), rel=1e-9)


@SETTINGS
@given(CL=cl, V=vol, D=amount, tau=st.floats(4.0, 48.0))
def test_bolus_ss_is_sum_of_many_doses(CL: float, V: float, D: float, tau: float) -> None:
    n = many_doses(tau, CL / V)
    t_after = np.linspace(0.0, tau, 49)
    multi = analytic.one_cmt_bolus((n - 1) * tau + t_after, [(i * tau, D) for i in range(n)],
                                   CL, V)
    ss = analytic.one_cmt_bolus_ss(t_after, D, tau, CL, V)
    np.testing.assert_allclose(ss, multi, rtol=1e-8)
    avg = quad(lambda s: analytic.one_cmt_bolus_ss(np.array([s]), D, tau, CL, V)[0], 0.0, tau,
               epsabs=0, epsrel=1e-12)[0] / tau
    assert avg == pytest.approx(float(analytic.css_average(1.0, D, CL, tau)), rel=1e-9)


@SETTINGS
@given(CL=cl, V=vol, D=amount, tau=st.floats(4.0, 48.0), frac=st.floats(0.01, 1.0))
def test_infusion_ss_is_sum_of_many_doses(CL: float, V: float, D: float, tau: float,
                                          frac: float) -> None:
    T = frac * tau
    n = many_doses(tau, CL / V)
    t_after = np.sort(np.append(np.linspace(0.0, tau, 49), T))
    multi = analytic.one_cmt_infusion((n - 1) * tau + t_after,
                                      [(i * tau, D, T) for i in range(n)], CL, V)
    ss = analytic.one_cmt_infusion_ss(t_after, D, tau, T, CL, V)
    np.testing.assert_allclose(ss, multi, rtol=1e-8)
    avg = quad(lambda s: analytic.one_cmt_infusion_ss(np.array([s]), D, tau, T, CL, V)[0],
               0.0, tau, points=[T], epsabs=0, epsrel=1e-12)[0] / tau
    assert avg == pytest.approx(float(analytic.css_average(1.0, D, CL, tau)), rel=1e-9)


# ---------------------------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------------------------

def test_bad_input_raises() -> None:
    with pytest.raises(RegimenError, match="dose 0"):
        analytic.one_cmt_infusion(T_OBS, [(0.0, 100.0)], 5.0, 50.0)
    with pytest.raises(RegimenError, match="duration"):
        analytic.one_cmt_infusion(T_OBS, [(0.0, 100.0, -1.0)], 5.0, 50.0)
    with pytest.raises(RegimenError, match="at least one dose"):
        analytic.one_cmt_bolus(T_OBS, [], 5.0, 50.0)
    with pytest.raises(RegimenError, match=r"\[0, tau\]"):
        analytic.one_cmt_oral_ss(np.array([13.0]), 100.0, 12.0, 5.0, 50.0, 1.0)
    with pytest.raises(RegimenError, match="duration"):
        analytic.one_cmt_infusion_ss(np.array([1.0]), 100.0, 12.0, 13.0, 5.0, 50.0)
