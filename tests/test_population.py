"""Virtual populations against their published reference data; bootstrap of real datasets.

Reference values used here that are NOT in the shipped table (so they check the model, not the
transcription): CDC 2000 weight-for-age percentiles (wtage.csv) and a CDC stature-for-age row
between two tabulated ages; hand-computed values of the published covariate equations.
"""

from __future__ import annotations

from importlib.resources import files

import numpy as np
import pandas as pd
import pytest

import pkpd
from pkpd import DataError
from pkpd._kidney import _scr_q_height
from pkpd.population import (
    AGE_SPAN,
    COLUMNS,
    Population,
)

Z95 = 1.6448536269514722


def _table() -> pd.DataFrame:
    with files("pkpd").joinpath("_data/anthropometry.csv").open("r", encoding="utf-8") as fh:
        return pd.read_csv(fh, comment="#")


def _lms_at(L: float, M: float, S: float, z: float) -> float:
    return M * np.exp(S * z) if abs(L) < 1e-8 else M * (1 + L * S * z) ** (1 / L)


@pytest.fixture(scope="module")
def adults() -> pd.DataFrame:
    return Population.virtual("adult", age=(20, 90)).sample(200_000, seed=20240601)


@pytest.fixture(scope="module")
def children() -> pd.DataFrame:
    return Population.virtual("child").sample(200_000, seed=7)


# ---------------------------------------------------------------- the shipped table


def test_table_lms_reproduce_tabulated_percentiles() -> None:
    # children: L, M, S and P5, P95 are CDC's own numbers, so this checks the transcription;
    # adults: L, M, S were derived from P5/P50/P95, so this checks the derivation.
    for row in _table().itertuples():
        for what in ("ht", "bmi"):
            L, M, S = (getattr(row, f"{what}_{k}") for k in "LMS")
            # adult height is taken as normal: the report's P5/P95 are not symmetric about the
            # median, so the normal misses each by exactly |(P5 + P95)/2 - median| (at most
            # 1.3 cm in the table; 1e-3 cm more for the 6-decimal S)
            tol = {"rel": 2e-3}
            if (row.kind, what) == ("adult", "ht"):
                asym = abs((row.ht_P5 + row.ht_P95) / 2 - row.ht_M)
                assert asym <= 1.3 + 1e-9, row
                tol = {"abs": asym + 1e-3}
            for z, col in ((-Z95, "P5"), (Z95, "P95")):
                ref = getattr(row, f"{what}_{col}")
                assert _lms_at(L, M, S, z) == pytest.approx(ref, **tol), (row, what, col)


def test_table_covers_both_sexes_and_the_age_spans() -> None:
    t = _table()
    for kind, (lo, hi) in AGE_SPAN.items():
        for sex in (0, 1):
            ages = t[(t.kind == kind) & (t.sex == sex)].age_months / 12
            assert len(ages) >= 7
            if kind == "child":  # interpolation, never extrapolation, for children
                assert ages.min() <= lo and ages.max() >= hi


# ---------------------------------------------------------------- adult marginals


ADULT_BANDS = [(20, 30, 300), (30, 40, 420), (40, 50, 540), (50, 60, 660), (60, 70, 780),
               (70, 80, 900), (80, 90, 1020)]


