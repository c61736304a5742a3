"""Generated kernels against sympy's own evaluation of the model equations."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import pkpd
from pkpd.codegen import KERNEL_SIG, CompiledModel, compile_model
from pkpd.codegen._cache import disk_key
from pkpd.model import ModelBuilder

NAMES = ["two_cmt_oral", "mm_indirect_response", "one_cmt_oral_nm", "vancomycin_goti2018"]


def reference(cm: CompiledModel, q_in: np.ndarray, y: np.ndarray, t: float) -> dict:
    """Evaluate the model with sympy (lambdify on 'math'), independently of the generated code."""
    m = cm.model
    values = {n: float(q_in[i]) for i, n in enumerate(cm.layout.names)
              if i < cm.layout.derived_slice.start}
    for d in m.derived:
        syms = sorted(d.expr.free_symbols, key=str)
        values[d.name] = sp.lambdify(syms, d.expr, "math")(*(values[s.name] for s in syms))
    values.update(zip(m.state_names, map(float, y), strict=True))
    values["t"] = t

    def ev(expr: sp.Expr) -> float:
        syms = sorted(expr.free_symbols, key=str)
        return float(sp.lambdify(syms, expr, "math")(*(values[s.name] for s in syms)))

    return {
        "derived": [values[d.name] for d in m.derived],
        "rhs": [ev(e) for e in m.odes],
        "outputs": [o.scale * ev(o.expr) for o in m.outputs],
        "init": [ev(s.initial) for s in m.states],
    }


def draw(cm: CompiledModel, data: st.DataObject) -> tuple[np.ndarray, np.ndarray]:
    lay = cm.layout
    q = cm.q_template.copy()
    pos = st.floats(0.05, 20.0)
    q[lay.theta_slice] = [data.draw(pos) * (p.value or 1.0) / 5 for p in cm.model.parameters]
    q[lay.eta_slice] = [data.draw(st.floats(-1.0, 1.0)) for _ in range(lay.n_eta)]
    q[lay.cov_slice] = [data.draw(st.floats(0.1, 3.0)) * (c.default or 1.0)
                        for c in cm.model.covariates]
    y = np.array([data.draw(st.floats(0.0, 500.0)) for _ in range(cm.n_state)])
    return q, y


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_kernels_match_sympy(compiled: dict, name: str, data: st.DataObject) -> None:
    cm = compiled[name]
    q, y = draw(cm, data)
    t = data.draw(st.floats(0.0, 100.0))
    ref = reference(cm, q, y, t)
    cm.call("derive", t, y, q, q)
    # subnormal numbers (below 2.2e-308) carry fewer digits: an absolute floor for them
    np.testing.assert_allclose(q[cm.layout.derived_slice], ref["derived"], rtol=1e-12,
                               atol=1e-300)
    dy = np.empty(cm.n_state)
    cm.call("rhs", t, y, q, dy)
    np.testing.assert_allclose(dy, ref["rhs"], rtol=1e-11, atol=1e-12)
    out = np.empty(cm.n_out)
    cm.call("outputs", t, y, q, out)
    np.testing.assert_allclose(out, ref["outputs"], rtol=1e-12, atol=1e-300)
    y0 = np.empty(cm.n_state)
    cm.call("init", t, y, q, y0)
    np.testing.assert_allclose(y0, ref["init"], rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=20, deadline=None)
@given(data=st.data())
def test_jacobian_against_finite_differences(compiled: dict, name: str,
                                             data: st.DataObject) -> None:
    cm = compiled[name]
    q, y = draw(cm, data)
    y = y + 1.0
    cm.call("derive", 0.0, y, q, q)
    n = cm.n_state
    J = np.empty(n * n)
    cm.call("jac", 0.0, y, q, J)
    fd = np.empty((n, n))
    fp, fm = np.empty(n), np.empty(n)
    for j in range(n):
        h = 1e-6 * max(1.0, abs(y[j]))
        yp, ym = y.copy(), y.copy()
        yp[j] += h
        ym[j] -= h
        cm.call("rhs", 0.0, yp, q, fp)
        cm.call("rhs", 0.0, ym, q, fm)
        fd[:, j] = (fp - fm) / (2 * h)
    scale = np.abs(fd).max() + 1e-12
    np.testing.assert_allclose(J.reshape(n, n), fd, rtol=1e-5, atol=1e-6 * scale)


def test_is_linear(compiled: dict) -> None:
    assert compiled["two_cmt_oral"].is_linear
    assert compiled["vancomycin_goti2018"].is_linear
    assert compiled["one_cmt_oral_nm"].is_linear
    assert not compiled["mm_indirect_response"].is_linear


def test_layout_and_template(compiled: dict) -> None:
    cm = compiled["two_cmt_oral"]
    lay = cm.layout
    assert lay.names[:5] == ("TVKA", "TVCL", "TVV1", "TVQ", "TVV2")
    assert (lay.n_theta, lay.n_eta, lay.n_cov, lay.n_derived, lay.n_q) == (5, 5, 1, 5, 16)
    assert lay.index("eta_CL") == 5 and lay.index("WT") == 10 and lay.index("CL") == 12
    assert cm.q_template[lay.index("TVCL")] == 5.0
    assert cm.q_template[lay.index("WT")] == 70.0
    assert not cm.q_template[lay.eta_slice].any()
    assert cm.state_names == ("depot", "central", "periph") and cm.output_names == ("CP",)
    with pytest.raises(pkpd.ModelError, match="no parameter slot named 'CLX'"):
        lay.index("CLX")


def test_typical_two_cmt_values(compiled: dict) -> None:
    """Typical subject at 70 kg: CL = 5, V1 = 50 ... (independent of the generated code)."""
    cm = compiled["two_cmt_oral"]
    q = cm.q_template.copy()
    y = np.array([100.0, 20.0, 10.0])
    cm.call("derive", 0.0, y, q, q)
    np.testing.assert_allclose(q[cm.layout.derived_slice], [1.0, 5.0, 50.0, 8.0, 100.0])
    dy = np.empty(3)
    cm.call("rhs", 0.0, y, q, dy)
    np.testing.assert_allclose(dy, [-100.0, 100 - 0.1 * 20 - 0.16 * 20 + 0.08 * 10,
                                    0.16 * 20 - 0.08 * 10])


def test_dosing_kernel(compiled: dict) -> None:
    cm = compiled["one_cmt_oral_nm"]
    lay = cm.layout
    q = cm.q_template.copy()
    for name, v in (("LAGT", 0.5), ("BIOAV", 0.7), ("RAT2", 12.0), ("DUR2", 3.0)):
        q[lay.index(name)] = v
    cm.call("derive", 0.0, np.zeros(2), q, q)
    a = np.full(8, np.nan)
    cm.call("dosing", 0.0, np.zeros(2), q, a)
    np.testing.assert_array_equal(a, [1.0, 0.7, 0.0, 0.5, 0.0, 12.0, 0.0, 3.0])
    out = np.empty(1)
    cm.call("outputs", 0.0, np.array([0.0, 30.0]), q, out)
    assert out[0] == pytest.approx(30.0 / (20.0 / 1000))   # NONMEM: A(2)/(V/1000)


def test_mm_initial_response(compiled: dict) -> None:
    cm = compiled["mm_indirect_response"]
    q = cm.q_template.copy()
    cm.call("derive", 0.0, np.zeros(3), q, q)
    y0 = np.empty(3)
    cm.call("init", 0.0, np.zeros(3), q, y0)
    np.testing.assert_allclose(y0, [0.0, 0.0, 10.0 / 0.1])


def test_source_and_cache(compiled: dict, kernel_cache) -> None:
    cm = compiled["two_cmt_oral"]
    assert "def rhs(t, y, q, out):" in cm.source and "import math" in cm.source
    assert "numpy" not in cm.source and "simplify" not in cm.source
    # the kernels run from the generated file in the cache folder (this session's, or the
    # folder of an earlier test that compiled the same model first: kept in memory by hash)
    path = Path(cm.rhs.dispatcher.py_func.__code__.co_filename)
    key = disk_key(cm.model.hash)
    # its first line records the cache key
    assert path.name.startswith("m_")
    assert path.read_text() == f"# pkpd-cache-key: {key}\n{cm.source}"
    assert compile_model(pkpd.load_model("two_cmt_oral")) is cm
    for kernel in (cm.rhs, cm.jac, cm.derive, cm.outputs, cm.dosing, cm.init):
        assert kernel.dispatcher.signatures == [KERNEL_SIG.args]


def test_piecewise_min_max_and_exact_constants(kernel_cache) -> None:
    mb = ModelBuilder("pw", time_unit="h")
    (A,) = mb.states(A="mg")
    mb.parameters(K="0.1 1/h", KM="2 mg", T0="3 h")
    mb.ode(A, "-(K if t > T0 else K/150) * min(A, KM) + 1/3*abs(max(A, KM) - A)*K")
    mb.output("X", "sqrt(A*KM)", unit="mg")
    mb.output("L", "log10(A/KM) if A > 0 and not KM <= 0 else -1")
    cm = compile_model(mb.build())
    q = cm.q_template.copy()
    dy = np.empty(1)
    for t, a in ((1.0, 5.0), (5.0, 1.0), (3.0, 2.0)):
        cm.call("rhs", t, np.array([a]), q, dy)
        k = 0.1 if t > 3.0 else 0.1 / 150
        expected = -k * min(a, 2.0) + 1 / 3 * abs(max(a, 2.0) - a) * 0.1
        assert dy[0] == pytest.approx(expected, rel=1e-14)
    J = np.empty(1)
    cm.call("jac", 1.0, np.array([5.0]), q, J)
    assert J[0] == pytest.approx(0.0, abs=1e-15)        # d/dA of -k*min(A, 2) at A=5
    cm.call("jac", 1.0, np.array([1.0]), q, J)
    assert J[0] == pytest.approx(-0.1 / 150 - 0.1 / 3)
    assert not cm.is_linear
    out = np.empty(2)
    cm.call("outputs", 0.0, np.array([8.0]), q, out)
    np.testing.assert_allclose(out, [math.sqrt(16.0), math.log10(4.0)], rtol=1e-15)
    cm.call("outputs", 0.0, np.array([0.0]), q, out)
    assert out[1] == -1.0
