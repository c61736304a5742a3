"""Validation report: population PK of theophylline (12 subjects, one oral dose).

Usage::

    python validation/theophylline.py [--shared DIR] [--out FOLDER] [--quick]

Fits ``shared/data/theophylline.csv`` with the bundled ``theophylline_1cmt`` model (one
compartment, first-order absorption, exponential IIV on KA, CL and V, additive error) by
FOCE-I and SAEM, then writes ``validation/reports/theophylline/report.md`` with its figures:

- the estimates with SE and RSE, OFV and runtimes of both methods;
- independent references, with the relative differences printed: R's ``nlme`` fit of the same
  model (computed here, ``validation/references/nlme_theophylline.R``), the nlmixr2 SAEM fit
  printed in the nlmixr2est README, and the models of Pinheiro & Bates (2000), recomputed with
  the book's own code (sources in ``validation/references/theophylline.toml``);
- diagnostics (:func:`pkpd.diagnose`: goodness-of-fit panels, NPDE tests, shrinkage, etas
  against weight), a VPC (:func:`pkpd.vpc`) and an NCA (:func:`pkpd.nca`) of the data.

``--quick`` (for the test suite) shortens SAEM and uses fewer simulated replicates. Without R
(``Rscript``) the computed references are left out and the report says so.
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
    focei_objective,
    median_range,
    npde_paragraphs,
    print_table,
    residual_summary,
    timed,
)
from references import rscript
from scipy.stats import shapiro, spearmanr

import pkpd

MODEL = "theophylline_1cmt"
NLME_THETA = {"TVKA": "KA", "TVCL": "CL", "TVV": "V"}
NLME_OMEGA = {"omega(eta_KA)": "lKA", "omega(eta_CL)": "lCL", "omega(eta_V)": "lV"}
NCA_COLUMNS = {"Cmax": "Cmax (mg/L)", "Tmax": "Tmax (h)", "AUClast": "AUClast (mg·h/L)",
               "AUCinf_obs": "AUCinf (mg·h/L)", "AUC_pct_extrap_obs": "AUC extrapolated (%)",
               "lambda_z": "lambda_z (1/h)", "half_life": "half-life (h)",
               "CL_F": "CL/F (L/h)", "Vz_F": "Vz/F (L)"}


def nlme_as_layout(ref: dict[str, Any]) -> dict[str, float]:
    """nlme's estimates (one variant of ``nlme_theophylline.R``) by pkpd's layout names."""
    out = {k: ref["fixed_effects"][v] for k, v in NLME_THETA.items()}
    out |= {k: ref["omega2"][v] for k, v in NLME_OMEGA.items()}
    out["CP.additive"] = ref["sigma"]
    return out


def nlmixr2_as_layout(pub: dict[str, Any]) -> dict[str, float]:
    """The nlmixr2 README fit by pkpd's layout names; BSV CV% to omega^2 = log(1 + CV^2)."""
    out = dict(pub["estimates"])
    out |= {k: math.log1p((cv / 100.0) ** 2) for k, cv in pub["bsv_cv_percent"].items()}
    return out


def ke_and_se(fit: Any) -> tuple[float, float]:
    """Elimination rate constant CL/V and its SE (delta method from the covariance)."""
    cl, v = fit.estimates["TVCL"], fit.estimates["TVV"]
    ke = cl / v
    cov = fit.covariance
    if cov is None:
        return ke, float("nan")
    rel = (cov.loc["TVCL", "TVCL"] / cl**2 + cov.loc["TVV", "TVV"] / v**2
           - 2 * cov.loc["TVCL", "TVV"] / (cl * v))
    return ke, ke * math.sqrt(max(rel, 0.0))


