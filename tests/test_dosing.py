"""Dose optimisation (pkpd.dosing) against closed forms and independent simulations: the daily
AUC at steady state of a linear model is daily dose / CL, a chosen trough is checked on a fine
grid, and the posterior probability of target attainment is recomputed from the draws."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import pkpd
from pkpd.codegen import CompiledModel
from pkpd.dosing import AUC, Peak, TimeAbove, Trough, dose_grid, optimise
from pkpd.results import exposure, target_attainment

TEMPLATE = "{dose} IV over 1 h every {interval} for 10 days"
WINDOW = ("216 h", "240 h")     # the last day of 10 days: steady state within 0.3 %
CL = 5.0                        # models/two_cmt_oral.toml, typical clearance (L/h)
INTERVALS = ("6 h", "8 h", "12 h", "24 h")


@pytest.fixture(scope="module")
def cm() -> CompiledModel:
    return pkpd.compile_model(pkpd.load_model("two_cmt_oral"))


def daily_auc(dose_mg: float, tau_h: float, cl: float = CL) -> float:
    """AUC over 24 h at steady state of a linear model: dose * (24 / tau) / CL."""
    return dose_mg * (24.0 / tau_h) / cl


def test_dose_grid() -> None:
    grid = dose_grid("250 mg", "3 g", "250 mg")
    assert grid[0] == "250 mg" and grid[-1] == "3000 mg" and len(grid) == 12
    with pytest.raises(pkpd.RegimenError, match="step"):
        dose_grid("250 mg", "3 g", "0 mg")
    with pytest.raises(pkpd.UnitError):
        dose_grid("250 mg", "3 h", "250 mg")


def test_auc_target_matches_closed_form(cm: CompiledModel) -> None:
    doses = dose_grid("250 mg", "3000 mg", "250 mg")
    rec = optimise(cm, AUC(400, 600), template=TEMPLATE, window=WINDOW, doses=doses,
                   intervals=INTERVALS)
    table = rec.table
    assert len(table) == len(doses) * len(INTERVALS)
    mg = table["dose"].str.removesuffix(" mg").astype(float)
    tau = table["interval"].str.removesuffix(" h").astype(float)
    exact = daily_auc(mg, tau)
    np.testing.assert_allclose(table["value"], exact, rtol=5e-3)
    clear = (np.abs(exact - 400) > 5) & (np.abs(exact - 600) > 5)   # not on a boundary
    np.testing.assert_array_equal(table["hit"][clear], ((exact >= 400) & (exact <= 600))[clear])
    # the choice is the candidate whose closed-form AUC is nearest 500 (2500 mg a day)
    chosen = table["regimen"] == rec.regimen_text
    assert float(exact[chosen].iloc[0]) == pytest.approx(500.0)
    assert float(np.min(np.abs(exact - 500.0))) == 0.0
    assert rec.predicted == pytest.approx(500.0, rel=5e-3)
    assert rec.pta is None and rec.output == "CP"


def test_trough_target_checked_by_simulation(cm: CompiledModel) -> None:
    rec = optimise(cm, Trough(10, 15), template=TEMPLATE, window=WINDOW)
    ds = pkpd.simulate(cm, rec.regimen_text, times="216..240 h by 0.05 h")
    cp = ds["CP"].isel(id=0)
    trough = float(cp.sel(time=240.0))        # end of the last dosing interval
    tau = float(rec.interval.removesuffix(" h"))
    assert 10 <= trough <= 15
    assert rec.predicted == pytest.approx(trough, rel=1e-6)
    last = cp.sel(time=slice(240.0 - tau + 0.01, None))     # the last interval, after its dose
    assert trough == pytest.approx(float(last.min()), rel=1e-9)


def test_peak_and_time_above(cm: CompiledModel) -> None:
    rec = optimise(cm, Peak(20, 40), template=TEMPLATE, window=WINDOW,
                   doses=dose_grid("250 mg", "1500 mg", "250 mg"))
    ds = pkpd.simulate(cm, rec.regimen_text, times="216..240 h by 0.05 h")
    assert 20 <= float(ds["CP"].max()) <= 40
    rec = optimise(cm, TimeAbove("8 mg/L", 0.6), template=TEMPLATE, window=WINDOW,
                   doses=dose_grid("250 mg", "1500 mg", "250 mg"))
    fine = pkpd.simulate(cm, rec.regimen_text, times="216..240 h by 0.01 h")
    frac = float((fine["CP"] > 8.0).mean())
    assert frac >= 0.6 and rec.predicted == pytest.approx(frac, abs=5e-3)
    # the smallest daily dose that reaches the target: none of the cheaper ones does
    cheaper = rec.table[rec.table["daily_dose"] < rec.table["daily_dose"].iloc[0]]
    assert not cheaper["hit"].any()


def test_no_candidate_reaches_the_target(cm: CompiledModel) -> None:
    with pytest.raises(pkpd.RegimenError, match=r"no candidate reaches.*closest"):
        optimise(cm, AUC(400, 600), template=TEMPLATE, window=WINDOW,
                 doses=["10 mg", "20 mg"])


def test_bad_template_and_options(cm: CompiledModel) -> None:
    with pytest.raises(pkpd.RegimenError, match="placeholders"):
        optimise(cm, AUC(400, 600), template="{dose} IV q12h", window=WINDOW)
    with pytest.raises(pkpd.RegimenError, match="durations"):
        optimise(cm, AUC(400, 600), template=TEMPLATE.replace("1 h", "{duration}"),
                 window=WINDOW)
    with pytest.raises(pkpd.DataError, match="fit"):
        optimise(cm, AUC(400, 600), template=TEMPLATE, window=WINDOW, n=10)
    with pytest.raises(pkpd.DataError, match="low < high"):
        AUC(600, 400)


def test_durations(cm: CompiledModel) -> None:
    rec = optimise(cm, Peak(20, 40), template="{dose} IV over {duration} every {interval} "
                   "for 10 days", window=WINDOW, doses=["1000 mg"], intervals=("12 h",),
                   durations=("0.5 h", "2 h"))
    assert set(rec.table["duration"]) == {"0.5 h", "2 h"}
    longer = rec.table.set_index("duration")["value"]
    assert longer["2 h"] < longer["0.5 h"]       # a slower infusion lowers the peak


@pytest.fixture(scope="module")
def fit(cm: CompiledModel) -> pkpd.FitResult:
    """A patient with a 50 % higher clearance, four noise-free levels after 500 mg PO q12h."""
    times = np.array([2.0, 6.0, 11.5, 23.5])
    truth = pkpd.simulate(cm, "500 mg PO q12h x 2", params={"eta_CL": [np.log(1.5)]},
                          times=times)
    doses = pd.DataFrame({"ID": 1, "TIME": [0.0, 12.0], "AMT": 500.0, "EVID": 1, "CMT": 1,
                          "DV": np.nan, "MDV": 1})
    obs = pd.DataFrame({"ID": 1, "TIME": times, "AMT": 0.0, "EVID": 0, "CMT": 2,
                        "DV": truth["CP"].to_numpy()[0], "MDV": 0})
    data = pd.concat([doses, obs]).sort_values("TIME", kind="stable").reset_index(drop=True)
    return pkpd.fit_individual(cm, data)


def test_individual_prediction_and_pta(cm: CompiledModel, fit: pkpd.FitResult) -> None:
    doses = dose_grid("500 mg", "2500 mg", "500 mg")
    rec = optimise(cm, AUC(400, 600), template=TEMPLATE, window=WINDOW, doses=doses,
                   intervals=("12 h", "24 h"), fit=fit, n=200, seed=3)
    # the individual prediction follows the individual clearance
    cl = fit.individual["CL"]
    mg = float(rec.dose.removesuffix(" mg"))
    tau = float(rec.interval.removesuffix(" h"))
    assert rec.predicted == pytest.approx(daily_auc(mg, tau, cl), rel=5e-3)
    assert cl > 1.2 * CL
    # PTA recomputed from the same posterior draws with an independent simulate call
    draws = fit.sample(200, seed=3)
    ds = pkpd.simulate(cm, rec.regimen_text, params=draws, times=[216.0, 240.0], auc=True)
    auc24 = exposure(ds["CP"], start=216.0, end=240.0, accumulator=ds["AUC_CP"])["auc"]
    assert rec.pta == pytest.approx(float(target_attainment(auc24, above=400, below=600)))
    assert 0.0 < rec.pta <= 1.0
    assert rec.band == pytest.approx((float(auc24.quantile(0.05)), float(auc24.quantile(0.95))),
                                     rel=1e-9)
    assert rec.band[0] < rec.predicted < rec.band[1]
    # choosing by PTA never gives a lower PTA than the chosen regimen's
    by_pta = optimise(cm, AUC(400, 600), template=TEMPLATE, window=WINDOW, doses=doses,
                      intervals=("12 h", "24 h"), fit=fit, n=200, seed=3, by="pta")
    assert by_pta.pta is not None and by_pta.pta >= rec.pta
    assert by_pta.pta == pytest.approx(float(by_pta.table["pta"].max()))
    # posterior draws by importance resampling: the same check with those draws
    sir = optimise(cm, AUC(400, 600), template=TEMPLATE, window=WINDOW, doses=doses,
                   intervals=("12 h", "24 h"), fit=fit, n=200, seed=4, posterior="sir")
    ds = pkpd.simulate(cm, sir.regimen_text, params=fit.sample(200, seed=4, method="sir"),
                       times=[216.0, 240.0], auc=True)
    auc24 = exposure(ds["CP"], start=216.0, end=240.0, accumulator=ds["AUC_CP"])["auc"]
    assert sir.pta == pytest.approx(float(target_attainment(auc24, above=400, below=600)))


def test_continuing_the_history(cm: CompiledModel, fit: pkpd.FitResult) -> None:
    """start=: each candidate follows the fitted doses (500 mg PO at 0 and 12 h); its AUC24
    is that of the whole treatment written as one regimen, simulated independently."""
    doses = dose_grid("500 mg", "2000 mg", "500 mg")
    rec = optimise(cm, AUC(400, 600), template="{dose} PO every {interval} for 10 days",
                   window=("240 h", "264 h"), doses=doses, intervals=("12 h", "24 h"), fit=fit,
                   start="24 h")
    whole = pkpd.Regimen.parse("500 mg PO q12h x 2").then(
        pkpd.Regimen.parse(rec.regimen_text), after="12 h")
    ds = pkpd.simulate(cm, whole, params={k: [v] for k, v in fit.etas.items()},
                       times=[240.0, 264.0], auc=True)
    auc24 = float(ds["AUC_CP"][0, 1] - ds["AUC_CP"][0, 0])
    assert rec.predicted == pytest.approx(auc24, rel=1e-9)
    with pytest.raises(pkpd.DataError, match="continues the dose history of a fit"):
        optimise(cm, AUC(400, 600), template=TEMPLATE, window=WINDOW, start="24 h")
