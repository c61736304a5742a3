# Population fit of the one-compartment infusion data (nlmixr2data::Infusion_1CPT) with
# nlme::nlme (maximum likelihood), printed as JSON.
#
# Usage: Rscript validation/references/nlme_infusion.R <infusion_1cpt.csv>
#
# Model: one compartment, zero-order infusions, first-order elimination, k = CL / V, in closed
# form. A dose of amount D given at rate R over T = D / R from time t_d adds, at s = t - t_d,
#   c1(s) = R / CL (1 - exp(-k s))                          for 0 <= s <= T,
#   c1(s) = R / CL (1 - exp(-k T)) exp(-k (s - T))          for s > T,
# and the concentration is the sum over the doses given before t (superposition). A dose with
# SS = 1 and interval II = tau (NONMEM's steady-state dose) discards the earlier doses and
# starts from the steady state of that dose repeated every tau: for t >= its time, the doses
# before it are replaced by the infinite series of identical doses at t_d - tau, t_d - 2 tau, ...,
# whose sum is (for T <= tau) R / CL (1 - exp(-k T)) exp(-k (s - T)) exp(-k tau) /
# (1 - exp(-k tau)).
# Fixed effects lCL, lV (logs), random effects pdDiag(lCL + lV ~ 1) (CL = exp(lCL + eta_CL)),
# proportional residual error (weights = varPower(fixed = 1): SD = sigma |fitted|).
# Observation rows are EVID == 0; EVID 2 rows are ignored. Starting values lCL = 1.6, lV = 4.5
# (those of the NONMEM control streams of the nlmixr validation, runN015).
#
# Only base R and nlme are used; JSON is written by json.R (next to this script).

suppressPackageStartupMessages(library(nlme))
script_file <- sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE)[1L])
source(file.path(dirname(script_file), "json.R"))

args <- commandArgs(trailingOnly = TRUE)
if (length(args) != 1L) stop("usage: Rscript nlme_infusion.R <infusion_1cpt.csv>")
raw <- read.csv(args[[1L]], stringsAsFactors = FALSE)
raw$ROW <- seq_len(nrow(raw))

doses <- raw[raw$EVID == 1, ]
if (any(doses$RATE <= 0)) stop("every dose must be an infusion (RATE > 0)")
obs <- raw[raw$EVID == 0, c("ROW", "ID", "TIME", "DV", "DOSE", "SD")]
obs <- obs[order(obs$ID, obs$TIME), ]
obs$OBS <- seq_len(nrow(obs))

# one row per (observation, dose that acts on it): time since the dose, rate, duration, and for
# a steady-state dose its interval (0 otherwise)
m <- merge(obs[, c("OBS", "ID", "TIME")],
           data.frame(ID = doses$ID, TD = doses$TIME, rate = doses$RATE,
                      dur = doses$AMT / doses$RATE, ii = ifelse(doses$SS == 1, doses$II, 0)),
           by = "ID")
m <- m[m$TD < m$TIME, ]
last_ss <- tapply(ifelse(m$ii > 0, m$TD, -Inf), m$OBS, max)
m <- m[m$TD >= last_ss[as.character(m$OBS)], ]
pairs <- data.frame(OBS = m$OBS, s = m$TIME - m$TD, rate = m$rate, dur = m$dur, ii = m$ii)
pairs <- pairs[order(pairs$OBS), ]
if (any(pairs$ii > 0 & pairs$dur > pairs$ii)) stop("steady-state infusion longer than II")

infusion_conc <- function(OBS, lCL, lV) {
  cl <- exp(lCL)
  k <- cl / exp(lV)
  pos <- match(pairs$OBS, OBS)
  use <- !is.na(pos)
  p <- pairs[use, ]
  pos <- pos[use]
  kk <- k[pos]
  ss <- p$rate / cl[pos]
  during <- p$s <= p$dur
  c1 <- ifelse(during, ss * (1 - exp(-kk * p$s)),
               ss * (1 - exp(-kk * p$dur)) * exp(-kk * (p$s - p$dur)))
  past <- ifelse(p$ii > 0,
                 ss * (1 - exp(-kk * p$dur)) * exp(-kk * (p$s - p$dur)) *
                   exp(-kk * p$ii) / (1 - exp(-kk * p$ii)), 0)
  out <- numeric(length(OBS))
  sums <- rowsum(c1 + past, pos)
  out[as.integer(rownames(sums))] <- sums[, 1L]
  out
}

obs$ID <- factor(obs$ID, levels = sort(unique(obs$ID)))
params <- c("lCL", "lV")
start <- c(lCL = 1.6, lV = 4.5)
warnings_seen <- character(0)
t0 <- proc.time()[["elapsed"]]
fit <- withCallingHandlers(
  nlme(DV ~ infusion_conc(OBS, lCL, lV), data = obs, fixed = lCL + lV ~ 1,
       random = pdDiag(lCL + lV ~ 1), groups = ~ID, start = start,
       weights = varPower(fixed = 1), method = "ML",
       control = nlmeControl(maxIter = 200, pnlsMaxIter = 20, msMaxIter = 200,
                             tolerance = 1e-6, pnlsTol = 1e-4)),
  warning = function(w) {
    warnings_seen <<- c(warnings_seen, conditionMessage(w))
    invokeRestart("muffleWarning")
  })
elapsed <- proc.time()[["elapsed"]] - t0

fe <- fixef(fit)[params]
se <- summary(fit)$tTable[params, "Std.Error"]
psi <- (pdMatrix(fit$modelStruct$reStruct)[[1L]] * fit$sigma^2)[params, params]
ll <- as.numeric(logLik(fit))
n_obs <- nrow(obs)
out <- list(
  source = paste(
    "nlme::nlme, method ML, one-compartment infusion closed form with superposition and",
    "NONMEM SS=1 steady state, exponential IIV on CL and V, proportional residual error"),
  data = args[[1L]],
  R_version = R.version.string,
  nlme_version = as.character(packageVersion("nlme")),
  n_obs = n_obs,
  n_subjects = nlevels(obs$ID),
  converged = TRUE,
  warnings = I(warnings_seen),
  seconds = elapsed,
  start = named_list(start, names(start)),
  fixed_effects_log = named_list(fe, params),
  fixed_effects_se = named_list(se, params),
  fixed_effects = named_list(exp(fe), c("CL", "V")),
  omega2 = named_list(diag(psi), params),
  sigma_proportional = fit$sigma,
  logLik = ll,
  ofv_nonmem_scale = -2 * ll - n_obs * log(2 * pi)
)
cat(to_json(out), "\n", sep = "")