def pinheiro_bates_table(fit: Any, pb: dict[str, Any]) -> pd.DataFrame:
    """pkpd's KA, ke and CL against the book's fm2Theo.nlme and fm3Theo.nlme."""
    ke, ke_se = ke_and_se(fit)
    est = {"KA (1/h)": fit.estimates["TVKA"], "ke = CL/V (1/h)": ke,
           "CL (L/h)": fit.estimates["TVCL"]}
    se = {"KA (1/h)": fit.se.get("TVKA", np.nan), "ke = CL/V (1/h)": ke_se,
          "CL (L/h)": fit.se.get("TVCL", np.nan)}
    tables = []
    for key in ("fm2Theo", "fm3Theo"):
        fe = pb[key]["fixed_effects"]
        ref = {"KA (1/h)": fe["Ka"], "ke = CL/V (1/h)": fe["Ke"],
               "CL (L/h)": fe["Cl_per_kg"] * pb["geometric_mean_weight_kg"]}
        t = compare(est, ref, se, label="book")
        t.insert(0, "book model", pb[key]["model"])
        tables.append(t)
    return pd.concat(tables)


def run(shared: Path, out: Path, *, quick: bool = False) -> Result:
    """Fit, diagnose, compare with the references and write the report into ``out``."""
    t_start = time.perf_counter()
    csv = shared / "data" / "theophylline.csv"
    data = pd.read_csv(csv)
    try:
        r_nlme = rscript.start("nlme_theophylline.R", csv)
        r_book = rscript.start("pinheiro_bates_theoph.R")
        r_missing = ""
    except rscript.RscriptMissing as exc:
        r_nlme = r_book = None
        r_missing = str(exc)
    published = rscript.published("theophylline")

    cm = pkpd.compile_model(pkpd.load_model(MODEL))
    saem_opts = {"burn": 100, "em": 60} if quick else None
    fits = {"FOCE-I": pkpd.fit_population(cm, str(csv), "focei", seed=1),
            "SAEM": pkpd.fit_population(cm, str(csv), "saem", seed=1, saem=saem_opts)}
    focei = fits["FOCE-I"]
    n_sim, n_vpc = (200, 100) if quick else (1000, 500)
    diag, t_diag = timed(pkpd.diagnose, focei, n_sim=n_sim, seed=1)
    vpc, t_vpc = timed(pkpd.vpc, focei, n=n_vpc, seed=1)
    nca, t_nca = timed(pkpd.nca, data)
    runtimes = {f"{k} fit": f.runtime for k, f in fits.items()}
    runtimes |= {f"diagnose (n_sim={n_sim})": t_diag, f"vpc (n={n_vpc})": t_vpc, "nca": t_nca}

    comparisons: dict[str, pd.DataFrame] = {}
    nlme = book = None
    if r_nlme is not None:
        (nlme_out, t_r) = timed(r_nlme.result)
        nlme = nlme_out["diagonal"] | {k: nlme_out[k] for k in ("nlme_version", "R_version")}
        book = r_book.result()
        runtimes["R nlme (wait after the fits)"] = t_r
        ref = nlme_as_layout(nlme)
        for label, fit in fits.items():
            comparisons[f"{label} vs nlme"] = compare(fit.estimates, ref, focei.se, label="nlme")
        comparisons["FOCE-I vs Pinheiro & Bates"] = pinheiro_bates_table(focei, book)
    nlmixr2 = nlmixr2_as_layout(published["nlmixr2_saem"])
    for label, fit in fits.items():
        comparisons[f"{label} vs nlmixr2 SAEM (README)"] = compare(
            fit.estimates, nlmixr2, focei.se, label="nlmixr2")

    report = Report("Theophylline: population PK, pkpd against nlme, nlmixr2 and Pinheiro & "
                    "Bates", out)
    for label, fit in fits.items():
        report.record(f"{label} fit", fit)
    report.record("diagnostics", diag)
    report.record("VPC", vpc)
    figures: list[Path | None] = []
    _data_section(report, data, csv, quick)
    _estimates_section(report, fits)
    _reference_sections(report, fits, comparisons, nlme, book, published, r_missing)
    _diagnostics_section(report, diag, vpc, figures)
    _nca_section(report, nca, focei)
    runtimes["total (this script)"] = time.perf_counter() - t_start
    report.heading("Runtimes")
    report.table(pd.DataFrame({"seconds": runtimes}).rename_axis("step"), floatfmt=".3g")
    report.text("Wall times on the machine that wrote the report (2 cores shared with other "
                "work); the R scripts run in the background while pkpd fits, so their wait "
                "time is what they add. Compiled kernels come from the disk cache.")
    path = report.write()
    for title, table in comparisons.items():
        print_table(title, table)
    print(f"\nreport: {path}")
    return Result(fits, comparisons, path, [f for f in figures if f is not None], runtimes)