@pytest.mark.parametrize("sex", [0, 1])
@pytest.mark.parametrize("lo,hi,months", ADULT_BANDS)
def test_adult_height_and_bmi_percentiles_match_nhanes_table(adults: pd.DataFrame, sex: int,
                                                             lo: int, hi: int,
                                                             months: int) -> None:
    # ~14 000 subjects per cell: sampling SE of a percentile is < 0.15 cm / 0.15 kg/m2. The
    # table's values sit at each age group's middle and are interpolated linearly, so a group
    # average departs from them by about an eighth of the summed changes to the neighbouring
    # groups (< 0.9 cm, < 0.75 kg/m2 in this table). Tolerances: 1.0 cm and 0.8 kg/m2 (1.2 at
    # P95, where BMI is most spread and interpolation of the skewed tail is least linear).
    # Height is normal, so its P5/P95 also miss the report's asymmetric ones by
    # |(P5 + P95)/2 - median| (up to 1.3 cm), added to their tolerance.
    t = _table()
    ref = t[(t.kind == "adult") & (t.sex == sex) & (t.age_months == months)].iloc[0]
    g = adults[(adults.SEX == sex) & (adults.AGE >= lo) & (adults.AGE < hi)]
    assert len(g) > 10_000
    p5, p50, p95 = np.percentile(g.HT, [5, 50, 95])
    tail = 1.0 + abs((ref.ht_P5 + ref.ht_P95) / 2 - ref.ht_M)
    assert p5 == pytest.approx(ref.ht_P5, abs=tail)
    assert p50 == pytest.approx(ref.ht_M, abs=1.0)
    assert p95 == pytest.approx(ref.ht_P95, abs=tail)
    # height SD from the tabulated spread, SD = (P95 - P5) / 3.29, within 5 %
    assert g.HT.std() == pytest.approx((ref.ht_P95 - ref.ht_P5) / (2 * Z95), rel=0.05)
    b5, b50, b95 = np.percentile(g.BMI, [5, 50, 95])
    assert b5 == pytest.approx(ref.bmi_P5, abs=0.8)
    assert b50 == pytest.approx(ref.bmi_M, abs=0.8)
    assert b95 == pytest.approx(ref.bmi_P95, abs=1.2)
    # weight is derived: its median follows from the BMI and height medians within 4 %
    assert np.median(g.WT) == pytest.approx(ref.bmi_M * (ref.ht_M / 100) ** 2, rel=0.04)


# NHANES August 2021-August 2023 adult weight (kg), P5, P50, P95: Table 3 of Fryar CD et al.,
# Vital Health Stat 3(50), 2025 (DOI 10.15620/cdc/174595), the report whose Tables 7 and 10 give
# the shipped height and BMI; weight itself is not in the shipped table.
NHANES_WEIGHT = {
    1: [(57.0, 83.7, 128.3), (63.6, 87.1, 132.5), (66.0, 88.4, 141.9), (61.0, 87.8, 138.7),
        (62.6, 86.9, 123.9), (60.8, 86.6, 121.3), (58.0, 79.9, 108.5)],
    0: [(47.6, 68.9, 121.3), (51.4, 75.0, 125.9), (52.8, 74.8, 123.7), (53.1, 78.5, 121.4),
        (51.6, 74.3, 109.3), (49.8, 71.7, 103.5), (46.8, 65.7, 94.2)],
}


@pytest.mark.parametrize("sex", [0, 1])
@pytest.mark.parametrize("band", range(7))
def test_adult_weight_matches_nhanes_table(adults: pd.DataFrame, sex: int, band: int) -> None:
    # Weight is BMI * height^2 with BMI drawn independently of height: against the report's
    # own weight percentiles it comes out within 3 % at the median and 5 % at P5/P95, on top
    # of the report's sampling error (150-810 examined people per cell; the standard error of
    # its mean weight is 1-3 %, larger in the tails). Tolerances 4 % / 7 %.
    lo, hi, _ = ADULT_BANDS[band]
    g = adults[(adults.SEX == sex) & (adults.AGE >= lo) & (adults.AGE < hi)]
    p5, p50, p95 = np.percentile(g.WT, [5, 50, 95])
    r5, r50, r95 = NHANES_WEIGHT[sex][band]
    assert p50 == pytest.approx(r50, rel=0.04)
    assert p5 == pytest.approx(r5, rel=0.07)
    assert p95 == pytest.approx(r95, rel=0.07)


# ---------------------------------------------------------------- children marginals


