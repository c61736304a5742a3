"""Organ volumes and blood flows of an adult from sex, age, height and weight.

The reference values are those of ICRP Publication 89 (Ann ICRP 2002;32(3-4)), read from
``pkpd/_data/pbpk_icrp89.csv``: organ masses of the reference male (35 y, 176 cm, 73 kg) and
female (35 y, 163 cm, 60 kg) and regional blood flows as fractions of the cardiac output. They
are scaled to the individual as follows (every tissue has density 1 kg/L):

* body surface area by Du Bois & Du Bois (Arch Intern Med 1916;17:863-871),
  ``BSA = 0.007184 WT^0.425 HT^0.725`` (m², WT in kg, HT in cm);
* cardiac output of the adult population of Simcyp (Jamei M et al., Expert Opin Drug Metab
  Toxicol 2009;5:211-223; the adult equation of Verscheijden LFM et al., PLoS Comput Biol
  2019;15:e1007117, S1 Table): ``CO = BSA * 60 * (3.0 - 0.01 (AGE - 20))`` L/h, a cardiac index
  of 3 L/min/m² at 20 years falling by 0.01 L/min/m² a year;
* every regional flow is its ICRP 89 fraction (by sex) of that cardiac output; the liver
  receives the hepatic artery flow plus the portal flow (gut and spleen);
* fat-free mass by Janmahasatian S et al. (Clin Pharmacokinet 2005;44:1051-1065),
  ``FFM = 9270 WT / (6680 + 216 BMI)`` (men) or ``9270 WT / (8780 + 244 BMI)`` (women);
  lean tissues (bone, gut, heart, kidney, lung, muscle, skin, spleen, rest of body) scale
  with ``FFM / FFM_ref`` (the same formula at the reference height and weight of the sex),
  adipose tissue with the fat mass ``(WT - FFM) / (WT_ref - FFM_ref)``, the fat mass taken
  as at least 3 % of the weight (the formula gives FFM >= WT below a BMI of about 12 in men);
  the brain keeps its reference mass;
* liver volume by Johnson TN et al. (Liver Transpl 2005;11:1481-1493),
  ``V_liver = 0.722 BSA^1.176`` L;
* blood volume by Nadler SB, Hidalgo JU, Bloch T (Surgery 1962;51:224-232),
  ``0.3669 H³ + 0.03219 WT + 0.6041`` L (men), ``0.3561 H³ + 0.03308 WT + 0.1833`` L (women),
  H in m; one third of it arterial, two thirds venous.

The equations are kept as text (:func:`equations`) so that the same formulas become the
``[individual]`` equations of a generated model and are evaluated by :func:`physiology`.
"""

from __future__ import annotations

import csv
import functools
import io
from collections.abc import Callable
from importlib.resources import files
from typing import Any

__all__ = ["REFERENCE", "TISSUES", "equations", "parameters", "physiology", "reference_table"]

#: Perfusion-limited tissues of the model, in state order (lung and blood apart).
TISSUES: tuple[str, ...] = ("gut", "spleen", "liver", "kidney", "brain", "heart", "muscle",
                            "adipose", "skin", "bone", "rest", "lung")
#: Tissues whose venous blood returns to the venous pool (gut and spleen drain to the liver).
RETURNING: tuple[str, ...] = ("liver", "kidney", "brain", "heart", "muscle", "adipose", "skin",
                              "bone", "rest")
#: ICRP 89 reference adults: sex (1 male, 0 female) -> age (y), height (cm), weight (kg).
REFERENCE: dict[int, tuple[float, float, float]] = {1: (35.0, 176.0, 73.0),
                                                   0: (35.0, 163.0, 60.0)}
_NADLER = {1: (0.3669, 0.03219, 0.6041), 0: (0.3561, 0.03308, 0.1833)}


