# The typical subject of the warfarin PK/PD turnover model solved with deSolve, printed as JSON:
# the independent check of pkpd's simulation of models/warfarin_pkpd.toml
# (validation/warfarin.py).
#
# Usage: Rscript validation/references/warfarin_desolve.R DOSE=100 CL=0.13 V=8 KA=1.3 TLAG=0.9 \
#            E0=96 KOUT=0.055 IC50=1.1 IMAX=1 TIMES=0,0.5,1,...
#
# Model (amounts in mg, concentrations in mg/L, time in h, PCA in % of normal):
#   d depot/dt   = -KA * depot
#   d central/dt = KA * depot - CL / V * central
#   d PCA/dt     = KOUT * E0 * (1 - IMAX * C / (IC50 + C)) - KOUT * PCA,  C = central / V
#   PCA(0) = E0; the oral dose enters the depot at t = TLAG (an event of deSolve).
# Solved by lsoda with rtol = atol = 1e-12.
#
# Needs the R package deSolve; JSON is written by json.R.

suppressPackageStartupMessages(library(deSolve))

script_file <- sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE)[1L])
source(file.path(dirname(script_file), "json.R"))

args <- commandArgs(trailingOnly = TRUE)
kv <- strsplit(args, "=", fixed = TRUE)
values <- setNames(vapply(kv, `[`, character(1), 2L), vapply(kv, `[`, character(1), 1L))
need <- c("DOSE", "CL", "V", "KA", "TLAG", "E0", "KOUT", "IC50", "IMAX", "TIMES")
if (!all(need %in% names(values))) stop("give ", paste(need, collapse = ", "), " as KEY=value")
p <- as.list(as.numeric(values[setdiff(need, "TIMES")]))
names(p) <- setdiff(need, "TIMES")
times <- as.numeric(strsplit(values[["TIMES"]], ",", fixed = TRUE)[[1L]])

rhs <- function(t, y, q) {
  conc <- y[["central"]] / q$V
  list(c(depot = -q$KA * y[["depot"]],
         central = q$KA * y[["depot"]] - q$CL / q$V * y[["central"]],
         PCA = q$KOUT * q$E0 * (1 - q$IMAX * conc / (q$IC50 + conc)) - q$KOUT * y[["PCA"]]))
}
grid <- sort(unique(c(0, times, p$TLAG)))
dose <- data.frame(var = "depot", time = p$TLAG, value = p$DOSE, method = "add")
out <- lsoda(c(depot = 0, central = 0, PCA = p$E0), grid, rhs, p,
             events = list(data = dose), rtol = 1e-12, atol = 1e-12)
out <- as.data.frame(out)
at <- match(times, out$time)
cat(to_json(list(solver = "deSolve::lsoda, rtol = atol = 1e-12",
                 deSolve_version = as.character(packageVersion("deSolve")),
                 times = I(times), CP = I(out$central[at] / p$V), PCA = I(out$PCA[at]))), "\n")
