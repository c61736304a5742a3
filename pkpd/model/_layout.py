"""The parameter layout of a model: what population estimation estimates and what simulation
uses, in one list: fixed effects (thetas), the elements of omega (variances and, within
declared blocks, covariances; occasion etas included) and the residual SDs (sigmas).

Each entry has a name (``"TVCL"``; ``"omega(eta_CL)"`` for a variance,
``"omega(eta_CL,eta_V)"`` for a covariance; ``"CP.additive"`` for a sigma), a value, whether it
is fixed, and bounds. :meth:`ParameterLayout.apply` puts new values into the model, so that a
fitted model simulates with its estimates.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ModelError

if TYPE_CHECKING:  # pragma: no cover
    from ._model import Model

__all__ = ["ParameterEntry", "ParameterLayout", "estimation_fields", "omega_name"]

KINDS = ("theta", "omega", "sigma")


def omega_name(a: str, b: str | None = None) -> str:
    """The layout name of a variance (``omega(eta_CL)``) or covariance (``omega(a,b)``)."""
    return f"omega({a})" if b is None or b == a else f"omega({a},{b})"


@dataclass(frozen=True)
class ParameterEntry:
    """One parameter of the layout.

    Attributes
    ----------
    name : str
    kind : {"theta", "omega", "sigma"}
    value : float
        Model units; omega elements are variances and covariances, sigmas SDs.
    fixed : bool
    lower, upper : float
        Bounds in estimation (thetas: as declared, default ``(0, inf)`` for a positive
        typical value and unbounded otherwise; variances and sigmas ``(0, inf)``;
        covariances are bounded by the positive definiteness of their block).
    unit : str
    etas : tuple of str
        For omega elements: the eta(s) they belong to.
    """

    name: str
    kind: str
    value: float
    fixed: bool
    lower: float
    upper: float
    unit: str = ""
    etas: tuple[str, ...] = ()


@dataclass(frozen=True)
class ParameterLayout:
    """All parameters of a model, in the order thetas, omega (block by block, lower triangle
    row by row), sigmas (by output). Get it as ``model.parameter_layout``.

    Examples
    --------
    >>> from pkpd.library import load_model
    >>> layout = load_model("two_cmt_oral").parameter_layout
    >>> layout.names("theta")[:2]
    ('TVKA', 'TVCL')
    """

    entries: tuple[ParameterEntry, ...]
    blocks: tuple[tuple[str, ...], ...]

    @classmethod
    def of(cls, model: Model) -> ParameterLayout:
        """The layout of ``model``."""
        entries: list[ParameterEntry] = []
        for p in model.parameters:
            lower = p.lower if p.lower is not None else (0.0 if p.value > 0 else -np.inf)
            upper = p.upper if p.upper is not None else np.inf
            entries.append(ParameterEntry(p.name, "theta", float(p.value), bool(p.fixed),
                                          float(lower), float(upper), p.unit))
        blocks = blocks_of(model)
        for block in blocks:
            fixed = any(e in model.fixed_etas for e in block)
            for i, a in enumerate(block):
                for b in block[:i + 1]:
                    ia, ib = model.etas.index(a), model.etas.index(b)
                    value = float(model.omega[ia, ib])
                    diag = a == b
                    entries.append(ParameterEntry(
                        omega_name(b, a), "omega", value, fixed or (diag and value == 0.0),
                        0.0 if diag else -np.inf, np.inf, "", (b, a) if not diag else (a,)))
        for err in model.error.values():
            for comp, (name, value) in zip(err.components, err.sigmas.items(), strict=True):
                entries.append(ParameterEntry(name, "sigma", value, comp in err.fixed, 0.0,
                                              np.inf, model.outputs[
                                                  model.output_names.index(err.output)].unit
                                              if comp == "additive" else "1"))
        return cls(tuple(entries), blocks)

    # -- queries ------------------------------------------------------------------------------
    def names(self, kind: str | None = None, *, estimated: bool | None = None
              ) -> tuple[str, ...]:
        """Names of the entries, of one ``kind`` and/or only the estimated (or fixed) ones."""
        return tuple(e.name for e in self.select(kind, estimated=estimated))

    def select(self, kind: str | None = None, *, estimated: bool | None = None
               ) -> tuple[ParameterEntry, ...]:
        """The entries of one ``kind`` and/or only the estimated (or fixed) ones."""
        if kind is not None and kind not in KINDS:
            raise ModelError(f"parameter kind {kind!r}; valid: {', '.join(KINDS)}")
        return tuple(e for e in self.entries if (kind is None or e.kind == kind)
                     and (estimated is None or e.fixed != estimated))

    def __getitem__(self, name: str) -> ParameterEntry:
        for e in self.entries:
            if e.name == name:
                return e
        raise ModelError(f"{name!r} is not a parameter of the layout; valid: "
                         f"{', '.join(e.name for e in self.entries)}")

    @property
    def values(self) -> dict[str, float]:
        """Every entry's value, by name."""
        return {e.name: e.value for e in self.entries}

    def omega(self, values: Mapping[str, float], etas: tuple[str, ...]) -> np.ndarray:
        """The omega matrix (rows and columns ``etas``) from layout values (missing entries
        take the layout's own value; entries outside the declared blocks are 0)."""
        out = np.zeros((len(etas), len(etas)))
        for e in self.select("omega"):
            v = values.get(e.name, e.value)
            a, b = (e.etas * 2)[:2]
            if a in etas and b in etas:
                out[etas.index(a), etas.index(b)] = out[etas.index(b), etas.index(a)] = v
        return out

    # -- new values ---------------------------------------------------------------------------
    def apply(self, model: Model, values: Mapping[str, float]) -> Model:
        """``model`` with new values for any entries (thetas, omega elements, sigmas)."""
        from ._checks import check_omega

        unknown = [k for k in values if k not in self.values]
        if unknown:
            raise ModelError(f"{', '.join(unknown)}: not parameters of model '{model.name}'; "
                             f"valid: {', '.join(self.values)}")
        params = tuple(replace(p, value=float(values[p.name])) if p.name in values else p
                       for p in model.parameters)
        omega = model.omega
        if any(k.startswith("omega(") for k in values):
            omega = self.omega(values, model.etas)
            check_omega(model.etas, omega)
            omega.setflags(write=False)
        error = {o: err.with_sigmas({k: v for k, v in values.items() if k in err.sigmas})
                 for o, err in model.error.items()}
        return replace(model, parameters=params, omega=omega, error=error)


