# Population fit of theophylline with nlme::nlme (maximum likelihood), printed as JSON.
#
# Usage: Rscript validation/references/nlme_theophylline.R <theophylline.csv>
#
# Model: one compartment, first-order absorption, closed form
#   C(t) = Dose * ka / (V * (ka - ke)) * (exp(-ke t) - exp(-ka t)),  ke = CL / V,
# Dose in mg (AMT of the subject's EVID=1 row at TIME 0), C in mg/L, t in h.
# Fixed effects lKA, lCL, lV (logs); random effects on all three (KA = exp(lKA + eta_KA) etc.),
# additive residual error (nlme's default). Two variants of the random-effect covariance:
#   "diagonal": pdDiag(lKA + lCL + lV ~ 1)
#   "block":    pdSymm(lKA + lCL + lV ~ 1), the full 3x3 block (reported as not converged, not
#               as an error, if nlme fails).
# Only observation rows (EVID == 0) are fitted; the TIME 0 observation of subject 1 is kept.
#
# Reference for the approach: Pinheiro J. C. & Bates D. M. (2000), Mixed-Effects Models in S and
# S-PLUS, Springer, section 8.2 (theophylline), which fits this model with nlme (there through
# SSfol with parameters lKe, lKa, lCl and the dose in mg/kg).
#
# Only base R and the recommended package nlme are used; JSON is written by json.R.

suppressPackageStartupMessages(library(nlme))

args <- commandArgs(trailingOnly = TRUE)
if (length(args) != 1L) {
  stop("usage: Rscript nlme_theophylline.R <theophylline.csv>")
}
csv_path <- args[[1L]]

# ---------------------------------------------------------------------------------------------
# JSON writer (json.R next to this script)
# ---------------------------------------------------------------------------------------------
script_file <- sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE)[1L])
source(file.path(dirname(script_file), "json.R"))

# ---------------------------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------------------------
raw <- read.csv(csv_path, stringsAsFactors = FALSE)
required <- c("ID", "TIME", "AMT", "DV", "EVID")
missing_cols <- setdiff(required, names(raw))
if (length(missing_cols) > 0L) stop("missing columns: ", paste(missing_cols, collapse = ", "))

doses <- raw[raw$EVID == 1, c("ID", "TIME", "AMT")]
if (anyDuplicated(doses$ID) || any(doses$TIME != 0)) {
  stop("expected exactly one dose per subject at TIME 0")
}
obs <- raw[raw$EVID == 0, c("ID", "TIME", "DV")]
obs$Dose <- doses$AMT[match(obs$ID, doses$ID)]
if (anyNA(obs$Dose) || anyNA(obs$DV)) stop("observation without dose or DV")
obs <- obs[order(obs$ID, obs$TIME), ]
obs$ID <- factor(obs$ID, levels = sort(unique(obs$ID)))
n_obs <- nrow(obs)
n_subjects <- nlevels(obs$ID)

# ---------------------------------------------------------------------------------------------
# model
# ---------------------------------------------------------------------------------------------
fol <- function(Dose, TIME, lKA, lCL, lV) {
  ka <- exp(lKA)
  v <- exp(lV)
  ke <- exp(lCL) / v
  Dose * ka / (v * (ka - ke)) * (exp(-ke * TIME) - exp(-ka * TIME))
}

start <- c(lKA = 0.45, lCL = 1.0, lV = 3.45)
control <- nlmeControl(maxIter = 200, pnlsMaxIter = 20, msMaxIter = 200, tolerance = 1e-6,
                       pnlsTol = 1e-6, msTol = 1e-7)
param_names <- c("lKA", "lCL", "lV")

fit_variant <- function(random, start_values) {
  t0 <- proc.time()[["elapsed"]]
  warnings_seen <- character(0)
  fit <- tryCatch(
    withCallingHandlers(nlme(DV ~ fol(Dose, TIME, lKA, lCL, lV),
         data = obs,
         fixed = lKA + lCL + lV ~ 1,
         random = random,
         groups = ~ID,
         start = start_values,
         method = "ML",
         control = control),
      warning = function(w) {
        warnings_seen <<- c(warnings_seen, conditionMessage(w))
        invokeRestart("muffleWarning")
      }),
    error = function(e) e
  )
  elapsed <- proc.time()[["elapsed"]] - t0
  if (inherits(fit, "condition")) {
    return(list(
      converged = FALSE,
      message = paste("nlme failed:", conditionMessage(fit)),
      warnings = I(warnings_seen),
      start = named_list(start_values, names(start_values)),
      seconds = elapsed
    ))
  }
  summarise_fit(fit, start_values, elapsed, warnings_seen)
}

