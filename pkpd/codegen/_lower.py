"""Lowering: a Model -> per-kernel lists of (target, expression) with model symbols replaced by
private local names, common subexpressions extracted (``cse(order="none")``, never ``simplify``)
and every constant a float (integer and rational exponents stay exact)."""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from ..errors import ModelError
from ..model import Model
from ..model._checks import canonical

__all__ = ["IR", "Kernel", "ParameterLayout", "layout_of", "lower"]

KERNELS = ("derive", "rhs", "jac", "outputs", "dosing", "init")


@dataclass(frozen=True)
class ParameterLayout:
    """Names <-> slots of the per-subject vector ``q = [theta | eta | cov | derived]``."""

    names: tuple[str, ...]
    n_theta: int
    n_eta: int
    n_cov: int
    n_derived: int

    @property
    def n_q(self) -> int:
        return len(self.names)

    @property
    def theta_slice(self) -> slice:
        return slice(0, self.n_theta)

    @property
    def eta_slice(self) -> slice:
        return slice(self.n_theta, self.n_theta + self.n_eta)

    @property
    def cov_slice(self) -> slice:
        start = self.n_theta + self.n_eta
        return slice(start, start + self.n_cov)

    @property
    def derived_slice(self) -> slice:
        start = self.n_theta + self.n_eta + self.n_cov
        return slice(start, start + self.n_derived)

    def index(self, name: str) -> int:
        """Slot of ``name`` in q."""
        try:
            return self.names.index(name)
        except ValueError:
            raise ModelError(f"no parameter slot named {name!r}; slots: "
                             f"{', '.join(self.names)}") from None


def layout_of(model: Model) -> ParameterLayout:
    names = (*model.parameter_names, *model.etas, *model.covariate_names, *model.derived_names)
    return ParameterLayout(names, len(model.parameters), len(model.etas), len(model.covariates),
                           len(model.derived))


@dataclass(frozen=True)
class Kernel:
    """One kernel: loads of y/q slots, cse temporaries, then assignments ``out[i] = expr``.

    ``steps`` are (local name, expression) in order; ``stores`` are (index into out, local or
    expression)."""

    name: str
    loads: tuple[tuple[str, str], ...]        # (local, "y[0]" / "q[3]")
    steps: tuple[tuple[str, sp.Expr], ...]
    stores: tuple[tuple[int, sp.Expr], ...]


@dataclass(frozen=True)
class IR:
    layout: ParameterLayout
    kernels: tuple[Kernel, ...]
    jacobian: tuple[sp.Expr, ...]   # row-major, in model symbols
    is_linear: bool


def _local(name: str) -> sp.Symbol:
    return sp.Symbol(f"_s_{name}", real=True)


def _to_float(expr: sp.Basic) -> sp.Basic:
    """Rewrite derivative artefacts (Heaviside, sign) as Piecewise and make constants floats."""
    expr = expr.replace(lambda e: isinstance(e, (sp.Heaviside, sp.sign)),
                        lambda e: e.rewrite(sp.Piecewise))
    if expr.has(sp.DiracDelta, sp.Derivative, sp.Subs):
        raise ModelError(f"cannot generate code for '{expr}'")
    return canonical(expr)


def _kernel(name: str, model: Model, layout: ParameterLayout,
            exprs: list[sp.Expr], sequential: list[tuple[str, sp.Expr]] | None = None
            ) -> Kernel:
    """Build a kernel storing ``exprs`` into out[0..]; or, with ``sequential`` (derive), store
    each (name, expr) in turn into its q slot."""
    state_index = {n: i for i, n in enumerate(model.state_names)}
    t = sp.Symbol("t", real=True)

    def loads_for(exprs_: list[sp.Expr], skip: set[str]) -> tuple[tuple[str, str], ...]:
        names = sorted({s.name for e in exprs_ for s in e.free_symbols} - skip - {"t"})
        return tuple((f"_s_{n}", f"y[{state_index[n]}]" if n in state_index
                      else f"q[{layout.index(n)}]") for n in names)

    def rename(e: sp.Expr) -> sp.Expr:
        return e.xreplace({s: (t if s.name == "t" else _local(s.name)) for s in e.free_symbols})

    temps = sp.numbered_symbols("_t", real=True)
    if sequential is not None:
        assigned = {n for n, _ in sequential}
        steps: list[tuple[str, sp.Expr]] = []
        stores: list[tuple[int, sp.Expr]] = []
        for dname, e in sequential:
            reps, (reduced,) = sp.cse([rename(e)], symbols=temps, order="none")
            steps += [(str(s), _to_float(v)) for s, v in reps]
            steps.append((f"_s_{dname}", _to_float(reduced)))
            stores.append((layout.index(dname), _local(dname)))
        return Kernel(name, loads_for([e for _, e in sequential], assigned), tuple(steps),
                      tuple(stores))
    if not exprs:
        return Kernel(name, (), (), ())
    reps, reduced = sp.cse([rename(e) for e in exprs], symbols=temps, order="none")
    return Kernel(name, loads_for(exprs, set()),
                  tuple((str(s), _to_float(v)) for s, v in reps),
                  tuple((i, _to_float(e)) for i, e in enumerate(reduced)))


def lower(model: Model) -> IR:
    """Lower a model to the kernels of :data:`KERNELS`."""
    layout = layout_of(model)
    ys = [sp.Symbol(n, real=True) for n in model.state_names]
    jac = [sp.diff(f, y) for f in model.odes for y in ys]
    is_linear = not any(j.free_symbols & set(ys) for j in jac)
    n = model.n_state
    dose = {d.state: d for d in model.dosing}
    dosing: list[sp.Expr] = []
    for attr, default in (("F", 1.0), ("lag", 0.0), ("rate", 0.0), ("duration", 0.0)):
        for s in model.state_names:
            e = getattr(dose[s], attr) if s in dose else None
            dosing.append(sp.Float(default) if e is None else e)
    assert len(dosing) == 4 * n
    kernels = (
        _kernel("derive", model, layout, [], [(d.name, d.expr) for d in model.derived]),
        _kernel("rhs", model, layout, list(model.odes)),
        _kernel("jac", model, layout, jac),
        _kernel("outputs", model, layout,
                [o.expr if o.scale == 1.0 else sp.Float(o.scale) * o.expr
                 for o in model.outputs]),
        _kernel("dosing", model, layout, dosing),
        _kernel("init", model, layout, [s.initial for s in model.states]),
    )
    return IR(layout, kernels, tuple(jac), is_linear)
