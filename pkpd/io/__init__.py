"""Dataset input and output; the only place where NONMEM column names live.

:func:`read_nonmem` and :func:`write_nonmem` read and write NONMEM-format CSV datasets
(:mod:`pkpd.io.nonmem`).
"""

from __future__ import annotations

from .nonmem import NonmemData as NonmemData
from .nonmem import read_nonmem as read_nonmem
from .nonmem import write_nonmem as write_nonmem

__all__ = ["NonmemData", "read_nonmem", "write_nonmem"]