@functools.cache
def reference_table() -> dict[str, dict[str, Any]]:
    """The ICRP 89 table: tissue -> masses (kg), flows (% of cardiac output) and scaling."""
    text = files("pkpd").joinpath("_data/pbpk_icrp89.csv").read_text(encoding="utf-8")
    rows = csv.DictReader(io.StringIO("\n".join(
        line for line in text.splitlines() if line and not line.startswith("#"))))
    out: dict[str, dict[str, Any]] = {}
    for row in rows:
        out[row["tissue"]] = {
            "mass": {1: float(row["mass_male_kg"]), 0: float(row["mass_female_kg"])},
            "flow": {1: float(row["flow_male_pct"]) / 100, 0: float(row["flow_female_pct"]) / 100},
            "scaling": row["scaling"]}
    return out


def _ffm(sex: int, height: float, weight: float) -> float:
    bmi = weight / (height / 100) ** 2
    return 9270 * weight / ((6680 + 216 * bmi) if sex == 1 else (8780 + 244 * bmi))


def _by_sex(male: float, female: float) -> str:
    return f"(SEX*{male!r} + (1 - SEX)*{female!r})"


def parameters() -> dict[str, dict[str, Any]]:
    """The fixed physiological parameters of a generated model (values with units)."""
    table = reference_table()
    par: dict[str, dict[str, Any]] = {}
    for tissue, row in table.items():
        if row["scaling"] in ("lean", "fat", "fixed"):
            for sex, tag in ((1, "M"), (0, "F")):
                par[f"VREF_{tissue.upper()}_{tag}"] = {
                    "value": row["mass"][sex], "unit": "L", "fixed": True,
                    "description": f"ICRP 89 reference {'male' if sex else 'female'} "
                                   f"{tissue} volume (density 1 kg/L)"}
    par["CI20"] = {"value": 180.0, "unit": "L/h", "fixed": True,
                   "description": "cardiac output per m2 BSA at 20 years (3 L/min/m2)"}
    par["CI_AGE"] = {"value": 0.6, "unit": "L/h", "fixed": True,
                     "description": "fall of the cardiac output per m2 BSA per year of age"}
    par["LIVER_A"] = {"value": 0.722, "unit": "L", "fixed": True,
                      "description": "Johnson 2005 liver volume coefficient (L per BSA^1.176)"}
    for sex, tag in ((1, "M"), (0, "F")):
        for key, value in zip(("H3", "WT", "C"), _NADLER[sex], strict=True):
            par[f"NADLER_{key}_{tag}"] = {"value": value, "unit": "L", "fixed": True,
                                         "description": f"Nadler 1962 blood volume "
                                                        f"coefficient ({key}, "
                                                        f"{'men' if sex else 'women'})"}
    return par


def equations() -> list[tuple[str, str, str | None]]:
    """The physiological individual equations ``(name, expression, unit)`` in order, functions
    of the covariates SEX, AGE, HT (cm), WT (kg) and of :func:`parameters`."""
    table = reference_table()
    ffm_ref = {s: _ffm(s, h, w) for s, (_, h, w) in REFERENCE.items()}
    fat_ref = {s: REFERENCE[s][2] - ffm_ref[s] for s in REFERENCE}
    eq: list[tuple[str, str, str | None]] = [
        ("BMI", "WT/(HT/100)**2", None),
        ("BSA", "0.007184*WT**0.425*HT**0.725", None),
        ("FFM", "9270*WT/(SEX*(6680 + 216*BMI) + (1 - SEX)*(8780 + 244*BMI))", None),
        ("SLEAN", f"FFM/{_by_sex(ffm_ref[1], ffm_ref[0])}", None),
        ("SFAT", f"max(WT - FFM, 0.03*WT)/{_by_sex(fat_ref[1], fat_ref[0])}", None),
        ("CO", "BSA*(CI20 - CI_AGE*(AGE - 20))", "L/h"),
    ]
    for tissue, row in table.items():
        name, kind = f"V_{tissue.upper()}", row["scaling"]
        ref = f"(SEX*VREF_{tissue.upper()}_M + (1 - SEX)*VREF_{tissue.upper()}_F)"
        expr = {"lean": f"{ref}*SLEAN", "fat": f"{ref}*SFAT", "fixed": ref,
                "johnson": "LIVER_A*BSA**1.176",
                "nadler": "SEX*(NADLER_H3_M*(HT/100)**3 + NADLER_WT_M*WT + NADLER_C_M) + "
                          "(1 - SEX)*(NADLER_H3_F*(HT/100)**3 + NADLER_WT_F*WT + NADLER_C_F)"
                }[kind]
        eq.append((name, expr, "L"))
    eq += [("V_ART", "V_BLOOD/3", "L"), ("V_VEN", "2*V_BLOOD/3", "L")]
    for tissue, row in table.items():
        if tissue in ("lung", "blood", "liver"):
            continue
        eq.append((f"Q_{tissue.upper()}",
                   f"{_by_sex(row['flow'][1], row['flow'][0])}*CO", "L/h"))
    liver = table["liver"]["flow"]
    eq += [("Q_HA", f"{_by_sex(liver[1], liver[0])}*CO", "L/h"),
           ("Q_LIVER", "Q_HA + Q_GUT + Q_SPLEEN", "L/h")]
    return eq