def blocks_of(model: Model) -> tuple[tuple[str, ...], ...]:
    """The omega blocks of a model: as declared, else each eta alone."""
    if model.omega_blocks:
        return model.omega_blocks
    return tuple((e,) for e in model.etas)


def estimation_fields(spec: Mapping[str, Any], value: float, what: str) -> dict[str, Any]:
    """``fixed``, ``lower`` and ``upper`` of a parameter declaration, checked against its
    value (a :class:`~pkpd.ModelError` names the parameter)."""
    out: dict[str, Any] = {}
    if "fixed" in spec:
        if not isinstance(spec["fixed"], bool):
            raise ModelError(f"{what}: fixed = {spec['fixed']!r} must be true or false")
        out["fixed"] = spec["fixed"]
    for key in ("lower", "upper"):
        if key in spec:
            bound = spec[key]
            if not isinstance(bound, int | float) or isinstance(bound, bool) or \
                    np.isnan(bound):
                raise ModelError(f"{what}: {key} = {bound!r} must be a number")
            out[key] = float(bound)
    lo, hi = out.get("lower", -np.inf), out.get("upper", np.inf)
    if not lo <= value <= hi or lo == hi:
        raise ModelError(f"{what}: value {value} must lie within lower {lo} and upper {hi} "
                         "(lower < upper)")
    return out
