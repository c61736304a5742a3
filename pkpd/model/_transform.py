"""Transformations that return a new Model (the Model itself is immutable)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import sympy as sp

from ..errors import ModelError
from ._model import Model, Output, State

__all__ = ["auc_state_name", "with_auc"]


def auc_state_name(output: str) -> str:
    """Name of the accumulator state (and output) holding the AUC of ``output``."""
    return f"AUC_{output}"


def with_auc(model: Model, outputs: Sequence[str]) -> Model:
    """The model with an accumulator state ``AUC_<output>`` for each output: ``d AUC/dt =
    output``, starting at 0, reported as an output of the same name.

    The integral is computed by the engine with the rest of the state (exactly, for a linear
    model), so the AUC over any window between two output times is the difference of the
    accumulator at its ends: no trapezoids on a grid.

    Raises
    ------
    ModelError
        For an unknown output or a name already taken.
    """
    by_name = {o.name: o for o in model.outputs}
    taken = set(model.state_names) | set(by_name) | set(model.parameter_names) | \
        set(model.covariate_names) | set(model.etas) | {d.name for d in model.derived}
    states = list(model.states)
    odes = list(model.odes)
    new_outputs = list(model.outputs)
    for name in outputs:
        if name not in by_name:
            raise ModelError(f"auc: {name!r} is not an output of model '{model.name}'; valid: "
                             f"{', '.join(by_name)}")
        out = by_name[name]
        acc = auc_state_name(name)
        if acc in taken:
            raise ModelError(f"auc: the accumulator name {acc!r} is already used in model "
                             f"'{model.name}'")
        unit = f"({out.unit})*{model.time_unit}"
        symbol = sp.Symbol(acc, real=True)
        states.append(State(acc, unit, sp.Integer(0), f"area under {name} (accumulator)"))
        odes.append(sp.Float(out.scale) * out.expr if out.scale != 1.0 else out.expr)
        new_outputs.append(Output(acc, symbol, unit, 1.0))
        taken.add(acc)
    return replace(model, states=tuple(states), odes=tuple(odes), outputs=tuple(new_outputs))
