"""The calling convention between generated model kernels and the engine.

Every kernel is compiled with :data:`KERNEL_SIG`, ``kernel(t, y, q, out)`` where ``y``, ``q``
and ``out`` are raw pointers to float64 data: calls through a pointer carry no reference
counting, which would otherwise cost more than the arithmetic of a small model. The engine
passes :func:`ptr` of its arrays; Python code calls a kernel with :func:`call_kernel`.
"""

from __future__ import annotations

import numba as nb
from numba import types
from numba.core.extending import intrinsic

__all__ = ["KERNEL_SIG", "KERNEL_TYPE", "at", "call_kernel", "ptr"]

F8P = types.CPointer(types.float64)
KERNEL_SIG = types.void(types.float64, F8P, F8P, F8P)
KERNEL_TYPE = types.FunctionType(KERNEL_SIG)


@intrinsic
def ptr(typingctx, arr):  # type: ignore[no-untyped-def]
    """Pointer to the first element of a C-contiguous array (usable in numba code).

    Hot loops of the engine work on pointers: passing arrays between numba functions costs an
    atomic reference-count update per array per call, more than a small model's arithmetic.
    """
    if not (isinstance(arr, types.Array) and arr.layout == "C"):
        return None
    sig = types.CPointer(arr.dtype)(arr)

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        ary = context.make_array(signature.args[0])(context, builder, args[0])
        return ary.data

    return sig, codegen


@intrinsic
def at(typingctx, p, offset):  # type: ignore[no-untyped-def]
    """``p + offset`` for a pointer ``p`` (in elements)."""
    if not (isinstance(p, types.CPointer) and isinstance(offset, types.Integer)):
        return None
    sig = p(p, offset)

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        return builder.gep(args[0], [args[1]])

    return sig, codegen


@nb.njit(types.void(KERNEL_TYPE, types.float64, types.float64[::1], types.float64[::1],
                    types.float64[::1]), cache=True)
def call_kernel(kernel, t, y, q, out):  # type: ignore[no-untyped-def]  # pragma: no cover
    """Call a compiled model kernel from Python with numpy arrays (contiguous float64)."""
    kernel(t, ptr(y), ptr(q), ptr(out))
