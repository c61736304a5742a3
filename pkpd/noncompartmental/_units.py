"""Units of the NCA columns, built from the units of time, concentration and dose.

A unit that is not given is written as a placeholder word (``conc``, ``dose``), so the derived
units still read correctly (``conc*h``, ``dose/(conc)``). When both the dose and concentration
units are given and their ratio is a volume, volumes are converted to L and clearances to
L/<time unit>, and :func:`column_units` returns the factor applied.
"""

from __future__ import annotations

from ..errors import UnitError
from ..units import parse_unit


def column_units(time_unit: str, conc_unit: str | None,
                 dose_unit: str | None) -> tuple[dict[str, str], float]:
    """(unit of each kind of quantity, factor from dose/conc to the volume unit)."""
    parse_unit(time_unit, what="time_unit")
    T = time_unit
    C = conc_unit if conc_unit is not None else "conc"
    D = dose_unit if dose_unit is not None else "dose"
    volume, factor = f"{D}/({C})", 1.0
    if conc_unit is not None and dose_unit is not None:
        ratio = (1.0 * parse_unit(dose_unit, what="dose_unit")) / (
            1.0 * parse_unit(conc_unit, what="conc_unit"))
        try:
            factor = float(ratio.to("L").magnitude)
            volume = "L"
        except Exception:  # not a volume (e.g. mg over mmol/L): keep the ratio as written
            factor = 1.0
    elif conc_unit is not None:
        parse_unit(conc_unit, what="conc_unit")
    elif dose_unit is not None:
        parse_unit(dose_unit, what="dose_unit")
    if not factor > 0:  # pragma: no cover - pint gives positive factors
        raise UnitError(f"cannot relate dose unit {dose_unit!r} to concentration unit "
                        f"{conc_unit!r}")
    return {
        "time": T,
        "conc": C,
        "dose": D,
        "rate": f"1/{T}",
        "auc": f"{C}*{T}",
        "aumc": f"{C}*{T}**2",
        "volume": volume,
        "clearance": f"{volume}/{T}",
        "conc_per_dose": f"{C}/{D}",
        "auc_per_dose": f"{C}*{T}/{D}",
        "log_conc": f"ln({C})",
        "percent": "%",
        "ratio": "1",
        "count": "1",
        "text": "",
    }, factor
