"""Random streams of a sampled simulation, by block of subjects (internal).

A sampled run (:func:`pkpd.simulate` with ``n=``, and its chunked forms in :mod:`pkpd.scale`)
draws every random number from streams keyed by what they are for, never from one sequential
generator, so that a subject's draws depend only on the seed and the subject's index in the
cohort -- not on how the cohort is chunked, which chunk runs first, or how many threads run:

* the subjects are cut into fixed blocks of :data:`BLOCK` subjects (subject ``i`` is in block
  ``i // BLOCK``), independent of any chunk size;
* each (source, block[, extra key]) has its own generator,
  ``Generator(PCG64(SeedSequence(entropy, spawn_key=(*spawn_key, source, block, *extra))))``;
* the stream of a block is always drawn for the whole block, subject-major, and the subjects
  a run (or chunk) holds are taken from it: a chunk that starts or ends inside a block draws the
  block in full and keeps its rows.

The sources and their keys (``n`` samples per subject):

======================  =======================================  ============================
source                  key                                      draws per subject
======================  =======================================  ============================
parameter uncertainty   ``(0,)`` (shared by all subjects)        ``n`` (one per sample)
etas (IIV)              ``(1, block)``                           ``n x n_eta`` standard normals
occasion etas (BOV)     ``(2, block, occasion)``                 ``n x n_occasion_eta``
residual error (RUV)    ``(3, block, output)`` (index of the     ``n x n_times``
                        output in the model's outputs)
======================  =======================================  ============================

Standard normals ``z`` are turned into etas ``z L'`` (``L L' = Omega``) with an explicit,
fixed-order sum, so no BLAS kernel choice can change a bit. Switching a source on or off, or
choosing other ``outputs``, leaves the draws of the other sources unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

import numpy as np

__all__ = ["BLOCK", "Streams", "correlate"]

#: subjects per random-stream block (fixed: changing it changes every seeded cohort)
BLOCK = 1024
UNCERTAINTY, IIV, BOV, RUV = 0, 1, 2, 3


def correlate(z: np.ndarray, factor: np.ndarray) -> np.ndarray:
    """``z @ factor.T`` over the last axis, summed in a fixed order (bitwise reproducible)."""
    out = np.zeros((*z.shape[:-1], factor.shape[0]))
    for j in range(factor.shape[1]):
        out += z[..., j:j + 1] * factor[:, j]
    return out


@dataclass(frozen=True)
class Streams:
    """The random streams of a sampled run, for the subjects ``first, first + 1, ...``.

    Parameters
    ----------
    entropy : int or tuple of int
        The root entropy (a seed).
    spawn_key : tuple of int
        The spawn key of the root :class:`numpy.random.SeedSequence`, if it was spawned.
    first : int
        Index in the cohort of the first subject of this run (0 unless this is a chunk).
    """

    entropy: int | tuple[int, ...]
    spawn_key: tuple[int, ...] = ()
    first: int = 0

    @classmethod
    def of(cls, seed: int | Sequence[int] | np.random.SeedSequence | np.random.Generator
           | Streams | None) -> Streams:
        """The streams of a ``seed``: an int (or a sequence of ints) or a SeedSequence is the
        root itself; a Generator gives one integer drawn from it (``integers(2**63)``), so
        that the same generator state gives the same cohort and the generator moves on; None
        draws fresh OS entropy."""
        if isinstance(seed, Streams):
            return seed
        if isinstance(seed, np.random.Generator):
            return cls(int(seed.integers(2**63)))
        if seed is None:
            seed = np.random.SeedSequence()
        elif isinstance(seed, list | tuple):   # a sequence of ints, as numpy takes it
            seed = np.random.SeedSequence(seed)
        if isinstance(seed, np.random.SeedSequence):
            entropy = seed.entropy
            return cls(entropy if isinstance(entropy, int) else tuple(map(int, entropy)),
                       tuple(map(int, seed.spawn_key)))
        if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
            from .errors import DataError

            raise DataError(f"seed: expected a non-negative int, a numpy SeedSequence or "
                            f"Generator, got {seed!r}")
        return cls(int(seed))

    def at(self, first: int) -> Streams:
        """The same streams for a run whose first subject is subject ``first`` of the cohort."""
        return replace(self, first=int(first))

    def describe(self) -> str:
        """The seed as text (the ``seed`` attribute of a sampled Dataset)."""
        return str(self.entropy) + (f" spawn_key={self.spawn_key}" if self.spawn_key else "")

    def generator(self, *key: int) -> np.random.Generator:
        """The generator of stream ``key`` (source, then block and extra keys)."""
        ss = np.random.SeedSequence(self.entropy, spawn_key=self.spawn_key + key)
        return np.random.Generator(np.random.PCG64(ss))

    def normals(self, source: int, n_sub: int, shape: tuple[int, ...], *extra: int
                ) -> np.ndarray:
        """Standard normals of shape ``(n_sub, *shape)`` for the subjects of this run, each
        block's stream drawn for the whole block ``(BLOCK, *shape)``."""
        out = np.empty((n_sub, *shape))
        for a, b, z in self.normals_by_block(source, n_sub, shape, *extra):
            out[a:b] = z
        return out

    def normals_by_block(self, source: int, n_sub: int, shape: tuple[int, ...], *extra: int
                         ) -> Iterator[tuple[int, int, np.ndarray]]:
        """:meth:`normals` one block at a time (to bound memory): ``(a, b, z)`` with ``z``
        the normals of this run's subjects ``a:b`` (indices within the run)."""
        lo, hi = self.first, self.first + n_sub
        for block in range(lo // BLOCK, -(-hi // BLOCK)):
            b0 = block * BLOCK
            z = self.generator(source, block, *extra).standard_normal((BLOCK, *shape))
            a, b = max(lo, b0), min(hi, b0 + BLOCK)
            yield a - lo, b - lo, z[a - b0:b - b0]
