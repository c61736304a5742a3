"""A whole-body PBPK model generated from a compact drug description (``[drug]`` table).

The model (states in amounts, mg; time in h): a gut lumen (oral doses, first-order absorption
``KA``; the fraction ``FA*FG`` reaches the gut tissue, the rest goes to the accumulator
``unabsorbed``), perfusion-limited tissues (gut, spleen, liver, kidney, brain, heart, muscle,
adipose, skin, bone, rest of body, lung), arterial and venous blood (IV doses into the venous
blood). Venous blood flows through the lung into the arterial blood; gut and spleen drain into
the liver (portal vein). A tissue ``T`` with volume ``V_T``, blood flow ``Q_T`` and
tissue:plasma partition coefficient ``KP_T`` releases blood at concentration
``BP*A_T/(V_T*KP_T)``. The liver eliminates ``CLINT_H*FU*A_LIVER/(V_LIVER*KP_LIVER)``
(well-stirred: unbound intrinsic clearance ``CLINT_H = CLINT * V_LIVER`` on the unbound
concentration leaving the liver) into the accumulator ``metabolised``; the kidney
``CLR*A_KIDNEY/(V_KIDNEY*KP_KIDNEY)`` (plasma clearance ``CLR``) into ``excreted``. The
amounts of all states add up to the doses.
"""

from __future__ import annotations

import hashlib
import math
import tomllib
from collections.abc import Mapping
from typing import Any

from ..errors import ModelError, UnitError
from ..model import Model, ModelBuilder
from ..model._store import cached_model, code_digest
from ..units import registry
from ._partition import partition_coefficients
from ._physiology import RETURNING, TISSUES, equations, parameters, physiology

__all__ = ["DRUG_KEYS", "load_pbpk_text", "model_from_drug"]

_MODEL_KEYS = ("name", "description", "time_unit", "source", "doi", "status", "references",
               "notes", "tags")
#: Keys of a ``[drug]`` table: key -> (unit the value is converted to, required).
DRUG_KEYS: dict[str, tuple[str | None, bool]] = {
    "name": (None, True), "type": (None, True), "logp": ("1", True), "pka": ("1", False),
    "fu": ("1", True), "bp": ("1", True), "mw": ("g/mol", False),
    "clint_u": ("1/h", False), "cl_hepatic": ("L/h", False),
    "cl_renal": ("L/h", False), "renal": (None, False),
    "ka": ("1/h", True), "fa": ("1", False), "fg": ("1", False),
}
_OPTION_KEYS = ("omega", "error", "reference", "defaults")
#: Glomerular filtration rate per 1.73 m² used by ``renal = "filtration"`` (125 mL/min).
GFR_173 = 7.5


def _quantity(spec: Any, key: str, unit: str, where: str) -> tuple[float, str]:
    """A ``[drug]`` value: a number (dimensionless only) or ``{ value, unit, source }``."""
    if isinstance(spec, Mapping):
        extra = set(spec) - {"value", "unit", "source"}
        if extra:
            raise ModelError(f"{where}: [drug] {key}: unknown key {sorted(extra)[0]!r} "
                             "(valid keys: value, unit, source)")
        if "value" not in spec or "unit" not in spec:
            raise ModelError(f"{where}: [drug] {key} needs 'value' and 'unit'")
        value, given, source = spec["value"], str(spec["unit"]), str(spec.get("source", ""))
    else:
        value, given, source = spec, "1", ""
        if unit != "1":
            raise ModelError(f"{where}: [drug] {key} needs a unit: {{ value = {spec!r}, "
                             f"unit = \"{unit}\" }}")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or \
            not math.isfinite(float(value)):
        raise ModelError(f"{where}: [drug] {key}: expected a finite number, got {value!r}")
    try:
        q = registry().Quantity(float(value), given).to(unit)
    except Exception as exc:  # pint raises several error types
        raise ModelError(f"{where}: [drug] {key}: cannot express {value!r} {given} in "
                         f"{unit} ({exc})") from None
    return float(q.magnitude), source


