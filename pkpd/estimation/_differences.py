"""Second differences: the points at which to evaluate a function for its Hessian by central
differences, all in one batch, and the Hessian from the values there."""

from __future__ import annotations

import numpy as np

__all__ = ["hessian_from_values", "hessian_points"]


def hessian_points(x: np.ndarray, h: np.ndarray | float) -> np.ndarray:
    """The points ``x``, ``x ± h_i e_i`` and ``x ± h_i e_i ± h_j e_j`` (i < j), in the order
    :func:`hessian_from_values` reads them: ``1 + 2 n + 2 n (n - 1)`` rows."""
    n = len(x)
    eye = np.eye(n) * np.broadcast_to(h, (n,))
    points = [x, *(x + eye[i] for i in range(n)), *(x - eye[i] for i in range(n))]
    for i in range(n):
        for j in range(i + 1, n):
            points += [x + eye[i] + eye[j], x + eye[i] - eye[j],
                       x - eye[i] + eye[j], x - eye[i] - eye[j]]
    return np.array(points)


def hessian_from_values(values: np.ndarray, h: np.ndarray | float, n: int) -> np.ndarray:
    """The Hessian (n, n) from a function's ``values`` at :func:`hessian_points`."""
    h = np.broadcast_to(np.asarray(h, dtype=float), (n,))
    f0 = values[0]
    hess = np.diag((values[1:n + 1] - 2 * f0 + values[n + 1:2 * n + 1]) / h**2)
    k = 2 * n + 1
    for i in range(n):
        for j in range(i + 1, n):
            pp, pm, mp, mm = values[k:k + 4]
            hess[i, j] = hess[j, i] = (pp - pm - mp + mm) / (4 * h[i] * h[j])
            k += 4
    return hess
