"""NCA of small tables against values worked out by hand from the definitions."""

from __future__ import annotations

import math

import pytest

from pkpd.noncompartmental import nca

from .frames import hand_fit, table

# an oral profile, dose 100 at TIME 0
T = [0, 1, 2, 4, 8, 12]
C = [0, 4, 6, 5, 3, 1.5]


def test_single_dose_table_by_hand():
    res = nca(table(T, C), dose=100, route="extravascular", auc_method="linear")
    row = res.iloc[0]
    assert (row["Cmax"], row["Tmax"], row["Clast"], row["Tlast"]) == (6, 2, 1.5, 12)
    # linear trapezoids: 1*(0+4)/2 + 1*(4+6)/2 + 2*(6+5)/2 + 4*(5+3)/2 + 4*(3+1.5)/2
    auc = 2 + 5 + 11 + 16 + 9
    assert row["AUClast"] == pytest.approx(auc, rel=1e-14)
    assert row["AUCall"] == pytest.approx(auc, rel=1e-14)
    # first moment: (t2 - t1) (t1 c1 + t2 c2) / 2 per segment
    aumc = (1 * (0 + 4) / 2 + 1 * (4 + 12) / 2 + 2 * (12 + 20) / 2 + 4 * (20 + 24) / 2
            + 4 * (24 + 18) / 2)
    assert row["AUMClast"] == pytest.approx(aumc, rel=1e-14)
    # lambda_z: the only candidates after Tmax are (4, 5), (8, 3), (12, 1.5): one 3-point fit
    lz, intercept, adj = hand_fit([4, 8, 12], [5, 3, 1.5])
    assert row["lambda_z"] == pytest.approx(lz, rel=1e-12)
    assert row["lambda_z_intercept"] == pytest.approx(intercept, rel=1e-12)
    assert row["lambda_z_adj_r2"] == pytest.approx(adj, rel=1e-12)
    assert (row["lambda_z_n_points"], row["lambda_z_t_first"], row["lambda_z_t_last"]) == (3, 4, 12)
    assert row["half_life"] == pytest.approx(math.log(2) / lz, rel=1e-12)
    clast_pred = math.exp(intercept - lz * 12)
    assert row["Clast_pred"] == pytest.approx(clast_pred, rel=1e-12)
    inf_obs = auc + 1.5 / lz
    inf_pred = auc + clast_pred / lz
    assert row["AUCinf_obs"] == pytest.approx(inf_obs, rel=1e-12)
    assert row["AUCinf_pred"] == pytest.approx(inf_pred, rel=1e-12)
    assert row["AUC_pct_extrap_obs"] == pytest.approx(100 * (1.5 / lz) / inf_obs, rel=1e-12)
    aumc_inf = aumc + 1.5 * 12 / lz + 1.5 / lz**2
    assert row["AUMCinf_obs"] == pytest.approx(aumc_inf, rel=1e-12)
    assert row["MRT"] == pytest.approx(aumc_inf / inf_obs, rel=1e-12)
    assert row["CL_F"] == pytest.approx(100 / inf_obs, rel=1e-12)
    assert row["Vz_F"] == pytest.approx(100 / (lz * inf_obs), rel=1e-12)
    assert row["Cmax_D"] == pytest.approx(6 / 100)
    assert row["AUClast_D"] == pytest.approx(auc / 100)


def test_log_down_by_hand():
    res = nca(table(T, C), dose=100, route="extravascular")
    # rising segments linear, falling ones (t2 - t1)(c1 - c2)/ln(c1/c2)
    auc = (1 * (0 + 4) / 2 + 1 * (4 + 6) / 2 + 2 * (6 - 5) / math.log(6 / 5)
           + 4 * (5 - 3) / math.log(5 / 3) + 4 * (3 - 1.5) / math.log(3 / 1.5))
    assert res.loc[0, "AUClast"] == pytest.approx(auc, rel=1e-14)

    def aumc_log(t1, c1, t2, c2):  # integral of t c1 exp(-k (t - t1)), k = ln(c1/c2)/(t2 - t1)
        k = math.log(c1 / c2) / (t2 - t1)
        return (t1 * c1 - t2 * c2) / k + (c1 - c2) / k**2

    aumc = (1 * (0 + 4) / 2 + 1 * (4 + 12) / 2 + aumc_log(2, 6, 4, 5) + aumc_log(4, 5, 8, 3)
            + aumc_log(8, 3, 12, 1.5))
    assert res.loc[0, "AUMClast"] == pytest.approx(aumc, rel=1e-13)