def parse_drug(table: Mapping[str, Any], where: str) -> dict[str, Any]:
    """Check a ``[drug]`` table and return its values in the units of :data:`DRUG_KEYS`
    (key ``sources`` maps keys to the sources given)."""
    for key in table:
        if key not in DRUG_KEYS:
            raise ModelError(f"{where}: [drug] unknown key {key!r} (valid keys: "
                             f"{', '.join(DRUG_KEYS)})")
    drug: dict[str, Any] = {"sources": {}}
    for key, (unit, required) in DRUG_KEYS.items():
        if key not in table:
            if required:
                raise ModelError(f"{where}: [drug] needs {key!r}")
            continue
        if unit is None:
            drug[key] = str(table[key])
        else:
            drug[key], src = _quantity(table[key], key, unit, where)
            if src:
                drug["sources"][key] = src
    drug["type"] = drug["type"].strip().lower()
    if drug["type"] != "neutral" and "pka" not in drug:
        raise ModelError(f"{where}: [drug] a {drug['type']} needs 'pka'")
    if ("clint_u" in drug) == ("cl_hepatic" in drug):
        raise ModelError(f"{where}: [drug] give one of 'clint_u' (unbound intrinsic clearance "
                         "per litre of liver) or 'cl_hepatic' (plasma hepatic clearance of the "
                         "reference adult)")
    if "cl_renal" in drug and "renal" in drug:
        raise ModelError(f"{where}: [drug] give either 'cl_renal' or renal = \"filtration\"")
    if drug.get("renal", "filtration") != "filtration":
        raise ModelError(f"{where}: [drug] renal must be \"filtration\" (fu * GFR), got "
                         f"{drug['renal']!r}")
    for key in ("fa", "fg"):
        if not 0 <= drug.get(key, 1.0) <= 1:
            raise ModelError(f"{where}: [drug] {key} must be in [0, 1]")
    return drug


def clint_from_hepatic(cl_hepatic: float, fu: float, bp: float, q_liver: float,
                       v_liver: float) -> float:
    """Unbound intrinsic clearance per litre of liver (1/h) giving the plasma hepatic clearance
    ``cl_hepatic`` in the well-stirred model ``CLh,b = Q fub CLint / (Q + fub CLint)``,
    ``fub = fu/bp``, ``CLh,b = cl_hepatic/bp``."""
    clb = cl_hepatic / bp
    if not 0 < clb < q_liver:
        raise ModelError(f"cl_hepatic = {cl_hepatic:g} L/h (blood {clb:g} L/h) must be below "
                         f"the liver blood flow {q_liver:g} L/h")
    return q_liver * clb / ((fu / bp) * (q_liver - clb)) / v_liver


