"""Sampling of variability: random effects, residual errors and parameter uncertainty.

Every function takes an explicit :class:`numpy.random.Generator` (or, for
:func:`residual_with`, the standard normals themselves); all draws happen in numpy, never in the
compiled engine, so the same seed gives the same draws on every machine and with any number of
threads. :func:`pkpd.simulate` draws each source from streams of its own per block of subjects
(:mod:`pkpd._sampling`), so that a subject's draws depend only on the seed and its index.

Three sources, separately switchable in :func:`pkpd.simulate` (``variability=``):

``"iiv"``
    between-subject variability: etas ~ N(0, Omega) (Omega the model's full covariance
    matrix, blocks included), drawn through a factor L with L L' = Omega;
``"bov"``
    between-occasion variability: the model's occasion etas drawn anew, from their omega,
    for every occasion of every subject (occasions given to :func:`pkpd.simulate`);
``"ruv"``
    residual (unexplained) variability of observations around the prediction f, per the
    output's :class:`~pkpd.model.ErrorModel` (additive, proportional, power, combined,
    exponential);
``"uncertainty"``
    parameter uncertainty: typical values drawn from N(estimates, covariance of the estimates)
    or resampled from bootstrap results, one draw per sample shared by all subjects.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import DataError, ModelError

if TYPE_CHECKING:  # pragma: no cover
    from .model import ErrorModel

__all__ = ["SOURCES", "add_residual", "omega_factor", "residual_with", "sample_etas",
           "sample_thetas"]

SOURCES = ("iiv", "bov", "ruv", "uncertainty")


def omega_factor(omega: np.ndarray) -> np.ndarray:
    """A factor L with L @ L.T == omega (Cholesky; eigen-decomposition for a singular but
    positive semi-definite omega, e.g. an eta fixed to zero variance).

    Examples
    --------
    >>> import numpy as np
    >>> omega = np.array([[0.09, 0.0], [0.0, 0.0]])   # the second eta fixed to zero variance
    >>> L = omega_factor(omega)
    >>> bool(np.allclose(L @ L.T, omega))
    True
    """
    omega = np.asarray(omega, dtype=float)
    try:
        return np.linalg.cholesky(omega)
    except np.linalg.LinAlgError:
        w, v = np.linalg.eigh(omega)
        if np.any(w < -1e-12 * max(1.0, np.abs(w).max())):
            raise ModelError("omega is not positive semi-definite") from None
        return v * np.sqrt(np.clip(w, 0.0, None))


def sample_etas(omega: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` draws of eta ~ N(0, omega), shape ``(n, n_eta)``.

    Examples
    --------
    >>> import numpy as np
    >>> etas = sample_etas(np.diag([0.09, 0.04]), 100_000, np.random.default_rng(1))
    >>> etas.shape, etas.var(axis=0).round(2).tolist()
    ((100000, 2), [0.09, 0.04])
    """
    factor = omega_factor(omega)
    return rng.standard_normal((n, factor.shape[0])) @ factor.T


def sample_thetas(names: tuple[str, ...], typical: np.ndarray, uncertainty: Any, n: int,
                  rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Draws of typical values for parameter uncertainty, one per sample.

    Parameters
    ----------
    names, typical : the model's parameter names and typical values.
    uncertainty : Mapping or DataFrame
        Either ``{"names": [...], "cov": matrix}`` (a covariance matrix of the estimates of
        the named parameters, in the model's units; means are the typical values), or a table
        of bootstrap estimates (DataFrame or dict of arrays, a column per parameter) from
        which rows are resampled with replacement.
    n : number of draws.

    Returns
    -------
    dict
        Parameter name -> array of ``n`` values.

    Examples
    --------
    A covariance of the estimates (here the SE of TVCL is 0.5 L/h), or bootstrap estimates:

    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> names, typical = ("TVCL", "TVV"), np.array([5.0, 50.0])
    >>> d = sample_thetas(names, typical, {"names": ["TVCL"], "cov": [[0.25]]}, 100_000, rng)
    >>> list(d), round(float(d["TVCL"].mean()), 1), round(float(d["TVCL"].std()), 1)
    (['TVCL'], 5.0, 0.5)
    >>> boot = sample_thetas(names, typical, {"TVCL": [4.6, 5.2, 5.5]}, 10, rng)
    >>> set(boot["TVCL"].tolist()) <= {4.6, 5.2, 5.5}
    True
    """
    import pandas as pd

    if isinstance(uncertainty, Mapping) and "cov" in uncertainty:
        which = list(uncertainty.get("names", ()))
        cov = np.asarray(uncertainty["cov"], dtype=float)
        unknown = [w for w in which if w not in names]
        if unknown:
            raise DataError(f"uncertainty: {', '.join(unknown)} are not parameters; valid: "
                            f"{', '.join(names)}")
        if cov.shape != (len(which), len(which)) or not np.allclose(cov, cov.T):
            raise DataError(f"uncertainty: cov must be a symmetric {len(which)}x{len(which)} "
                            f"matrix for {which}, got shape {cov.shape}")
        mean = np.array([typical[names.index(w)] for w in which])
        draws = mean + sample_etas(cov, n, rng)
        return {w: draws[:, i] for i, w in enumerate(which)}
    table = pd.DataFrame(uncertainty)
    unknown = [c for c in table.columns if c not in names]
    if unknown:
        raise DataError(f"uncertainty table: columns {', '.join(map(str, unknown))} are not "
                        f"parameters; valid: {', '.join(names)}")
    if not len(table):
        raise DataError("uncertainty table is empty")
    rows = rng.integers(0, len(table), size=n)
    return {str(c): table[c].to_numpy(dtype=float)[rows] for c in table.columns}


def add_residual(f: np.ndarray, error: ErrorModel, rng: np.random.Generator) -> np.ndarray:
    """Observations ``y`` drawn around predictions ``f`` with the output's error model
    (:meth:`pkpd.model.ErrorModel.sample`).

    Examples
    --------
    >>> import numpy as np
    >>> from pkpd.model import ErrorModel
    >>> y = add_residual(np.full(100_000, 10.0), ErrorModel("CP", proportional=0.1),
    ...                  np.random.default_rng(1))
    >>> round(float(y.mean()), 1), round(float(y.std()), 1)   # SD = 0.1 x 10
    (10.0, 1.0)
    """
    return error.sample(f, rng)


def residual_with(f: np.ndarray, error: ErrorModel, eps: np.ndarray) -> np.ndarray:
    """Observations around predictions ``f`` for given standard normals ``eps`` (same shape):
    ``f * exp(sigma * eps)`` for an exponential error, else ``f + sd(f) * eps`` -- what
    :meth:`pkpd.model.ErrorModel.sample` does with the normals it draws.

    Examples
    --------
    >>> import numpy as np
    >>> from pkpd.model import ErrorModel
    >>> residual_with(np.array([10.0]), ErrorModel("CP", proportional=0.1), np.array([2.0]))
    array([12.])
    >>> residual_with(np.array([10.0]), ErrorModel("CP", exponential=0.2), np.array([1.0]))
    array([12.21402758])
    """
    f = np.asarray(f, dtype=float)
    if error.exponential is not None:
        return f * np.exp(error.exponential * eps)
    return f + error.sd(f) * eps
