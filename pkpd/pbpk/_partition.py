"""Tissue:plasma partition coefficients by the method of Rodgers & Rowland.

Moderate-to-strong bases (pKa >= 7): Rodgers T, Leahy D, Rowland M. J Pharm Sci
2005;94(6):1259-1276 (doi:10.1002/jps.20322), equations of the unbound tissue:plasma partition
coefficient with electrostatic binding to acidic phospholipids, whose affinity is derived from
the blood:plasma ratio through the erythrocytes. Acids, weak bases (pKa < 7) and neutral
compounds: Rodgers T, Rowland M. J Pharm Sci 2006;95(6):1238-1257 (doi:10.1002/jps.20502),
binding to albumin (acids and weak bases) or lipoproteins (neutral compounds) in proportion to
their tissue:plasma ratio, with the affinity derived from the fraction unbound in plasma.

With X and Y the ionised-to-neutral ratios in intracellular water (pH 7.0) and plasma (pH 7.4)
(``10^(pKa - pH)`` for a base, ``10^(pH - pKa)`` for an acid, 0 for a neutral compound), P the
octanol:water partition coefficient (the vegetable oil:water coefficient
``log P_vo = 1.115 log P - 1.35`` in adipose tissue) and f the fractional tissue volumes::

    Kpu = f_ew + (1 + X)/(1 + Y) f_iw + (P f_nl + (0.3 P + 0.7) f_np)/(1 + Y) + binding
    bases, pKa >= 7:  binding = KaAP [AP-]_T X/(1 + Y), with KaAP from the erythrocytes,
                      Kpu_bc = (Hct - 1 + BP)/(Hct fu), Hct = 0.45, pH 7.22 in erythrocytes
    otherwise:        binding = KaPR [PR]_T:plasma,
                      KaPR = 1/fu - 1 - (P f_nl,p + (0.3 P + 0.7) f_np,p)/(1 + Y)
    Kp = fu Kpu

A negative affinity (the blood or plasma data explained by the other terms) is taken as 0. The
tissue composition is the rat data of those papers (``pkpd/_data/pbpk_rodgers_rowland.csv``),
used for human tissues; the rest of the body takes the mean Kp of the non-adipose tissues.
"""

from __future__ import annotations

import csv
import functools
import io
import math
from collections.abc import Mapping
from importlib.resources import files
from typing import Any

from ..errors import ModelError

__all__ = ["HCT", "PH", "composition", "partition_coefficients"]

#: Haematocrit assumed by the blood:plasma to erythrocyte conversion.
HCT = 0.45
#: pH of plasma, intracellular water and erythrocytes.
PH = {"plasma": 7.4, "iw": 7.0, "rbc": 7.22}
_TYPES = ("neutral", "acid", "base")


@functools.cache
def composition() -> dict[str, dict[str, float]]:
    """The tissue composition table: tissue -> f_ew, f_iw, f_nl, f_np, ap, ar, lr."""
    text = files("pkpd").joinpath("_data/pbpk_rodgers_rowland.csv").read_text(encoding="utf-8")
    rows = csv.DictReader(io.StringIO("\n".join(
        line for line in text.splitlines() if line and not line.startswith("#"))))
    return {row["tissue"]: {k: float(v) if v else math.nan for k, v in row.items()
                            if k != "tissue"} for row in rows}


def _number(drug: Mapping[str, Any], key: str) -> float:
    value = drug.get(key)
    if isinstance(value, Mapping):
        value = value.get("value")
    try:
        out = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ModelError(f"drug: {key!r} must be a number, got {value!r}") from None
    if not math.isfinite(out):
        raise ModelError(f"drug: {key!r} = {out!r} is not finite")
    return out


def partition_coefficients(drug: Mapping[str, Any]) -> dict[str, float]:
    """Tissue:plasma partition coefficients (total concentrations) by Rodgers & Rowland.

    Parameters
    ----------
    drug : mapping
        ``type`` ("neutral", "acid" or "base"), ``logp`` (octanol:water), ``pka`` (not needed
        for a neutral compound), ``fu`` (fraction unbound in plasma) and ``bp`` (blood:plasma
        concentration ratio). Values may be numbers or ``{"value": ..., "unit": "1"}`` tables
        (as in a ``[drug]`` table).

    Returns
    -------
    dict
        tissue -> Kp for adipose, bone, brain, gut, heart, kidney, liver, lung, muscle, skin,
        spleen and rest (the mean of the non-adipose tissues).

    Raises
    ------
    ModelError
        For an unknown type or a missing or invalid property.

    Examples
    --------
    A lipophilic neutral compound concentrates in adipose tissue:

    >>> kp = partition_coefficients({"type": "neutral", "logp": 3.0, "fu": 0.1, "bp": 1.0})
    >>> kp["adipose"] > kp["muscle"] > 0
    True
    """
    kind = str(drug.get("type", "")).strip().lower()
    if kind not in _TYPES:
        raise ModelError(f"drug: type must be one of {', '.join(_TYPES)}, got {kind!r}")
    logp, fu, bp = _number(drug, "logp"), _number(drug, "fu"), _number(drug, "bp")
    if not 0 < fu <= 1:
        raise ModelError(f"drug: fu = {fu:g} must be in (0, 1]")
    if bp <= 0:
        raise ModelError(f"drug: bp = {bp:g} must be positive")
    pka = _number(drug, "pka") if kind != "neutral" else math.nan

    def ionised(ph: float) -> float:
        if kind == "neutral":
            return 0.0
        return 10 ** (pka - ph) if kind == "base" else 10 ** (ph - pka)

    x, y, z = ionised(PH["iw"]), ionised(PH["plasma"]), ionised(PH["rbc"])
    p = 10 ** logp
    p_vo = 10 ** (1.115 * logp - 1.35)
    comp = composition()
    strong_base = kind == "base" and pka >= 7

    if strong_base:
        rbc = comp["rbc"]
        kpu_bc = (HCT - 1 + bp) / (HCT * fu)
        ka = (kpu_bc - (1 + z) / (1 + y) * rbc["f_iw"]
              - (p * rbc["f_nl"] + (0.3 * p + 0.7) * rbc["f_np"]) / (1 + y)) \
            * (1 + y) / (rbc["ap"] * z)
    else:
        pl = comp["plasma"]
        ka = 1 / fu - 1 - (p * pl["f_nl"] + (0.3 * p + 0.7) * pl["f_np"]) / (1 + y)
    ka = max(ka, 0.0)

    out: dict[str, float] = {}
    for tissue, c in comp.items():
        if tissue in ("plasma", "rbc"):
            continue
        pt = p_vo if tissue == "adipose" else p
        kpu = (c["f_ew"] + (1 + x) / (1 + y) * c["f_iw"]
               + (pt * c["f_nl"] + (0.3 * pt + 0.7) * c["f_np"]) / (1 + y))
        if strong_base:
            kpu += ka * c["ap"] * x / (1 + y)
        else:
            kpu += ka * (c["lr"] if kind == "neutral" else c["ar"])
        out[tissue] = fu * kpu
    lean = [v for k, v in out.items() if k != "adipose"]
    out["rest"] = sum(lean) / len(lean)
    return out
