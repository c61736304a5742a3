"""Omega, the covariance of the random effects, assembled from its declared blocks and
checked: occasion and fixed etas declared, no correlation between between-subject and
between-occasion etas, a positive semi-definite matrix."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import ModelError
from ._checks import check_omega

__all__ = ["assemble_omega"]


def assemble_omega(etas: Sequence[str], blocks: Sequence[tuple[Sequence[str], np.ndarray]],
                   occasion: Sequence[str], fixed: Sequence[str]) -> np.ndarray | None:
    """The read-only omega matrix (rows and columns ``etas``) of the declared ``blocks``,
    or None without etas.

    Raises
    ------
    ModelError
        An occasion or fixed eta that is not declared, a block correlating between-subject
        with between-occasion etas, or a matrix that is not a covariance.
    """
    for what, names in (("occasion", occasion), ("fixed", fixed)):
        for name in names:
            if name not in etas:
                raise ModelError(f"{what} eta {name!r} is not a declared eta; etas: "
                                 f"{', '.join(etas) or 'none'}")
    for names, block in blocks:
        occ = [n in occasion for n in names]
        if any(occ) and not all(occ) and np.any(block[np.ix_(occ, np.logical_not(occ))] != 0):
            bsv = ", ".join(n for n, o in zip(names, occ, strict=True) if not o)
            bov = ", ".join(n for n, o in zip(names, occ, strict=True) if o)
            raise ModelError(f"omega block {list(names)}: correlations between between-subject "
                             f"etas ({bsv}) and between-occasion etas ({bov}) are not "
                             "supported; declare them in separate blocks")
    if not etas:
        return None
    omega = np.zeros((len(etas), len(etas)))
    index = {n: i for i, n in enumerate(etas)}
    for names, block in blocks:
        idx = [index[n] for n in names]
        omega[np.ix_(idx, idx)] = block
    check_omega(tuple(etas), omega)
    omega.setflags(write=False)
    return omega
