"""Which estimated parameters the data do not determine: the flat directions of the objective.

At an optimum the Hessian ``H`` of the objective (on the unconstrained scale of the estimates:
log for positive parameters) has an eigenvalue near zero for each combination of parameters
the data cannot tell apart (a parameter that no prediction depends on; two that enter only as
a product). :func:`identification` finds the eigenvectors of ``H`` whose eigenvalues are below
``rtol`` times the largest (or not positive) and names the parameters that weigh in them
(a loading of at least :data:`LOADING` in the unit eigenvector, i.e. 9 % of its squared
length, or the largest loading), with the condition number ``lambda_max / lambda_min``.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import PkpdWarning

__all__ = ["LOADING", "RTOL", "Identification", "identification", "posterior_covariance"]

#: An eigenvalue of the Hessian at most this times the largest counts as zero (second
#: differences of an objective computed to ~1e-10 relative cannot resolve it).
RTOL = 1e-6
#: Parameters with at least this loading in a flat direction are named in it.
LOADING = 0.3


@dataclass(frozen=True)
class Identification:
    """The parameters not determined by the data (``names``; empty when all are), the flat
    directions (``directions``: unit vectors, one per row, over ``parameters``) and the
    condition number of the Hessian."""

    parameters: tuple[str, ...]
    names: tuple[str, ...]
    directions: np.ndarray
    condition_number: float
    eigenvalues: np.ndarray

    @property
    def ok(self) -> bool:
        return not self.names

    @property
    def message(self) -> str:
        if self.ok:
            return ""
        return (f"not identifiable: {', '.join(self.names)} (the data do not determine "
                f"them: {len(self.directions)} flat direction(s) of the objective; condition "
                f"number of its Hessian {self.condition_number:.3g})")

    def warn(self, what: str, stacklevel: int = 3) -> None:
        """Issue a :class:`~pkpd.errors.PkpdWarning` with :attr:`message` (when not ok)."""
        if not self.ok:
            warnings.warn(f"{what}: {self.message}", PkpdWarning, stacklevel=stacklevel)


def identification(hessian: np.ndarray, names: Sequence[str], rtol: float = RTOL
                   ) -> Identification:
    """The flat directions of a Hessian and the parameters in them.

    Parameters
    ----------
    hessian : (p, p) array
        The Hessian of the objective at the optimum (symmetrised here); NaN entries make the
        result empty (nothing can be said).
    names : the parameters, in the order of the rows.
    rtol : eigenvalues at most ``rtol`` times the largest count as zero.

    Examples
    --------
    Two parameters that enter only through their sum, ``f = a + b``, and a third one alone:

    >>> import numpy as np
    >>> j = np.array([[1.0, 1.0, 0.0], [0.0, 0.0, 2.0]])   # d f / d (a, b, c) at two points
    >>> found = identification(j.T @ j, ["a", "b", "c"])
    >>> found.names, np.round(np.abs(found.directions), 3).tolist()
    (('a', 'b'), [[0.707, 0.707, 0.0]])
    >>> identification(np.diag([4.0, 1.0]), ["a", "b"]).ok
    True
    """
    h = np.asarray(hessian, dtype=float)
    p = len(names)
    empty = np.zeros((0, p))
    if h.shape != (p, p) or not np.all(np.isfinite(h)):
        return Identification(tuple(names), (), empty, float("nan"), np.full(p, np.nan))
    w, v = np.linalg.eigh((h + h.T) / 2)
    top = float(w[-1])
    cond = top / float(w[0]) if w[0] > 0 else float("inf")
    flat = (w <= rtol * top) if top > 0 else np.ones(p, bool)
    directions = v[:, flat].T
    chosen: set[int] = set()
    for d in directions:
        a = np.abs(d)
        chosen |= set(np.flatnonzero(a >= LOADING)) | {int(np.argmax(a))}
    return Identification(tuple(names), tuple(names[i] for i in sorted(chosen)), directions,
                          cond, w)


def posterior_covariance(half: np.ndarray, names: Sequence[str], rtol: float
                         ) -> tuple[np.ndarray, Identification]:
    """The inverse of ``half`` (half the Hessian of an individual objective), NaN where it is
    not positive definite (an eigenvalue at most ``rtol`` times the largest); with the
    identification of the etas."""
    n = len(names)
    found = identification(half, names, rtol)
    lam = found.eigenvalues
    try:
        if not lam[0] > rtol * lam[-1]:
            raise np.linalg.LinAlgError
        inv = np.linalg.inv(np.linalg.cholesky(half))
        return inv.T @ inv, found
    except np.linalg.LinAlgError:
        return np.full((n, n), np.nan), found
