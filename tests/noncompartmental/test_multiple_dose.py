"""Multiple doses and steady state against one-compartment closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pkpd.io.nonmem import read_nonmem
from pkpd.noncompartmental import nca

from .frames import nonmem, table

D, V, CL, TAU, N = 100.0, 10.0, 1.5, 12.0, 20
K = CL / V


def test_repeated_bolus_accumulation_and_steady_state():
    """20 boluses q12h (the last marked SS): C after dose j is a pure exponential, so every area
    is exact; Rac = AUCtau,ss / AUC(0, tau) after the first dose = 1 / (1 - exp(-k tau))."""
    s = np.array([0.5, 1, 2, 4, 6, 8, 12])
    last = (N - 1) * TAU
    doses = [{"ID": 1, "TIME": j * TAU, "AMT": D, "CMT": 1} for j in range(N - 1)]
    doses.append({"ID": 1, "TIME": last, "AMT": D, "CMT": 1, "SS": 1, "II": TAU})
    # superposition of the N doses (the SS record: infinitely many before it)
    first = D / V * np.exp(-K * s)
    ss = D / V * np.exp(-K * np.r_[s, 24, 36, 48]) / -math.expm1(-K * TAU)
    obs = [(1, t, c) for t, c in zip(s, first, strict=True)]
    obs += [(1, last + t, c) for t, c in zip(np.r_[s, 24, 36, 48], ss, strict=True)]
    res = nca(nonmem(doses, obs, obs_cmt=1))
    assert list(res["dose_number"]) == [1, N]              # only doses with samples after them
    one, st = res.iloc[0], res.iloc[1]
    assert list(res["route"]) == ["iv-bolus"] * 2
    assert (one["tau"], st["tau"]) == (TAU, TAU) and list(res["steady_state"]) == [False, True]
    acc = 1 / -math.expm1(-K * TAU)
    assert one["AUCtau"] == pytest.approx(D / CL / acc, rel=1e-10)
    assert st["AUCtau"] == pytest.approx(D / CL, rel=1e-10)
    assert st["Rac"] == pytest.approx(acc, rel=1e-10)
    assert st["Rac_lambda_z"] == pytest.approx(acc, rel=1e-10)
    assert one["Rac_lambda_z"] == pytest.approx(acc, rel=1e-10)
    assert st["Cavg"] == pytest.approx(D / (CL * TAU), rel=1e-10)
    assert st["CLss"] == pytest.approx(CL, rel=1e-10)
    assert st["lambda_z"] == pytest.approx(K, rel=1e-10)
    assert st["Vz"] == pytest.approx(V, rel=1e-10)
    assert st["C0"] == pytest.approx(D / V * acc, rel=1e-10)
    assert st["Cmin"] == st["Ctrough"] == pytest.approx(ss[6], rel=1e-14)
    # the first dose is a single dose: its own CL, Vz, MRT from AUCinf
    assert one["CL"] == pytest.approx(CL, rel=1e-10)
    assert one["MRT"] == pytest.approx(1 / K, rel=1e-10)
    assert math.isnan(st["CL"]) and math.isnan(st["MRT"]) and math.isnan(one["CLss"])


def oral_ss(s: np.ndarray, dose: float, v: float, cl: float, ka: float, tau: float) -> np.ndarray:
    """Steady state of q-tau oral doses (sum of the geometric series of each exponential)."""
    k = cl / v
    return dose * ka / (v * (ka - k)) * (np.exp(-k * s) / -np.expm1(-k * tau)
                                         - np.exp(-ka * s) / -np.expm1(-ka * tau))


def test_oral_steady_state_cavg_from_a_table_and_from_an_ss_record():
    dose, v, cl, ka, tau = 250.0, 40.0, 4.0, 1.1, 12.0
    s = np.arange(0.0, tau + 1e-9, 0.05)
    c = oral_ss(s, dose, v, cl, ka, tau)
    plain = nca(table(s, c), dose=dose, route="extravascular", interval=(0, tau),
                steady_state=True)
    frame = nonmem([{"ID": 7, "TIME": 0.0, "AMT": dose, "CMT": 1, "SS": 1, "II": tau}],
                   [(7, t, x) for t, x in zip(s, c, strict=True)])
    record = nca(read_nonmem(frame))
    for res in (plain, record):
        row = res.iloc[0]
        assert bool(row["steady_state"]) and row["tau"] == tau
        assert row["Cavg"] == pytest.approx(dose / (cl * tau), rel=1e-4)    # O(h^2)
        assert row["CLss_F"] == pytest.approx(cl, rel=1e-4)
        assert row["Cmin"] == pytest.approx(c.min(), rel=1e-14)
        assert row["Cmax"] == pytest.approx(c.max(), rel=1e-14)
        assert row["fluctuation_pct"] == pytest.approx(
            100 * (c.max() - c.min()) / (dose / (cl * tau)), rel=1e-4)
    assert record.loc[0, "ID"] == 7


def test_oral_accumulation_ratio_against_the_single_dose_profile():
    """First dose and steady state of an oral regimen (ADDL expanded): Rac from the areas equals
    the closed form AUC(0, inf) / AUC(0, tau) of one dose."""
    dose, v, cl, ka, tau = 100.0, 20.0, 2.0, 2.0, 8.0
    k = cl / v
    s = np.arange(0.0, tau + 1e-9, 0.02)
    single = dose * ka / (v * (ka - k)) * (np.exp(-k * s) - np.exp(-ka * s))
    ss = oral_ss(s, dose, v, cl, ka, tau)
    n = 30
    doses = [{"ID": 1, "TIME": 0.0, "AMT": dose, "CMT": 1, "II": tau, "ADDL": n - 2},
             {"ID": 1, "TIME": (n - 1) * tau, "AMT": dose, "CMT": 1, "SS": 1, "II": tau}]
    obs = [(1, t, x) for t, x in zip(s, single, strict=True)]
    obs += [(1, (n - 1) * tau + t, x) for t, x in zip(s[1:], ss[1:], strict=True)]
    res = nca(nonmem(doses, obs))
    assert list(res["dose_number"]) == [1, n]
    auc_single_tau = dose / cl * (1 - (ka * math.exp(-k * tau) - k * math.exp(-ka * tau))
                                  / (ka - k))
    assert res.loc[0, "AUCtau"] == pytest.approx(auc_single_tau, rel=1e-4)
    assert res.loc[1, "Rac"] == pytest.approx(dose / cl / auc_single_tau, rel=2e-4)
    assert res.loc[1, "note"].startswith("no sample at the dose time: C(0) taken as C(tau)")


def test_explicit_intervals_and_their_checks():
    s = np.array([0.0, 1, 2, 4, 8, 12, 24])
    c = 10 * np.exp(-0.1 * s)
    both = nca(table(s, c), dose=50, route="iv-bolus", interval=[(0, 12), (0, math.inf)])
    assert list(both["tau"].fillna(-1)) == [12.0, -1.0]
    assert both.loc[0, "AUCtau"] == pytest.approx(100 * -math.expm1(-1.2), rel=1e-12)
    assert math.isnan(both.loc[1, "AUCtau"])
    assert both.loc[0, "lambda_z"] == both.loc[1, "lambda_z"]


def test_infusion_dataset_steady_state(shared_dir):
    """Simulated 1-h infusions (120 subjects): the last dose is SS=1, II=24."""
    res = nca(shared_dir / "data" / "infusion_1cpt.csv")
    assert set(res["route"]) == {"iv-infusion"}
    st = res[res["steady_state"]]
    assert len(st) == 120 and (st["tau"] == 24).all()
    assert st["AUCtau"].notna().all() and st["CLss"].notna().all()
    first = res[res["dose_number"] == 1].set_index("ID")
    ratio = st.set_index("ID")["CLss"] / first["CL"]
    # linear kinetics: clearance at steady state equals the single-dose one (noisy data)
    assert 0.85 < ratio.median() < 1.15
    assert 0.85 < (st["Rac"] / st["Rac_lambda_z"]).median() < 1.15
    # intervals with only a trough sample keep their NaN areas, with the reason
    sparse = res[res["n_obs"] == 1]
    assert sparse["AUCtau"].isna().all()
    assert sparse["note"].str.contains("no sample at the dose time").all()
