"""The frozen symbolic model and its records."""

from __future__ import annotations

import functools
import hashlib
import math
import textwrap
from dataclasses import dataclass, field

import numpy as np
import sympy as sp

from ..errors import ModelError
from ._error import ErrorModel
from ._layout import ParameterLayout

__all__ = ["Covariate", "Derived", "DosingAttributes", "Model", "Output", "Parameter", "State"]


_ZERO = sp.Float(0.0)


@dataclass(frozen=True)
class Parameter:
    """A population (typical) parameter (a theta): value in ``unit``; ``fixed``, ``lower`` and
    ``upper`` say how population estimation treats it (None: the default bounds of
    :class:`~pkpd.model.ParameterLayout`)."""

    name: str
    value: float
    unit: str
    description: str = ""
    fixed: bool = False
    lower: float | None = None
    upper: float | None = None


@dataclass(frozen=True)
class Covariate:
    """A subject covariate; dimensionless in equations, its number is expressed in ``unit``."""

    name: str
    unit: str
    default: float | None = None
    description: str = ""


@dataclass(frozen=True)
class State:
    """A compartment (state variable) with its amount unit and initial value."""

    name: str
    unit: str
    initial: sp.Expr = _ZERO
    description: str = ""


@dataclass(frozen=True)
class Derived:
    """An individual-parameter equation ``name = expr`` with the unit of the result."""

    name: str
    expr: sp.Expr
    unit: str


@dataclass(frozen=True)
class Output:
    """A model output; the reported value is ``scale * expr`` (expr in model units)."""

    name: str
    expr: sp.Expr
    unit: str
    scale: float = 1.0


@dataclass(frozen=True)
class DosingAttributes:
    """Dose attributes of one compartment; ``None`` means the default (F=1, lag=0, none)."""

    state: str
    F: sp.Expr | None = None
    lag: sp.Expr | None = None
    rate: sp.Expr | None = None
    duration: sp.Expr | None = None


def _srepr(expr: sp.Basic | None) -> str:
    return "None" if expr is None else sp.srepr(expr)


