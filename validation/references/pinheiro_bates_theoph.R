# The theophylline models of Pinheiro & Bates (2000), recomputed with the book's own code, printed
# as JSON.
#
# Usage: Rscript validation/references/pinheiro_bates_theoph.R
#
# Source: Pinheiro J. C. & Bates D. M. (2000), Mixed-Effects Models in S and S-PLUS, Springer,
# section 8.2. The code of the book ships with nlme (system.file("scripts", "ch08.R",
# package = "nlme")); its theophylline lines are, verbatim:
#
#   fm1Theo.lis <- nlsList(conc ~ SSfol(Dose, Time, lKe, lKa, lCl), data = Theoph)
#   (fm1Theo.nlme <- nlme(fm1Theo.lis))
#   (fm2Theo.nlme <- update(fm1Theo.nlme, random = pdDiag(lKe + lKa + lCl ~ 1)))
#   fm3Theo.nlme <- update(fm2Theo.nlme, random = pdDiag(lKa + lCl ~ 1))
#
# They run here on R's own copy of the data (datasets::Theoph, dose in mg/kg) with nlme's
# defaults (maximum likelihood). SSfol is C(t) = Dose exp(lKe + lKa - lCl) (exp(-exp(lKe) t) -
# exp(-exp(lKa) t)) / (exp(lKa) - exp(lKe)): Ke and Ka in 1/h, Cl in L/h per kg of body weight
# (the dose is per kg). The book's printed numbers could not be checked against a stored copy of
# the book; these are the values its code gives today (R and nlme versions in the output).
#
# Only base R and nlme are used; JSON is written by json.R (next to this script).

suppressPackageStartupMessages(library(nlme))
script_file <- sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE)[1L])
source(file.path(dirname(script_file), "json.R"))

params <- c("lKe", "lKa", "lCl")

summarise <- function(fit, name, random) {
  fe <- fixef(fit)[params]
  se <- summary(fit)$tTable[params, "Std.Error"]
  vc <- VarCorr(fit)
  sds <- suppressWarnings(as.numeric(vc[, "StdDev"]))
  names(sds) <- rownames(vc)
  re_sd <- sds[intersect(params, names(sds))]
  list(
    model = name,
    random = random,
    fixed_effects_log = named_list(fe, params),
    fixed_effects_se = named_list(se, params),
    fixed_effects = named_list(exp(fe), c("Ke", "Ka", "Cl_per_kg")),
    random_effect_sd = named_list(re_sd, names(re_sd)),
    sigma = fit$sigma,
    logLik = as.numeric(logLik(fit)),
    n_obs = length(fitted(fit))
  )
}

warnings_seen <- character(0)
keep_warning <- function(w) {
  warnings_seen <<- c(warnings_seen, conditionMessage(w))
  invokeRestart("muffleWarning")
}
withCallingHandlers({
  fm1Theo.lis <- nlsList(conc ~ SSfol(Dose, Time, lKe, lKa, lCl), data = Theoph)
  fm1Theo.nlme <- nlme(fm1Theo.lis)
  fm2Theo.nlme <- update(fm1Theo.nlme, random = pdDiag(lKe + lKa + lCl ~ 1))
  fm3Theo.nlme <- update(fm2Theo.nlme, random = pdDiag(lKa + lCl ~ 1))
}, warning = keep_warning)

out <- list(
  source = paste(
    "Pinheiro JC, Bates DM (2000). Mixed-Effects Models in S and S-PLUS. Springer, section 8.2;",
    "recomputed with the book's script (nlme/scripts/ch08.R) on datasets::Theoph"),
  R_version = R.version.string,
  nlme_version = as.character(packageVersion("nlme")),
  units = list(Ke = "1/h", Ka = "1/h", Cl_per_kg = "L/h/kg", dose = "mg/kg",
               concentration = "mg/L"),
  geometric_mean_weight_kg = exp(mean(log(Theoph$Wt[!duplicated(Theoph$Subject)]))),
  warnings = I(warnings_seen),
  fm1Theo = summarise(fm1Theo.nlme, "fm1Theo.nlme", "pdSymm(lKe + lKa + lCl ~ 1)"),
  fm2Theo = summarise(fm2Theo.nlme, "fm2Theo.nlme", "pdDiag(lKe + lKa + lCl ~ 1)"),
  fm3Theo = summarise(fm3Theo.nlme, "fm3Theo.nlme", "pdDiag(lKa + lCl ~ 1)")
)
cat(to_json(out), "\n", sep = "")
