"""The estimated parameters of a population model as one unconstrained vector: thetas on
a log (or logit, or shifted-log) scale by their bounds, each omega block through the Cholesky
factor with a log diagonal (so every trial omega is positive definite), sigmas on a log scale.
Fixed entries of the :class:`~pkpd.model.ParameterLayout` keep their values."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import EstimationError
from ..model import ParameterLayout
from ..model import omega_name as _name

__all__ = ["Transform"]


@dataclass(frozen=True)
class _Theta:
    name: str
    lower: float
    upper: float

    def to_x(self, v: float) -> float:
        lo, hi = self.lower, self.upper
        if np.isfinite(lo) and np.isfinite(hi):
            p = (v - lo) / (hi - lo)
            return float(np.log(p / (1.0 - p)))
        if np.isfinite(lo):
            return float(np.log(v - lo))
        if np.isfinite(hi):
            return float(-np.log(hi - v))
        return float(v)

    def from_x(self, x: float) -> float:
        lo, hi = self.lower, self.upper
        if np.isfinite(lo) and np.isfinite(hi):
            return float(lo + (hi - lo) / (1.0 + np.exp(-x)))
        if np.isfinite(lo):
            return float(lo + np.exp(x))
        if np.isfinite(hi):
            return float(hi - np.exp(-x))
        return float(x)


class Transform:
    """Map between the layout's values and the unconstrained vector of the estimated ones.

    Parameters
    ----------
    layout : ParameterLayout
    etas : tuple of str
        The model's etas (rows and columns of omega).
    values : dict
        Starting values of every entry (the layout's own where missing).
    """

    def __init__(self, layout: ParameterLayout, etas: tuple[str, ...],
                 values: dict[str, float] | None = None) -> None:
        self.layout = layout
        self.etas = etas
        self.values = {**layout.values, **(values or {})}
        self.thetas = [_Theta(e.name, e.lower, e.upper)
                       for e in layout.select("theta", estimated=True)]
        for t in self.thetas:
            v = self.values[t.name]
            if not t.lower < v < t.upper:
                raise EstimationError(f"initial value of {t.name} = {v} is not strictly within "
                                      f"its bounds ({t.lower}, {t.upper})")
        self.blocks = [b for b in layout.blocks
                       if not layout[_name(b[0], b[0])].fixed]
        for b in self.blocks:
            m = self._block(self.values, b)
            try:
                np.linalg.cholesky(m)
            except np.linalg.LinAlgError:
                raise EstimationError(f"initial omega block {', '.join(b)} is not positive "
                                      "definite; give positive variances (or fix the block)"
                                      ) from None
        self.sigmas = [e.name for e in layout.select("sigma", estimated=True)]
        for s in self.sigmas:
            if not self.values[s] > 0:
                raise EstimationError(f"initial value of {s} = {self.values[s]} must be > 0 "
                                      "to be estimated (or fix it)")
        self.names = ([t.name for t in self.thetas]
                      + [_name(b[j], b[i]) for b in self.blocks
                         for i in range(len(b)) for j in range(i + 1)]
                      + self.sigmas)

    @property
    def size(self) -> int:
        return len(self.names)

    def _block(self, values: dict[str, float], block: tuple[str, ...]) -> np.ndarray:
        n = len(block)
        m = np.empty((n, n))
        for i in range(n):
            for j in range(i + 1):
                m[i, j] = m[j, i] = values[_name(block[j], block[i])]
        return m

    def to_x(self, values: dict[str, float] | None = None) -> np.ndarray:
        """The unconstrained vector of ``values`` (default: the starting values)."""
        values = {**self.values, **(values or {})}
        x = [t.to_x(values[t.name]) for t in self.thetas]
        for b in self.blocks:
            chol = np.linalg.cholesky(self._block(values, b))
            for i in range(len(b)):
                for j in range(i + 1):
                    x.append(np.log(chol[i, i]) if i == j else chol[i, j])
        x += [np.log(values[s]) for s in self.sigmas]
        return np.array(x, dtype=float)

    def to_values(self, x: np.ndarray) -> dict[str, float]:
        """Every entry's value (fixed ones as given) at the unconstrained vector ``x``."""
        out = dict(self.values)
        k = 0
        for t in self.thetas:
            out[t.name] = t.from_x(x[k])
            k += 1
        for b in self.blocks:
            n = len(b)
            chol = np.zeros((n, n))
            for i in range(n):
                for j in range(i + 1):
                    chol[i, j] = np.exp(x[k]) if i == j else x[k]
                    k += 1
            m = chol @ chol.T
            for i in range(n):
                for j in range(i + 1):
                    out[_name(b[j], b[i])] = float(m[i, j])
        for s in self.sigmas:
            out[s] = float(np.exp(x[k]))
            k += 1
        return out

    def jacobian(self, x: np.ndarray, step: float = 1e-6) -> np.ndarray:
        """d value / d x of the estimated entries (rows: :attr:`names`), central differences."""
        jac = np.empty((self.size, self.size))
        for k in range(self.size):
            e = np.zeros(self.size)
            e[k] = step
            hi, lo = self.to_values(x + e), self.to_values(x - e)
            jac[:, k] = [(hi[n] - lo[n]) / (2 * step) for n in self.names]
        return jac
