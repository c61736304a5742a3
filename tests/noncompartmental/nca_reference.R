# Reference NCA of a single-dose NONMEM dataset in base R (no NCA package), for tests/noncompartmental.
#
# Usage: Rscript nca_reference.R data.csv
# Prints CSV on stdout, one row per ID: Cmax, Tmax, Tlast, Clast, AUClast by the linear and by the
# linear-up/log-down trapezoid, and the terminal regression chosen by the rule below.
#
# Data: observation rows (EVID 0, MDV 0) from the dose at TIME 0; every subject must have a sample
# at TIME 0 (true of theophylline), so nothing is imputed. No BLQ handling (all DV > 0 except
# pre-dose zeros).
#
# Terminal regression (the best-fit rule of PKNCA's pk.calc.half.life, written from its
# description): candidates are the samples after Tmax (the first time of Cmax) with DV > 0; fit
# lm(log(DV) ~ TIME) to the last 3, 4, ..., n candidates; keep the fits with slope < 0 and
# adjusted R^2 (summary.lm) > max(adjusted R^2 of all fits) - 1e-4; take the one with most points.

args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1])
obs <- d[d$EVID == 0 & d$MDV == 0, ]

trap_linear <- function(t, c) sum(diff(t) * (head(c, -1) + tail(c, -1)) / 2)
trap_logdown <- function(t, c) {
  total <- 0
  for (i in seq_len(length(t) - 1)) {
    dt <- t[i + 1] - t[i]
    c1 <- c[i]
    c2 <- c[i + 1]
    if (c2 < c1 && c2 > 0) {
      total <- total + dt * (c1 - c2) / log(c1 / c2)
    } else {
      total <- total + dt * (c1 + c2) / 2
    }
  }
  total
}

rows <- list()
for (id in unique(obs$ID)) {
  s <- obs[obs$ID == id, ]
  s <- s[order(s$TIME), ]
  t <- s$TIME
  c <- s$DV
  imax <- which.max(c)
  ilast <- max(which(c > 0))
  cand <- which(t > t[imax] & c > 0)
  n <- length(cand)
  best <- NULL
  fits <- list()
  if (n >= 3) {
    for (k in 3:n) {
      idx <- tail(cand, k)
      m <- lm(log(c[idx]) ~ t[idx])
      fits[[length(fits) + 1]] <- list(
        k = k, slope = unname(coef(m)[2]), intercept = unname(coef(m)[1]),
        adj = summary(m)$adj.r.squared, first = t[idx[1]])
    }
    adj <- sapply(fits, function(f) f$adj)
    ok <- Filter(function(f) f$slope < 0 && f$adj > max(adj) - 1e-4, fits)
    if (length(ok) > 0) {
      best <- ok[[which.max(sapply(ok, function(f) f$k))]]
    }
  }
  rows[[length(rows) + 1]] <- data.frame(
    ID = id, Cmax = c[imax], Tmax = t[imax], Tlast = t[ilast], Clast = c[ilast],
    AUClast_linear = trap_linear(t[1:ilast], c[1:ilast]),
    AUClast_logdown = trap_logdown(t[1:ilast], c[1:ilast]),
    lambda_z = if (is.null(best)) NA else -best$slope,
    intercept = if (is.null(best)) NA else best$intercept,
    n_points = if (is.null(best)) 0 else best$k,
    adj_r2 = if (is.null(best)) NA else best$adj,
    t_first = if (is.null(best)) NA else best$first)
}
out <- do.call(rbind, rows)
write.csv(out, stdout(), row.names = FALSE)
