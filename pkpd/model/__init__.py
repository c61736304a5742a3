"""The symbolic model layer: :class:`Model`, :class:`ModelBuilder`, model files, validation.

A model is declared once (in Python with :class:`ModelBuilder`, or in a TOML model file read by
:func:`load_model_file`), checked once (names, references, dimensions) and then frozen.
"""

from __future__ import annotations

from ._builder import ModelBuilder as ModelBuilder
from ._error import ErrorModel as ErrorModel
from ._layout import ParameterEntry as ParameterEntry
from ._layout import ParameterLayout as ParameterLayout
from ._layout import omega_name as omega_name
from ._model import Covariate as Covariate
from ._model import Derived as Derived
from ._model import DosingAttributes as DosingAttributes
from ._model import Model as Model
from ._model import Output as Output
from ._model import Parameter as Parameter
from ._model import State as State
from ._parser import parse_expression as parse_expression
from ._toml import load_model_file as load_model_file
from ._toml import model_from_toml as model_from_toml
from ._transform import auc_state_name as auc_state_name
from ._transform import gate_name as gate_name
from ._transform import sensitivity_name as sensitivity_name
from ._transform import with_auc as with_auc
from ._transform import with_sensitivities as with_sensitivities

__all__ = [
    "Covariate",
    "Derived",
    "DosingAttributes",
    "ErrorModel",
    "Model",
    "ModelBuilder",
    "Output",
    "Parameter",
    "ParameterEntry",
    "ParameterLayout",
    "State",
    "auc_state_name",
    "gate_name",
    "load_model_file",
    "model_from_toml",
    "omega_name",
    "parse_expression",
    "sensitivity_name",
    "with_auc",
    "with_sensitivities",
]
