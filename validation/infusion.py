"""Validation report: population PK of a simulated one-compartment infusion dataset with known
true values (nlmixr2data::Infusion_1CPT, 120 subjects, single and multiple dosing).

Usage::

    python validation/infusion.py [--shared DIR] [--out FOLDER] [--quick]

Fits ``shared/data/infusion_1cpt.csv`` with ``models/infusion_1cmt.toml`` (one compartment,
1-h infusions, exponential IIV on CL and V, proportional error) by FOCE-I and SAEM, and writes
``validation/reports/infusion/report.md`` with its figures:

- the estimates with SE and RSE, OFV and runtimes;
- the references, relative differences printed: the true values of the simulation, NONMEM's
  FOCE-I fit of the same model (nlmixr validation run N015) with its standard errors and
  objective, R nlme's fit published with nlmixr, and R nlme computed here in closed form
  (``validation/references/nlme_infusion.R``; sources in ``validation/references/infusion.toml``);
- diagnostics, a prediction-corrected VPC stratified by the dataset's SD flag (single-dose
  phase, first 72 h, and multiple-dose phase), and an NCA by dose level.

``--quick`` shortens SAEM and uses fewer simulated replicates. A full run takes minutes (the
runtimes are in the report).
"""

from __future__ import annotations

import math
import time
import warnings
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
    npde_paragraphs,
    print_table,
    residual_summary,
    timed,
)
from references import rscript
from scipy import stats

import pkpd

MODEL = "infusion_1cmt"
NCA_FIRST = {"Cmax_D": "Cmax / dose (1/L)", "AUCinf_D": "AUCinf / dose (h/L)",
             "CL": "CL (L/h)", "Vz": "Vz (L)", "half_life": "half-life (h)"}
NCA_SS = {"AUCtau_D": "AUCtau / dose (h/L)", "CLss": "CLss (L/h)", "Rac": "Rac"}


def truth(pub: dict[str, Any]) -> dict[str, float]:
    """The simulation's values by layout name (IIV 30 % as a CV: omega^2 = log(1 + 0.3^2))."""
    omega = math.log1p((pub["iiv_cv_percent"] / 100.0) ** 2)
    return {"TVCL": pub["TVCL"], "TVV": pub["TVV"], "omega(eta_CL)": omega,
            "omega(eta_V)": omega, "CP.proportional": pub["CP.proportional"]}


def from_log(pub: dict[str, Any]) -> dict[str, float]:
    """A published fit with log-scale thetas (and SDs of etas) by layout name."""
    out = {"TVCL": math.exp(pub["log_TVCL"]), "TVV": math.exp(pub["log_TVV"]),
           "CP.proportional": pub["CP.proportional"]}
    for eta in ("CL", "V"):
        key = f"omega(eta_{eta})"
        out[key] = pub[key] if key in pub else pub[f"sd_eta_{eta}"] ** 2
    return out


def nonmem_se(pub: dict[str, Any]) -> dict[str, float]:
    """NONMEM's SEs on pkpd's scale (thetas by the delta method: SE(exp t) = exp(t) SE(t))."""
    se = pub["se"]
    return {"TVCL": math.exp(pub["log_TVCL"]) * se["log_TVCL"],
            "TVV": math.exp(pub["log_TVV"]) * se["log_TVV"],
            **{k: se[k] for k in ("omega(eta_CL)", "omega(eta_V)", "CP.proportional")}}


def nlme_as_layout(ref: dict[str, Any]) -> dict[str, float]:
    """The output of ``nlme_infusion.R`` by layout name."""
    return {"TVCL": ref["fixed_effects"]["CL"], "TVV": ref["fixed_effects"]["V"],
            "omega(eta_CL)": ref["omega2"]["lCL"], "omega(eta_V)": ref["omega2"]["lV"],
            "CP.proportional": ref["sigma_proportional"]}


def without_steady_state(data: pd.DataFrame) -> pd.DataFrame:
    """The dataset as NONMEM read it in run N015 (SS and II columns not used)."""
    return data.assign(SS=0, II=0.0)