def model_from_drug(data: Mapping[str, Any], *, source: str = "<pbpk>") -> Model:
    """Build the PBPK model of the content of a drug description file."""
    for section in data:
        if section not in ("model", "drug", "options"):
            raise ModelError(f"{source}: unknown section [{section}] of a drug description "
                             "(valid sections: model, drug, options)")
    head = dict(data.get("model", {}))
    for key in head:
        if key not in _MODEL_KEYS:
            raise ModelError(f"{source}: [model] unknown key {key!r} (valid keys: "
                             f"{', '.join(_MODEL_KEYS)})")
    if "name" not in head:
        raise ModelError(f"{source}: [model] needs a name")
    drug = parse_drug(dict(data.get("drug", {})), source)
    options = dict(data.get("options", {}))
    for key in options:
        if key not in _OPTION_KEYS:
            raise ModelError(f"{source}: [options] unknown key {key!r} (valid keys: "
                             f"{', '.join(_OPTION_KEYS)})")

    mb = ModelBuilder(head["name"], time_unit=head.get("time_unit", "h"),
                      description=head.get("description", ""))
    kp = partition_coefficients(drug)
    ref = {"SEX": 1.0, "AGE": 35.0, "HT": 176.0, "WT": 73.0}
    for what in ("reference", "defaults"):
        for key in options.get(what, {}):
            if key not in ref:
                raise ModelError(f"{source}: [options] {what}: unknown covariate {key!r} "
                                 "(valid: SEX, AGE, HT, WT)")
    ref.update(options.get("reference", {}))
    if "clint_u" in drug:
        clint, how = drug["clint_u"], "clint_u given"
    else:
        phys = physiology(ref["SEX"], ref["AGE"], ref["HT"], ref["WT"])
        clint = clint_from_hepatic(drug["cl_hepatic"], drug["fu"], drug["bp"],
                                   phys["Q_LIVER"][0], phys["V_LIVER"][0])
        how = (f"clint_u = {clint:.6g} 1/h per L of liver from cl_hepatic = "
               f"{drug['cl_hepatic']:g} L/h by the well-stirred model in the reference "
               f"adult SEX={ref['SEX']:g}, AGE={ref['AGE']:g} y, HT={ref['HT']:g} cm, "
               f"WT={ref['WT']:g} kg")
    meta = {k: v for k, v in head.items() if k not in ("name", "description", "time_unit")}
    meta["physiology"] = (
        "ICRP 89 reference adults (Ann ICRP 2002;32(3-4)) scaled by sex, age, height and "
        "weight: BSA Du Bois 1916; cardiac output BSA*60*(3 - 0.01*(AGE - 20)) L/h (Simcyp "
        "adult equation, Jamei 2009); ICRP 89 flow fractions; lean tissues with fat-free "
        "mass (Janmahasatian 2005), adipose with fat mass, brain fixed; liver volume "
        "0.722*BSA^1.176 L (Johnson 2005); blood volume Nadler 1962, 1/3 arterial")
    meta["partition"] = (
        "Rodgers & Rowland (J Pharm Sci 2005;94:1259-1276 for bases with pKa >= 7, "
        "2006;95:1238-1257 otherwise) with the rat tissue composition of those papers; "
        "rest of body = mean of the non-adipose tissues; Kp = " +
        ", ".join(f"{t} {v:.4g}" for t, v in kp.items()))
    meta["drug"] = ", ".join(f"{k} = {v:g}" if isinstance(v, float) else f"{k} = {v}"
                             for k, v in drug.items() if k != "sources")
    meta["hepatic_clearance"] = how
    if drug["sources"]:
        meta["drug_sources"] = "; ".join(f"{k}: {v}" for k, v in drug["sources"].items())
    mb.metadata(**meta)

    par: dict[str, Any] = dict(parameters())
    par["FU"] = {"value": drug["fu"], "unit": "1", "fixed": True,
                 "description": "fraction unbound in plasma"}
    par["BP"] = {"value": drug["bp"], "unit": "1", "fixed": True,
                 "description": "blood:plasma concentration ratio"}
    par["KA"] = {"value": drug["ka"], "unit": "1/h", "description": "absorption rate constant"}
    par["FA"] = {"value": drug.get("fa", 1.0), "unit": "1", "fixed": True,
                 "description": "fraction absorbed from the gut lumen"}
    par["FG"] = {"value": drug.get("fg", 1.0), "unit": "1", "fixed": True,
                 "description": "fraction escaping gut-wall metabolism"}
    par["CLINT"] = {"value": clint, "unit": "1/h",
                    "description": "unbound hepatic intrinsic clearance per litre of liver"}
    if "cl_renal" in drug:
        par["CLR_REF"] = {"value": drug["cl_renal"], "unit": "L/h",
                          "description": "renal plasma clearance (given)"}
    else:
        par["GFR173"] = {"value": GFR_173, "unit": "L/h", "fixed": True,
                         "description": "glomerular filtration rate per 1.73 m2 BSA"}
    for tissue, value in kp.items():
        par[f"KP_{tissue.upper()}"] = {"value": value, "unit": "1", "fixed": True,
                                       "description": f"{tissue}:plasma partition "
                                                      "coefficient (Rodgers & Rowland)"}
    mb.parameters(**par)
    defaults = {**ref, **options.get("defaults", {})}
    mb.covariates(
        SEX={"unit": "1", "default": defaults["SEX"], "description": "1 = male, 0 = female"},
        AGE={"unit": "yr", "default": defaults["AGE"], "description": "age"},
        HT={"unit": "cm", "default": defaults["HT"], "description": "height"},
        WT={"unit": "kg", "default": defaults["WT"], "description": "body weight"})
    omega = dict(options.get("omega", {}))
    for name in omega:
        if name not in ("eta_CLINT", "eta_KA"):
            raise ModelError(f"{source}: [options] omega: unknown eta {name!r} (valid: "
                             "eta_CLINT, eta_KA)")
    if omega:
        mb.etas(**omega)

    for name, expr, unit in equations():
        mb.derive(name, expr, unit=unit)
    scale = {e: f"*exp({e})" if e in omega else "" for e in ("eta_CLINT", "eta_KA")}
    mb.derive("CLINT_H", f"CLINT*V_LIVER{scale['eta_CLINT']}", unit="L/h")
    mb.derive("KA_I", f"KA{scale['eta_KA']}", unit="1/h")
    mb.derive("CLR", "CLR_REF" if "cl_renal" in drug else "FU*GFR173*BSA/1.73", unit="L/h")

    states = {"lumen": "gut lumen (oral doses)", **{t: f"{t} tissue" for t in TISSUES},
              "arterial": "arterial blood", "venous": "venous blood (IV doses)",
              "unabsorbed": "oral dose not absorbed or metabolised in the gut wall",
              "metabolised": "eliminated by the liver", "excreted": "excreted by the kidney"}
    mb.states(**{k: {"unit": "mg", "description": v} for k, v in states.items()})

    def out(t: str) -> str:   # blood concentration leaving tissue t
        return f"BP*{t}/(V_{t.upper()}*KP_{t.upper()})"

    art = "arterial/V_ART"
    for t in TISSUES:
        q = f"Q_{t.upper()}"
        if t == "lung":
            mb.ode(t, f"CO*(venous/V_VEN - {out(t)})")
        elif t == "liver":
            mb.ode(t, f"Q_HA*{art} + Q_GUT*{out('gut')} + Q_SPLEEN*{out('spleen')} - "
                      f"Q_LIVER*{out(t)} - CLINT_H*FU/BP*{out(t)}")
        elif t == "gut":
            mb.ode(t, f"{q}*({art} - {out(t)}) + FA*FG*KA_I*lumen")
        elif t == "kidney":
            mb.ode(t, f"{q}*({art} - {out(t)}) - CLR/BP*{out(t)}")
        else:
            mb.ode(t, f"{q}*({art} - {out(t)})")
    mb.ode("lumen", "-KA_I*lumen")
    mb.ode("arterial", f"CO*{out('lung')} - CO*{art}")
    mb.ode("venous", " + ".join(f"Q_{t.upper()}*{out(t)}" for t in RETURNING)
           + " - CO*venous/V_VEN")
    mb.ode("unabsorbed", "(1 - FA*FG)*KA_I*lumen")
    mb.ode("metabolised", f"CLINT_H*FU/BP*{out('liver')}")
    mb.ode("excreted", f"CLR/BP*{out('kidney')}")
    mb.output("CP", "venous/(V_VEN*BP)", unit="mg/L")
    mb.output("CB", "venous/V_VEN", unit="mg/L")
    mb.route("PO", "lumen")
    mb.route("IV", "venous")
    mb.default_route("PO")
    error = dict(options.get("error", {"proportional": 0.2}))
    mb.error("CP", **error)
    return mb.build()