@pytest.mark.parametrize("sex", [0, 1])
@pytest.mark.parametrize("months", [48.5, 96.5, 144.5, 192.5])
def test_child_height_and_bmi_percentiles_match_cdc(sex: int, months: float) -> None:
    # a narrow age window (+/- 0.1 y) around a tabulated CDC age; ~10 000 subjects per sex:
    # sampling SE < 0.1 cm for height; growth within the window is near linear and averages
    # out. BMI P95 lies on the steep part of the skewed curve: SE up to 0.15 kg/m2, and the
    # truncation of z at +/-3 lowers it by up to 0.1 kg/m2, hence 0.6 there.
    age = months / 12
    pop = Population.virtual("child", age=(age - 0.1, age + 0.1))
    g = pop.sample(20_000, seed=int(months * 10) + sex)
    g = g[g.SEX == sex]
    t = _table()
    ref = t[(t.kind == "child") & (t.sex == sex) & (t.age_months == months)].iloc[0]
    p5, p50, p95 = np.percentile(g.HT, [5, 50, 95])
    assert (p5, p50, p95) == pytest.approx((ref.ht_P5, ref.ht_M, ref.ht_P95), abs=0.6)
    b = np.percentile(g.BMI, [5, 50, 95])
    assert b[0] == pytest.approx(ref.bmi_P5, abs=0.3)
    assert b[1] == pytest.approx(ref.bmi_M, abs=0.3)
    assert b[2] == pytest.approx(ref.bmi_P95, abs=0.6)


@pytest.mark.parametrize("sex,median", [(1, 152.6623878), (0, 154.755501)])
def test_child_height_between_tabulated_ages_matches_cdc_monthly_value(sex: int,
                                                                       median: float) -> None:
    # CDC statage.csv, Agemos 150.5 (12.54 y): not in the shipped table (which has 144.5 and
    # 156.5). Linear interpolation of L, M, S misses it by < 0.3 cm; sampling SE ~0.1 cm.
    age = 150.5 / 12
    g = Population.virtual("child", age=(age - 0.05, age + 0.05)).sample(20_000, seed=3)
    assert np.median(g.HT[g.SEX == sex]) == pytest.approx(median, abs=0.5)


# CDC 2000 weight-for-age (wtage.csv) P5, P50, P95 in kg: independent of the shipped table
CDC_WEIGHT = {(1, 120.5): (24.94392079, 32.08799062, 46.15753154),
              (1, 180.5): (43.01505816, 56.49095862, 78.82658994),
              (0, 120.5): (24.86516468, 33.06392318, 48.17500585),
              (0, 180.5): (40.76838955, 52.13568193, 75.82804673)}


@pytest.mark.parametrize("sex,months", list(CDC_WEIGHT))
def test_child_weight_matches_cdc_weight_for_age(sex: int, months: float) -> None:
    # Weight is not tabulated: it is BMI * height^2 with BMI drawn independently of height.
    # Against CDC's own weight-for-age curves this is honest to ~3 % at the median and ~6 %
    # at P5/P95 (the tails are where the independence assumption shows). Tolerances 4 % / 8 %.
    age = months / 12
    g = Population.virtual("child", age=(age - 0.1, age + 0.1)).sample(20_000, seed=11)
    p5, p50, p95 = np.percentile(g.WT[g.SEX == sex], [5, 50, 95])
    r5, r50, r95 = CDC_WEIGHT[(sex, months)]
    assert p50 == pytest.approx(r50, rel=0.04)
    assert p5 == pytest.approx(r5, rel=0.08)
    assert p95 == pytest.approx(r95, rel=0.08)