def _data_section(report: Report, data: pd.DataFrame, csv: Path, quick: bool) -> None:
    obs = data[data["EVID"] == 0]
    report.text(f"Data: `{csv.name}` ({data['ID'].nunique()} subjects, {len(obs)} concentrations, "
                "one oral dose in mg at time 0; R's `datasets::Theoph` with the dose per kg "
                "converted to mg). Model: `models/theophylline_1cmt.toml` (one compartment, "
                "first-order absorption, exponential IIV on KA, CL and V, diagonal omega, "
                "additive error)." + (" **Quick run** (short SAEM, fewer replicates): not the "
                                       "committed report." if quick else ""))


def _estimates_section(report: Report, fits: dict[str, Any]) -> None:
    report.heading("Estimates")
    report.table(estimates_table(fits))
    rows = {k: {"OFV": f.ofv, "OFV method": f.ofv_method, "status": f.status,
                "covariance": f.covariance_status, "runtime (s)": f.runtime}
            for k, f in fits.items()}
    report.table(pd.DataFrame(rows).T.rename_axis("method"))
    f, s = fits["FOCE-I"], fits["SAEM"]
    worst = max((abs(s.estimates[k] - f.estimates[k]) / f.se[k], k) for k in f.se)
    report.text(
        "Omegas are variances of the etas (log scale), `CP.additive` is the residual SD "
        f"(mg/L). SE from the sandwich covariance step. SAEM's OFV is the FOCE-I objective at "
        f"its estimates, so the two OFVs are on one scale: they differ by "
        f"{s.ofv - f.ofv:+.2f}. The SAEM estimates are within {worst[0]:.2f} FOCE-I SE of the "
        f"FOCE-I ones (largest: {worst[1]}). Of the typical values KA is the least precise "
        f"(RSE {f.rse['TVKA']:.0f} %: its IIV is large and the absorption phase has few "
        "samples); the omegas of 12 subjects carry RSEs of 40-55 %.")


