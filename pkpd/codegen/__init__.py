"""Code generation: Model -> lowered IR (cse) -> Python source file -> numba kernels.

Every kernel has the signature :data:`KERNEL_SIG`, ``kernel(t, y, q, out)`` with raw float64
pointers (see :mod:`pkpd._abi`), so that the engine is compiled once for that signature and
receives each model's kernels as first-class functions. From Python, use
:meth:`CompiledModel.call`.
Generated modules live in a cache folder (``$PKPD_CACHE_DIR``, default ``~/.cache/pkpd``) and are
compiled with ``numba.njit(KERNEL_SIG, cache=True)``: a later process loads them from numba's
disk cache without compiling.

========  ==============================  ==================================================
kernel    call                            writes
========  ==============================  ==================================================
derive    ``derive(t, y, q, q)``          the derived slots of q
rhs       ``rhs(t, y, q, dy)``            dy[i] = d state_i/dt (without dose inputs)
jac       ``jac(t, y, q, J)``             J[i*n + j] = d rhs_i / d y_j (row-major)
outputs   ``outputs(t, y, q, out)``       out[k] = scale_k * output_k
dosing    ``dosing(t, y, q, a)``          a[i]=F_i, a[n+i]=lag_i, a[2n+i]=rate_i, a[3n+i]=dur_i
init      ``init(t, y, q, y0)``           y0[i] = initial amount of state i
========  ==============================  ==================================================
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np

from .._abi import KERNEL_SIG, call_kernel
from ..model import Model
from ._cache import compile_cached, disk_key, read_lowered, write_lowered
from ._emit import emit
from ._lower import KERNELS, ParameterLayout, lower

__all__ = ["KERNEL_SIG", "CompiledModel", "ParameterLayout", "compile_model", "generate_source"]



@dataclass(frozen=True, eq=False)
class CompiledModel:
    """A model compiled into numba kernels (see the module docstring for the kernels).

    Attributes
    ----------
    model : Model
    layout : ParameterLayout
        Names <-> slots of the per-subject vector ``q = [theta | eta | cov | derived]``.
    q_template : numpy.ndarray
        Typical values, eta = 0, covariate defaults (NaN where none), derived = 0.
    is_linear : bool
        True when no Jacobian entry depends on a state (decided symbolically).
    source : str
        The generated Python source.

    Examples
    --------
    One evaluation of the right-hand side of ``one_cmt`` (typical values: KA 1/h) with 100 mg
    in the depot:

    >>> import numpy as np, pkpd
    >>> cm = pkpd.compile_model(pkpd.load_model("one_cmt"))
    >>> cm
    CompiledModel('one_cmt', states=('depot', 'central'), outputs=('CP',), linear=True)
    >>> y, q, dy = np.array([100.0, 0.0]), cm.q_template.copy(), np.zeros(2)
    >>> cm.call("derive", 0.0, y, q, q)    # fills KA, CL, V from the typical values
    >>> cm.call("rhs", 0.0, y, q, dy)
    >>> dy.tolist()                        # the depot empties into the central compartment
    [-100.0, 100.0]
    """

    model: Model
    layout: ParameterLayout
    state_names: tuple[str, ...]
    output_names: tuple[str, ...]
    n_state: int
    n_out: int
    q_template: np.ndarray
    rhs: Any
    jac: Any
    derive: Any
    outputs: Any
    dosing: Any
    init: Any
    is_linear: bool
    source: str
    path: str = ""

    def __reduce__(self) -> tuple[Any, tuple[Model]]:
        # pickles as its model: another process recompiles it, loading the kernels from the
        # disk cache (numba dispatchers of generated modules do not pickle themselves)
        return compile_model, (self.model,)

    def call(self, kernel: str, t: float, y: np.ndarray, q: np.ndarray, out: np.ndarray
             ) -> None:
        """Call one kernel from Python (the engine calls them through raw pointers).

        Parameters
        ----------
        kernel : {"derive", "rhs", "jac", "outputs", "dosing", "init"}
        t : float
            Model time.
        y, q, out : numpy.ndarray
            Contiguous float64 arrays: states, the subject's vector q, the result.
        """
        if kernel not in KERNELS:
            raise ValueError(f"unknown kernel {kernel!r}; valid: {', '.join(KERNELS)}")
        call_kernel(getattr(self, kernel), float(t), y, q, out)

    def __repr__(self) -> str:
        return (f"CompiledModel({self.model.name!r}, states={self.state_names}, "
                f"outputs={self.output_names}, linear={self.is_linear})")


_MEMORY: dict[str, CompiledModel] = {}
_LOCK = threading.Lock()


def generate_source(model: Model) -> str:
    """The Python source generated for ``model`` (without compiling it)."""
    return emit(lower(model), name=model.name, model_hash=model.hash)


class _Kernel(numba.core.types.WrapperAddressProtocol):
    """A compiled kernel as a first-class function with its address resolved once.

    Handing numba dispatchers to the engine makes numba look up each one's compiled wrapper
    at every call (about 20 us per kernel); this object gives the address directly."""

    def __init__(self, dispatcher: Any) -> None:
        self.dispatcher = dispatcher
        cres = dispatcher.get_compile_result(KERNEL_SIG)
        self._address = int(cres.library.get_pointer_to_function(
            cres.fndesc.llvm_cfunc_wrapper_name))

    def __wrapper_address__(self) -> int:
        return self._address

    def signature(self) -> Any:
        return KERNEL_SIG

    def __call__(self, *args: Any) -> Any:
        return self.dispatcher(*args)


def compile_model(model: Model) -> CompiledModel:
    """Compile ``model`` into numba kernels, cached in memory and on disk.

    Parameters
    ----------
    model : Model

    Returns
    -------
    CompiledModel

    Examples
    --------
    >>> import pkpd
    >>> cm = compile_model(pkpd.load_model("two_cmt_oral"))
    >>> cm.layout.index("TVCL")
    1
    """
    if not isinstance(model, Model):
        raise TypeError(f"compile_model expects a pkpd Model, got {type(model).__name__}")
    key = disk_key(model.hash)
    with _LOCK:
        cached = _MEMORY.get(key)
        if cached is not None:
            return cached
        lowered = read_lowered(key)
        if lowered is None:
            ir = lower(model)
            lowered = (emit(ir, name=model.name, model_hash=model.hash), ir.layout,
                       ir.is_linear)
            write_lowered(key, *lowered)
        source, layout, is_linear = lowered
        path, kernels = compile_cached(source, key, lambda module: {
            k: _Kernel(numba.njit(KERNEL_SIG, cache=True, error_model="numpy")(
                getattr(module, k))) for k in KERNELS})
        q = np.zeros(layout.n_q)
        q[layout.theta_slice] = [p.value for p in model.parameters]
        q[layout.cov_slice] = [np.nan if c.default is None else c.default
                               for c in model.covariates]
        q.setflags(write=False)
        compiled = CompiledModel(
            model=model, layout=layout, state_names=model.state_names,
            output_names=model.output_names, n_state=model.n_state, n_out=len(model.outputs),
            q_template=q, is_linear=is_linear, source=source, path=str(path), **kernels)
        _MEMORY[key] = compiled
        return compiled
