"""Physiologically based pharmacokinetic (PBPK) models generated from a drug description.

A drug description file (``models/pbpk_<drug>.toml``) holds a ``[model]`` table (name,
description, source, references, status, tags), a ``[drug]`` table and optionally
``[options]``::

    [drug]
    name = "theophylline"
    type = "acid"                                  # "neutral", "acid" or "base"
    logp = { value = -0.02, unit = "1", source = "..." }
    pka = { value = 8.81, unit = "1" }
    fu = { value = 0.6, unit = "1" }               # fraction unbound in plasma
    bp = { value = 1.0, unit = "1" }               # blood:plasma concentration ratio
    cl_hepatic = { value = 2.5, unit = "L/h" }     # or clint_u = { value, unit = "1/h" }
    cl_renal = { value = 0.3, unit = "L/h" }       # or renal = "filtration" (fu * GFR)
    ka = { value = 1.5, unit = "1/h" }
    fa = { value = 1.0, unit = "1" }               # optional, default 1
    fg = { value = 1.0, unit = "1" }               # optional, default 1

    [options]
    omega = { eta_CLINT = 0.09, eta_KA = 0.25 }    # optional between-subject variability
    error = { proportional = 0.2 }                 # residual error of CP (default 0.2)
    reference = { SEX = 1, AGE = 35, HT = 176, WT = 73 }  # adult for cl_hepatic and defaults
    defaults = { AGE = 50 }                        # covariate defaults other than reference

:func:`load_pbpk_text` turns it into a :class:`pkpd.Model` through
:class:`pkpd.ModelBuilder`: organ volumes and blood flows are individual equations of the
covariates SEX (1 = male), AGE (y), HT (cm) and WT (kg) (:func:`physiology`, the method in
:mod:`pkpd.pbpk._physiology`), the partition coefficients are computed from the drug's
properties when the model is built (:func:`partition_coefficients`, Rodgers & Rowland), and
``Model.metadata`` records both methods and the Kp values. Routes: ``PO`` (gut lumen) and
``IV`` (venous blood); outputs ``CP`` (venous plasma) and ``CB`` (venous blood), in mg/L.

Examples
--------
>>> from pkpd.pbpk import physiology, partition_coefficients
>>> round(physiology(0, 35, 163, 60)["V_MUSCLE"][0], 2)   # ICRP 89 reference woman
17.5
>>> kp = partition_coefficients({"type": "base", "logp": 3.0, "pka": 9.5, "fu": 0.1, "bp": 1.2})
>>> kp["lung"] > kp["muscle"] > kp["brain"]      # acidic phospholipids bind bases
True
"""

from __future__ import annotations

from ._build import DRUG_KEYS, clint_from_hepatic, load_pbpk_text, model_from_drug, parse_drug
from ._partition import composition, partition_coefficients
from ._physiology import REFERENCE, RETURNING, TISSUES, physiology

__all__ = ["DRUG_KEYS", "REFERENCE", "RETURNING", "TISSUES", "clint_from_hepatic",
           "composition", "load_pbpk_text", "model_from_drug", "parse_drug",
           "partition_coefficients", "physiology"]
