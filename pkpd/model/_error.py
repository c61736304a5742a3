"""The residual-error model of one output: a typed object with its SDs (the sigmas) as
parameters, evaluated in one place for simulation (drawing observations) and estimation
(likelihood terms and their derivatives)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ..errors import ModelError

__all__ = ["COMPONENTS", "ErrorModel"]

#: The SD components an error model may declare, in their canonical order.
COMPONENTS = ("additive", "proportional", "exponential")


@dataclass(frozen=True)
class ErrorModel:
    """Residual (unexplained) error of one model output around its prediction ``f``.

    The kinds, by the components declared (each an SD, ``eps ~ N(0, 1)``):

    ============== ========================================= ==================================
    kind           observation                               SD
    ============== ========================================= ==================================
    additive       ``y = f + a eps``                         ``a``
    proportional   ``y = f + p |f| eps``                     ``p |f|``
    power          ``y = f + p |f|^k eps`` (``power = k``)   ``p |f|^k``
    combined       ``y = f + sd eps``                        ``sqrt(a^2 + (p |f|^k)^2)``, or
                                                             ``a + p |f|^k`` (``form="sd"``)
    exponential    ``y = f exp(s eps)`` (log-transformed)    ``s`` on the log scale
    ============== ========================================= ==================================

    Attributes
    ----------
    output : str
        The output it belongs to.
    additive, proportional, exponential : float or None
        The SDs; None where the component is not part of the model. ``exponential`` excludes
        the other two.
    power : float
        Exponent of the prediction in the proportional term (1: proportional).
    form : {"variance", "sd"}
        How additive and proportional combine: variances add (NONMEM's convention) or SDs add.
    fixed : frozenset of str
        Components held at their value when a population model is estimated.

    Examples
    --------
    >>> err = ErrorModel("CP", additive=0.5, proportional=0.1)
    >>> err.kind, err.sigmas
    ('combined', {'CP.additive': 0.5, 'CP.proportional': 0.1})
    >>> float(err.sd(np.array([10.0]))[0])   # sqrt(0.5**2 + 1.0**2)
    1.118033988749895
    """

    output: str
    additive: float | None = None
    proportional: float | None = None
    exponential: float | None = None
    power: float = 1.0
    form: str = "variance"
    fixed: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        what = f"error of {self.output!r}"
        declared = self.components
        if not declared:
            raise ModelError(f"{what}: declare at least one of {', '.join(COMPONENTS)}")
        for name in declared:
            value = getattr(self, name)
            if not np.isfinite(value) or value < 0:
                raise ModelError(f"{what}: {name} = {value} must be a finite SD >= 0")
        if self.exponential is not None and len(declared) > 1:
            raise ModelError(f"{what}: 'exponential' cannot be combined with 'additive' or "
                             "'proportional'")
        if not np.isfinite(self.power) or self.power <= 0:
            raise ModelError(f"{what}: power = {self.power} must be a finite number > 0")
        if self.power != 1.0 and self.proportional is None:
            raise ModelError(f"{what}: power needs a proportional component")
        if self.form not in ("variance", "sd"):
            raise ModelError(f"{what}: form {self.form!r} is not 'variance' or 'sd'")
        unknown = sorted(set(self.fixed) - set(declared))
        if unknown:
            raise ModelError(f"{what}: fixed {', '.join(unknown)} not among its components "
                             f"{', '.join(declared)}")
        object.__setattr__(self, "fixed", frozenset(self.fixed))

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def from_spec(cls, output: str, spec: Mapping[str, Any]) -> ErrorModel:
        """From a mapping as a model file writes it: ``{additive, proportional, exponential,
        power, form, fixed}`` (``fixed``: a list of components, or true for all)."""
        valid = (*COMPONENTS, "power", "form", "fixed")
        for key in spec:
            if key not in valid:
                raise ModelError(f"error of {output!r}: unknown key {key!r} (valid keys: "
                                 f"{', '.join(valid)})")
        values: dict[str, Any] = {}
        for key in (*COMPONENTS, "power"):
            if key in spec:
                try:
                    values[key] = float(spec[key])
                except (TypeError, ValueError):
                    raise ModelError(f"error of {output!r}: {key} = {spec[key]!r} is not a "
                                     "number") from None
        fixed = spec.get("fixed", ())
        if fixed is True:
            fixed = [k for k in COMPONENTS if k in values]
        elif fixed is False:
            fixed = ()
        elif isinstance(fixed, str):
            fixed = [fixed]
        return cls(output, form=str(spec.get("form", "variance")), fixed=frozenset(fixed),
                   **values)

    def with_sigmas(self, values: Mapping[str, float]) -> ErrorModel:
        """The same model with new SDs, by component or by sigma name (``"CP.additive"``)."""
        new = {}
        for key, value in values.items():
            comp = key.split(".", 1)[1] if key.startswith(f"{self.output}.") else key
            if comp not in self.components:
                raise ModelError(f"error of {self.output!r}: {key!r} is not one of its sigmas "
                                 f"{', '.join(self.sigmas)}")
            new[comp] = float(value)
        return replace(self, **new)

    # -- description --------------------------------------------------------------------------
    @property
    def components(self) -> tuple[str, ...]:
        """The declared SD components, in canonical order."""
        return tuple(c for c in COMPONENTS if getattr(self, c) is not None)

    @property
    def kind(self) -> str:
        """``additive``, ``proportional``, ``power``, ``combined`` or ``exponential``."""
        if self.exponential is not None:
            return "exponential"
        if self.additive is not None and self.proportional is not None:
            return "combined"
        if self.proportional is not None:
            return "proportional" if self.power == 1.0 else "power"
        return "additive"

    @property
    def sigmas(self) -> dict[str, float]:
        """The SDs as parameters: ``{"<output>.<component>": value}``."""
        return {f"{self.output}.{c}": float(getattr(self, c)) for c in self.components}

    @property
    def log_scale(self) -> bool:
        """Whether observations and predictions are compared on the log scale."""
        return self.exponential is not None

    def canonical(self) -> str:
        """Every value, in a fixed order, for the model's hash."""
        items = [(c, float(getattr(self, c))) for c in self.components]
        if self.form == "sd":
            items.append(("sd_sum", 1.0))
        if self.power != 1.0:
            items.append(("power", float(self.power)))
        if self.fixed:
            items.append(("fixed", sorted(self.fixed)))
        return repr(sorted(items))

    # -- evaluation ---------------------------------------------------------------------------
    def sd(self, f: np.ndarray) -> np.ndarray:
        """SD of an observation around prediction ``f`` (on the log scale for exponential)."""
        f = np.asarray(f, dtype=float)
        if self.exponential is not None:
            return np.full(f.shape, self.exponential)
        add = self.additive or 0.0
        prop = (self.proportional or 0.0) * np.abs(f) ** self.power
        if self.form == "sd":
            return add + prop
        return np.hypot(add, prop)

    def d_sd(self, f: np.ndarray) -> np.ndarray:
        """Derivative of :meth:`sd` with respect to ``f``."""
        f = np.asarray(f, dtype=float)
        p = self.proportional or 0.0
        if self.exponential is not None or p == 0.0:
            return np.zeros(f.shape)
        with np.errstate(divide="ignore", invalid="ignore"):
            d_prop = p * self.power * np.abs(f) ** (self.power - 1.0) * np.sign(f)
            if self.form == "sd":
                return d_prop
            prop = p * np.abs(f) ** self.power
            return np.where(prop == 0.0, 0.0, prop * d_prop / self.sd(f))

    def sample(self, f: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Observations drawn around predictions ``f``."""
        f = np.asarray(f, dtype=float)
        eps = rng.standard_normal(f.shape)
        if self.exponential is not None:
            return f * np.exp(self.exponential * eps)
        return f + self.sd(f) * eps