def nca_by_dose(nca: pd.DataFrame) -> pd.DataFrame:
    """Median (range) per dose level of the first dose's and the steady-state dose's NCA."""
    rows = []
    for which, cols in (("first dose", NCA_FIRST), ("steady state", NCA_SS)):
        part = nca[nca["dose_number"] == 1] if which == "first dose" else nca[nca["steady_state"]]
        for col, label in cols.items():
            row = {"parameter": f"{label}, {which}"}
            for dose, grp in part.groupby("dose"):
                x = pd.to_numeric(grp[col], errors="coerce").dropna()
                row[f"dose {dose:g}"] = (f"{x.median():.3g} ({x.min():.3g}-{x.max():.3g})"
                                         if len(x) else "")
            rows.append(row)
    return pd.DataFrame(rows).set_index("parameter")


def run(shared: Path, out: Path, *, quick: bool = False) -> Result:
    """Fit, diagnose, compare with the references and write the report into ``out``."""
    t_start = time.perf_counter()
    csv = shared / "data" / "infusion_1cpt.csv"
    data = pd.read_csv(csv)
    try:
        r_nlme, r_missing = rscript.start("nlme_infusion.R", csv), ""
    except rscript.RscriptMissing as exc:
        r_nlme, r_missing = None, str(exc)
    pub = rscript.published("infusion")

    cm = pkpd.compile_model(pkpd.load_model(MODEL))
    saem_opts = {"burn": 100, "em": 50} if quick else None
    fits = {"FOCE-I": pkpd.fit_population(cm, str(csv), "focei", seed=1),
            "SAEM": pkpd.fit_population(cm, str(csv), "saem", seed=1, saem=saem_opts)}
    focei = fits["FOCE-I"]
    runtimes = {f"{k} fit": f.runtime for k, f in fits.items()}
    n_sim, n_vpc = (200, 100) if quick else (1000, 500)
    diag, runtimes[f"diagnose (n_sim={n_sim})"] = timed(pkpd.diagnose, focei, n_sim=n_sim, seed=1)
    vpc, runtimes[f"vpc (n={n_vpc}, pred-corrected)"] = timed(
        pkpd.vpc, focei, n=n_vpc, seed=1, pred_corrected=True, stratify="SD")
    nca, runtimes["nca"] = timed(pkpd.nca, data, dose_unit="ug", conc_unit="ug/L")
    nonmem = pub["nonmem_focei"]
    nonmem_values = from_log(nonmem)
    ofv_nm, runtimes["FOCE-I objective at NONMEM's estimates, SS ignored"] = timed(
        focei_objective, focei.model, without_steady_state(data), nonmem_values)
    ofv_own = focei_objective(focei.model, without_steady_state(data), focei.estimates)

    comparisons: dict[str, pd.DataFrame] = {}
    for label, fit in fits.items():
        comparisons[f"{label} vs truth"] = compare(fit.estimates, truth(pub["truth"]), focei.se,
                                                   label="truth")
        comparisons[f"{label} vs NONMEM FOCE-I"] = compare(fit.estimates, nonmem_values,
                                                           focei.se, label="NONMEM")
    comparisons["FOCE-I vs nlme (nlmixr, published)"] = compare(
        focei.estimates, from_log(pub["nlmixr_nlme"]), focei.se, label="nlmixr nlme")
    nm_se = nonmem_se(nonmem)
    comparisons["FOCE-I SE vs NONMEM SE"] = compare(focei.se, nm_se, label="NONMEM SE")
    nlme = None
    if r_nlme is not None:
        nlme, runtimes["R nlme (wait after the fits)"] = timed(r_nlme.result)
        comparisons["FOCE-I vs nlme (computed)"] = compare(focei.estimates, nlme_as_layout(nlme),
                                                           focei.se, label="nlme")

    report = Report("Infusion, one compartment (simulated, known truth): pkpd against the truth, "
                    "NONMEM and nlme", out)
    for label, fit in fits.items():
        report.record(f"{label} fit", fit)
    report.record("diagnostics", diag)
    report.record("VPC", vpc)
    figures: list[Path | None] = []
    _data_section(report, data, csv, quick)
    _estimates_section(report, fits)
    _reference_sections(report, fits, comparisons, pub, nlme, r_missing,
                        {"NONMEM (its data reading)": nonmem["ofv"],
                         "pkpd FOCE-I at NONMEM's estimates": ofv_nm,
                         "pkpd FOCE-I at pkpd's estimates": ofv_own})
    _diagnostics_section(report, diag, vpc, focei.estimates["CP.proportional"], figures)
    report.heading("Non-compartmental analysis")
    report.table(nca_by_dose(nca))
    cl_med = nca[nca["dose_number"] == 1].groupby("dose")["CL"].median()
    cl_lo, cl_hi = cl_med.min(), cl_med.max()
    report.text(
        "Median (range) over the 30 subjects of each dose level (AMT; doses are 1-h infusions). "
        "First dose: the 72-h single-dose profile (AUCinf by the log-linear tail); steady "
        "state: the SS=1 dose at 216 h, interval 24 h. Dose-normalised exposure and clearance "
        "do not trend with the dose, as the linear model says, and the per-level medians of "
        f"the first-dose CL ({cl_lo:.3g}-{cl_hi:.3g} L/h) scatter around the typical CL of "
        f"the fit ({focei.estimates['TVCL']:.3g} L/h) as medians of 30 subjects do.")
    runtimes["total (this script)"] = time.perf_counter() - t_start
    report.heading("Runtimes")
    report.table(pd.DataFrame({"seconds": runtimes}).rename_axis("step"), floatfmt=".3g")
    report.text("Wall times on the machine that wrote the report (2 cores shared with other "
                "work); R nlme runs in the background while pkpd fits. The files of NONMEM's run "
                "read here do not give its run time.")
    path = report.write()
    for title, table in comparisons.items():
        print_table(title, table)
    print(f"\nOFV: NONMEM {nonmem['ofv']:.3f}, pkpd FOCE-I at NONMEM's estimates (SS ignored as "
          f"NONMEM did) {ofv_nm:.3f} (difference {ofv_nm - nonmem['ofv']:+.3f})")
    print(f"report: {path}")
    return Result(fits, comparisons, path, [f for f in figures if f is not None], runtimes)


