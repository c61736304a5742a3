"""Validation report: warfarin PK, and the PK/PD turnover model of the prothrombin complex
activity (PCA), on the O'Reilly data (32 subjects, one oral dose).

Usage::

    python validation/warfarin.py [--shared DIR] [--out FOLDER] [--quick]

Fits ``shared/data/warfarin.csv`` and writes ``validation/reports/warfarin/report.md`` with its
figures:

- PK (``models/warfarin_pk.toml``: one compartment, first-order absorption after a lag time,
  exponential IIV on CL, V, KA, combined error) by FOCE-I and SAEM, on the concentrations
  (DVID 1) without the four recorded as 0 mg/L at 0.5 h (see :data:`ZERO_NOTE`);
- PK/PD (``models/warfarin_pkpd.toml``: the same PK driving a turnover model of PCA whose
  synthesis the concentration inhibits, Imax = 1) fitted to both outputs simultaneously by
  FOCE-I (``outputs={1: "CP", 2: "PCA"}``), started from the PK estimates;
- independent references, with relative differences: R's ``nlme`` on the closed-form PK model
  (``validation/references/warfarin_nlme.R``; the additive-error variant, profiled over the lag
  time, is the like-for-like comparison), a NONMEM 7.5 FOCE-I run of these data refitted with
  the same model by pkpd (variant with IIV on the lag time), the Monolix SAEM fit of the same
  turnover model and two context fits (sources in ``validation/references/warfarin.toml``),
  and deSolve's solution of the typical PCA curve at pkpd's estimates
  (``validation/references/warfarin_desolve.R``) against pkpd's simulation;
- diagnostics (:func:`pkpd.diagnose`: GOF, NPDE tests, shrinkage, etas against covariates),
  a VPC per output of the PK/PD fit (:func:`pkpd.vpc`) and an NCA of the concentrations
  (:func:`pkpd.nca`).

``--quick`` (for the test suite) fits 12 subjects, stops the PK/PD fit after a few iterations,
shortens SAEM, skips the NONMEM refit and uses few simulated replicates: it checks that the
script runs, not the numbers. Without R (``Rscript``) the computed references are left out
and the report says so.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from _report import (
    REPORTS,
    Report,
    Result,
    command_line,
    compare,
    estimates_table,
    median_range,
    npde_calibration,
    npde_paragraphs,
    print_table,
    residual_summary,
)
from references import rscript

import pkpd

PK_MODEL = "warfarin_pk"
PKPD_MODEL = "warfarin_pkpd"
QUICK_IDS = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 13)
ZERO_NOTE = (
    "The four concentrations recorded as 0 mg/L (IDs 1, 3, 9 and 15 at 0.5 h) are left out of "
    "the fits (they stay in the NCA, where a 0 before the first measurable level counts as 0). "
    "They lie before the lag time, so a model with a lag predicts them exactly 0, and with a "
    "combined error each adds -log(additive SD) to the log-likelihood: the likelihood grows "
    "without bound as the additive SD goes to 0, and an optimiser free to shrink it (nlme's "
    "variance function) can run off there. NONMEM's run of the lag-IIV model below kept them; "
    "its refit here does too.")
NLME_THETA = {"TVCL": "CL", "TVV": "V", "TVKA": "KA", "TLAG": "TLAG"}
NLME_OMEGA = {"omega(eta_CL)": "lCL", "omega(eta_V)": "lV", "omega(eta_KA)": "lKA"}
NCA_COLUMNS = {"Cmax": "Cmax (mg/L)", "Tmax": "Tmax (h)", "AUClast": "AUClast (mg·h/L)",
               "AUCinf_obs": "AUCinf (mg·h/L)", "AUC_pct_extrap_obs": "AUC extrapolated (%)",
               "half_life": "half-life (h)", "CL_F": "CL/F (L/h)", "Vz_F": "Vz/F (L)"}
DESOLVE_TIMES = (0.0, 0.5, 1.0, 2.0, 3.0, 6.0, 9.0, 12.0, 24.0, 36.0, 48.0, 72.0, 96.0, 120.0,
                 144.0)
DESOLVE_DOSE = 100.0


class Clock:
    """Calls a function and keeps its wall time and this process's CPU time (all threads)."""

    def __init__(self) -> None:
        self.times: dict[str, tuple[float, float]] = {}

    def __call__(self, label: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn(*args, **kwargs)
        self.times[label] = (time.perf_counter() - t0, time.process_time() - c0)
        return out


# ---------------------------------------------------------------------------------------------
# data and model variants
# ---------------------------------------------------------------------------------------------

def datasets(csv: Path, quick: bool) -> dict[str, pd.DataFrame]:
    """The data as fitted: ``all`` (every row), ``pk`` (concentrations without the zeros),
    ``pkpd`` (both outputs without the zero concentrations), ``nonmem`` (every concentration,
    as NONMEM's run had them)."""
    frame = pd.read_csv(csv).drop(columns=["DVNAME"], errors="ignore")
    if quick:
        frame = frame[frame["ID"].isin(QUICK_IDS)]
    zero = (frame["DVID"] == 1) & (frame["EVID"] == 0) & (frame["DV"] == 0)
    conc = frame["DVID"] != 2
    return {"all": frame, "pk": frame[conc & ~zero], "pkpd": frame[~zero],
            "nonmem": frame[conc]}


def pk_variant(name: str, *, error: dict[str, Any], lag_iiv: bool) -> pkpd.Model:
    """The PK model of ``warfarin_pk`` declared again with another error model, or with
    log-normal IIV on the lag time (the variants the references fitted)."""
    mb = pkpd.ModelBuilder(name, time_unit="h")
    mb.states(depot="mg", central="mg")
    lag = {"value": 0.85, "unit": "h"} if lag_iiv else {"value": 0.85, "unit": "h",
                                                         "lower": 0.05, "upper": 2.0}
    mb.parameters(TVCL="0.13 L/h", TVV="8 L", TVKA="1.3 1/h", TLAG=lag)
    mb.etas(eta_CL=0.08, eta_V=0.05, eta_KA=0.8, **({"eta_LAG": 0.3} if lag_iiv else {}))
    mb.derive("CL", "TVCL * exp(eta_CL)")
    mb.derive("V", "TVV * exp(eta_V)")
    mb.derive("KA", "TVKA * exp(eta_KA)")
    if lag_iiv:
        mb.derive("LAG", "TLAG * exp(eta_LAG)")
    mb.ode("depot", "-KA * depot")
    mb.ode("central", "KA * depot - CL / V * central")
    mb.dosing("depot", lag="LAG" if lag_iiv else "TLAG")
    mb.output("CP", "central / V", unit="mg/L")
    mb.route("PO", "depot")
    mb.error("CP", **error)
    return mb.build()


def pppd_model(pk_fit: Any) -> pkpd.Model:
    """warfarin_pkpd with its population PK parameters (thetas, omegas of eta_CL, eta_V,
    eta_KA, the CP error) fixed at the PK fit's estimates: the PPP&D sequential method (the
    PK data stay in the fit, so each subject's PK etas are still estimated)."""
    import tomllib

    from pkpd.library import model_path
    from pkpd.model import model_from_toml

    with open(model_path(PKPD_MODEL), "rb") as f:
        spec = tomllib.load(f)
    spec["model"]["name"] = f"{PKPD_MODEL}_pppd"
    est = pk_fit.estimates
    for name in ("TVCL", "TVV", "TVKA", "TLAG"):
        spec["parameters"][name] |= {"value": est[name], "fixed": True}
    pk_etas = ["eta_CL", "eta_V", "eta_KA"]
    spec["variability"]["omega"] |= {e: est[f"omega({e})"] for e in pk_etas}
    spec["variability"]["fixed"] = pk_etas
    spec["error"]["CP"] |= {"additive": est["CP.additive"],
                            "proportional": est["CP.proportional"], "fixed": True}
    return model_from_toml(spec, source=f"{PKPD_MODEL} (PPP&D)")


def focei_objective_at(cm: Any, data: pd.DataFrame, values: dict[str, float],
                       modes: pd.DataFrame | None = None) -> float:
    """pkpd's FOCE-I objective at parameter ``values`` (layout names), the subjects' modes
    searched from ``modes`` (default eta = 0)."""
    from pkpd.estimation._population import setup

    problem = setup(cm, data, "focei", outputs={1: "CP"}, lloq=None, params=None, initial=None)
    warm = False
    if modes is not None:
        problem.modes = (modes.reindex(index=problem.pop.ids, columns=list(problem.etas))
                         .fillna(0.0).to_numpy())
        warm = True
    point = {**problem.transform.values, **values}
    return float(problem.evaluate_values([point], warm=warm).ofv[0])


# ---------------------------------------------------------------------------------------------
# references as pkpd's layout
# ---------------------------------------------------------------------------------------------

def nlme_as_layout(ref: dict[str, Any]) -> dict[str, float]:
    """nlme's estimates by pkpd's layout names (error SDs by the model's error names)."""
    out = {k: ref["fixed_effects"][v] for k, v in NLME_THETA.items()}
    out |= {k: ref["omega2"][v] for k, v in NLME_OMEGA.items()}
    out["CP.additive"] = ref["additive_sd"]
    if ref.get("error_model") == "combined":
        out["CP.proportional"] = ref["proportional_sd"]
    return out


def nlme_se(ref: dict[str, Any]) -> dict[str, float]:
    """nlme's SEs of the typical values (delta method from the log scale)."""
    return {k: ref["fixed_effects_se"][v] for k, v in NLME_THETA.items()
            if ref["fixed_effects_se"].get(v) is not None}


def nonmem_as_layout(pub: dict[str, Any]) -> dict[str, float]:
    """NONMEM run002 by the layout of the lag-IIV variant (thetas were on the log scale)."""
    out = {("TLAG" if k == "TVLAG" else k): math.exp(v) for k, v in pub["log_thetas"].items()}
    return out | {k: float(v) for k, v in pub["values"].items()}


def monolix_as_layout(pub: dict[str, Any]) -> dict[str, float]:
    """The Monolix SAEM fit by the layout of warfarin_pkpd (omega SDs squared)."""
    out = {k: float(v) for k, v in pub["values"].items()}
    out |= {k: float(v) ** 2 for k, v in pub["omega_sd"].items() if k.startswith("omega(")}
    return out


def nlmixr_as_layout(pub: dict[str, Any]) -> dict[str, float]:
    """The nlmixr fit quoted by posologyr: the log-scale thetas it shares with warfarin_pkpd."""
    out = {k: math.exp(v) for k, v in pub["log_thetas"].items() if k.startswith("TV")}
    return out | {k: float(v) for k, v in pub["values"].items()}


def holford_as_layout(pub: dict[str, Any]) -> dict[str, float]:
    """Holford's turnover fit (simulated data): KOUT = ln 2 / TEQ; var(eta_KOUT) =
    var(eta_TEQ) (KOUT = ln 2 / TEQ exp(eta) has eta_KOUT = -eta_TEQ); the additive SD."""
    v = pub["values"]
    return {"TVE0": v["TVE0"], "TVIC50": v["TVIC50"], "TVKOUT": math.log(2) / v["TEQ_h"],
            "omega(eta_E0)": v["omega(eta_E0)"], "omega(eta_IC50)": v["omega(eta_IC50)"],
            "omega(eta_KOUT)": v["omega(eta_TEQ)"],
            "PCA.additive": math.sqrt(v["PCA.additive_variance"])}


def pkpd_se(pk_fit: Any, pppd_fit: Any) -> dict[str, float]:
    """SEs for the simultaneous PK/PD estimates: the PD parameters' from the PPP&D fit's
    covariance step, the PK parameters' from the PK fit's."""
    se = {k: v for k, v in pk_fit.se.items() if np.isfinite(v)}
    return se | {k: pppd_fit.se[k] for k in pppd_fit.estimated if np.isfinite(pppd_fit.se[k])}


def worst(table: pd.DataFrame, column: str = "diff_in_SE") -> tuple[float, str]:
    """Largest absolute value of ``column`` and its parameter."""
    s = table[column].abs().dropna()
    return (float(s.max()), str(s.idxmax())) if len(s) else (float("nan"), "-")


# ---------------------------------------------------------------------------------------------
# deSolve check of the PK/PD simulation
# ---------------------------------------------------------------------------------------------

def typical_values(fit: Any) -> dict[str, float]:
    """The typical subject's parameters of the PK/PD fit (etas 0)."""
    e = fit.estimates
    return {"CL": e["TVCL"], "V": e["TVV"], "KA": e["TVKA"], "TLAG": e["TLAG"],
            "E0": e["TVE0"], "KOUT": e["TVKOUT"], "IC50": e["TVIC50"], "IMAX": e["IMAX"]}


def desolve_start(fit: Any) -> rscript.Pending:
    """Start the deSolve solution of the typical subject at ``fit``'s estimates."""
    args = [f"{k}={v!r}" for k, v in typical_values(fit).items()]
    args += [f"DOSE={DESOLVE_DOSE!r}", "TIMES=" + ",".join(repr(t) for t in DESOLVE_TIMES)]
    return rscript.start("warfarin_desolve.R", *args)


def pkpd_typical(fit: Any) -> pd.DataFrame:
    """pkpd's simulation of the same typical subject (tight tolerances)."""
    ds = pkpd.simulate(fit.model, f"{DESOLVE_DOSE:g} mg PO", times=list(DESOLVE_TIMES),
                       rtol=1e-11, atol=1e-12)
    return pd.DataFrame({"TIME": DESOLVE_TIMES, "CP": ds["CP"].values.ravel(),
                         "PCA": ds["PCA"].values.ravel()})


def desolve_table(ours: pd.DataFrame, ref: dict[str, Any]) -> pd.DataFrame:
    """pkpd against deSolve at each time: values and relative differences."""
    t = ours.copy()
    t["CP deSolve"] = ref["CP"]
    t["PCA deSolve"] = ref["PCA"]
    for out in ("CP", "PCA"):
        scale = np.maximum(np.abs(t[f"{out} deSolve"]), 1e-12)
        diff = np.abs(t[out] - t[f"{out} deSolve"])
        t[f"{out} rel diff"] = np.where(np.abs(t[f"{out} deSolve"]) > 1e-12, diff / scale, diff)
    return t.set_index("TIME")


# ---------------------------------------------------------------------------------------------
# the run
# ---------------------------------------------------------------------------------------------

def run(shared: Path, out: Path, *, quick: bool = False) -> Result:
    """Fit, diagnose, compare with the references and write the report into ``out``."""
    t_start, c_start = time.perf_counter(), time.process_time()
    csv = shared / "data" / "warfarin.csv"
    data = datasets(csv, quick)
    published = rscript.published("warfarin")
    ids = [",".join(str(i) for i in QUICK_IDS)] if quick else []
    try:
        r_add = rscript.start("warfarin_nlme.R", csv, "additive", *ids)
        r_comb = rscript.start("warfarin_nlme.R", csv, "combined", *ids)
        r_missing = ""
    except rscript.RscriptMissing as exc:
        r_add = r_comb = None
        r_missing = str(exc)

    clock = Clock()
    pk_cm = pkpd.compile_model(pkpd.load_model(PK_MODEL))
    saem_opts = {"burn": 60, "em": 40} if quick else None
    fits: dict[str, Any] = {}
    fits["FOCE-I"] = clock("FOCE-I fit", pkpd.fit_population, pk_cm, data["pk"], "focei",
                           outputs={1: "CP"})
    fits["SAEM"] = clock("SAEM fit", pkpd.fit_population, pk_cm, data["pk"], "saem",
                         outputs={1: "CP"}, seed=1, saem=saem_opts)
    focei = fits["FOCE-I"]
    add_cm = pkpd.compile_model(pk_variant("warfarin_pk_additive", error={"additive": 0.8},
                                           lag_iiv=False))
    fits["FOCE-I, additive error"] = clock("FOCE-I fit, additive error", pkpd.fit_population,
                                           add_cm, data["pk"], "focei", outputs={1: "CP"})
    nonmem_pub = published["nonmem_run002"]
    nonmem_cm = None
    if not quick:
        nonmem_cm = pkpd.compile_model(pk_variant(
            "warfarin_pk_lag_iiv", error={"additive": 0.3, "proportional": 0.1},
            lag_iiv=True))
        fits["FOCE-I, lag IIV (NONMEM's model)"] = clock(
            "FOCE-I fit, lag IIV (NONMEM's model)", pkpd.fit_population, nonmem_cm,
            data["nonmem"], "focei", outputs={1: "CP"}, initial=nonmem_as_layout(nonmem_pub))

    pkpd_cm = pkpd.compile_model(pkpd.load_model(PKPD_MODEL))
    shared_names = [n for n in focei.estimated if n in pkpd_cm.model.parameter_layout.names()]
    pd_fit = clock("PK/PD FOCE-I fit, simultaneous (no covariance step)", pkpd.fit_population,
                   pkpd_cm, data["pkpd"], "focei", outputs={1: "CP", 2: "PCA"},
                   initial={n: focei.estimates[n] for n in shared_names},
                   maxiter=2 if quick else 500, covariance=None)
    fits["PK/PD FOCE-I"] = pd_fit
    pppd_cm = pkpd.compile_model(pppd_model(focei))
    fits["PK/PD FOCE-I, PPP&D"] = clock(
        "PK/PD FOCE-I fit, PPP&D (with its covariance step)", pkpd.fit_population, pppd_cm,
        data["pkpd"], "focei", outputs={1: "CP", 2: "PCA"}, maxiter=3 if quick else 500)
    r_desolve = None if r_missing else desolve_start(pd_fit)

    n_sim, n_vpc = (50, 50) if quick else (1000, 500)
    diag_pk = clock(f"diagnose PK (n_sim={n_sim})", pkpd.diagnose, focei, n_sim=n_sim, seed=1)
    diag_pd = clock(f"diagnose PK/PD (n_sim={n_sim})", pkpd.diagnose, pd_fit, n_sim=n_sim,
                    seed=1)
    vpcs = {output: clock(f"vpc {output} (n={n_vpc})", pkpd.vpc, pd_fit, output=output,
                          n=n_vpc, seed=1) for output in ("CP", "PCA")}
    nca = clock("nca", pkpd.nca, data["all"], dvid=1, duplicates="mean", conc_unit="mg/L",
                dose_unit="mg")
    ours_typical = clock("pkpd typical subject (rtol 1e-11)", pkpd_typical, pd_fit)

    comparisons: dict[str, pd.DataFrame] = {}
    checks: dict[str, Any] = {}
    refs: dict[str, Any] = {}
    if r_add is not None:
        refs["nlme additive"] = clock("R nlme and deSolve (wait after pkpd)", r_add.result)
        refs["nlme combined"] = r_comb.result()
        refs["deSolve"] = r_desolve.result()
        nl = refs["nlme additive"]
        if nl["converged"]:
            comparisons["FOCE-I additive vs nlme additive"] = compare(
                fits["FOCE-I, additive error"].estimates, nlme_as_layout(nl),
                fits["FOCE-I, additive error"].se, label="nlme")
            checks["ofv additive at nlme"] = focei_objective_at(
                add_cm, data["pk"], nlme_as_layout(nl),
                modes=fits["FOCE-I, additive error"].etas)
        nc = refs["nlme combined"]
        if nc["converged"]:
            at = nlme_as_layout(nc)
            at["CP.additive"] = max(at["CP.additive"], 1e-4)
            comparisons["FOCE-I vs nlme combined"] = compare(focei.estimates, at, focei.se,
                                                             label="nlme")
            checks["ofv combined at nlme"] = focei_objective_at(pk_cm, data["pk"], at,
                                                                modes=focei.etas)
        dt = desolve_table(ours_typical, refs["deSolve"])
        comparisons["pkpd vs deSolve, typical subject"] = dt
        checks["desolve max rel diff"] = float(dt[["CP rel diff", "PCA rel diff"]].max().max())
    if nonmem_cm is not None:
        nm_fit = fits["FOCE-I, lag IIV (NONMEM's model)"]
        nm_ref = nonmem_as_layout(nonmem_pub)
        comparisons["lag-IIV FOCE-I vs NONMEM run002"] = compare(nm_fit.estimates, nm_ref,
                                                                 nm_fit.se, label="NONMEM")
        checks["nonmem ofv"] = nonmem_pub["ofv"]
        checks["ofv at nonmem (modes from pkpd)"] = focei_objective_at(
            nonmem_cm, data["nonmem"], nm_ref, modes=nm_fit.etas)
        checks["ofv at nonmem (modes from 0)"] = focei_objective_at(nonmem_cm, data["nonmem"],
                                                                    nm_ref)
    pppd = fits["PK/PD FOCE-I, PPP&D"]
    pd_se = pkpd_se(focei, pppd)
    comparisons["PK/PD simultaneous vs PPP&D"] = compare(
        pd_fit.estimates, {k: pppd.estimates[k] for k in pppd.estimated}, pd_se, label="PPP&D")
    mono = monolix_as_layout(published["monolix_optidoser"])
    comparisons["PK/PD FOCE-I vs Monolix SAEM"] = compare(pd_fit.estimates, mono, pd_se,
                                                          label="Monolix")
    comparisons["PK FOCE-I vs Monolix SAEM (PK part)"] = compare(
        focei.estimates, {k: v for k, v in mono.items() if k in focei.estimates}, focei.se,
        label="Monolix")
    comparisons["PK/PD FOCE-I vs nlmixr (posologyr)"] = compare(
        pd_fit.estimates, nlmixr_as_layout(published["nlmixr_posologyr"]), pd_se,
        label="nlmixr")
    comparisons["PK/PD FOCE-I vs Holford (simulated data)"] = compare(
        pd_fit.estimates, holford_as_layout(published["holford_turnover_simulated"]),
        pd_se, label="Holford")

    report = Report("Warfarin: population PK and the PK/PD turnover model of PCA", out)
    for label, fit in fits.items():
        report.record(f"{label} fit", fit)
    figures: list[Path | None] = []
    _data_section(report, data, csv, quick)
    _pk_section(report, fits)
    _pk_reference_sections(report, fits, comparisons, refs, checks, published, r_missing,
                           quick)
    _pkpd_section(report, pd_fit, pppd, comparisons, published, quick)
    _desolve_section(report, comparisons, refs, checks, r_missing)
    _diagnostics_section(report, diag_pk, diag_pd, vpcs, figures)
    _nca_section(report, nca, focei)
    _interpretation(report, fits, comparisons, checks, diag_pk, diag_pd, vpcs, quick)
    clock.times["total (this script)"] = (time.perf_counter() - t_start,
                                          time.process_time() - c_start)
    _runtime_section(report, clock.times)
    path = report.write()
    for title, table in comparisons.items():
        print_table(title, table)
    print(f"\nreport: {path}")
    runtimes = {k: wall for k, (wall, _cpu) in clock.times.items()}
    return Result(fits, comparisons, path, [f for f in figures if f is not None], runtimes,
                  checks)


# ---------------------------------------------------------------------------------------------
# report sections
# ---------------------------------------------------------------------------------------------

def _data_section(report: Report, data: dict[str, pd.DataFrame], csv: Path,
                  quick: bool) -> None:
    frame = data["all"]
    obs = frame[frame["EVID"] == 0]
    n_cp, n_pca = int((obs["DVID"] == 1).sum()), int((obs["DVID"] == 2).sum())
    report.text(
        f"Data: `{csv.name}` ({frame['ID'].nunique()} subjects, one oral dose of warfarin "
        f"sodium (mg) at time 0, {n_cp} concentrations (mg/L, DVID 1) and {n_pca} PCA values "
        "(% of normal, DVID 2); nlmixr2data::warfarin, O'Reilly 1963/1968). "
        f"Fitted: {int((data['pk']['EVID'] == 0).sum())} concentrations. " + ZERO_NOTE +
        (" **Quick run** (12 subjects, PK/PD fit stopped after 2 iterations, short SAEM, no "
         "NONMEM refit, few replicates): it checks that the script runs; the numbers are not "
         "the committed report's." if quick else ""))


def _pk_section(report: Report, fits: dict[str, Any]) -> None:
    report.heading("PK: estimates")
    report.text("`models/warfarin_pk.toml`: one compartment, first-order absorption after a "
                "lag time TLAG (no IIV), exponential IIV on CL, V and KA (diagonal omega), "
                "combined error with the SDs adding (sd = a + b·CP). Fitted to the "
                "concentrations alone.")
    pk = {k: fits[k] for k in ("FOCE-I", "SAEM")}
    report.table(estimates_table(pk))
    report.table(_fit_rows(fits))
    f, s = pk["FOCE-I"], pk["SAEM"]
    d = max((abs(s.estimates[k] - f.estimates[k]) / f.se[k], k) for k in f.se
            if np.isfinite(f.se[k]) and f.se[k] > 0)
    report.text(
        "Omegas are variances of the etas (log scale); `CP.additive` (mg/L) and "
        "`CP.proportional` are residual SDs. SE from the sandwich covariance step. SAEM's OFV "
        f"is the FOCE-I objective at its estimates, so both are on one scale: they differ by "
        f"{s.ofv - f.ofv:+.2f}. SAEM's estimates are within {d[0]:.2f} FOCE-I SE of FOCE-I's "
        f"(largest: {d[1]}). KA is the least precise parameter: most subjects were first "
        "sampled at 24 h, and the absorption phase of the others is covered by a few levels.")


def _fit_rows(fits: dict[str, Any]) -> pd.DataFrame:
    rows = {k: {"n_obs": f.n_obs, "OFV": f.ofv, "OFV method": f.ofv_method,
                "status": f.status, "covariance": f.covariance_status,
                "runtime (s)": f.runtime} for k, f in fits.items()}
    return pd.DataFrame(rows).T.rename_axis("fit")


def _pk_reference_sections(report: Report, fits: dict[str, Any],
                           comparisons: dict[str, pd.DataFrame], refs: dict[str, Any],
                           checks: dict[str, Any], published: dict[str, Any], r_missing: str,
                           quick: bool) -> None:
    report.heading("PK: independent references")
    report.text("Each table: pkpd's estimate, the reference, the relative difference (%) and "
                "the difference in pkpd's standard errors (`diff_in_SE`).")
    report.heading("R nlme, same closed-form model (computed)", 3)
    if r_missing:
        report.text(f"Not computed: {r_missing}.")
    else:
        nl, nc = refs["nlme additive"], refs["nlme combined"]
        add = fits["FOCE-I, additive error"]
        report.text(
            "`validation/references/warfarin_nlme.R`: `nlme` (ML, Lindstrom-Bates) on the "
            "closed form of the same model, diagonal omega on log CL, V, KA. The lag time "
            "enters through max(t − TLAG, 0), which has a kink at every sampling time, and "
            "nlme's gradient steps on it stop at local optima; so the like-for-like comparison "
            "uses an **additive error** (one parameter less) with nlme's lag time **profiled** "
            "(nlme fits at lag times 0.50-1.45 h by 0.05 h, the best refined by optimize()), "
            "against pkpd's FOCE-I fit of the same additive-error variant (built in the "
            "script). nlme gives no SE for the profiled lag time.")
        if nl["converged"]:
            report.table(comparisons["FOCE-I additive vs nlme additive"])
            w = worst(comparisons["FOCE-I additive vs nlme additive"])
            report.text(
                f"Largest difference {w[0]:.2f} SE ({w[1]}). Objectives on NONMEM's scale: "
                f"nlme {nl['ofv_nonmem_scale']:.3f} (its own approximation), pkpd FOCE-I "
                f"{add.ofv:.3f} at its optimum and {checks['ofv additive at nlme']:.3f} at "
                "nlme's estimates.")
            prof = pd.DataFrame({"nlme OFV": nl["lag_profile"]["ofv_nonmem_scale"]},
                                index=[f"{t:.2f}" for t in nl["lag_profile"]["tlag"]])
            report.text("nlme's profile of the lag time (TLAG in h; objective on NONMEM's "
                        "scale). It jumps where a sampling time (1 h) falls before the lag.")
            report.table(prof.rename_axis("TLAG (h)").T, floatfmt=".1f")
        else:
            report.text(f"nlme failed: {nl['message']}")
        report.text(
            "With the **combined** error (`varConstPower`, power fixed at 1, the SDs adding as "
            "in warfarin_pk) nlme's fit of the lag time as a fixed effect "
            + (f"ends with an additive SD of {nc['additive_sd']:.2g} mg/L: a proportional-only "
               f"error (objective {nc['ofv_nonmem_scale']:.2f}, its approximation). pkpd's "
               "FOCE-I objective at these estimates (additive SD raised to 1e-4) is "
               f"{checks['ofv combined at nlme']:.2f} against {fits['FOCE-I'].ofv:.2f} at "
               "pkpd's optimum: nlme's point is not an optimum of FOCE-I's objective, so "
               "the combined-error estimates differ (shown for completeness):"
               if nc["converged"] else f"failed: {nc['message']}."))
        if nc["converged"]:
            report.table(comparisons["FOCE-I vs nlme combined"])
    report.heading("NONMEM 7.5 FOCE-I (published run, refitted by pkpd)", 3)
    pub = published["nonmem_run002"]
    report.text(f"Source: {pub['source']}. Data: {pub['data']}. Model: {pub['model']}. "
                f"Method: {pub['method']}.")
    if quick:
        report.text("Skipped in the quick run.")
    else:
        nm = fits["FOCE-I, lag IIV (NONMEM's model)"]
        report.text(
            "pkpd fits the same model (variant built in the script: IIV on the lag time, "
            "variances of the two error terms adding) to the same 251 concentrations, "
            "starting from NONMEM's estimates:")
        report.table(comparisons["lag-IIV FOCE-I vs NONMEM run002"])
        w = worst(comparisons["lag-IIV FOCE-I vs NONMEM run002"], "rel_diff_%")
        report.text(
            f"OFV: pkpd {nm.ofv:.4f}, NONMEM {checks['nonmem ofv']:.4f} (difference "
            f"{nm.ofv - checks['nonmem ofv']:+.2g}); largest relative difference of an "
            f"estimate {w[0]:.2g} % ({w[1]}). pkpd's FOCE-I objective at NONMEM's estimates is "
            f"{checks['ofv at nonmem (modes from pkpd)']:.4f} with each subject's mode searched "
            f"from pkpd's, and {checks['ofv at nonmem (modes from 0)']:.2f} when searched from "
            "eta = 0: with IIV on the lag time some subjects' conditional densities have "
            "several modes, and the search from 0 stops at a worse one (the fit itself "
            "refreshes the modes from both starts). This model is not warfarin_pk (IIV on the "
            "lag time, the variances adding, the zero levels kept), so its OFV is not "
            "comparable with warfarin_pk's; what the refit shows is that pkpd's FOCE-I "
            "objective and optimiser reproduce NONMEM's on the same problem.")


def _pkpd_section(report: Report, fit: Any, pppd: Any, comparisons: dict[str, pd.DataFrame],
                  published: dict[str, Any], quick: bool) -> None:
    report.heading("PK/PD: turnover model of PCA")
    report.text(
        "`models/warfarin_pkpd.toml`: the PK of warfarin_pk and dPCA/dt = KOUT·E0·(1 − "
        "IMAX·C/(IC50 + C)) − KOUT·PCA, PCA(0) = E0 (KIN = KOUT·E0), IMAX fixed at 1; "
        "exponential IIV on CL, V, KA, E0, KOUT, IC50; CP combined error (SDs adding), PCA "
        "additive error. The structure is that of the Monolix and NONMEM turnover runs below "
        "(the concentration acts directly, no effect compartment); the nlmixr2 vignette adds "
        "a transit absorption step. Simplified here: no transit step, IMAX fixed at 1 "
        "(Monolix: 0.996; Holford: EMAX = −1 fixed), no IIV on the lag time or IMAX.")
    report.text(
        "Two fits of both outputs (`outputs={1: \"CP\", 2: \"PCA\"}`) by FOCE-I:\n\n"
        "- **simultaneous**: all 16 parameters, started from the PK fit's estimates; the "
        "gold standard, and the fit the diagnostics, VPCs and the deSolve check use. Its "
        "covariance step is skipped: it needs the objective at 2p² + 1 = 513 points, each "
        "re-solving every subject's modes with the sensitivities of 6 etas, which took about "
        "6 minutes of CPU here, more than the whole run may take;\n"
        "- **PPP&D** (sequential: the population PK parameters fixed at the PK fit's "
        "estimates, the PK data kept, so each subject's PK etas are still estimated with its "
        "PCA; Zhang L, Beal SL, Sheiner LB. Simultaneous vs. sequential analysis for "
        "population PK/PD data I: best-case performance. J Pharmacokinet Pharmacodyn "
        "2003;30:387-404, who found it estimates the PD parameters and their SEs about as "
        "well as the simultaneous method): 7 parameters, with its covariance step. Its SEs "
        "are the PD parameters' SEs of this report; the PK parameters' SEs are the PK fit's. "
        "A fully sequential fit (each subject's PK fixed at its PK-only estimate) was not "
        "used: with eta_KA shrinkage near 45 % it would pass shrunk absorption to the PCA "
        "model.")
    report.table(estimates_table({"simultaneous": fit, "PPP&D": pppd}))
    report.table(_fit_rows({"simultaneous": fit, "PPP&D": pppd}))
    report.text("The two fits against each other (diff_in_SE in PPP&D's SEs):")
    report.table(comparisons["PK/PD simultaneous vs PPP&D"])
    e = fit.estimates
    report.text(
        f"OFV: simultaneous {fit.ofv:.3f}, PPP&D {pppd.ofv:.3f} ({pppd.ofv - fit.ofv:+.2f}, "
        "with 9 parameters fewer). "
        f"Derived (simultaneous): KIN = E0·KOUT = {e['TVE0'] * e['TVKOUT']:.3g} %/h; PCA "
        f"turnover half-life ln 2/KOUT = {math.log(2) / e['TVKOUT']:.3g} h." +
        (" (Quick run: 2-3 iterations, not converged.)" if quick else ""))
    report.heading("PK/PD: published and context references", 3)
    mono = published["monolix_optidoser"]
    report.text(f"**Monolix SAEM, the same turnover model** — source: {mono['source']}. "
                f"Data: {mono['data']}. Model: {mono['model']}. Method: {mono['method']}. "
                f"{mono['note']} Omegas compared as variances (Monolix's SDs squared); "
                "IMAX is fixed at 1 here. pkpd: the simultaneous fit; diff_in_SE in the SEs "
                "above (PD: PPP&D, PK: the PK fit). Monolix kept the four 0 mg/L levels and "
                "has IIV on the lag time, which absorbs part of the early misfit that the "
                "residual error takes here.")
    report.table(comparisons["PK/PD FOCE-I vs Monolix SAEM"])
    report.text("warfarin_pk's FOCE-I (concentrations only) against the PK part of the same "
                "Monolix fit:")
    report.table(comparisons["PK FOCE-I vs Monolix SAEM (PK part)"])
    nlx = published["nlmixr_posologyr"]
    report.text(f"**nlmixr FOCE-I, transit absorption (context)** — source: {nlx['source']}. "
                f"Model: {nlx['model']}. {nlx['note']}")
    report.table(comparisons["PK/PD FOCE-I vs nlmixr (posologyr)"])
    hol = published["holford_turnover_simulated"]
    report.text(f"**Holford's NONMEM turnover model on simulated data (context)** — source: "
                f"{hol['source']}. Data: {hol['data']}. Model: {hol['model']}. Method: "
                f"{hol['method']}. {hol['note']} KOUT = ln 2/TEQ; the IIV of TEQ is that of "
                "KOUT; PCA.additive = √(RUV_FX variance).")
    report.table(comparisons["PK/PD FOCE-I vs Holford (simulated data)"])


def _desolve_section(report: Report, comparisons: dict[str, pd.DataFrame],
                     refs: dict[str, Any], checks: dict[str, Any], r_missing: str) -> None:
    report.heading("PK/PD: simulation against deSolve (computed)", 3)
    if r_missing:
        report.text(f"Not computed: {r_missing}.")
        return
    report.text(
        f"The typical subject (etas 0) at the PK/PD estimates after {DESOLVE_DOSE:g} mg: "
        "pkpd (`pkpd.simulate` of the fitted model, rtol 1e-11) against "
        f"`validation/references/warfarin_desolve.R` ({refs['deSolve']['solver']}, deSolve "
        f"{refs['deSolve']['deSolve_version']}; the dose enters the depot at TLAG as an "
        f"event). Largest relative difference: {checks['desolve max rel diff']:.2g} "
        "(absolute where the reference is 0, before the lag).")
    report.table(comparisons["pkpd vs deSolve, typical subject"], floatfmt=".6g")


def _diagnostics_section(report: Report, diag_pk: Any, diag_pd: Any, vpcs: dict[str, Any],
                         figures: list[Path | None]) -> None:
    report.heading("Diagnostics")
    report.heading("PK fit (FOCE-I, concentrations only)", 3)
    figures.append(report.plot("gof", diag_pk, "gof_pk.png", "PK fit: goodness of fit "
                               "(DV against PRED and IPRED, CWRES against time and PRED, "
                               "|IWRES| against IPRED, NPDE)", covariates=["WT"]))
    report.table(residual_summary(diag_pk))
    report.text("NPDE tests (is NPDE standard normal?):")
    report.table(diag_pk.npde_tests.rename_axis("test"))
    cal, npde_text = npde_paragraphs(diag_pk)
    report.table(cal)
    report.text(npde_text)
    report.text("Shrinkage (%):")
    report.table(diag_pk.shrinkage.rename_axis("name"))
    report.heading("PK/PD fit (FOCE-I, both outputs)", 3)
    for output, label in (("CP", "concentration"), ("PCA", "PCA")):
        figures.append(report.plot("gof", diag_pd, f"gof_pkpd_{output.lower()}.png",
                                   f"PK/PD fit, {label}: goodness of fit", output=output))
    report.text("Mean and SD of the residuals by output:")
    report.table(residual_summary(diag_pd))
    report.text("NPDE tests (both outputs together):")
    report.table(diag_pd.npde_tests.rename_axis("test"))
    cal, npde_text = npde_paragraphs(diag_pd)
    report.table(cal)
    report.text(npde_text + " " + _normality_by_output(diag_pd))
    report.text("Shrinkage (%):")
    report.table(diag_pd.shrinkage.rename_axis("name"))
    figures.append(report.plot("eta_covariates", diag_pd, "eta_covariates.png",
                               "PK/PD fit: estimated etas against weight, age and sex",
                               covariates=["WT", "AGE", "SEX"]))
    report.text("The models have no covariate: a trend of eta_CL or eta_V with weight would "
                "call for allometric scaling (Holford's model has it).")
    report.heading("Visual predictive checks (PK/PD fit)", 3)
    for output, what in (("CP", "concentrations"), ("PCA", "PCA")):
        v = vpcs[output]
        figures.append(report.plot(
            "vpc", v, f"vpc_{output.lower()}.png",
            f"VPC of the {what}: 5th, 50th and 95th percentiles of the observations against "
            f"the {100 * v.ci:.0f} % intervals of the same percentiles over {v.n} replicates",
            log=output == "CP"))
        summ = v.summary()
        report.table(summ, index=False)
        n_out, n_bins = int(summ["n_outside"].sum()), int(summ["n_bins"].sum())
        report.text(f"{output}: {n_out} of {n_bins} observed percentiles outside their "
                    f"simulated {100 * v.ci:.0f} % interval (binning: {v.binning}).")


def _nca_section(report: Report, nca: pd.DataFrame, focei: Any) -> None:
    report.heading("Non-compartmental analysis of the concentrations")
    cols = {k: v for k, v in NCA_COLUMNS.items() if k in nca.columns}
    report.table(median_range(nca, cols))
    cl_f = pd.to_numeric(nca.get("CL_F"), errors="coerce").dropna()
    hl = pd.to_numeric(nca.get("half_life"), errors="coerce").dropna()
    e = focei.estimates
    report.text(
        "One row per subject (`pkpd.nca`, linear-up/log-down AUC, lambda_z by PKNCA's "
        "best-fit rule, the 0 mg/L levels before the first measurable one counted as 0, the "
        "duplicate samples of ID 9 at 3, 6, 9 and 12 h averaged). "
        f"Geometric mean CL/F {float(np.exp(np.log(cl_f).mean())):.3g} L/h against the "
        f"typical clearance {e['TVCL']:.3g} L/h (FOCE-I); median half-life {hl.median():.3g} h "
        f"against ln 2·V/CL = {math.log(2) * e['TVV'] / e['TVCL']:.3g} h. Sampling stops at "
        "72-120 h, about 1-2 half-lives, so AUCinf leans on the extrapolation (see its "
        "percentage).")


def vpc_tails(v: Any) -> tuple[int, int, int]:
    """Outer percentiles outside their interval: (narrower than simulated, wider, medians
    outside). Narrower: the 5th above its interval or the 95th below it."""
    t = v.table[(v.table["kind"] == "percentile") & v.table["outside"]]
    lo, hi = t["quantile"] < 0.5, t["quantile"] > 0.5
    above, below = t["observed"] > t["sim_hi"], t["observed"] < t["sim_lo"]
    narrower = int(((lo & above) | (hi & below)).sum())
    wider = int(((lo & below) | (hi & above)).sum())
    return narrower, wider, int((t["quantile"] == 0.5).sum())


def _npde_words(diag: Any) -> str:
    t = diag.npde_tests
    var, p_var, p_norm = t.loc["variance", "value"], t.loc["variance", "p_value"], \
        t.loc["normality", "p_value"]
    return (f"NPDE variance {var:.2f} (p = {p_var:.2g}), normality p = {p_norm:.2g}, global "
            f"p = {t.loc['global', 'p_value']:.2g}")


def _spread_words(diag: Any, narrower: int, wider: int, shr: pd.Series) -> str:
    """What the VPC's outer percentiles and the SDs of NPDE and of ndtri(PD) say about the
    spread of the concentrations."""
    out = []
    if narrower > wider:
        out.append(f"In {narrower} bins the observed outer percentiles of the concentrations lie "
                   f"inside the simulated ones (in {wider} outside): there the model simulates "
                   "more spread than observed.")
    elif wider > narrower:
        out.append(f"In {wider} bins the observed outer percentiles of the concentrations lie "
                   f"outside the simulated ones (in {narrower} inside): there the data spread "
                   "more than the model simulates.")
    cal = npde_calibration(diag)
    if "CP" in cal.index:
        sd_npde, sd_pd = cal.loc["CP", "SD of NPDE"], cal.loc["CP", "SD of ndtri(PD)"]
        if abs(sd_pd - 1) < 0.1 and sd_npde < 0.95:
            out.append(
                f"Over all times the normal quantiles of PD (no decorrelation) have SD "
                f"{sd_pd:.2f}, but the NPDE {sd_npde:.2f}: the marginal spread is about right "
                "overall, and what differs is the within-subject correlation the model's "
                "etas imply (eta_KA, poorly determined, shrinkage "
                f"{shr.get('eta_KA', float('nan')):.0f} %, shapes the early levels).")
    return " ".join(out)


def _normality_by_output(diag: Any) -> str:
    """Shapiro-Wilk p-value of NPDE per output, and the largest NPDE of each."""
    from scipy.stats import shapiro

    parts = []
    for out, g in diag.table.dropna(subset=["NPDE"]).groupby("OUTPUT"):
        top = g.loc[g["NPDE"].abs().idxmax()]
        side = "above" if top["NPDE"] > 0 else "below"
        parts.append(f"{out} p = {float(shapiro(g['NPDE']).pvalue):.2g} (largest |NPDE|: "
                     f"{top['NPDE']:+.2f}, ID {int(top['ID'])} at {top['TIME']:g} h, {side} "
                     "the model)")
    return "Normality of NPDE by output (Shapiro-Wilk): " + "; ".join(parts) + "."


def _interpretation(report: Report, fits: dict[str, Any], comparisons: dict[str, pd.DataFrame],
                    checks: dict[str, Any], diag_pk: Any, diag_pd: Any, vpcs: dict[str, Any],
                    quick: bool) -> None:
    report.heading("Interpretation")
    if quick:
        report.text("Quick run: no interpretation (12 subjects, PK/PD fit not converged).")
        return
    pk, pdf = fits["FOCE-I"], fits["PK/PD FOCE-I"]
    lines = [
        f"- PK: FOCE-I and SAEM agree; CL {pk.estimates['TVCL']:.3g} L/h and V "
        f"{pk.estimates['TVV']:.3g} L are precise (RSE {pk.rse['TVCL']:.0f} % and "
        f"{pk.rse['TVV']:.0f} %), KA and its IIV are not (RSE {pk.rse['TVKA']:.0f} % and "
        f"{pk.rse['omega(eta_KA)']:.0f} %).",
    ]
    if "FOCE-I additive vs nlme additive" in comparisons:
        w = worst(comparisons["FOCE-I additive vs nlme additive"])
        lines.append(f"- nlme on the same (additive-error) model agrees within {w[0]:.2f} SE "
                     f"({w[1]}).")
    if "lag-IIV FOCE-I vs NONMEM run002" in comparisons:
        nm = fits["FOCE-I, lag IIV (NONMEM's model)"]
        w = worst(comparisons["lag-IIV FOCE-I vs NONMEM run002"], "rel_diff_%")
        lines.append(f"- On NONMEM's own model and data pkpd's FOCE-I reaches NONMEM's minimum: "
                     f"OFV {nm.ofv - checks['nonmem ofv']:+.1g} from NONMEM's, estimates within "
                     f"{w[0]:.2g} %.")
    m = comparisons["PK/PD FOCE-I vs Monolix SAEM"]
    thetas = m.loc[[k for k in ("TVE0", "TVKOUT", "TVIC50") if k in m.index], "rel_diff_%"]
    lines.append(
        f"- PK/PD: E0 {pdf.estimates['TVE0']:.3g} %, KOUT {pdf.estimates['TVKOUT']:.3g} 1/h "
        f"(half-life {math.log(2) / pdf.estimates['TVKOUT']:.3g} h) and IC50 "
        f"{pdf.estimates['TVIC50']:.3g} mg/L are within {thetas.abs().max():.1f} % of Monolix's "
        "SAEM estimates of the same model (a different estimator and a data copy without four "
        "duplicate samples), and close to the context fits (nlmixr with transit absorption, "
        "Holford's on simulated data).")
    n_cp, w_cp, m_cp = vpc_tails(vpcs["CP"])
    n_pca, w_pca, m_pca = vpc_tails(vpcs["PCA"])
    shr = diag_pd.shrinkage["sd"]
    lines.append(
        f"- Diagnostics. PK fit: {_npde_words(diag_pk)}; PK/PD fit: {_npde_words(diag_pd)}. "
        f"In the VPCs {m_cp} concentration median(s) and {m_pca} PCA median(s) lie outside "
        f"their intervals, and {n_pca} PCA outer percentiles inside the simulated ones "
        f"({w_pca} outside). " + _spread_words(diag_pd, n_cp, w_cp, shr) +
        " " + _normality_by_output(diag_pd) +
        " Many PCA baselines are recorded as exactly 100 %, which no continuous error model "
        "reproduces. The turnover model follows the "
        "fall of PCA to about a fifth of baseline at 48-72 h and its recovery.")
    sp = comparisons["PK/PD simultaneous vs PPP&D"]
    w = worst(sp)
    lines.append(f"- The PPP&D fit reproduces the simultaneous one within {w[0]:.2f} SE ({w[1]}) "
                 "at a fraction of the cost, as Zhang, Beal & Sheiner found.")
    if "desolve max rel diff" in checks:
        lines.append(f"- pkpd's solution of the PK/PD equations matches deSolve to "
                     f"{checks['desolve max rel diff']:.1g} (relative).")
    lines.append(
        "- Limits: the four 0 mg/L levels are left out (not treated as censored: no LLOQ is "
        "given); the lag time has no IIV in warfarin_pk and warfarin_pkpd (the NONMEM and "
        "Monolix runs have one; whether it improves these models on the same data was not "
        "tested here); IMAX is fixed at 1; no covariates (weight is a candidate for CL and V). "
        "The Monolix and nlmixr numbers are run "
        "outputs kept in public repositories, not peer-reviewed tables, and the Funaki, "
        "Holford & Fujita (PAGJA 2018) poster's own estimates were not found in a citable "
        "form.")
    report.text("\n".join(lines))


def _runtime_section(report: Report, times: dict[str, tuple[float, float]]) -> None:
    report.heading("Runtimes")
    report.table(pd.DataFrame(times, index=["wall (s)", "CPU (s)"]).T.rename_axis("step"),
                 floatfmt=".3g")
    report.text(
        "Wall time, and the CPU time of this process summed over its threads, on the machine "
        "that wrote the report: 2 cores shared with other work, so both vary with the load "
        "(threads waiting for a core still count CPU time). The R scripts run in the "
        "background while pkpd fits; their wait time is what they add. Compiled kernels come "
        "from the disk cache.")


def main() -> None:
    command_line(run, __doc__, REPORTS / "warfarin",
                 "12 subjects, short fits, few replicates (for the tests)")


if __name__ == "__main__":
    main()