def test_children_grow_with_age_and_have_plausible_kidney_function(
        children: pd.DataFrame) -> None:
    by_year = children.groupby([children.SEX, children.AGE.astype(int)]).HT.median()
    for sex in (0, 1):
        assert np.all(np.diff(by_year[sex].to_numpy()) > 0)
    # bedside Schwartz eGFR of healthy children: ~90-130 typical; nothing below 50 or above 260
    p5, p50, p95 = np.percentile(children.EGFR, [5, 50, 95])
    assert 80 < p5 and 95 < p50 < 135 and p95 < 170
    assert children.EGFR.between(50, 260).all()
    assert children.CRCL.isna().all()  # Cockcroft-Gault is not defined for children


def test_pottel_height_q_agrees_with_age_q_at_cdc_median_heights() -> None:
    # Two published forms of the children's median SCR: by height (Hoste 2014) and by age,
    # Q = 0.0270 * age + 0.2329 (Pottel 2016). At the CDC median height of each age from 2 to
    # 13 years they agree within 4 % (from 14 years on, boys' pubertal growth makes them part).
    t = _table()
    for row in t[(t.kind == "child") & (t.age_months <= 13 * 12 + 1)].itertuples():
        age = row.age_months / 12
        q_age = 0.0270 * age + 0.2329
        assert _scr_q_height(np.array(row.ht_M / 100)) == pytest.approx(q_age, rel=0.05), row


# ---------------------------------------------------------------- correlations and ranges