summarise_fit <- function(fit, start_values, elapsed, warnings_seen) {
  fe <- fixef(fit)[param_names]
  ttab <- summary(fit)$tTable[param_names, , drop = FALSE]
  sigma <- fit$sigma
  # Psi, the covariance of the random effects: the relative precision factor of the reStruct
  # scaled by sigma^2 (its diagonal is the square of the SDs that VarCorr prints)
  psi <- (pdMatrix(fit$modelStruct$reStruct)[[1L]] * sigma^2)[param_names, param_names]
  ll <- as.numeric(logLik(fit))
  re <- ranef(fit)[, param_names]
  res <- residuals(fit, level = 1)
  fitted_ind <- fitted(fit, level = 1)
  # the LME penalty sum_i b_i' Psi^-1 b_i; at convergence of the ML fit
  # sigma^2 * (n_obs - penalty) equals the residual sum of squares of the individual predictions
  psi_inv <- solve(psi)
  penalty <- sum(apply(as.matrix(re), 1, function(b) drop(t(b) %*% psi_inv %*% b)))
  sds <- sqrt(diag(psi))
  corr <- psi / outer(sds, sds)
  diag(corr) <- 1
  list(
    converged = TRUE,
    message = "converged",
    warnings = I(warnings_seen),
    start = named_list(start_values, names(start_values)),
    seconds = elapsed,
    fixed_effects_log = named_list(fe, param_names),
    fixed_effects = named_list(exp(fe), c("KA", "CL", "V")),
    fixed_effects_se = named_list(ttab[, "Std.Error"], param_names),
    fixed_effects_se_note = paste(
      "standard errors of the fixed effects only (summary(fit)$tTable, from the",
      "linearised LME approximation at convergence); nlme reports none for the",
      "variance parameters"),
    omega2 = named_list(diag(psi), param_names),
    omega_sd = named_list(sds, param_names),
    omega_covariance = lapply(seq_along(param_names), function(i) I(unname(psi[i, ]))),
    omega_correlation = lapply(seq_along(param_names), function(i) I(unname(corr[i, ]))),
    sigma = sigma,
    sigma2 = sigma^2,
    logLik = ll,
    minus2LL = -2 * ll,
    ofv_nonmem_scale = -2 * ll - n_obs * log(2 * pi),
    n_par = attr(logLik(fit), "df"),
    AIC = AIC(fit),
    BIC = BIC(fit),
    rss_individual = sum(res^2),
    ranef_penalty = penalty,
    n_iterations = fit$numIter,
    ranef = list(
      ID = I(as.integer(rownames(re))),
      lKA = I(unname(re[, "lKA"])),
      lCL = I(unname(re[, "lCL"])),
      lV = I(unname(re[, "lV"]))
    ),
    individual_predictions_first_subject = I(unname(fitted_ind[obs$ID == levels(obs$ID)[1L]]))
  )
}

t_start <- proc.time()[["elapsed"]]
diag_fit <- fit_variant(pdDiag(lKA + lCL + lV ~ 1), start)
block_fit <- fit_variant(pdSymm(lKA + lCL + lV ~ 1), start)

out <- list(
  source = paste(
    "nlme::nlme, method ML, one-compartment first-order absorption closed form,",
    "exponential IIV on KA, CL, V (fixed effects on the log scale), additive residual error"),
  data = csv_path,
  R_version = R.version.string,
  nlme_version = as.character(packageVersion("nlme")),
  n_obs = n_obs,
  n_subjects = n_subjects,
  units = list(KA = "1/h", CL = "L/h", V = "L", dose = "mg", concentration = "mg/L"),
  control = list(maxIter = control$maxIter, pnlsMaxIter = control$pnlsMaxIter,
                 msMaxIter = control$msMaxIter, tolerance = control$tolerance,
                 pnlsTol = control$pnlsTol, msTol = control$msTol),
  diagonal = diag_fit,
  block = block_fit,
  seconds_total = proc.time()[["elapsed"]] - t_start
)
cat(to_json(out), "\n", sep = "")
