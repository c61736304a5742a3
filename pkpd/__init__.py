"""pkpd: physiological patient twins for clinical pharmacology.

Symbolic PK/PD models (sympy) compiled into numba kernels, dosing with NONMEM semantics, and
simulations returned as xarray Datasets with units. Heavy dependencies (sympy, numba, xarray,
matplotlib) are imported only when first needed, so ``import pkpd`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .errors import (
    DataError as DataError,
)
from .errors import (
    EstimationError as EstimationError,
)
from .errors import (
    ModelError as ModelError,
)
from .errors import (
    PkpdError as PkpdError,
)
from .errors import (
    PkpdWarning as PkpdWarning,
)
from .errors import (
    RegimenError as RegimenError,
)
from .errors import (
    SolverError as SolverError,
)
from .errors import (
    UnitError as UnitError,
)

__version__ = "0.1.0"

# public name -> module that defines it (imported lazily on first attribute access)
_LAZY: dict[str, str] = {
    "Model": "pkpd.model",
    "ModelBuilder": "pkpd.model",
    "load_model": "pkpd.library",
    "list_models": "pkpd.library",
    "compile_model": "pkpd.codegen",
    "CompiledModel": "pkpd.codegen",
    "Dose": "pkpd.events",
    "Regimen": "pkpd.events",
    "EventTable": "pkpd.events",
    "read_nonmem": "pkpd.io.nonmem",
    "write_nonmem": "pkpd.io.nonmem",
    "NonmemData": "pkpd.io.nonmem",
    "simulate": "pkpd.simulation",
    "simulate_chunked": "pkpd.scale",
    "Patient": "pkpd.patient",
    "fit_individual": "pkpd.estimation",
    "FitResult": "pkpd.estimation",
    "PosteriorSample": "pkpd.estimation",
    "SubjectFits": "pkpd.estimation",
    "fit_subjects": "pkpd.estimation",
    "fit_population": "pkpd.estimation",
    "PopulationFit": "pkpd.estimation",
    "Population": "pkpd.population",
    "prediction_interval": "pkpd.results",
    "simulate_to_zarr": "pkpd.scale",
    "diagnose": "pkpd.diagnostics",
    "Diagnostics": "pkpd.diagnostics",
    "vpc": "pkpd.diagnostics",
    "VPC": "pkpd.diagnostics",
    "nca": "pkpd.noncompartmental",
    "compare_published": "pkpd.trials",
    "TrialArm": "pkpd.trials",
    "PublishedSummary": "pkpd.trials",
    "PublishedComparison": "pkpd.trials",
    "physiology": "pkpd.pbpk",
    "partition_coefficients": "pkpd.pbpk",
    "load_pbpk_text": "pkpd.pbpk",
    "qualify": "pkpd.qualification",
}

__all__ = [
    "DataError",
    "EstimationError",
    "ModelError",
    "PkpdError",
    "PkpdWarning",
    "RegimenError",
    "SolverError",
    "UnitError",
    "__version__",
    *_LAZY,
]


# subpackages and modules reachable as attributes (pkpd.dosing.optimise, pkpd.results...)
_SUBMODULES = ("covariates", "diagnostics", "dosing", "estimation", "plot", "results",
               "testing", "trials", "units", "variability")


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"pkpd.{name}")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'pkpd' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:  # pragma: no cover
    from .codegen import CompiledModel as CompiledModel
    from .codegen import compile_model as compile_model
    from .estimation import FitResult as FitResult
    from .estimation import PopulationFit as PopulationFit
    from .estimation import PosteriorSample as PosteriorSample
    from .estimation import SubjectFits as SubjectFits
    from .estimation import fit_individual as fit_individual
    from .estimation import fit_population as fit_population
    from .estimation import fit_subjects as fit_subjects
    from .events import Dose as Dose
    from .events import EventTable as EventTable
    from .events import Regimen as Regimen
    from .io.nonmem import NonmemData as NonmemData
    from .io.nonmem import read_nonmem as read_nonmem
    from .io.nonmem import write_nonmem as write_nonmem
    from .library import list_models as list_models
    from .library import load_model as load_model
    from .model import Model as Model
    from .model import ModelBuilder as ModelBuilder
    from .patient import Patient as Patient
    from .population import Population as Population
    from .qualification import qualify as qualify
    from .results import prediction_interval as prediction_interval
    from .scale import simulate_chunked as simulate_chunked
    from .scale import simulate_to_zarr as simulate_to_zarr
    from .simulation import simulate as simulate