def _data_digest() -> str:
    from importlib.resources import files

    digest = hashlib.sha256(code_digest("pbpk").encode())
    for name in ("pbpk_icrp89.csv", "pbpk_rodgers_rowland.csv"):
        digest.update(files("pkpd").joinpath(f"_data/{name}").read_bytes())
    return digest.hexdigest()[:16]


def load_pbpk_text(text: str, source: str) -> Model:
    """Build the PBPK model of a drug description file's text (cached on disk).

    The file has a ``[model]`` table (name, description, source, references, status, tags),
    a ``[drug]`` table and optionally ``[options]``; see :mod:`pkpd.pbpk`.

    Raises
    ------
    ModelError
        On a TOML syntax error, an unknown section or key, a missing or invalid drug property.

    Examples
    --------
    A neutral drug described by a few properties (see :mod:`pkpd.pbpk` for the keys):

    >>> import pkpd
    >>> text = '''
    ... [model]
    ... name = "drug_x"
    ... [drug]
    ... name = "drug x"
    ... type = "neutral"
    ... logp = { value = 1.0, unit = "1" }
    ... fu = { value = 0.5, unit = "1" }
    ... bp = { value = 1.0, unit = "1" }
    ... cl_hepatic = { value = 5.0, unit = "L/h" }
    ... ka = { value = 1.0, unit = "1/h" }
    ... '''
    >>> m = pkpd.load_pbpk_text(text, "drug_x.toml")
    >>> m.name, m.routes, m.output_names
    ('drug_x', {'IV': 'venous', 'PO': 'lumen'}, ('CP', 'CB'))
    """
    def build() -> Model:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ModelError(f"{source}: TOML syntax error: {exc}") from None
        try:
            return model_from_drug(data, source=source)
        except UnitError as exc:
            raise ModelError(f"{source}: {exc}") from None

    # the generated model depends on this package's code and tables, not only on the text
    return cached_model(text, f"{source} (pbpk {_data_digest()})", build)