@pytest.mark.parametrize("c4, n_expected", [
    (7.0, 3),                                  # a point off the line: the 3-point fit wins
    (4 * math.exp(0.4) * (1 + 1e-6), 4),       # within the tolerance: most points wins
])
def test_best_fit_rule_by_hand(c4, n_expected):
    # after Tmax (2): 4 -> c4, then an exact exponential 4 exp(-0.2 (t - 6))
    t = [0, 1, 2, 4, 6, 8, 12]
    c = [0, 5, 8, c4, 4, 4 * math.exp(-0.4), 4 * math.exp(-1.2)]
    fits = {n: hand_fit(t[-n:], c[-n:]) for n in (3, 4)}
    best = max(f[2] for f in fits.values())
    ok = [n for n, f in fits.items() if f[0] > 0 and f[2] > best - 1e-4]
    assert max(ok) == n_expected                   # the rule, applied by hand
    res = nca(table(t, c), dose=10, route="extravascular")
    assert res.loc[0, "lambda_z_n_points"] == n_expected
    assert res.loc[0, "lambda_z"] == pytest.approx(fits[n_expected][0], rel=1e-10)
    assert res.loc[0, "lambda_z_adj_r2"] == pytest.approx(fits[n_expected][2], rel=1e-10)


def test_rising_tail_and_too_few_points_give_nan_with_a_reason():
    rising = nca(table([0, 1, 2, 4, 8, 12], [0, 5, 8, 4, 2, 6]), dose=10,
                 route="extravascular")
    row = rising.iloc[0]
    assert math.isnan(row["lambda_z"]) and math.isnan(row["AUCinf_obs"])
    assert math.isnan(row["CL_F"]) and row["lambda_z_n_points"] == 0
    assert "no terminal phase" in row["lambda_z_note"]
    assert row["AUClast"] > 0                           # what needs no lambda_z is there
    few = nca(table([0, 1, 2, 4, 8], [0, 5, 8, 4, 2]), dose=10, route="extravascular")
    assert math.isnan(few.loc[0, "lambda_z"])
    assert "too few points" in few.loc[0, "lambda_z_note"]
    assert "2 measurable after Tmax" in few.loc[0, "lambda_z_note"]


def test_user_chosen_lambda_z_points():
    t = [0, 1, 2, 4, 6, 8, 12]
    c = [0, 5, 8, 7, 4, 3, 1.6]
    last4 = nca(table(t, c), dose=10, route="extravascular", lambda_z=4)
    assert last4.loc[0, "lambda_z"] == pytest.approx(hand_fit(t[-4:], c[-4:])[0], rel=1e-12)
    window = nca(table(t, c), dose=10, route="extravascular", lambda_z=(2, 8))
    assert window.loc[0, "lambda_z"] == pytest.approx(hand_fit(t[2:6], c[2:6])[0], rel=1e-12)
    assert window.loc[0, "lambda_z_n_points"] == 4       # Tmax may be chosen by the user
    by_id = nca(table(t, c), dose=10, route="extravascular", lambda_z={1: None})
    assert math.isnan(by_id.loc[0, "lambda_z"])


