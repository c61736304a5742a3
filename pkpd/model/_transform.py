"""Transformations that return a new Model (the Model itself is immutable)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import sympy as sp

from ..errors import ModelError
from ._model import Derived, DosingAttributes, Model, Output, State

__all__ = ["auc_state_name", "gate_name", "sensitivity_name", "with_auc", "with_sensitivities"]


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
    if model.sensitivities:
        raise ModelError(f"auc: model '{model.name}' already has sensitivity states; add the "
                         "accumulators first, then the sensitivities")
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


def sensitivity_name(name: str, wrt: str) -> str:
    """Name of the state, output or derived quantity holding ``d name / d wrt``."""
    return f"d_{name}__d_{wrt}"


def _per(unit: str, wrt_unit: str) -> str:
    return unit if wrt_unit in ("", "1") else f"({unit})/({wrt_unit})"


def gate_name(eta: str) -> str:
    """Name of the occasion gate of a between-occasion eta (see :func:`with_sensitivities`)."""
    return f"gate_{eta}"


def with_sensitivities(model: Model, wrt: Sequence[str] | None = None, *,
                       per_occasion: Sequence[str] = ()) -> Model:
    """The model with its forward sensitivity equations: d y / d w for each state y and each
    quantity w of ``wrt`` (etas, parameters or covariates; default: every eta).

    For states y with ``dy/dt = f(y, w)`` the sensitivities ``S = dy/dw`` obey

    .. math:: \\frac{dS}{dt} = \\frac{\\partial f}{\\partial y} S
              + \\frac{\\partial f}{\\partial w}, \\qquad S(t_0) = \\frac{dy_0}{dw},

    derived here symbolically, with ``df/dw`` the total derivative through the model's
    individual-parameter equations (each derivative of a derived quantity is itself a derived
    quantity, computed once per subject). The new model has, after the original states,
    ``len(wrt)`` blocks of sensitivity states ``d_<state>__d_<w>`` (block k holds d y / d w_k
    in state order), and an output ``d_<output>__d_<w>`` for every output and every w.

    Doses are differentiated by the engine: a dose into compartment c changes the sensitivity
    states by the derivative of the dose (AMT dF/dw for a bolus; the input rate dR/dw during an
    infusion) plus ``(f(tau-) - f(tau+)) d tau / dw`` at each arrival or infusion end ``tau``
    moved by the lag time or the duration. For that, the dosing attributes of sensitivity
    state ``d_<c>__d_<w>`` hold dF/dw, dlag/dw, drate/dw and dduration/dw of compartment c.
    At a steady-state (SS) dose the engine solves for the periodic steady state of the
    sensitivities with that of the states (the implicit-function derivative).

    Parameters
    ----------
    model : Model
    wrt : sequence of str, optional
        Etas, parameters or covariates.
    per_occasion : sequence of str, optional
        Between-occasion etas of ``wrt`` differentiated on one occasion at a time: every term
        of df/dw (and of the dose and initial derivatives) is multiplied by a new
        between-occasion eta ``gate_<w>`` (:func:`gate_name`, variance 0) that the caller sets
        to 1 on the occasion of interest and 0 on the others. The sensitivity is then the
        derivative with respect to that occasion's value of w alone.

    Returns
    -------
    Model
        With ``sensitivities == tuple(wrt)``.

    Raises
    ------
    ModelError
        For an unknown name, a model that already has sensitivities, a dosing attribute that
        depends on a state, or a ``per_occasion`` name that is not a between-occasion eta of
        ``wrt``.
    """
    if model.sensitivities:
        raise ModelError(f"model '{model.name}' already has sensitivities "
                         f"(to {', '.join(model.sensitivities)})")
    wrt = tuple(model.etas) if wrt is None else tuple(dict.fromkeys(wrt))
    units = {p.name: p.unit for p in model.parameters} | {e: "1" for e in model.etas} | \
        {c.name: "1" for c in model.covariates}
    unknown = [w for w in wrt if w not in units]
    if unknown or not wrt:
        raise ModelError(f"sensitivities: {', '.join(map(repr, unknown)) or 'nothing'} given; "
                         f"valid: the etas, parameters and covariates of model '{model.name}': "
                         f"{', '.join(units)}")
    bad = [w for w in per_occasion if w not in wrt or w not in model.occasion_etas]
    if bad:
        raise ModelError(f"sensitivities: per_occasion {', '.join(map(repr, bad))} must be "
                         f"between-occasion etas among those differentiated; valid: "
                         f"{', '.join(w for w in wrt if w in model.occasion_etas) or 'none'}")
    ys = [model.symbol(s) for s in model.state_names]
    ws = [model.symbol(w) for w in wrt]
    zero = sp.Integer(0)
    one = sp.Integer(1)
    gates = [sp.Symbol(gate_name(w), real=True) if w in per_occasion else one for w in wrt]
    clash = [g.name for g in gates if g != one and g.name in (*units, *model.state_names,
                                                              *model.derived_names)]
    if clash:
        raise ModelError(f"sensitivities: the name {clash[0]!r} is already used in model "
                         f"'{model.name}'")

    # total derivatives of the derived quantities, each a derived quantity of its own
    d_derived: dict[tuple[str, int], sp.Expr] = {}
    derived = list(model.derived)

    def total(expr: sp.Expr, k: int) -> sp.Expr:
        out = sp.diff(expr, ws[k]) * gates[k]
        for d in model.derived:
            ds = sp.Symbol(d.name, real=True)
            if expr.has(ds) and d_derived[(d.name, k)] != 0:
                out += sp.diff(expr, ds) * d_derived[(d.name, k)]
        return out

    taken = {*units, *model.state_names, *model.derived_names}
    taken_outputs = set(model.output_names)   # outputs may share a name with a state

    def new_name(name: str, w: str, taken: set[str] = taken) -> str:
        result = sensitivity_name(name, w)
        if result in taken:
            raise ModelError(f"sensitivities: the name {result!r} is already used in model "
                             f"'{model.name}'")
        taken.add(result)
        return result

    for d in model.derived:
        for k, w in enumerate(wrt):
            e = total(d.expr, k)
            if e == 0:
                d_derived[(d.name, k)] = zero
                continue
            name = new_name(d.name, w)
            derived.append(Derived(name, e, _per(d.unit, units[w])))
            d_derived[(d.name, k)] = sp.Symbol(name, real=True)

    s_sym = [[sp.Symbol(sensitivity_name(s, w), real=True) for s in model.state_names]
             for w in wrt]

    def chain(expr: sp.Expr, k: int) -> sp.Expr:
        """d expr / d w_k along the solution: through the states and the parameters."""
        return sum((sp.diff(expr, y) * s_sym[k][i] for i, y in enumerate(ys)
                    if expr.has(y)), total(expr, k))

    states = list(model.states)
    odes = list(model.odes)
    for k, w in enumerate(wrt):
        for s, f in zip(model.states, model.odes, strict=True):
            states.append(State(new_name(s.name, w), _per(s.unit, units[w]),
                                total(s.initial, k), f"d {s.name} / d {w}"))
            odes.append(chain(f, k))
    outputs = list(model.outputs)
    for k, w in enumerate(wrt):
        for o in model.outputs:
            outputs.append(Output(new_name(o.name, w, taken_outputs), chain(o.expr, k),
                                  _per(o.unit, units[w]), o.scale))
    dosing = list(model.dosing)
    by_state = {d.state: d for d in model.dosing}
    for k, w in enumerate(wrt):
        for s in model.state_names:
            attrs = by_state.get(s)
            values = []
            for attr in ("F", "lag", "rate", "duration"):
                e = getattr(attrs, attr) if attrs is not None else None
                if e is not None and any(e.has(y) for y in ys):
                    raise ModelError(f"sensitivities: the {attr} of compartment {s!r} depends "
                                     "on a state; dose attributes must depend on parameters "
                                     "and covariates only")
                values.append(zero if e is None else total(e, k))
            dosing.append(DosingAttributes(sensitivity_name(s, w), *values))
    gated = tuple(gate_name(w) for w in wrt if w in per_occasion)
    omega = model.omega
    if gated and omega is not None:
        omega = np.zeros((len(model.etas) + len(gated),) * 2)
        omega[:len(model.etas), :len(model.etas)] = model.omega
    return replace(model, derived=tuple(derived), states=tuple(states), odes=tuple(odes),
                   outputs=tuple(outputs), dosing=tuple(dosing), sensitivities=wrt,
                   etas=(*model.etas, *gated), occasion_etas=(*model.occasion_etas, *gated),
                   omega=omega)