def _reference_sections(report: Report, fits: dict[str, Any],
                        comparisons: dict[str, pd.DataFrame], nlme: dict[str, Any] | None,
                        book: dict[str, Any] | None, published: dict[str, Any],
                        r_missing: str) -> None:
    focei = fits["FOCE-I"]
    report.heading("Independent references")
    report.text("Each table: pkpd's estimate, the reference, the relative difference (%) and "
                "the difference in FOCE-I standard errors (`diff_in_SE`).")
    report.heading("R nlme, same model (computed)", 3)
    if nlme is None:
        report.text(f"Not computed: {r_missing}.")
    else:
        report.text("`validation/references/nlme_theophylline.R`: nlme " + nlme_version(nlme) +
                    ", maximum likelihood, the same closed-form model, diagonal omega, "
                    "additive error. nlme maximises the Lindstrom-Bates linearised likelihood, "
                    "not the Laplace (FOCE-I) one, so small differences are expected, larger "
                    "for the variances than for the typical values.")
        for label in fits:
            report.text(f"**{label}:**")
            report.table(comparisons[f"{label} vs nlme"])
        at_nlme = focei_objective(focei.model, focei.data, nlme_as_layout(nlme))
        fc = comparisons["FOCE-I vs nlme"]
        report.text(
            f"Largest FOCE-I difference: {fc['diff_in_SE'].abs().max():.2f} SE "
            f"({fc['diff_in_SE'].abs().idxmax()}). The objectives: nlme's -2 log L on NONMEM's "
            f"scale is {nlme['ofv_nonmem_scale']:.3f} (its own approximation); pkpd's FOCE-I "
            f"objective is {focei.ofv:.3f} at its optimum and {at_nlme:.3f} at nlme's "
            "estimates, so nlme's point is not better on FOCE-I's own objective "
            f"({at_nlme - focei.ofv:+.3f}).")
    report.heading("nlmixr2 SAEM (published)", 3)
    pub = published["nlmixr2_saem"]
    report.text(f"Source: {pub['source']}. {pub['note']} Method: {pub['method']}.")
    for label in fits:
        report.text(f"**{label}:**")
        report.table(comparisons[f"{label} vs nlmixr2 SAEM (README)"])
    nc = comparisons["SAEM vs nlmixr2 SAEM (README)"]
    report.text(
        "The printed values carry 3 significant digits (rounding up to 0.3 %). SAEM to SAEM, "
        f"the largest difference is {nc['diff_in_SE'].abs().max():.2f} SE "
        f"({nc['diff_in_SE'].abs().idxmax()}); the omegas are converted from the printed CV%, "
        "which loses precision for the small eta_V variance.")
    report.heading("Pinheiro & Bates (2000), section 8.2 (book's code, recomputed)", 3)
    pbp = published["pinheiro_bates"]
    if book is None:
        report.text(f"Not computed: {r_missing}.")
    else:
        report.text(f"Source: {pbp['source']}; {pbp['how']} (nlme {book['nlme_version']}). "
                    f"{pbp['note']}")
        report.table(comparisons["FOCE-I vs Pinheiro & Bates"])
        if book["warnings"]:
            report.text("nlme warned while fitting the book's models: " +
                        "; ".join(f"`{w}`" for w in book["warnings"]) + ".")
        pb = comparisons["FOCE-I vs Pinheiro & Bates"]
        pb = pb[pb.index != "CL (L/h)"]
        report.text(
            f"KA and ke agree with the book's fits within "
            f"{pb['diff_in_SE'].abs().max():.2f} SE ({pb['rel_diff_%'].abs().max():.1f} %). "
            "The book's random effects are on (lKe, lKa, lCl) with a per-kg dose, a different "
            "model of the between-subject variability, so only the typical values are "
            "compared, and CL only approximately.")


def nlme_version(ref: dict[str, Any]) -> str:
    return f"{ref.get('nlme_version', '?')} ({ref.get('R_version', 'R')})"


