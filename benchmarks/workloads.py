"""The standard benchmark workloads M1 and M2 (virtual cohorts, dosing, output grid).

Follows ``bench/WORKLOAD.md`` of the shared folder exactly: one master draw of 10 000 subjects per
model (more rows drawn the same way for larger N), a cohort of size N is its first N rows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import numpy as np

MASTER_ROWS = 10_000

#: 500 mg into the depot at 0, 12, ..., 156 h (14 doses)
DOSE_AMOUNT = 500.0
DOSE_INTERVAL = 12.0
DOSE_COUNT = 14
DOSE_TIMES = DOSE_INTERVAL * np.arange(DOSE_COUNT)

#: output grid 0, 0.5, ..., 168 h (337 exact binary values)
TIMES = 0.5 * np.arange(337)


@dataclass(frozen=True)
class WorkloadSpec:
    """One model of WORKLOAD.md: library name, typical values, omegas (SD) in draw order."""

    key: str
    library_name: str
    seed: int
    typical: dict[str, float]
    omega: dict[str, float]          # insertion order = column order of the master draw
    outputs: tuple[str, ...]         # names of the reported outputs in pkpd's Dataset

    @property
    def eta_names(self) -> tuple[str, ...]:
        return tuple(f"eta_{p}" for p in self.omega)


M1 = WorkloadSpec(
    key="M1", library_name="two_cmt_oral", seed=20240611,
    typical={"KA": 1.0, "CL": 5.0, "V1": 50.0, "Q": 8.0, "V2": 100.0},
    omega={"CL": 0.3, "V1": 0.25, "KA": 0.4, "Q": 0.2, "V2": 0.2},
    outputs=("CP",),
)
M2 = WorkloadSpec(
    key="M2", library_name="mm_indirect_response", seed=20240612,
    typical={"KA": 1.0, "V": 50.0, "VMAX": 50.0, "KM": 10.0, "KIN": 10.0, "KOUT": 0.1,
             "IMAX": 0.9, "IC50": 5.0},
    omega={"VMAX": 0.3, "KM": 0.3, "V": 0.25, "KA": 0.4, "IC50": 0.4},
    outputs=("C", "R"),
)
WORKLOADS = {"M1": M1, "M2": M2}

#: subject 1 of each model, as printed in WORKLOAD.md
CHECK_VALUES = {
    "M1": {"KA": 1.0616648983868935, "CL": 4.693042891656592, "V1": 43.929656455315076,
           "Q": 5.592699983334042, "V2": 105.85398417594354},
    "M2": {"KA": 0.6895452335771439, "V": 82.67814745866787, "VMAX": 44.8212500816664,
           "KM": 11.591420673563164, "IC50": 3.370784581892952},
}


@cache
def _master_draw(key: str, rows: int) -> np.ndarray:
    spec = WORKLOADS[key]
    rng = np.random.default_rng(spec.seed)
    eta = rng.standard_normal((rows, len(spec.omega))) * np.array(list(spec.omega.values()))
    eta.setflags(write=False)
    return eta


@dataclass(frozen=True)
class Cohort:
    """N subjects of one workload: etas (N, 5) and individual parameters (each of shape (N,))."""

    spec: WorkloadSpec
    eta: np.ndarray
    params: dict[str, np.ndarray]

    @property
    def n(self) -> int:
        return self.eta.shape[0]

    def column(self, name: str) -> np.ndarray:
        """Parameter ``name`` as an (N, 1) column, broadcastable against the time grid."""
        return self.params[name][:, None]

    def frame(self):  # -> pandas.DataFrame (pandas imported lazily)
        """One row per subject, columns = eta names of the library model."""
        import pandas as pd

        return pd.DataFrame(self.eta, columns=list(self.spec.eta_names))

    def subject(self, i: int) -> dict[str, float]:
        return {name: float(v[i]) for name, v in self.params.items()}


def _cohort(spec: WorkloadSpec, eta: np.ndarray) -> Cohort:
    params = {}
    for name, typical in spec.typical.items():
        if name in spec.omega:
            params[name] = typical * np.exp(eta[:, list(spec.omega).index(name)])
        else:
            params[name] = np.full(eta.shape[0], typical)
    return Cohort(spec, eta, params)


def cohort(key: str, n: int) -> Cohort:
    """The first ``n`` subjects of the master draw of workload ``key`` ("M1" or "M2")."""
    return _cohort(WORKLOADS[key], _master_draw(key, max(n, MASTER_ROWS))[:n])


def accuracy_cohort(key: str) -> Cohort:
    """The typical subject (eta = 0) followed by subjects 1-20 of the N = 1000 cohort."""
    eta = _master_draw(key, MASTER_ROWS)[:20]
    return _cohort(WORKLOADS[key], np.vstack([np.zeros((1, eta.shape[1])), eta]))


def dose_list() -> list[tuple[float, float]]:
    """The 14 doses as (time, amount) pairs."""
    return [(float(t), DOSE_AMOUNT) for t in DOSE_TIMES]


def check_cohorts() -> None:
    """Assert the subject-1 values printed in WORKLOAD.md and the grid and dosing constants."""
    for key, expected in CHECK_VALUES.items():
        got = cohort(key, 1).subject(0)
        for name, value in expected.items():
            if not math.isclose(got[name], value, rel_tol=1e-14):
                raise AssertionError(f"{key} subject 1: {name} = {got[name]!r}, "
                                     f"WORKLOAD.md says {value!r}")
        # larger draws extend the master draw without changing its rows
        np.testing.assert_array_equal(_master_draw(key, MASTER_ROWS + 5)[:MASTER_ROWS],
                                      _master_draw(key, MASTER_ROWS))
    assert TIMES.size == 337 and TIMES[-1] == 168.0
    assert DOSE_TIMES.size == 14 and DOSE_TIMES[-1] == 156.0
