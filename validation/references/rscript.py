"""The independent references of the validation scripts: R scripts run with ``Rscript`` (their
JSON output read back) and published values kept in TOML files with their sources.

R scripts (base R and the recommended package nlme only; JSON by ``json.R``):

``nlme_theophylline.R``
    The theophylline population model (one compartment, first-order absorption, IIV on KA, CL,
    V, additive error) fitted by ``nlme`` (ML) in closed form, with a diagonal and a full omega.
    Also the reference of the estimation tests (``tests/estimation/nlme.py``).
``pinheiro_bates_theoph.R``
    The theophylline models of Pinheiro & Bates (2000, section 8.2), recomputed with the book's
    own code on ``datasets::Theoph``.
``nlme_infusion.R``
    The one-compartment infusion model of ``infusion_1cpt.csv`` fitted by ``nlme`` (ML) in
    closed form, with superposition and NONMEM's SS=1 steady state.
``warfarin_nlme.R``
    The warfarin PK model (one compartment, first-order absorption after a lag time) fitted by
    ``nlme`` in closed form, the lag profiled over a grid.
``warfarin_desolve.R``
    The typical subject of the warfarin PK/PD turnover model solved by ``deSolve``.

Published values: ``theophylline.toml``, ``infusion.toml`` and ``warfarin.toml``
(:func:`published`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
TIMEOUT_S = 600


class RscriptMissing(RuntimeError):
    """``Rscript`` is not on the PATH."""


def rscript() -> str:
    """The path of ``Rscript``; :class:`RscriptMissing` without it."""
    path = shutil.which("Rscript")
    if path is None:
        raise RscriptMissing("Rscript not found: install r-base-core and r-cran-nlme")
    return path


@dataclass
class Pending:
    """An R script running in the background (:func:`start`); :meth:`result` waits for it."""

    script: str
    proc: subprocess.Popen[str]

    def result(self, timeout: float = TIMEOUT_S) -> dict[str, Any]:
        """The script's JSON output as a dict; RuntimeError if it failed."""
        out, err = self.proc.communicate(timeout=timeout)
        if self.proc.returncode != 0:
            raise RuntimeError(f"{self.script} failed with exit code {self.proc.returncode}:\n"
                               f"{err.strip()}")
        return json.loads(out)


def start(script: str, *args: str | os.PathLike[str]) -> Pending:
    """Start ``Rscript HERE/script args...`` in the background."""
    proc = subprocess.Popen([rscript(), str(HERE / script), *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return Pending(script, proc)


def run(script: str, *args: str | os.PathLike[str]) -> dict[str, Any]:
    """Run an R script of this folder and return its JSON output."""
    return start(script, *args).result()


def nlme_theophylline(csv_path: str | os.PathLike[str]) -> dict[str, Any]:
    """``nlme_theophylline.R`` on the theophylline CSV (keys ``diagonal`` and ``block``)."""
    return run("nlme_theophylline.R", csv_path)


def published(name: str) -> dict[str, Any]:
    """The published references of ``name`` (``"theophylline"``, ``"infusion"``): one table per
    source, each with its ``source`` and values."""
    with open(HERE / f"{name}.toml", "rb") as f:
        return tomllib.load(f)