@dataclass(frozen=True, eq=False)
class Model:
    """A PK/PD model: symbolic, validated and immutable.

    Build one with :class:`~pkpd.model.ModelBuilder` or load a model file with
    :func:`pkpd.load_model`; the constructor itself does not validate.

    Two models are equal when their :attr:`hash` is equal.

    Examples
    --------
    >>> import pkpd
    >>> m = pkpd.load_model("two_cmt_oral")
    >>> m.state_names, m.output_names, m.time_unit
    (('depot', 'central', 'periph'), ('CP',), 'h')
    >>> m.routes, m.default_route
    ({'IV': 'central', 'PO': 'depot'}, 'PO')
    >>> [p.name for p in m.parameters]
    ['TVKA', 'TVCL', 'TVV1', 'TVQ', 'TVV2']
    >>> m == pkpd.load_model("two_cmt_oral"), len(m.hash)
    (True, 64)
    """

    name: str
    description: str
    time_unit: str
    parameters: tuple[Parameter, ...]
    etas: tuple[str, ...]
    omega: np.ndarray | None
    covariates: tuple[Covariate, ...]
    derived: tuple[Derived, ...]
    states: tuple[State, ...]
    odes: tuple[sp.Expr, ...]
    outputs: tuple[Output, ...]
    dosing: tuple[DosingAttributes, ...] = ()
    routes: dict[str, str] = field(default_factory=dict)
    error: dict[str, ErrorModel] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)
    occasion_etas: tuple[str, ...] = ()   # etas drawn anew for each occasion (BOV)
    sensitivities: tuple[str, ...] = ()   # w of the sensitivity states (with_sensitivities)
    omega_blocks: tuple[tuple[str, ...], ...] = ()   # the declared blocks of omega (in order)
    fixed_etas: tuple[str, ...] = ()      # etas whose omega block is fixed in estimation
    default_route: str | None = None      # route of a dose that names none (one of routes)

    def __post_init__(self) -> None:
        # error models given as mappings (as a model file writes them) become ErrorModels
        error = {k: v if isinstance(v, ErrorModel) else ErrorModel.from_spec(k, v)
                 for k, v in self.error.items()}
        object.__setattr__(self, "error", error)

    # -- names -------------------------------------------------------------------------------
    @property
    def state_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.states)

    @property
    def parameter_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.parameters)

    @property
    def covariate_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.covariates)

    @property
    def derived_names(self) -> tuple[str, ...]:
        return tuple(d.name for d in self.derived)

    @property
    def output_names(self) -> tuple[str, ...]:
        return tuple(o.name for o in self.outputs)

    @property
    def parameter_layout(self) -> ParameterLayout:
        """The parameters that population estimation and simulation share: thetas, omega
        (diagonal, blocks, occasion) and sigmas, each estimated or fixed, with bounds."""
        return ParameterLayout.of(self)

    @property
    def n_state(self) -> int:
        return len(self.states)

    @property
    def t(self) -> sp.Symbol:
        """The time symbol."""
        return sp.Symbol("t", real=True)

    def symbol(self, name: str) -> sp.Symbol:
        """The sympy symbol of a declared name (parameter, eta, covariate, derived, state)."""
        known = (*self.parameter_names, *self.etas, *self.covariate_names, *self.derived_names,
                 *self.state_names, "t")
        if name not in known:
            raise ModelError(f"model {self.name!r} has no symbol {name!r}; "
                             f"known: {', '.join(known)}")
        return sp.Symbol(name, real=True)

    # -- identity ----------------------------------------------------------------------------
    @functools.cached_property
    def canonical_text(self) -> str:
        """The text hashed by :attr:`hash`: every name, unit, value and expression, in order."""
        lines: list[str] = [f"model {self.name!r} {self.description!r} {self.time_unit!r}"]
        lines += [f"parameter {p.name} {float(p.value)!r} {p.unit!r} {p.description!r}"
                  + (f" estimation {p.fixed!r} {p.lower!r} {p.upper!r}"
                     if (p.fixed, p.lower, p.upper) != (False, None, None) else "")
                  for p in self.parameters]
        lines.append(f"etas {list(self.etas)!r}")
        omega = None if self.omega is None else [[float(v) for v in row] for row in self.omega]
        lines.append(f"omega {omega!r}")
        lines += [f"covariate {c.name} {c.unit!r} "
                  f"{None if c.default is None else float(c.default)!r} {c.description!r}"
                  for c in self.covariates]
        lines += [f"derived {d.name} {d.unit!r} {_srepr(d.expr)}" for d in self.derived]
        lines += [f"state {s.name} {s.unit!r} {_srepr(s.initial)} {s.description!r}"
                  for s in self.states]
        lines += [f"ode {s.name} {_srepr(e)}" for s, e in zip(self.states, self.odes, strict=True)]
        lines += [f"output {o.name} {o.unit!r} {float(o.scale)!r} {_srepr(o.expr)}"
                  for o in self.outputs]
        lines += [f"dosing {d.state} {_srepr(d.F)} {_srepr(d.lag)} {_srepr(d.rate)} "
                  f"{_srepr(d.duration)}" for d in self.dosing]
        lines += [f"route {k} {v}" for k, v in sorted(self.routes.items())]
        if self.default_route is not None:
            lines.append(f"default route {self.default_route}")
        lines += [f"error {k} {e.canonical()}" for k, e in sorted(self.error.items())]
        lines += [f"metadata {k} {v!r}" for k, v in sorted(self.metadata.items())]
        if self.occasion_etas:
            lines.append(f"occasion etas {list(self.occasion_etas)!r}")
        if self.sensitivities:
            lines.append(f"sensitivities {list(self.sensitivities)!r}")
        if any(len(b) > 1 for b in self.omega_blocks):
            lines.append(f"omega blocks {[list(b) for b in self.omega_blocks]!r}")
        if self.fixed_etas:
            lines.append(f"fixed etas {list(self.fixed_etas)!r}")
        return "\n".join(lines) + "\n"

    @functools.cached_property
    def hash(self) -> str:
        """sha256 (hex) of :attr:`canonical_text`; identical however the model was declared."""
        return hashlib.sha256(self.canonical_text.encode()).hexdigest()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Model) and other.hash == self.hash

    def __hash__(self) -> int:
        return hash(self.hash)

    def __repr__(self) -> str:
        return (f"Model({self.name!r}: states {', '.join(self.state_names)}; "
                f"outputs {', '.join(self.output_names)}; hash {self.hash[:12]})")

    def summary(self) -> str:
        """A readable listing: what the model is, where it comes from, its parameters with
        units, covariates, variability, equations, outputs, dosing and residual error.

        Examples
        --------
        >>> import pkpd
        >>> print(pkpd.load_model("two_cmt_oral").summary())  # doctest: +ELLIPSIS
        model two_cmt_oral (time in h)
        ...
        parameters (typical values)
          TVKA = 1 1/h  absorption rate constant
        ...
        """
        meta = self.metadata
        out: list[str] = [f"model {self.name} (time in {self.time_unit})"]
        if self.description:
            out += textwrap.wrap(self.description, 96, initial_indent="  ",
                                 subsequent_indent="  ")
        for key in ("tags", "source", "references", "doi", "status", "notes"):
            if meta.get(key):
                out += textwrap.wrap(f"{key}: {meta[key]}", 96, subsequent_indent="    ")
        out.append("parameters (typical values)")
        out += [f"  {p.name} = {p.value:g} {'' if p.unit == '1' else p.unit}".rstrip()
                + (" (fixed)" if p.fixed else "") + (f"  {p.description}" if p.description else "")
                for p in self.parameters]
        if self.covariates:
            out.append("covariates")
            out += [f"  {c.name} [{c.unit}]"
                    + ("" if c.default is None else f" default {c.default:g}")
                    + (f"  {c.description}" if c.description else "") for c in self.covariates]
        if self.etas and self.omega is not None:
            out.append("between-subject variability (omega: variance of eta; CV of exp(eta))")
            for k, eta in enumerate(self.etas):
                var = float(self.omega[k, k])
                cv = 100.0 * math.sqrt(math.expm1(var)) if var > 0 else 0.0
                occ = ", between occasions" if eta in self.occasion_etas else ""
                out.append(f"  {eta}: {var:g} (CV {cv:.1f} %{occ})")
        if self.derived:
            out.append("individual parameters")
            out += [f"  {d.name} = {d.expr}  [{d.unit}]" for d in self.derived]
        out.append("states")
        for st, e in zip(self.states, self.odes, strict=True):
            init = "" if st.initial.is_zero else f", {st.name}(0) = {st.initial}"
            out.append(f"  d({st.name})/dt = {e}  [{st.unit}{init}]")
        out.append("outputs")
        out += [f"  {o.name} = " + (f"{o.scale:g} * ({o.expr})" if o.scale != 1 else f"{o.expr}")
                + f"  [{o.unit}]" for o in self.outputs]
        for d in self.dosing:
            attrs = [f"{k} = {v}" for k, v in (("F", d.F), ("lag", d.lag), ("rate", d.rate),
                                                ("duration", d.duration)) if v is not None]
            out.append(f"dosing into {d.state}: {', '.join(attrs)}")
        if self.routes:
            out.append("routes: " + ", ".join(f"{k} -> {v}" for k, v in self.routes.items())
                       + (f" (default {self.default_route})" if self.default_route else ""))
        if self.error:
            out.append("residual error")
            for k, e in self.error.items():
                parts = ", ".join(f"{c} {e.sigmas[f'{k}.{c}']:g}" for c in e.components)
                out.append(f"  {k}: {parts}" if len(e.components) == 1
                           else f"  {k}: {e.kind} ({parts}; "
                           f"{'SDs' if e.form == 'sd' else 'variances'} add)")
        return "\n".join(out)