def _diagnostics_section(report: Report, diag: Any, vpc: Any, figures: list[Path | None]) -> None:
    report.heading("Diagnostics (FOCE-I fit)")
    figures.append(report.plot(
        "gof", diag, "gof.png", "Goodness of fit: DV against PRED and IPRED, CWRES against time "
        "and PRED, |IWRES| against IPRED, NPDE", covariates=["WT"]))
    report.text("Mean and SD of the residuals:")
    report.table(residual_summary(diag))
    report.text("NPDE tests (is NPDE standard normal?):")
    report.table(diag.npde_tests.rename_axis("test"))
    report.text("Shrinkage (%):")
    report.table(diag.shrinkage.rename_axis("name"))
    cal, npde_text = npde_paragraphs(diag)
    report.table(cal)
    t = diag.table
    at0 = t[t["TIME"] == 0]
    zeros = at0[at0["DV"] == 0]
    top = t.loc[t["CWRES"].idxmax()]
    later = t.loc[t["TIME"] > 0, "NPDE"].dropna()
    p_later = float(shapiro(later).pvalue)
    report.text(
        "CWRES and NPDE should have mean about 0 and SD about 1. " + npde_text + " Two things "
        f"shape the NPDE here. Of the {len(at0)} levels at time 0, {len(zeros)} are exactly 0 "
        "where the model predicts 0 with its additive error, so their NPDE are near 0 "
        f"(|NPDE| at most {zeros['NPDE'].abs().max():.2f}): the spike of the histogram and the "
        f"SD below 1. Without the time-0 levels the SD of NPDE is {later.std():.3f}" +
        (f", but normality is still rejected (Shapiro-Wilk p = {p_later:.2g}): the upper tail "
         "is heavier than normal, a few levels far above their prediction" if p_later < 0.05
         else f" and normality is not rejected (Shapiro-Wilk p = {p_later:.2g})") +
        f" (the largest CWRES, {top['CWRES']:.1f}, is subject {top['ID']:.0f} at "
        f"{top['TIME']:.2g} h). |IWRES| "
        "grows with the concentration (running median in its panel), which an additive error "
        "model does not describe; a combined error model would be the next model to try. Eta "
        "shrinkage is low, so the eta-weight panel below is informative.")
    figures.append(report.plot("eta_covariates", diag, "eta_covariates.png",
                               "Estimated etas against body weight", covariates=["WT"]))
    wt = diag.etas["WT"]
    rho = {e: spearmanr(wt, diag.etas[e]) for e in diag.etas.columns if e.startswith("eta_")}
    report.text(
        "The model has no covariate. Spearman correlations with weight: " + ", ".join(
            f"{e} {r.statistic:+.2f} (p = {r.pvalue:.2f})" for e, r in rho.items()) +
        f". With 12 subjects of {wt.min():.0f}-{wt.max():.0f} kg such a test has little "
        "power; a weight effect (allometric CL and V) would be tested on a larger dataset.")
    report.heading("Visual predictive check")
    figures.append(report.plot(
        "vpc", vpc, "vpc.png", f"VPC: 5th, 50th and 95th percentiles of the observations "
        f"against the {100 * vpc.ci:.0f} % intervals of the same percentiles over {vpc.n} "
        "replicates"))
    summ = vpc.summary()
    report.table(summ, index=False)
    n_out, n_bins = int(summ["n_outside"].sum()), int(summ["n_bins"].sum())
    tab = vpc.table[vpc.table["kind"] == "percentile"]
    out_rows = tab[tab["outside"].astype(bool)]
    where = "; ".join(f"the {100 * r.quantile:.0f}th percentile at {r.time:.2g} h (observed "
                      f"{r.observed:.2f}, interval {r.sim_lo:.2f} to {r.sim_hi:.2f})"
                      for r in out_rows.itertuples())
    negative = tab[(tab["quantile"] == min(vpc.quantiles)) & (tab["sim_lo"] < 0)]["time"]
    report.text(
        f"{n_out} of {n_bins} observed percentiles fall outside their simulated "
        f"{100 * vpc.ci:.0f} % interval" + (f": {where}" if where else "") +
        f" ({vpc.binning.split(' (')[0]}). " +
        (f"The simulated interval of the {100 * min(vpc.quantiles):.0f}th percentile reaches "
         f"below 0 in {len(negative)} of {n_bins // len(vpc.quantiles)} bins (times "
         f"{', '.join(f'{x:.2g}' for x in negative)} h): the additive error model simulates "
         "negative concentrations, which measured levels cannot be, and at time 0, where the "
         "levels are 0, the simulations scatter symmetrically around 0."
         if len(negative) else ""))


def _nca_section(report: Report, nca: pd.DataFrame, focei: Any) -> None:
    report.heading("Non-compartmental analysis")
    cols = {k: v for k, v in NCA_COLUMNS.items() if k in nca.columns}
    report.table(median_range(nca, cols))
    cl_f = pd.to_numeric(nca.get("CL_F"), errors="coerce")
    report.text(
        f"One row per subject (linear-up/log-down AUC, lambda_z by PKNCA's best-fit rule). "
        f"The median NCA CL/F ({cl_f.median():.3g} L/h) is the model-free counterpart of the "
        f"typical clearance, {focei.estimates['TVCL']:.3g} L/h (FOCE-I); the geometric mean "
        f"({float(np.exp(np.log(cl_f).mean())):.3g} L/h) is the closer analogue of a typical "
        "value under log-normal IIV.")


def main() -> None:
    command_line(run, __doc__, REPORTS / "theophylline",
                 "short SAEM, fewer replicates")


if __name__ == "__main__":
    main()
