"""Individual maximum-likelihood fits (pkpd.fit_individual) of real clinical datasets against
references computed here with scipy only.

References
----------
theophylline (12 subjects, single oral dose)
    One compartment, first-order absorption, additive error: the ML estimate is ordinary
    nonlinear least squares. Reference: :func:`scipy.optimize.least_squares` on the closed-form
    solution ``C(t) = D ka / (V (ka - ke)) (exp(-ke t) - exp(-ka t))``, ``ke = CL / V``,
    parameterised by ``log ka, log CL, log V`` (the same scale as the etas).
warfarin (PK and PCA turnover PD, outputs selected by DVID)
    One compartment, first-order absorption with a fixed lag time, indirect response model
    (inhibition of the production of PCA) with baseline ``E0 = KIN / KOUT``; additive errors on
    both outputs: the ML estimate is weighted least squares. Reference: the same ODEs written
    out here, integrated by :func:`scipy.integrate.solve_ivp` (LSODA, rtol 1e-10, atol 1e-12)
    from the baseline state, the dose added to the depot at the lag time, and
    :func:`scipy.optimize.least_squares` on the residuals divided by their SDs.

The datasets are read from the shared folder (fixture ``shared_dir``); nothing is copied.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.integrate import solve_ivp
from scipy.optimize import OptimizeResult, least_squares

import pkpd
from pkpd.codegen import CompiledModel
from pkpd.model import Model

# ---------------------------------------------------------------------------------------------
# theophylline
# ---------------------------------------------------------------------------------------------

THEO_TYPICAL = {"KA": 1.5, "CL": 2.8, "V": 32.0}     # 1/h, L/h, L: the start of both fits
THEO_SD = 0.7                                         # mg/L, additive
THEO_IDS = range(1, 13)


def theophylline_model() -> Model:
    mb = pkpd.ModelBuilder("theophylline_1cmt_oral", time_unit="h")
    depot, central = mb.states(depot="mg", central="mg")
    mb.parameters(TVKA="1.5 1/h", TVCL="2.8 L/h", TVV="32 L")
    mb.etas(eta_KA=0.4, eta_CL=0.1, eta_V=0.05)
    mb.derive("KA", "TVKA * exp(eta_KA)")
    mb.derive("CL", "TVCL * exp(eta_CL)")
    mb.derive("V", "TVV * exp(eta_V)")
    mb.ode(depot, "-KA * depot")
    mb.ode(central, "KA * depot - CL / V * central")
    mb.output("CP", "central / V", unit="mg/L")
    mb.route("PO", depot)
    mb.error("CP", additive=THEO_SD)
    return mb.build()


@pytest.fixture(scope="module")
def theo_cm() -> CompiledModel:
    return pkpd.compile_model(theophylline_model())


@pytest.fixture(scope="module")
def theo_frame(shared_dir) -> pd.DataFrame:
    return pd.read_csv(shared_dir / "data" / "theophylline.csv")


def one_cmt_oral(log_p: np.ndarray, dose: float, t: np.ndarray) -> np.ndarray:
    """Closed-form concentration after one oral dose at time 0 (``log_p = log ka, CL, V``)."""
    ka, cl, v = np.exp(log_p)
    ke = cl / v
    return dose * ka / (v * (ka - ke)) * (np.exp(-ke * t) - np.exp(-ka * t))


def theo_reference(dose: float, t: np.ndarray, dv: np.ndarray) -> OptimizeResult:
    """Ordinary least squares on the closed form, from the typical values (ka > ke)."""
    x0 = np.log(list(THEO_TYPICAL.values()))
    return least_squares(lambda x: one_cmt_oral(x, dose, t) - dv, x0, method="lm",
                         xtol=1e-12, ftol=1e-12, gtol=1e-12)


@pytest.mark.parametrize("ident", THEO_IDS)
def test_theophylline_ml_fit_matches_closed_form_least_squares(
        theo_cm: CompiledModel, theo_frame: pd.DataFrame, ident: int) -> None:
    subject = theo_frame[theo_frame.ID == ident]
    assert len(subject) == 12                    # one dose (CMT 1) and 11 levels (CMT 2)
    dose = float(subject.loc[subject.EVID == 1, "AMT"].item())
    obs = subject[subject.EVID == 0]
    t, dv = obs.TIME.to_numpy(float), obs.DV.to_numpy(float)

    fit = pkpd.fit_individual(theo_cm, subject, method="ml")
    ref = theo_reference(dose, t, dv)
    assert fit.success and ref.success, (fit.message, ref.message)

    # Both start at ka > ke; the one-compartment oral model is symmetric in ka and ke
    # (flip-flop), so check that both landed on that branch before comparing parameters.
    ka, cl, v = np.exp(ref.x)
    assert ka > cl / v
    assert fit.individual["KA"] > fit.individual["CL"] / fit.individual["V"]
    for name, value in zip(THEO_TYPICAL, (ka, cl, v), strict=True):
        assert fit.individual[name] == pytest.approx(value, rel=1e-5), name

    pred = fit.predictions
    np.testing.assert_array_equal(pred.TIME.to_numpy(float), t)
    np.testing.assert_array_equal(pred.DV.to_numpy(float), dv)
    ipred = pred.IPRED.to_numpy(float)
    np.testing.assert_allclose(ipred, one_cmt_oral(ref.x, dose, t), rtol=1e-5, atol=1e-6)

    ssr_ref = float(np.sum(ref.fun**2))
    assert np.sum((dv - ipred) ** 2) == pytest.approx(ssr_ref, rel=1e-9)
    # -2 log likelihood without the constant n log(2 pi)
    assert fit.ofv == pytest.approx(ssr_ref / THEO_SD**2 + 2 * len(dv) * np.log(THEO_SD),
                                    abs=1e-6)


# ---------------------------------------------------------------------------------------------
# warfarin
# ---------------------------------------------------------------------------------------------

WARF_ESTIMATED = {"CL": 0.13, "V": 8.0, "KA": 1.0, "EC50": 1.5, "E0": 96.0}   # typical values
WARF_FIXED = {"LAG": 0.75, "EMAX": 1.0, "TOUT": 16.0}                         # h, -, h
SD_CP, SD_PCA = 0.5, 4.0                          # mg/L and % of normal, additive
WARF_OUTPUTS = {1: "CP", 2: "PCA"}                # DVID -> output
WARF_ETAS = [f"eta_{p}" for p in WARF_ESTIMATED]


def warfarin_model() -> Model:
    mb = pkpd.ModelBuilder("warfarin_pk_turnover", time_unit="h")
    depot, central, pca = mb.states(depot="mg", central="mg", PCA="1")
    mb.parameters(TVCL="0.13 L/h", TVV="8 L", TVKA="1 1/h", TVEC50="1.5 mg/L", TVE0=96.0,
                  LAG="0.75 h", EMAX=1.0, TOUT="16 h")
    mb.etas(eta_CL=0.1, eta_V=0.1, eta_KA=0.5, eta_EC50=0.3, eta_E0=0.01)
    for p in WARF_ESTIMATED:
        mb.derive(p, f"TV{p} * exp(eta_{p})")
    mb.derive("KOUT", "1 / TOUT")
    mb.derive("KIN", "E0 * KOUT")
    mb.ode(depot, "-KA * depot")
    mb.ode(central, "KA * depot - CL / V * central")
    mb.ode(pca, "KIN * (1 - EMAX * (central / V) / (EC50 + central / V)) - KOUT * PCA")
    mb.initial(pca, "KIN / KOUT")
    mb.dosing(depot, lag="LAG")
    mb.output("CP", "central / V", unit="mg/L")
    mb.output("PCA", "PCA")
    mb.route("PO", depot)
    mb.error("CP", additive=SD_CP)
    mb.error("PCA", additive=SD_PCA)
    return mb.build()


@pytest.fixture(scope="module")
def warf_model() -> Model:
    return warfarin_model()


@pytest.fixture(scope="module")
def warf_cm(warf_model: Model) -> CompiledModel:
    return pkpd.compile_model(warf_model)


@pytest.fixture(scope="module")
def warf_frame(shared_dir) -> pd.DataFrame:
    return pd.read_csv(shared_dir / "data" / "warfarin.csv")


@pytest.fixture(scope="module")
def warf_subjects(warf_frame: pd.DataFrame) -> list[int]:
    """The first three IDs with at least 6 concentrations and 6 PCA levels (IDs 1, 2, 3).

    ID 1 has no baseline PCA and ID 2 no concentration before 24 h; all five parameters are
    still determined (log-scale SE at most about 0.3, for KA of ID 2), as checked below."""
    obs = warf_frame[(warf_frame.EVID == 0) & (warf_frame.MDV == 0)]
    counts = obs.groupby(["ID", "DVID"]).size().unstack(fill_value=0)
    rich = counts[(counts[1] >= 6) & (counts[2] >= 6)].index
    return [int(i) for i in rich[:3]]


def warf_simulate(log_p: np.ndarray, dose: float, t_cp: np.ndarray, t_pca: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
    """CP and PCA at the given times: baseline state from 0, the dose into the depot at LAG."""
    cl, v, ka, ec50, e0 = np.exp(log_p)
    lag, emax, kout = WARF_FIXED["LAG"], WARF_FIXED["EMAX"], 1.0 / WARF_FIXED["TOUT"]
    kin = e0 * kout

    def rhs(_t: float, a: np.ndarray) -> list[float]:
        c = a[1] / v
        return [-ka * a[0], ka * a[0] - cl / v * a[1],
                kin * (1 - emax * c / (ec50 + c)) - kout * a[2]]

    times = np.union1d(t_cp, t_pca)
    early, late = times[times < lag], times[times >= lag]
    state = np.array([0.0, 0.0, kin / kout])
    values = np.empty((3, len(times)))
    first = solve_ivp(rhs, (0.0, lag), state, method="LSODA", rtol=1e-10, atol=1e-12,
                      t_eval=[*early, lag])
    values[:, :len(early)] = first.y[:, :-1]
    state = first.y[:, -1] + [dose, 0.0, 0.0]
    second = solve_ivp(rhs, (lag, times[-1]), state, method="LSODA", rtol=1e-10, atol=1e-12,
                       t_eval=late)
    assert first.success and second.success
    values[:, len(early):] = second.y
    return (values[1, np.searchsorted(times, t_cp)] / v, values[2, np.searchsorted(times, t_pca)])


@pytest.mark.parametrize("k", range(3))
def test_warfarin_pkpd_ml_fit_matches_solve_ivp_least_squares(
        warf_cm: CompiledModel, warf_frame: pd.DataFrame, warf_subjects: list[int], k: int
) -> None:
    assert len(warf_subjects) == 3
    subject = warf_frame[warf_frame.ID == warf_subjects[k]]
    dose = float(subject.loc[subject.EVID == 1, "AMT"].item())
    cp = subject[(subject.EVID == 0) & (subject.DVID == 1)]
    pca = subject[(subject.EVID == 0) & (subject.DVID == 2)]
    t_cp, y_cp = cp.TIME.to_numpy(float), cp.DV.to_numpy(float)
    t_pca, y_pca = pca.TIME.to_numpy(float), pca.DV.to_numpy(float)

    def residuals(x: np.ndarray) -> np.ndarray:
        f_cp, f_pca = warf_simulate(x, dose, t_cp, t_pca)
        return np.r_[(y_cp - f_cp) / SD_CP, (y_pca - f_pca) / SD_PCA]

    fit = pkpd.fit_individual(warf_cm, subject, method="ml", outputs=WARF_OUTPUTS,
                              estimate=WARF_ETAS)
    # 3-point differences with a step well above the integration error: the Jacobian is
    # smooth to ~1e-5 relative
    ref = least_squares(residuals, np.log(list(WARF_ESTIMATED.values())), jac="3-point",
                        diff_step=1e-5, xtol=1e-12, ftol=1e-12, gtol=1e-12)
    assert fit.success and ref.success, (fit.message, ref.message)
    # every estimated parameter is determined by this subject's data (log-scale SE < 1)
    assert all(0 < se < 1 for se in fit.se.values()), fit.se

    for name, value in zip(WARF_ESTIMATED, np.exp(ref.x), strict=True):
        assert fit.individual[name] == pytest.approx(value, rel=1e-4), name
    ofv_ref = float(np.sum(ref.fun**2)) + 2 * (len(t_cp) * np.log(SD_CP)
                                                + len(t_pca) * np.log(SD_PCA))
    assert fit.ofv == pytest.approx(ofv_ref, abs=1e-6)

    # the predictions: outputs chosen by DVID, IPRED from an independent integration at the
    # same individual parameters (lag and baseline included; TIME 0 PCA levels are E0)
    pred = fit.predictions
    is_cp = (pred.DVID == 1).to_numpy()
    assert (pred.OUTPUT[is_cp] == "CP").all() and (pred.OUTPUT[~is_cp] == "PCA").all()
    np.testing.assert_array_equal(pred.TIME[is_cp].to_numpy(float), t_cp)
    np.testing.assert_array_equal(pred.TIME[~is_cp].to_numpy(float), t_pca)
    at_fit = np.log([fit.individual[p] for p in WARF_ESTIMATED])
    f_cp, f_pca = warf_simulate(at_fit, dose, t_cp, t_pca)
    np.testing.assert_allclose(pred.IPRED[is_cp].to_numpy(float), f_cp, rtol=1e-7, atol=1e-7)
    np.testing.assert_allclose(pred.IPRED[~is_cp].to_numpy(float), f_pca, rtol=1e-7)
    # levels before the lag time (e.g. the 0.5 h zeros) are predicted as exactly 0
    assert np.all(pred.IPRED[is_cp].to_numpy(float)[t_cp < WARF_FIXED["LAG"]] == 0.0)


def test_warfarin_reader_keeps_each_subject_records(warf_model: Model,
                                                    warf_frame: pd.DataFrame) -> None:
    raw = warf_frame
    counts = (raw[(raw.EVID == 0) & (raw.MDV == 0)].groupby(["ID", "DVID"]).size()
              .unstack(fill_value=0))
    assert len(counts) == 32
    for ident in raw.ID.unique():
        rows = raw[raw.ID == ident]
        data = pkpd.read_nonmem(rows, model=warf_model)
        assert data.ids.tolist() == [ident] and data.events.n_subjects == 1
        assert data.events.n_records == len(rows)
        doses = data.events.evid == 1
        np.testing.assert_array_equal(data.events.amt[doses],
                                      rows.loc[rows.EVID == 1, "AMT"].to_numpy(float))
        np.testing.assert_array_equal(data.events.time[doses],
                                      rows.loc[rows.EVID == 1, "TIME"].to_numpy(float))
        obs = data.observations
        assert (obs.ID == ident).all()
        assert (obs.DVID == 1).sum() == counts.loc[ident, 1]
        assert (obs.DVID == 2).sum() == counts.loc[ident, 2]
        raw_obs = rows[rows.EVID == 0]
        np.testing.assert_array_equal(obs.TIME.to_numpy(float), raw_obs.TIME.to_numpy(float))
        np.testing.assert_array_equal(obs.DV.to_numpy(float), raw_obs.DV.to_numpy(float))
        np.testing.assert_array_equal(obs.CMT.to_numpy(float), raw_obs.CMT.to_numpy(float))