def _data_section(report: Report, data: pd.DataFrame, csv: Path, quick: bool) -> None:
    obs = data[data["EVID"] == 0]
    n_sd = obs.groupby("SD").size()
    report.text(
        f"Data: `{csv.name}` ({data['ID'].nunique()} subjects, {len(obs)} levels; 30 subjects "
        "at each of 4 dose levels, AMT 10000-120000 as 1-h infusions). Every subject has the "
        "same design: one dose at 0 h sampled for 72 h (SD = 1 on those records, "
        f"{n_sd.get(1, 0)} levels), then daily doses from 72 h to 192 h and a steady-state dose "
        f"(SS = 1, II = 24) at 216 h, sampled to 288 h (SD = 0, {n_sd.get(0, 0)} levels): SD "
        "flags the phase of each record, not a group of subjects. The values are simulated, so "
        "the truth is known. Model: `models/infusion_1cmt.toml`." +
        (" **Quick run** (short SAEM, fewer replicates): not the committed report."
         if quick else ""))


def _estimates_section(report: Report, fits: dict[str, Any]) -> None:
    report.heading("Estimates")
    report.table(estimates_table(fits))
    rows = {k: {"OFV": f.ofv, "status": f.status, "covariance": f.covariance_status,
                "runtime (s)": f.runtime} for k, f in fits.items()}
    report.table(pd.DataFrame(rows).T.rename_axis("method"))
    f, s = fits["FOCE-I"], fits["SAEM"]
    worst = max((abs(s.estimates[k] - f.estimates[k]) / f.se[k], k) for k in f.se)
    report.text(
        "CL in L/h, V in L (the dataset's dose and concentration units read as ug and ug/L); "
        "omegas are variances of the etas; `CP.proportional` is the proportional residual SD. "
        "SAEM's OFV is the FOCE-I objective at its estimates. The two methods agree within "
        f"{worst[0]:.2f} FOCE-I SE (largest: {worst[1]}); with about "
        f"{f.n_obs / f.n_subjects:.0f} levels per subject the estimates are precise (RSE "
        f"{min(f.rse.values()):.1f}-{max(f.rse.values()):.1f} %).")