def test_adult_correlations_and_physiological_ranges(adults: pd.DataFrame) -> None:
    assert list(adults.columns) == list(COLUMNS)
    assert adults.notna().all().all()
    men, women = adults[adults.SEX == 1], adults[adults.SEX == 0]
    for g in (men, women):
        assert np.corrcoef(g.HT, g.WT)[0, 1] > 0.25
    assert 10 < men.HT.mean() - women.HT.mean() < 16
    assert men.WT.mean() > women.WT.mean()
    assert adults.HT.between(130, 215).all() and adults.WT.between(25, 250).all()
    # SCR: the widest adult rows (85-90 y, L about -2) reach 2.9 mg/dL at z = 3 (the tail rule)
    assert adults.BMI.between(12, 75).all() and adults.SCR.between(0.4, 3.0).all()
    # the heaviest draws (BMI P95 45 kg/m2 in men of 40-49 y) reach 200 cm and 220 kg: BSA 3.5
    assert adults.BSA.between(1.0, 3.6).all() and (adults.CRCL > 0).all()
    decade = adults.groupby(adults.AGE // 10)
    assert np.all(np.diff(decade.CRCL.median().to_numpy()) < 0)
    assert np.all(np.diff(decade.EGFR.median().to_numpy()) < 0)
    assert adults[["AGE", "CRCL"]].corr(method="spearman").iloc[0, 1] < -0.4
    # SCR is higher in men and rises with age (its reference percentiles are checked in
    # tests/test_population_kidney.py)
    assert np.median(men.SCR) > np.median(women.SCR) + 0.1
    assert decade.SCR.median().iloc[-1] > decade.SCR.median().iloc[0]


def test_derived_columns_follow_the_published_equations(adults: pd.DataFrame,
                                                        children: pd.DataFrame) -> None:
    a = adults.iloc[:2000]
    female = a.SEX == 0
    np.testing.assert_allclose(a.BMI, a.WT / (a.HT / 100) ** 2, rtol=1e-12)
    np.testing.assert_allclose(a.BSA, np.sqrt(a.HT * a.WT / 3600), rtol=1e-12)
    np.testing.assert_allclose(a.CRCL, (140 - a.AGE) * a.WT / (72 * a.SCR)
                               * np.where(female, 0.85, 1.0), rtol=1e-12)
    kappa = np.where(female, 0.7, 0.9)
    alpha = np.where(female, -0.241, -0.302)
    r = a.SCR / kappa
    egfr = (142 * np.minimum(r, 1) ** alpha * np.maximum(r, 1) ** -1.2 * 0.9938 ** a.AGE
            * np.where(female, 1.012, 1.0))
    np.testing.assert_allclose(a.EGFR, egfr, rtol=1e-12)
    c = children.iloc[:2000]
    np.testing.assert_allclose(c.EGFR, 0.413 * c.HT / c.SCR, rtol=1e-12)


# ---------------------------------------------------------------- determinism


def test_same_seed_same_frame_different_seed_different_frame() -> None:
    pop = Population.virtual("adult")
    a = pop.sample(500, seed=42)
    pd.testing.assert_frame_equal(a, pop.sample(500, seed=42))
    pd.testing.assert_frame_equal(a, pop.sample(500, rng=np.random.default_rng(42)))
    assert not pop.sample(500, seed=43).equals(a)
    # row i depends only on draw i: a shorter sample is a prefix
    pd.testing.assert_frame_equal(a.iloc[:100], pop.sample(100, seed=42))


def test_first_rows_are_stable_across_releases() -> None:
    # guards the documented draw order (sex, age, z-height, z-BMI, z-SCR per subject): the
    # values follow from numpy's PCG64 stream, recomputed here without the population module
    u = np.random.default_rng(5).random((3, 5))
    f = Population.virtual("adult", age=(30, 40), sex_ratio=0.5).sample(3, seed=5)
    np.testing.assert_array_equal(f.SEX, (u[:, 0] < 0.5).astype(int))
    np.testing.assert_allclose(f.AGE, 30 + 10 * u[:, 1], rtol=1e-15)
    # SCR is monotone in its own uniform (the fifth): its order follows u[:, 4] among
    # same-sex subjects of near age, and an independent LMS evaluation reproduces it
    from scipy.special import ndtr, ndtri

    t = pd.read_csv(files("pkpd").joinpath("_data/creatinine.csv").open("r", encoding="utf-8"),
                    comment="#")
    lo = ndtr(-3.0)
    z = ndtri(lo + u[:, 4] * (1 - 2 * lo))
    for i in range(3):
        rows = t[t.sex == f.SEX[i]].sort_values("age_years")
        L, M, S = (np.interp(f.AGE[i], rows.age_years, rows[f"scr_{k}"]) for k in "LMS")
        if abs(z[i]) <= 2:
            assert f.SCR[i] == pytest.approx(_lms_at(L, M, S, z[i]), rel=1e-12)


def test_sex_ratio() -> None:
    assert (Population.virtual(sex_ratio=0).sample(1000, seed=1).SEX == 0).all()
    assert (Population.virtual(sex_ratio=1).sample(1000, seed=1).SEX == 1).all()
    frac = Population.virtual(sex_ratio=0.3).sample(20_000, seed=1).SEX.mean()
    assert frac == pytest.approx(0.3, abs=0.015)


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize("kwargs,match", [
    ({"kind": "infant"}, "kind"),
    ({"kind": "adult", "age": (10, 40)}, "18-90"),
    ({"kind": "adult", "age": (18, 95)}, "18-90"),
    ({"kind": "child", "age": (1, 10)}, "2-18"),
    ({"kind": "adult", "age": (50, 40)}, "increasing"),
    ({"kind": "adult", "age": "old"}, "age"),
    ({"kind": "adult", "sex_ratio": 1.5}, "sex_ratio"),
    ({"kind": "adult", "sex_ratio": -0.1}, "sex_ratio"),
    ({"kind": "adult", "sex_ratio": float("nan")}, "sex_ratio"),
])
def test_bad_virtual_arguments(kwargs: dict, match: str) -> None:
    with pytest.raises(DataError, match=match):
        Population.virtual(**kwargs)


@pytest.mark.parametrize("n", [-1, 2.5, "10", True])
def test_bad_n(n: object) -> None:
    with pytest.raises(DataError, match="n:"):
        Population.virtual().sample(n, seed=1)  # type: ignore[arg-type]


def test_sampling_argument_errors() -> None:
    pop = Population.virtual()
    assert len(pop.sample(0, seed=1)) == 0
    with pytest.raises(DataError, match="number of subjects"):
        pop.sample(seed=1)
    with pytest.raises(DataError, match="not both"):
        pop.sample(3, seed=1, rng=np.random.default_rng(1))
    with pytest.raises(DataError, match="seed"):
        pop.sample(3, seed=-4)


# ---------------------------------------------------------------- tables and bootstrap


def test_from_table_resamples_whole_rows() -> None:
    src = {"ID": [7, 8, 9], "WT": [50.0, 70.0, 90.0], "AGE": [30, 40, 50]}
    pop = Population.from_table(src)
    assert pop.columns == ("ID", "WT", "AGE") and len(pop) == 3
    allrows = pop.sample()
    assert allrows.ID.tolist() == [1, 2, 3] and allrows.WT.tolist() == [50, 70, 90]
    s = pop.sample(300, seed=2)
    assert s.ID.tolist() == list(range(1, 301))
    pairs = set(zip(src["WT"], src["AGE"], strict=True))
    assert set(zip(s.WT, s.AGE, strict=True)) == pairs  # all 3 appear in 300 draws
    pd.testing.assert_frame_equal(s, pop.sample(300, seed=2))


@pytest.mark.parametrize("table,match", [
    ({"WT": [70.0, float("nan")]}, "row 2"),
    ({"WT": [70.0, "heavy"]}, "'WT'"),
    ({"WT": []}, "at least one"),
    ({"WT": [1.0, 2.0], "AGE": [3.0]}, "same length"),
    ([1, 2, 3], "DataFrame"),
])
def test_from_table_errors(table: object, match: str) -> None:
    with pytest.raises(DataError, match=match):
        Population.from_table(table)  # type: ignore[arg-type]


def test_bootstrap_dataframe_takes_first_record_per_subject() -> None:
    # subject 1's weight changes over time; its baseline (first record) is 60
    df = pd.DataFrame({"id": [1, 1, 2, 2, 3], "TIME": [0, 24, 0, 12, 0], "DV": [0, 1, 0, 2, 0],
                       "WT": [60, 65, 80, 80, 100], "SEX": [0, 0, 1, 1, 1]})
    pop = Population.bootstrap(df)  # id column matched case-insensitively
    assert pop.columns == ("ID", "WT", "SEX")
    assert pop.sample().WT.tolist() == [60, 80, 100]
    s = pop.sample(200, seed=9)
    assert set(zip(s.WT, s.SEX, strict=True)) <= {(60, 0), (80, 1), (100, 1)}
    assert Population.bootstrap(df, covariates=["WT"]).columns == ("ID", "WT")
    with pytest.raises(DataError, match="'HT'"):
        Population.bootstrap(df, covariates=["HT"])
    with pytest.raises(DataError, match="subject column 'SUBJ'"):
        Population.bootstrap(df, id_column="SUBJ")
    bad = df.assign(WT=[np.nan, 65, 80, 80, 100])
    with pytest.raises(DataError, match="subject 1, column 'WT'"):
        Population.bootstrap(bad)


def test_bootstrap_warfarin_rows_are_source_subjects(shared_dir) -> None:
    path = shared_dir / "data" / "warfarin.csv"
    data = pkpd.read_nonmem(path)
    pop = Population.bootstrap(data)
    assert pop.columns == ("ID", "WT", "AGE", "SEX") and len(pop) == 32
    # the source subjects, read independently of pkpd
    raw = pd.read_csv(path).drop_duplicates("ID")
    source = set(zip(raw.WT, raw.AGE, raw.SEX, strict=True))
    s = pop.sample(1000, seed=123)
    assert s.ID.tolist() == list(range(1, 1001))
    rows = set(zip(s.WT, s.AGE, s.SEX, strict=True))
    assert rows <= source and len(rows) > 25
    assert set(zip(*(pop.sample()[c] for c in ("WT", "AGE", "SEX")), strict=True)) == source
