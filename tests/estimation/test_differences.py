"""Second differences: exact for quadratics, second order for smooth functions."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from pkpd.estimation._differences import hessian_from_values, hessian_points


@given(st.integers(1, 5), st.integers(0, 1000))
def test_exact_for_quadratics(n, seed):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(n, n))
    a = a + a.T
    b = rng.normal(size=n)
    x = rng.normal(size=n)
    h = rng.uniform(1e-3, 1e-1, n)
    pts = hessian_points(x, h)
    assert pts.shape == (1 + 2 * n + 2 * n * (n - 1), n)
    values = 0.5 * np.einsum("ki,ij,kj->k", pts, a, pts) + pts @ b
    np.testing.assert_allclose(hessian_from_values(values, h, n), a, atol=1e-6)


def test_smooth_function():
    x = np.array([0.3, -0.2])
    h = 1e-3
    values = np.array([np.exp(p[0]) * np.sin(p[1]) for p in hessian_points(x, h)])
    ref = np.array([[np.exp(x[0]) * np.sin(x[1]), np.exp(x[0]) * np.cos(x[1])],
                    [np.exp(x[0]) * np.cos(x[1]), -np.exp(x[0]) * np.sin(x[1])]])
    np.testing.assert_allclose(hessian_from_values(values, h, 2), ref, atol=1e-5)