def _reference_sections(report: Report, fits: dict[str, Any],
                        comparisons: dict[str, pd.DataFrame], pub: dict[str, Any],
                        nlme: dict[str, Any] | None, r_missing: str,
                        ofvs: dict[str, float]) -> None:
    report.heading("References")
    report.text("Each table: pkpd's estimate, the reference, the relative difference (%) and "
                "the difference in FOCE-I standard errors (`diff_in_SE`).")
    report.heading("The truth of the simulation", 3)
    tr = pub["truth"]
    report.text(f"Source: {tr['source']}: \"{tr['quote']}\". {tr['note']}")
    for label in fits:
        report.text(f"**{label}:**")
        report.table(comparisons[f"{label} vs truth"])
    t = comparisons["FOCE-I vs truth"]
    report.text(
        f"Every FOCE-I estimate is within {t['diff_in_SE'].abs().max():.1f} SE of the value "
        "the data were simulated with. Estimates from one simulated dataset scatter around the "
        "truth by their SE, so differences up to about 2 SE are expected. In percent the "
        f"largest difference is {t['rel_diff_%'].abs().idxmax()} "
        f"({t['rel_diff_%'].abs().max():.1f} %): the omegas of 120 subjects carry an RSE "
        "near 12 %.")
    report.heading("NONMEM FOCE-I, same model (published run)", 3)
    nm = pub["nonmem_focei"]
    report.text(f"Source: {nm['source']}. Model: {nm['model']}. {nm['note']}")
    for label in fits:
        report.text(f"**{label}:**")
        report.table(comparisons[f"{label} vs NONMEM FOCE-I"])
    report.text("Standard errors: pkpd's sandwich covariance step against NONMEM's $COV "
                "(also the sandwich by default), NONMEM's theta SEs moved from the log scale by "
                "the delta method:")
    report.table(comparisons["FOCE-I SE vs NONMEM SE"])
    report.text("Objective functions (no n log(2 pi) constant), all with the dataset read as "
                "NONMEM read it (SS ignored) except pkpd's own fit:")
    report.table(pd.DataFrame({"OFV": ofvs | {"pkpd FOCE-I fit (SS applied)":
                                              fits["FOCE-I"].ofv}}).rename_axis("objective"),
                 floatfmt=".3f")
    nm_tab = comparisons["FOCE-I vs NONMEM FOCE-I"]
    d_ofv = ofvs["pkpd FOCE-I at NONMEM's estimates"] - ofvs["NONMEM (its data reading)"]
    d_ss = fits["FOCE-I"].ofv - ofvs["pkpd FOCE-I at pkpd's estimates"]
    report.text(
        f"pkpd's FOCE-I and NONMEM's estimates differ by at most "
        f"{nm_tab['diff_in_SE'].abs().max():.2f} SE ({nm_tab['rel_diff_%'].abs().max():.2f} %). "
        f"On the same reading of the data, pkpd's objective at NONMEM's estimates is "
        f"{d_ofv:+.3f} from NONMEM's own value: the objective functions agree. pkpd's fit "
        "applies the SS=1 record (all earlier doses replaced by the steady state of daily "
        "doses); at its estimates, reading the record as an ordinary dose instead lowers the "
        f"objective by {d_ss:.2f}. The steady-state reset matters only for the subjects with "
        "the slowest elimination, whose missing doses before 72 h would not have washed out; "
        "that the data fit slightly better without it suggests they were simulated from the "
        "dose history rather than with the reset. The estimates are not affected (the "
        "differences from NONMEM above are a few hundredths of an SE).")
    report.heading("R nlme (published with nlmixr, and computed)", 3)
    nn = pub["nlmixr_nlme"]
    report.text(f"Published: {nn['source']}. {nn['note']}")
    report.table(comparisons["FOCE-I vs nlme (nlmixr, published)"])
    if nlme is None:
        report.text(f"Computed: not run ({r_missing}).")
    else:
        report.text(
            "Computed: `validation/references/nlme_infusion.R` (nlme " + nlme["nlme_version"] +
            ", ML, the closed-form infusion with superposition and the SS=1 steady state, "
            f"{nlme['seconds']:.1f} s). nlme's -2 log L on NONMEM's scale: "
            f"{nlme['ofv_nonmem_scale']:.3f} (Lindstrom-Bates approximation, not FOCE-I).")
        report.table(comparisons["FOCE-I vs nlme (computed)"])
    report.text("nlme linearises differently from FOCE-I (and its proportional error weights "
                "by the individual prediction), so its variances may differ by a few percent; "
                "the typical values agree closely.")