_UNITS = {"BMI": "kg/m^2", "BSA": "m^2", "FFM": "kg", "SLEAN": "1", "SFAT": "1"}


@functools.cache
def _evaluator() -> Callable[..., list[float]]:
    import sympy as sp

    from ..model import parse_expression

    par = parameters()
    names = ["SEX", "AGE", "HT", "WT", *par]
    symbols = {n: sp.Symbol(n, real=True) for n in names}
    exprs = []
    for name, text, _ in equations():
        expr = parse_expression(text, symbols, where=f"physiology {name}")
        symbols[name] = sp.Symbol(name, real=True)
        exprs.append((symbols[name], expr))
    # substitute the equations into one another, then the fixed parameter values
    values = {symbols[n]: sp.Float(p["value"]) for n, p in par.items()}
    done: dict[sp.Symbol, sp.Expr] = {}
    flat = []
    for sym, expr in exprs:
        e = expr.xreplace(done).xreplace(values)
        done[sym] = e
        flat.append(e)
    return sp.lambdify([symbols[n] for n in ("SEX", "AGE", "HT", "WT")], flat, "math")


def physiology(sex: float, age: float, height: float, weight: float
               ) -> dict[str, tuple[float, str]]:
    """Organ volumes and blood flows of an adult (see the module docstring for the method).

    Parameters
    ----------
    sex : {1, 0}
        1 = male, 0 = female (values in between interpolate the reference values linearly).
    age : float
        Years (the method is for adults, about 18-90 years).
    height : float
        Height in cm.
    weight : float
        Weight in kg.

    Returns
    -------
    dict
        ``name -> (value, unit)``: ``BSA``, ``BMI``, ``FFM`` (fat-free mass), ``CO`` (cardiac
        output, L/h), ``V_<TISSUE>`` (L) for ADIPOSE, BONE, BRAIN, GUT, HEART, KIDNEY, LIVER,
        LUNG, MUSCLE, SKIN, SPLEEN, REST, BLOOD and its arterial and venous parts ``V_ART``,
        ``V_VEN``, and ``Q_<TISSUE>`` (L/h), with ``Q_HA`` the hepatic artery and ``Q_LIVER``
        the total liver blood flow (hepatic artery + gut + spleen). The lung receives ``CO``.

    Examples
    --------
    >>> p = physiology(1, 35, 176, 73)
    >>> round(p["CO"][0]), p["CO"][1]
    (323, 'L/h')
    >>> round(p["V_LIVER"][0], 2)
    1.53
    """
    from ..errors import DataError

    for what, value, lo, hi in (("sex", sex, 0, 1), ("age", age, 18, 100),
                                ("height", height, 100, 250), ("weight", weight, 25, 400)):
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise DataError(f"{what}: expected a number, got {value!r}") from None
        if not lo <= v <= hi:
            raise DataError(f"{what} = {v:g} is outside {lo}-{hi}, the range of the adult "
                            "physiology of pkpd.pbpk")
    values = _evaluator()(float(sex), float(age), float(height), float(weight))
    out: dict[str, tuple[float, str]] = {}
    for (name, _, unit), value in zip(equations(), values, strict=True):
        out[name] = (float(value), unit or _UNITS.get(name, "1"))
    return out
