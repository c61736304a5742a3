"""pkpd.pbpk.physiology: flows balance, volumes add up to the body, scaling with the patient,
and the published formulas (Du Bois BSA, Simcyp adult cardiac output, Johnson 2005 liver
volume, Nadler 1962 blood volume, Janmahasatian 2005 fat-free mass) written out here."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pkpd.errors import DataError
from pkpd.pbpk import RETURNING, physiology

SYSTEMIC = ("adipose", "bone", "brain", "gut", "heart", "kidney", "muscle", "skin", "spleen",
            "rest")
VOLUMES = ("adipose", "bone", "brain", "gut", "heart", "kidney", "liver", "lung", "muscle",
           "skin", "spleen", "rest", "blood")

patients = st.tuples(st.sampled_from([0, 1]), st.floats(20, 80), st.floats(150, 200),
                     st.floats(45, 150))


@settings(max_examples=20, deadline=None)
@given(patients)
def test_cardiac_output_is_the_venous_return(p) -> None:
    """All blood leaving the heart comes back: CO = sum of the flows draining into the venous
    blood (the liver carrying hepatic artery, gut and spleen) = sum of the arterial flows."""
    phys = physiology(*p)
    q = {k: v for k, (v, _) in phys.items()}
    co = q["CO"]
    venous_return = sum(q[f"Q_{t.upper()}"] for t in RETURNING)
    arterial = sum(q[f"Q_{t.upper()}"] for t in SYSTEMIC) + q["Q_HA"]
    assert venous_return == pytest.approx(co, rel=1e-12)
    assert arterial == pytest.approx(co, rel=1e-12)
    assert q["Q_LIVER"] == pytest.approx(q["Q_HA"] + q["Q_GUT"] + q["Q_SPLEEN"], rel=1e-12)
    assert all(v > 0 for k, v in q.items() if k.startswith(("Q_", "V_")))


@settings(max_examples=20, deadline=None)
@given(patients)
def test_volumes_add_up_to_the_body(p) -> None:
    """The organ volumes (density 1 kg/L) and blood make up 85-115 % of the body weight (the
    reference adults of ICRP 89: 97-99 %), and the venous blood is two thirds of it."""
    phys = physiology(*p)
    total = sum(phys[f"V_{t.upper()}"][0] for t in VOLUMES)
    assert 0.85 <= total / p[3] <= 1.15, total / p[3]
    fat = max(p[3] - phys["FFM"][0], 0.03 * p[3])   # fat mass, at least 3 % of the weight
    assert phys["V_ADIPOSE"][0] > fat
    assert phys["V_VEN"][0] == pytest.approx(2 * phys["V_BLOOD"][0] / 3, rel=1e-12)


@pytest.mark.parametrize("sex", [0, 1])
def test_reference_adults(sex: int) -> None:
    """At the ICRP 89 reference adult (male 176 cm 73 kg, female 163 cm 60 kg) the lean and
    fat scalings are 1: muscle and adipose are the ICRP 89 masses (Table 2.8: male 29.0 and
    18.2 kg, female 17.5 and 22.5 kg), and the body adds up to within 3 % of the weight."""
    ht, wt = (176.0, 73.0) if sex else (163.0, 60.0)
    phys = physiology(sex, 35, ht, wt)
    muscle, adipose = (29.0, 18.2) if sex else (17.5, 22.5)
    assert phys["V_MUSCLE"][0] == pytest.approx(muscle, rel=1e-9)
    assert phys["V_ADIPOSE"][0] == pytest.approx(adipose, rel=1e-9)
    total = sum(phys[f"V_{t.upper()}"][0] for t in VOLUMES)
    assert total == pytest.approx(wt, rel=0.03)


def test_published_formulas() -> None:
    """The formulas, written out here from their papers, for one patient (woman, 52 y,
    158 cm, 81 kg)."""
    sex, age, ht, wt = 0, 52.0, 158.0, 81.0
    phys = physiology(sex, age, ht, wt)
    bsa = 0.007184 * wt**0.425 * ht**0.725                      # Du Bois 1916
    assert phys["BSA"][0] == pytest.approx(bsa, rel=1e-12)
    assert phys["CO"][0] == pytest.approx(bsa * 60 * (3.0 - 0.01 * (age - 20)), rel=1e-12)
    assert phys["V_LIVER"][0] == pytest.approx(0.722 * bsa**1.176, rel=1e-12)   # Johnson 2005
    h = ht / 100                                                  # Nadler 1962, women
    assert phys["V_BLOOD"][0] == pytest.approx(0.3561 * h**3 + 0.03308 * wt + 0.1833,
                                               rel=1e-12)
    bmi = wt / h**2                                               # Janmahasatian 2005, women
    assert phys["FFM"][0] == pytest.approx(9270 * wt / (8780 + 244 * bmi), rel=1e-12)
    # ICRP 89 flow fractions of the reference female: brain 12 %, kidneys 17 %
    assert phys["Q_BRAIN"][0] == pytest.approx(0.12 * phys["CO"][0], rel=1e-12)
    assert phys["Q_KIDNEY"][0] == pytest.approx(0.17 * phys["CO"][0], rel=1e-12)
    assert phys["V_BRAIN"][0] == pytest.approx(1.3, rel=1e-12)


@settings(max_examples=15, deadline=None)
@given(patients, st.floats(1.05, 1.5))
def test_physiology_scales_with_the_patient(p, factor) -> None:
    """A heavier patient (same sex, age, height) has larger organs (all but the brain), more
    blood and larger flows; an older one a smaller cardiac output."""
    sex, age, ht, wt = p
    light, heavy = physiology(sex, age, ht, wt), physiology(sex, age, ht, wt * factor)
    for t in VOLUMES:
        if t != "brain":
            assert heavy[f"V_{t.upper()}"][0] > light[f"V_{t.upper()}"][0], t
    for name in ("CO", "Q_LIVER", "Q_MUSCLE", "Q_KIDNEY"):
        assert heavy[name][0] > light[name][0]
    assert physiology(sex, age + 10, ht, wt)["CO"][0] < light["CO"][0]
    assert physiology(sex, age + 10, ht, wt)["CO"][0] == pytest.approx(
        light["CO"][0] - 6.0 * light["BSA"][0], rel=1e-12)


def test_units_and_errors() -> None:
    phys = physiology(1, 40, 180, 80)
    assert phys["CO"][1] == "L/h" and phys["V_LIVER"][1] == "L" and phys["BSA"][1] == "m^2"
    with pytest.raises(DataError, match="age"):
        physiology(1, 5, 120, 20)
    with pytest.raises(DataError, match="weight"):
        physiology(1, 40, 180, math.nan)


# ICRP 89 Table 2.40 (% of cardiac output; male, female): fat, brain, stomach and oesophagus,
# small intestine, large intestine, coronary, kidneys, hepatic artery, skeletal muscle, pancreas,
# skeleton, skin, spleen
ICRP_FLOWS = {"adipose": (5.0, 8.5), "brain": (12.0, 12.0), "gut": (1 + 10 + 4 + 1, 1 + 11 + 5 + 1),
              "heart": (4.0, 5.0), "kidney": (19.0, 17.0), "HA": (6.5, 6.5),
              "muscle": (17.0, 12.0), "bone": (5.0, 5.0), "skin": (5.0, 5.0),
              "spleen": (3.0, 3.0)}
# ICRP 89 Table 2.8 (g; male, female): skeleton, kidneys, spleen, skin, heart tissue, lung tissue
ICRP_MASSES = {"bone": (10500, 7800), "kidney": (310, 275), "spleen": (150, 130),
               "skin": (3300, 2300), "heart": (330, 250), "lung": (500, 420)}


@pytest.mark.parametrize("sex", [1, 0])
def test_icrp89_values_of_the_reference_adults(sex: int) -> None:
    ht, wt = (176.0, 73.0) if sex else (163.0, 60.0)
    phys = physiology(sex, 35, ht, wt)
    co = phys["CO"][0]
    col = 0 if sex else 1
    for tissue, pct in ICRP_FLOWS.items():
        assert phys[f"Q_{tissue.upper()}"][0] / co == pytest.approx(pct[col] / 100, rel=1e-12)
    for tissue, grams in ICRP_MASSES.items():
        assert phys[f"V_{tissue.upper()}"][0] == pytest.approx(grams[col] / 1000, rel=1e-9)