def test_blq_rule_by_hand():
    # LLOQ 0.5: leading BLQ -> 0 kept, BLQ between measurable ones dropped, trailing -> 0
    t = [0, 0.5, 1, 2, 3, 4, 6, 8, 12, 24]
    c = [0.2, 0, 2, 5, 0.3, 4, 3, 1.2, 0.4, 0.1]
    res = nca(table(t, c), dose=10, route="extravascular", lloq=0.5, auc_method="linear")
    row = res.iloc[0]
    assert (row["Tlast"], row["Clast"], row["Cmax"], row["Tmax"]) == (8, 1.2, 5, 2)
    # 0 -> 0 -> 2 -> 5 -> (3 h dropped) -> 4 -> 3 -> 1.2
    auclast = 0.5 * 0 + 0.5 * (0 + 2) / 2 + 1 * (2 + 5) / 2 + 2 * (5 + 4) / 2 \
        + 2 * (4 + 3) / 2 + 2 * (3 + 1.2) / 2
    assert row["AUClast"] == pytest.approx(auclast, rel=1e-14)
    # AUCall goes on linearly to the first trailing zero: 4 * (1.2 + 0) / 2, then zeros
    assert row["AUCall"] == pytest.approx(auclast + 2.4, rel=1e-14)
    logdown = nca(table(t, c), dose=10, route="extravascular", lloq=0.5)
    assert logdown.loc[0, "AUCall"] - logdown.loc[0, "AUClast"] == pytest.approx(2.4)
    # lambda_z only on measurable points after Tmax: 4, 6, 8
    assert row["lambda_z"] == pytest.approx(hand_fit([4, 6, 8], [4, 3, 1.2])[0], rel=1e-12)


def test_steady_state_interval_by_hand():
    """Plain steady-state profile over tau = 12 with the pre-dose sample at 0."""
    t = [0, 1, 2, 4, 8, 12]
    c = [2, 8, 6, 4, 3, 2]
    res = nca(table(t, c), dose=100, route="extravascular", interval=(0, 12),
              steady_state=True, auc_method="linear")
    row = res.iloc[0]
    auc = 1 * (2 + 8) / 2 + 1 * (8 + 6) / 2 + 2 * (6 + 4) / 2 + 4 * (4 + 3) / 2 + 4 * (3 + 2) / 2
    cavg = auc / 12
    assert row["tau"] == 12 and bool(row["steady_state"])
    assert row["AUCtau"] == pytest.approx(auc, rel=1e-14)
    assert row["Cavg"] == pytest.approx(cavg, rel=1e-14)
    assert (row["Cmin"], row["Ctrough"], row["Cmax"]) == (2, 2, 8)
    assert row["fluctuation_pct"] == pytest.approx(100 * (8 - 2) / cavg, rel=1e-14)
    assert row["swing"] == pytest.approx((8 - 2) / 2, rel=1e-14)
    assert row["CLss_F"] == pytest.approx(100 / auc, rel=1e-14)
    assert math.isnan(row["CL_F"]) and math.isnan(row["MRT"])      # not after a single dose
    assert math.isnan(row["Rac"])                                   # no first dose observed
    # Tmax = 1: candidates 2, 4, 8, 12; the rule by hand on the fits of 3 and 4 points
    fits = {n: hand_fit(t[-n:], c[-n:]) for n in (3, 4)}
    best = max(f[2] for f in fits.values())
    n = max(k for k, f in fits.items() if f[0] > 0 and f[2] > best - 1e-4)
    lz = fits[n][0]
    assert row["lambda_z"] == pytest.approx(lz, rel=1e-12)
    assert row["Rac_lambda_z"] == pytest.approx(1 / (1 - math.exp(-lz * 12)), rel=1e-12)
    assert row["Vz_F"] == pytest.approx(100 / (lz * auc), rel=1e-12)
    # without the sample at tau, C(tau) is the pre-dose C(0) (steady state)
    short = nca(table(t[:-1], c[:-1]), dose=100, route="extravascular", interval=(0, 12),
                steady_state=True, auc_method="linear")
    assert short.loc[0, "AUCtau"] == pytest.approx(auc, rel=1e-14)
    assert "C(tau) taken as the pre-dose C(0)" in short.loc[0, "note"]
    # without the pre-dose sample, C(0) is C(tau)
    late = nca(table(t[1:], c[1:]), dose=100, route="extravascular", interval=(0, 12),
               steady_state=True, auc_method="linear")
    assert late.loc[0, "AUCtau"] == pytest.approx(auc, rel=1e-14)
    assert "C(0) taken as C(tau)" in late.loc[0, "note"]
