"""ModelBuilder: declare a model in Python; ``build()`` validates everything once."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import sympy as sp

from ..errors import ModelError, UnitError
from ..units import parse_quantity, parse_unit, registry
from ._checks import (
    UnitChecker,
    canonical,
    check_name,
    check_omega,
    check_supported,
    fmt_unit,
    normalise_unit,
)
from ._error import ErrorModel
from ._layout import estimation_fields
from ._model import Covariate, Derived, DosingAttributes, Model, Output, Parameter, State
from ._omega import assemble_omega
from ._parser import parse_expression

__all__ = ["ModelBuilder"]

ExprLike = sp.Expr | str | float | int
_DOSING_KEYS = ("F", "lag", "rate", "duration")


def _sym(name: str) -> sp.Symbol:
    return sp.Symbol(name, real=True)


def _finite(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise ModelError(f"{what}: expected a number, got {value!r}")
    if not math.isfinite(float(value)):
        raise ModelError(f"{what}: {value!r} is not a finite number")
    return float(value)


def _name_of(obj: str | sp.Symbol, what: str) -> str:
    if isinstance(obj, sp.Symbol):
        return obj.name
    if isinstance(obj, str):
        return obj
    raise ModelError(f"{what}: expected a name or a symbol, got {obj!r}")


class ModelBuilder:
    """Declare a PK/PD model step by step; :meth:`build` checks it and returns a :class:`Model`.

    Equations may be sympy expressions of the returned symbols or text, which goes through the
    safe parser :func:`~pkpd.model.parse_expression`. Text is parsed at :meth:`build`, so an
    equation may refer to names declared after it.

    Examples
    --------
    >>> mb = ModelBuilder("one_cmt_iv", time_unit="h")
    >>> central, = mb.states(central="mg")
    >>> CL, V = mb.parameters(CL="5 L/h", V="50 L")
    >>> mb.ode(central, -CL / V * central)
    >>> mb.output("CP", central / V, unit="ug/L")
    >>> model = mb.build()
    >>> model.outputs[0].scale
    1000.0
    """

    def __init__(self, name: str, *, time_unit: str = "h", description: str = "") -> None:
        if not isinstance(name, str) or not name.strip():
            raise ModelError(f"model name must be a non-empty string, got {name!r}")
        self.name = name
        self.description = str(description)
        self.time_unit = normalise_unit(time_unit, what=f"model {name!r}: time_unit")
        if parse_unit(self.time_unit).dimensionality != registry().hour.dimensionality:
            raise ModelError(f"model {name!r}: time_unit {time_unit!r} is not a unit of time")
        self._kinds: dict[str, str] = {}
        self._parameters: list[Parameter] = []
        self._covariates: list[Covariate] = []
        self._etas: list[str] = []
        self._omega_blocks: list[tuple[list[str], np.ndarray]] = []
        self._derived: list[tuple[str, ExprLike, str | None]] = []
        self._states: list[tuple[str, str, str]] = []
        self._initial: dict[str, ExprLike] = {}
        self._odes: dict[str, ExprLike] = {}
        self._outputs: list[tuple[str, ExprLike, str | None]] = []
        self._dosing: dict[str, dict[str, ExprLike]] = {}
        self._routes: dict[str, str] = {}
        self._default_route: str | None = None
        self._error: dict[str, ErrorModel] = {}
        self._metadata: dict[str, str] = {}
        self._occasion: list[str] = []
        self._fixed_etas: list[str] = []

    # -- declarations -----------------------------------------------------------------------
    def _declare(self, name: str, kind: str) -> sp.Symbol:
        check_name(name, kind)
        if name in self._kinds:
            other = self._kinds[name]
            if kind == "individual equation" and other == "parameter":
                raise ModelError(
                    f"individual equation {name!r} reuses the name of parameter {name!r}; name "
                    f"the typical value e.g. 'TV{name}' and the individual value {name!r}")
            raise ModelError(f"{kind} name {name!r} is already declared as a {other}; "
                             "names must be unique across parameters, etas, covariates, "
                             "individual equations, states and outputs")
        self._kinds[name] = kind
        return _sym(name)

    def states(self, **states: str | Mapping[str, Any]) -> tuple[sp.Symbol, ...]:
        """Declare states (compartments) in order: ``NAME="mg"`` or
        ``NAME={"unit": "mg", "initial": "KIN/KOUT", "description": "..."}``."""
        out = []
        for name, spec in states.items():
            spec = {"unit": spec} if not isinstance(spec, Mapping) else dict(spec)
            _only(spec, ("unit", "initial", "description"), f"state {name!r}")
            sym = self._declare(name, "state")
            unit = normalise_unit(spec.get("unit"), what=f"state {name!r}")
            self._states.append((name, unit, str(spec.get("description", ""))))
            if spec.get("initial") is not None:
                self._initial[name] = spec["initial"]
            out.append(sym)
        return tuple(out)

    def parameters(self, **parameters: Any) -> tuple[sp.Symbol, ...]:
        """Declare population parameters: ``TVCL="5 L/h"``, a pint quantity, or
        ``{"value": 5, "unit": "L/h", "description": "..."}`` (a bare number is dimensionless),
        with, for population estimation, ``fixed`` (bool), ``lower`` and ``upper`` (bounds in
        the parameter's unit)."""
        out = []
        for name, spec in parameters.items():
            what = f"parameter {name!r}"
            description = ""
            estimation: dict[str, Any] = {}
            if isinstance(spec, Mapping):
                spec = dict(spec)
                _only(spec, ("value", "unit", "description", "fixed", "lower", "upper"), what)
                if "value" not in spec:
                    raise ModelError(f"{what}: missing 'value'")
                description = str(spec.get("description", ""))
                value = _finite(spec["value"], what)
                unit = normalise_unit(spec.get("unit"), what=what)
                estimation = estimation_fields(spec, value, what)
            elif isinstance(spec, (int, float)) and not isinstance(spec, bool):
                value, unit = _finite(spec, what), "1"
            else:
                try:
                    q = parse_quantity(spec, default_unit="1", what=what)
                except UnitError as exc:
                    raise ModelError(str(exc)) from None
                value, unit = _finite(float(q.magnitude), what), fmt_unit(q.units)
            sym = self._declare(name, "parameter")
            self._parameters.append(Parameter(name, value, unit, description, **estimation))
            out.append(sym)
        return tuple(out)

    def covariates(self, **covariates: str | Mapping[str, Any] | None) -> tuple[sp.Symbol, ...]:
        """Declare covariates: ``WT="kg"`` or ``{"unit": "kg", "default": 70, "description": ""}``.
        Covariates are dimensionless numbers in equations, expressed in their ``unit``."""
        out = []
        for name, spec in covariates.items():
            what = f"covariate {name!r}"
            spec = {"unit": spec} if not isinstance(spec, Mapping) else dict(spec)
            _only(spec, ("unit", "default", "description"), what)
            default = spec.get("default")
            default = None if default is None else _finite(default, f"{what}: default")
            sym = self._declare(name, "covariate")
            self._covariates.append(Covariate(name, normalise_unit(spec.get("unit"), what=what),
                                              default, str(spec.get("description", ""))))
            out.append(sym)
        return tuple(out)

    def etas(self, **variances: float) -> tuple[sp.Symbol, ...]:
        """Declare independent random effects with their variances (diagonal of omega)."""
        out = []
        for name, var in variances.items():
            v = _finite(var, f"variance of eta {name!r}")
            out.append(self._declare(name, "eta"))
            self._etas.append(name)
            self._omega_blocks.append(([name], np.array([[v]])))
        return tuple(out)

    def fix_omega(self, *names: str | sp.Symbol) -> None:
        """Hold the omega of these etas (their whole block) fixed in population estimation."""
        for name in names:
            self._fixed_etas.append(_name_of(name, "fixed eta"))

    def occasion(self, *names: str | sp.Symbol) -> None:
        """Mark etas as between-occasion (BOV): drawn anew, from their omega, for every
        occasion of a subject (see ``occasions=`` in :func:`pkpd.simulate`)."""
        for name in names:
            self._occasion.append(_name_of(name, "occasion eta"))

    def omega_block(self, names: Sequence[str], matrix: Sequence[Sequence[float]] | None = None,
                    *, sd: Sequence[float] | None = None,
                    correlation: Sequence[Sequence[float]] | None = None
                    ) -> tuple[sp.Symbol, ...]:
        """Declare correlated random effects ``names``: either their covariance ``matrix``, or
        their standard deviations ``sd`` and ``correlation`` matrix (covariance
        ``sd_i * sd_j * correlation_ij``)."""
        names = [_name_of(n, "omega block") for n in names]
        if (matrix is None) == (sd is None):
            raise ModelError(f"omega block {names}: give either `matrix` (covariances) or `sd` "
                             "with `correlation`")
        try:
            if matrix is None:
                s_ = np.array(sd, dtype=float)
                r = np.eye(len(s_)) if correlation is None else np.array(correlation, dtype=float)
                if r.shape != (len(s_), len(s_)) or np.any(np.abs(r) > 1) or \
                        not np.allclose(np.diag(r), 1.0) or np.any(s_ < 0):
                    raise ModelError(f"omega block {names}: correlation must be a "
                                     f"{len(s_)}x{len(s_)} matrix with a unit diagonal and "
                                     "entries in [-1, 1], sd non-negative")
                matrix = np.outer(s_, s_) * r
            m = np.array(matrix, dtype=float)
        except (TypeError, ValueError):
            raise ModelError(f"omega block {names}: matrix is not a numeric matrix") from None
        if m.shape != (len(names), len(names)):
            raise ModelError(f"omega block {names}: matrix has shape {m.shape}, expected "
                             f"({len(names)}, {len(names)})")
        check_omega(tuple(names), m)
        out = [self._declare(n, "eta") for n in names]
        self._etas.extend(names)
        self._omega_blocks.append((names, m))
        return tuple(out)

    def derive(self, name: str, expr: ExprLike, *, unit: str | None = None) -> sp.Symbol:
        """Declare an individual equation ``name = expr`` (evaluated in declaration order)."""
        sym = self._declare(name, "individual equation")
        self._derived.append((name, expr, unit))
        return sym

    def ode(self, state: str | sp.Symbol, expr: ExprLike) -> None:
        """Set d(state)/dt (without dose inputs)."""
        name = _name_of(state, "ode")
        if name in self._odes:
            raise ModelError(f"ODE of {name!r} is given twice")
        self._odes[name] = expr

    def initial(self, state: str | sp.Symbol, expr: ExprLike) -> None:
        """Set the initial amount of a state (default 0)."""
        name = _name_of(state, "initial")
        self._initial[name] = expr

    def output(self, name: str, expr: ExprLike, *, unit: str | None = None) -> None:
        """Declare an output; with ``unit`` the expression is converted (``Output.scale``).

        An output may carry the name of a state only if it reports that state itself
        (``output("R", "R")``)."""
        if self._kinds.get(name) != "state" or any(o[0] == name for o in self._outputs):
            self._declare(name, "output")
        self._outputs.append((name, expr, unit))

    def dosing(self, state: str | sp.Symbol, *, F: ExprLike | None = None,
               lag: ExprLike | None = None, rate: ExprLike | None = None,
               duration: ExprLike | None = None) -> None:
        """Declare dose attributes of a compartment: bioavailability ``F``, ``lag`` time,
        modelled infusion ``rate`` (doses with RATE=-1) and ``duration`` (RATE=-2)."""
        name = _name_of(state, "dosing")
        attrs = self._dosing.setdefault(name, {})
        for key, value in zip(_DOSING_KEYS, (F, lag, rate, duration), strict=True):
            if value is not None:
                attrs[key] = value

    def route(self, name: str, state: str | sp.Symbol) -> None:
        """Name a route of administration (``"PO"`` -> ``"depot"``); stored upper-case."""
        if not isinstance(name, str) or not name.strip():
            raise ModelError(f"route name must be a non-empty string, got {name!r}")
        self._routes[name.strip().upper()] = _name_of(state, f"route {name!r}")

    def default_route(self, name: str) -> None:
        """The route of a dose that names none (``"PO"``); one of the declared routes."""
        if not isinstance(name, str) or not name.strip():
            raise ModelError(f"default route must be a route name, got {name!r}")
        self._default_route = name.strip().upper()

    def error(self, output: str, *, form: str = "variance", power: float = 1.0,
              fixed: Sequence[str] | bool = (), **components: float) -> None:
        """Residual error of an output, e.g. ``error("CP", proportional=0.1, additive=0.05)``
        (an :class:`~pkpd.model.ErrorModel`).

        Components (standard deviations): ``additive`` (in the output's unit), ``proportional``
        (a fraction of the prediction, raised to ``power``: a power error model when it is not
        1), or ``exponential`` alone (SD on the log scale: ``y = f * exp(eps)``). With both
        additive and proportional, ``form="variance"`` (the NONMEM convention) gives
        ``sd = sqrt(add**2 + (prop*f)**2)``, ``form="sd"`` gives ``sd = add + prop*f``.
        ``fixed`` names components held fixed in population estimation (True: all).
        """
        _only(components, ("proportional", "additive", "exponential"), f"error of {output!r}")
        spec: dict[str, Any] = {k: _finite(v, f"error of {output!r}: {k}")
                                for k, v in components.items()}
        spec.update(form=form, fixed=fixed)
        if power != 1.0:
            spec["power"] = _finite(power, f"error of {output!r}: power")
        self._error[output] = ErrorModel.from_spec(output, spec)

    def metadata(self, **items: object) -> None:
        """Free-text metadata: source, doi, status, references, ..."""
        for k, v in items.items():
            self._metadata[k] = "; ".join(map(str, v)) if isinstance(v, (list, tuple)) else str(v)

    # -- build ------------------------------------------------------------------------------
    def build(self) -> Model:
        """Validate the declaration and return the immutable :class:`Model`.

        Raises
        ------
        ModelError
            Naming the equation and the offending term for any problem listed in
            :mod:`pkpd.model._checks`.
        """
        kinds = self._kinds
        symbols = {n: _sym(n) for n in kinds if kinds[n] != "output"}
        ureg = registry()
        if not self._states:
            raise ModelError(f"model {self.name!r} declares no state")
        state_units = {n: parse_unit(u) for n, u, _ in self._states}
        time_u = parse_unit(self.time_unit)
        units: dict[str, object] = {p.name: parse_unit(p.unit) for p in self._parameters}
        units.update(state_units)
        checker = UnitChecker(units, time_u)

        def expr_of(value: ExprLike, where: str, allowed: set[str]) -> sp.Expr:
            if isinstance(value, str):
                expr = parse_expression(value, symbols, where=where)
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                expr = sp.Float(_finite(value, where))
            elif isinstance(value, sp.Basic):
                expr = value.xreplace({s: _sym(s.name) for s in value.free_symbols
                                       if isinstance(s, sp.Symbol)})
            else:
                raise ModelError(f"{where}: expected an expression or text, got {value!r}")
            check_supported(expr, where)
            for s in sorted(expr.free_symbols, key=str):
                if s.name not in allowed:
                    raise ModelError(f"{where}: {_why_not(s.name, kinds, allowed)}")
            return expr

        everything = set(symbols) | {"t"}
        no_state = everything - {n for n, k in kinds.items() if k == "state"}

        # individual equations, in order
        derived: list[Derived] = []
        seen: set[str] = set()
        for name, value, unit in self._derived:
            where = f"individual equation {name!r}"
            allowed = {n for n in no_state if kinds.get(n) != "individual equation"} | seen
            allowed.discard("t")
            expr = expr_of(value, where, allowed)
            inferred = checker.unit(expr, where)
            if unit is not None:
                declared = parse_unit(normalise_unit(unit, what=where))
                if not checker.same(inferred, declared):
                    raise checker.mismatch(where, expr, inferred, declared)
                unit_text = normalise_unit(unit, what=where)
            else:
                unit_text = fmt_unit(inferred)
            checker.units[name] = parse_unit(unit_text)
            derived.append(Derived(name, canonical(expr), unit_text))
            seen.add(name)

        # states, initial values and ODEs
        for name in self._odes:
            if name not in state_units:
                raise ModelError(f"ODE of {name!r}: {name!r} is not a state (states: "
                                 f"{', '.join(state_units)})")
        for name in self._initial:
            if name not in state_units:
                raise ModelError(f"initial value of {name!r}: {name!r} is not a state (states: "
                                 f"{', '.join(state_units)})")
        states, odes = [], []
        per_time = {n: u / time_u for n, u in state_units.items()}
        for name, unit, description in self._states:
            if name not in self._odes:
                raise ModelError(f"state {name!r} has no ODE; give one with ode({name!r}, ...) "
                                 "or in the [odes] table (use 0 for a constant state)")
            where = f"ODE of {name!r}"
            rhs = expr_of(self._odes[name], where, everything)
            checker.expect(rhs, per_time[name], where)
            odes.append(canonical(rhs))
            initial: sp.Expr = sp.Float(0.0)
            if name in self._initial:
                where = f"initial value of {name!r}"
                initial = expr_of(self._initial[name], where, no_state)
                u = checker.unit(initial, where)
                if not (checker.same(u, state_units[name]) or checker.same(u, ureg.dimensionless)):
                    raise checker.mismatch(where, initial, u, state_units[name])
                initial = canonical(initial)
            states.append(State(name, unit, initial, description))

        # outputs
        outputs = []
        for name, value, unit in self._outputs:
            where = f"output {name!r}"
            expr = expr_of(value, where, everything)
            if kinds[name] == "state" and expr != _sym(name):
                raise ModelError(f"{where}: the name is already declared as a state; an output "
                                 f"may share a state's name only when it reports that state "
                                 f"(expression {name!r}), not '{expr}'")
            u = checker.unit(expr, where)
            if unit is None:
                unit_text, scale = fmt_unit(u), 1.0
            else:
                unit_text = normalise_unit(unit, what=where)
                scale = checker.factor(u, parse_unit(unit_text))
                if scale is None:
                    raise ModelError(f"{where}: expression '{expr}' has unit {fmt_unit(u)}, "
                                     f"which cannot be converted to the declared {unit_text}")
            outputs.append(Output(name, canonical(expr), unit_text, float(scale)))

        # dosing attributes
        dosing = []
        for sname in [n for n in state_units if n in self._dosing]:
            attrs = {}
            for key in _DOSING_KEYS:
                if key not in self._dosing[sname]:
                    attrs[key] = None
                    continue
                where = f"dosing {key} of {sname!r}"
                expr = expr_of(self._dosing[sname][key], where, everything)
                u = checker.unit(expr, where)
                expected = {"F": None, "lag": time_u, "duration": time_u,
                            "rate": per_time[sname]}[key]
                if not checker.same(u, ureg.dimensionless) and (
                        expected is None or not checker.same(u, expected)):
                    raise checker.mismatch(where, expr, u, expected or ureg.dimensionless,
                                           "" if expected is None else " (or dimensionless)")
                attrs[key] = canonical(expr)
            dosing.append(DosingAttributes(sname, **attrs))
        for sname in self._dosing:
            if sname not in state_units:
                raise ModelError(f"dosing attributes for {sname!r}: not a state (states: "
                                 f"{', '.join(state_units)})")

        for route, sname in self._routes.items():
            if sname not in state_units:
                raise ModelError(f"route {route!r} names {sname!r}, which is not a state "
                                 f"(states: {', '.join(state_units)})")
        if self._default_route is not None and self._default_route not in self._routes:
            raise ModelError(f"default route {self._default_route!r} is not a declared route "
                             f"(routes: {', '.join(sorted(self._routes)) or 'none'})")
        out_names = [o.name for o in outputs]
        for oname in self._error:
            if oname not in out_names:
                raise ModelError(f"error model for {oname!r}: not an output (outputs: "
                                 f"{', '.join(out_names) or 'none'})")

        omega = assemble_omega(self._etas, self._omega_blocks, self._occasion,
                               self._fixed_etas)

        # every declared symbol must be used somewhere
        used: set[str] = set()
        for expr in [*(d.expr for d in derived), *odes, *(s.initial for s in states),
                     *(o.expr for o in outputs),
                     *(e for d in dosing for e in (d.F, d.lag, d.rate, d.duration)
                       if e is not None)]:
            used |= {s.name for s in expr.free_symbols}
        for name, kind in kinds.items():
            if kind in ("parameter", "covariate", "eta", "individual equation") and \
                    name not in used:
                raise ModelError(f"{kind} {name!r} is declared but never used in any equation; "
                                 "remove it or use it")

        return Model(
            name=self.name, description=self.description, time_unit=self.time_unit,
            parameters=tuple(self._parameters), etas=tuple(self._etas), omega=omega,
            covariates=tuple(self._covariates), derived=tuple(derived), states=tuple(states),
            odes=tuple(odes), outputs=tuple(outputs), dosing=tuple(dosing),
            routes=dict(sorted(self._routes.items())),
            error=dict(sorted(self._error.items())),
            metadata=dict(sorted(self._metadata.items())),
            occasion_etas=tuple(self._occasion),
            omega_blocks=tuple(tuple(names) for names, _ in self._omega_blocks),
            fixed_etas=tuple(dict.fromkeys(self._fixed_etas)),
            default_route=self._default_route,
        )


def _only(spec: Mapping[str, Any], keys: Sequence[str], what: str) -> None:
    for key in spec:
        if key not in keys:
            raise ModelError(f"{what}: unknown key {key!r} (valid keys: {', '.join(keys)})")


def _why_not(name: str, kinds: Mapping[str, str], allowed: set[str]) -> str:
    kind = kinds.get(name)
    if name == "t":
        return "the time 't' cannot be used here (individual equations do not depend on time)"
    if kind is None:
        return (f"undefined symbol {name!r} (declared: "
                f"{', '.join(sorted(n for n, k in kinds.items() if k != 'output'))})")
    if kind == "state":
        return f"refers to state {name!r}; write amounts of states inline in ODEs and outputs"
    if kind == "individual equation":
        return (f"refers to individual equation {name!r}, which is declared later; "
                "declare it first")
    if kind == "output":
        return f"refers to output {name!r}; outputs cannot be used in equations"
    return f"{kind} {name!r} cannot be used here"