def residual_shape(diag: Any, sigma: float) -> pd.DataFrame:
    """Mean, SD, skewness, excess kurtosis and Shapiro-Wilk p of IWRES, of the log-scale
    residuals ``log(DV / IPRED) / sigma`` and of NPDE."""
    t = diag.table
    series = {"IWRES": t["IWRES"],
              "log(DV / IPRED) / sigma": np.log(t["DV"] / t["IPRED"]) / sigma,
              "NPDE": t["NPDE"]}
    rows = {}
    for name, x in series.items():
        x = x.replace([np.inf, -np.inf], np.nan).dropna().to_numpy()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")     # Shapiro-Wilk p for n > 5000 is approximate
            p = float(stats.shapiro(x).pvalue)
        rows[name] = {"mean": x.mean(), "SD": x.std(ddof=1), "skewness": stats.skew(x),
                      "excess kurtosis": stats.kurtosis(x), "Shapiro-Wilk p": p}
    return pd.DataFrame(rows).T.rename_axis("residual")


def _diagnostics_section(report: Report, diag: Any, vpc: Any, sigma: float,
                         figures: list[Path | None]) -> None:
    report.heading("Diagnostics (FOCE-I fit)")
    figures.append(report.plot(
        "gof", diag, "gof.png", "Goodness of fit (log axes): DV against PRED and IPRED, CWRES "
        "against time and PRED, |IWRES| against IPRED, NPDE", log=True))
    report.text("Mean and SD of the residuals:")
    report.table(residual_summary(diag))
    report.text("NPDE tests (is NPDE standard normal?):")
    report.table(diag.npde_tests.rename_axis("test"))
    report.text("Shrinkage (%):")
    report.table(diag.shrinkage.rename_axis("name"))
    cal, npde_text = npde_paragraphs(diag)
    report.table(cal)
    shape = residual_shape(diag, sigma)
    report.text(
        "The model is the structural model the data were simulated with, so CWRES, IWRES and "
        "NPDE should be close to standard normal; with about 7000 levels the NPDE tests detect "
        "small departures. " + npde_text + " The shape is not normal: the residuals are "
        "skewed to the right. Their shape says why:")
    report.table(shape)
    ir, lg = shape.loc["IWRES"], shape.loc["log(DV / IPRED) / sigma"]
    report.text(
        f"The proportional residuals (IWRES) are skewed ({ir['skewness']:+.2f}, Shapiro-Wilk "
        f"p = {ir['Shapiro-Wilk p']:.1g}), while the same residuals on the log scale are "
        f"symmetric ({lg['skewness']:+.2f}, p = {lg['Shapiro-Wilk p']:.2f}): this indicates "
        "that the simulation's 20 % residual error was log-normal (exponential, DV = IPRED "
        "exp(eps)), not the additive-on-the-prediction proportional error of this model and "
        "of NONMEM's run N015 "
        "(Y = IPRED (1 + eps)). At 20 % the two differ mainly in the tails, which is what the "
        "NPDE tests see; the estimates are not visibly affected (they match the truth within "
        "their SE above). An exponential error model (`{ exponential = ... }` in the model "
        "file) is the better description of these data. WRES (linearised at eta = 0, NONMEM's "
        "FO residuals) are expected to be too wide with 30 % IIV; CWRES are the ones to read.")
    figures.append(report.plot(
        "eta_covariates", diag, "eta_covariates.png",
        "Estimated etas against the dose level (the simulation has no covariate)",
        covariates=["DOSE"]))
    report.heading("Visual predictive check (prediction-corrected, by dosing phase)")
    figures.append(report.plot(
        "vpc", vpc, "vpc.png", f"pcVPC by SD (1: single dose, 0-72 h; 0: multiple doses, "
        f"72-288 h): 5th, 50th and 95th percentiles of the observations against the "
        f"{100 * vpc.ci:.0f} % intervals over {vpc.n} replicates"))
    summ = vpc.summary()
    report.table(summ, index=False)
    n_out, n_bins = int(summ["n_outside"].sum()), int(summ["n_bins"].sum())
    report.text(f"{n_out} of {n_bins} observed percentiles fall outside their simulated "
                f"{100 * vpc.ci:.0f} % interval (about {0.05 * n_bins:.0f} expected by chance "
                f"at 95 %; {vpc.binning.split(' (')[0]}). Prediction correction normalises "
                "the four dose levels to one scale.")


def main() -> None:
    command_line(run, __doc__, REPORTS / "infusion",
                 "short SAEM, fewer replicates")


if __name__ == "__main__":
    main()
