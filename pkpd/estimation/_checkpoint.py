"""Checkpoint files of population fits (``fit_population(..., checkpoint=path)``).

A checkpoint is one JSON file, replaced atomically (:func:`pkpd._atomic.write_text_atomic`)
after every outer iteration: a crash or a kill leaves the previous complete checkpoint. Its
first line is a header, ``{"format": ..., "version": ..., "sha256": ...}``, the sha256 of the
rest of the file, which is the payload::

    {"identity": {...}, "phase": "running" | "done" | "final", "state": {...}}

``identity`` says which run the file belongs to (model hash, data sha256, method, options,
seed, pkpd version); resuming with any of them different raises an
:class:`~pkpd.errors.EstimationError` naming what differs. ``state`` is the optimiser's state
(see :mod:`pkpd.estimation._outer` and :mod:`pkpd.estimation._saem`). Arrays are stored as
``{"__array__": shape, "data": [...]}``; floats are written by ``repr`` (shortest round trip),
so they read back bit for bit (``NaN`` and ``Infinity`` included). No pickle.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .._atomic import write_text_atomic
from ..errors import EstimationError

__all__ = ["FORMAT", "VERSION", "Checkpoint", "canonical", "run_identity"]

FORMAT = "pkpd population fit checkpoint"
VERSION = 1


def canonical(value: Any) -> Any:
    """``value`` as plain JSON data (for the identity of a run): mappings with string keys,
    lists, numbers, strings; anything else by ``str``."""
    if isinstance(value, Mapping):
        return {str(k): canonical(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, list | tuple):
        return [canonical(v) for v in value]
    if isinstance(value, bool | str) or value is None:
        return value
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value)
    return str(value)


def _encode(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return {"__array__": list(value.shape), "dtype": value.dtype.str,
                "data": value.ravel().tolist()}
    if isinstance(value, Mapping):
        return {str(k): _encode(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_encode(v) for v in value]
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if "__array__" in value:
            return np.array(value["data"], dtype=np.dtype(value["dtype"])).reshape(
                value["__array__"])
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


class Checkpoint:
    """The checkpoint file of one run: ``identity`` is what the file must match.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import numpy as np
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "fit.ckpt"
    >>> ck = Checkpoint(path, {"method": "focei", "seed": 1})
    >>> ck.load() is None                       # no file yet: a fresh start
    True
    >>> ck.save("running", {"x": np.array([0.1, 1 / 3]), "iteration": 4})
    >>> phase, state = ck.load()
    >>> phase, state["iteration"], bool(state["x"][1] == 1 / 3)
    ('running', 4, True)
    >>> Checkpoint(path, {"method": "saem", "seed": 1}).load()
    Traceback (most recent call last):
    ...
    pkpd.errors.EstimationError: checkpoint ... belongs to another run: method is 'focei'
    there, 'saem' here; delete the file to start afresh, or use another path
    """

    def __init__(self, path: str | os.PathLike[str], identity: Mapping[str, Any]) -> None:
        self.path = Path(os.fspath(path))
        self.identity = canonical(identity)

    def save(self, phase: str, state: Mapping[str, Any]) -> None:
        """Write ``state`` (JSON data and numpy arrays) atomically."""
        payload = json.dumps({"identity": self.identity, "phase": phase,
                              "state": _encode(state)}, allow_nan=True)
        header = json.dumps({"format": FORMAT, "version": VERSION,
                             "sha256": hashlib.sha256(payload.encode()).hexdigest()})
        write_text_atomic(self.path, header + "\n" + payload + "\n")

    def load(self) -> tuple[str, dict[str, Any]] | None:
        """``(phase, state)`` from the file, None when there is no file.

        Raises
        ------
        EstimationError
            The file is not a checkpoint, is truncated or corrupted, or belongs to a run with
            another model, data, method, options or seed.
        """
        if not self.path.exists():
            return None
        try:
            text = self.path.read_text(encoding="utf-8")
            first, _, payload = text.partition("\n")
            header = json.loads(first)
            if not isinstance(header, dict) or header.get("format") != FORMAT:
                raise ValueError("not a pkpd checkpoint")
            if header.get("version") != VERSION:
                raise ValueError(f"format version {header.get('version')!r}, this pkpd "
                                 f"reads version {VERSION}")
            payload = payload.rstrip("\n")
            if hashlib.sha256(payload.encode()).hexdigest() != header.get("sha256"):
                raise ValueError("its content does not match its sha256 (truncated or "
                                 "corrupted)")
            body = json.loads(payload)
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise EstimationError(f"checkpoint {self.path} cannot be read: {exc}; delete the "
                                  "file to start the fit afresh") from None
        self._check(body["identity"])
        return str(body["phase"]), _decode(body["state"])

    def _check(self, found: Mapping[str, Any]) -> None:
        keys = sorted(set(found) | set(self.identity))
        differ = [k for k in keys if found.get(k) != self.identity.get(k)]
        if differ:
            what = "; ".join(f"{k} is {_short(found.get(k))} there, {_short(self.identity.get(k))}"
                             " here" for k in differ)
            raise EstimationError(f"checkpoint {self.path} belongs to another run: {what}; "
                                  "delete the file to start afresh, or use another path")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def run_identity(problem: Any, method: str, seed: Any, options: Mapping[str, Any]
                 ) -> dict[str, Any]:
    """What identifies a population fit: model hash, data sha256, method, options, seed and
    the pkpd version. ``problem`` is the fit's set-up problem (model and data)."""
    from .. import __version__
    from .._provenance import data_record

    if isinstance(seed, np.random.Generator):
        raise EstimationError("checkpoint= needs seed to be an integer or None (a Generator's "
                              "state is not part of the record that identifies the run)")
    data = data_record(problem.pop.data) if problem.pop.data is not None else {}
    return {"model_hash": problem.cm.model.hash,
            "data_sha256": data.get("data_sha256", "unknown"),
            "method": method, "options": canonical(options),
            "seed": None if seed is None else int(seed), "pkpd_version": __version__}
