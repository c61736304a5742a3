"""Helpers shared by the commands: argument types, patients, data files, output, progress."""

from __future__ import annotations

import argparse
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import DataError, PkpdError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    import xarray as xr

    from ..model import Model
    from ..patient import Patient

MODEL_HELP = "name of a bundled model (see `pkpd models`) or path to a model file (.toml)"
DATA_HELP = "a NONMEM-format dataset (CSV: ID, TIME, AMT, DV, EVID, MDV, CMT, covariates)"
PATIENT_HELP = ("the patient's covariates with units, comma-separated, e.g. "
                "WT=82kg,CRCL=55mL/min,AGE=67,SEX=F,SCR=1.1mg/dL (numbers without a unit are "
                "read in the model's unit)")


class Formatter(argparse.HelpFormatter):
    """Help text: a one-paragraph description wrapped, a text of several lines (the epilog's
    examples) kept as written."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=30, width=100)

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if "\n" in text:
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


def add_patient_args(p: argparse.ArgumentParser) -> None:
    """``--patient WT=82kg,...`` and its older spelling ``--cov NAME=VALUE`` (repeatable)."""
    p.add_argument("--patient", metavar="NAME=VALUE,...", help=PATIENT_HELP)
    p.add_argument("--cov", action="append", default=[], metavar="NAME=VALUE",
                   help="one covariate, e.g. --cov 'WT=82 kg' (repeatable; same as --patient)")


def _pairs(items: Sequence[str], option: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not name or not value or not name.isidentifier():
            raise PkpdError(f"{option} {item!r}: expected NAME=VALUE, e.g. WT=82kg")
        out[name] = value
    return out


def patient_items(patient: str | None, cov: Sequence[str]) -> dict[str, str]:
    """The covariates of ``--patient A=1,B=2`` and of each ``--cov NAME=VALUE`` (these win)."""
    items: dict[str, str] = {}
    if patient is not None:
        parts = [part for part in patient.split(",")]
        if not patient.strip() or any(not part.strip() for part in parts):
            raise PkpdError(f"--patient {patient!r}: expected NAME=VALUE pairs separated by "
                            "commas, e.g. WT=82kg,CRCL=55mL/min")
        items.update(_pairs(parts, "--patient"))
    items.update(_pairs(cov, "--cov"))
    return items


def make_patient(items: dict[str, str]) -> Patient | None:
    """A :class:`pkpd.Patient` of the items (units converted and ranges checked), or None."""
    if not items:
        return None
    from ..patient import Patient

    return Patient(**items)


def summary_line(description: str) -> str:
    """The first sentence of a model's description."""
    first, sep, _ = description.strip().partition(". ")
    return first + "." if sep else first


def load(model: str) -> Model:
    """The model of a name or path (a clear error when neither)."""
    from ..library import load_model

    return load_model(model)


def is_model_name(text: str) -> bool:
    """Whether ``text`` names a bundled model or a model file."""
    if text.lower().endswith(".toml"):
        return True
    from ..library import list_models

    return text in list_models()


def data_file(path: str, what: str = "DATA.csv") -> Path:
    """``path`` as an existing file; a :class:`pkpd.DataError` naming it otherwise."""
    p = Path(path)
    if not p.exists():
        raise DataError(f"{what} {path!r}: no such file")
    if not p.is_file():
        raise DataError(f"{what} {path!r}: is not a file")
    return p


def read_data(path: str, model: Any = None) -> Any:
    """A NONMEM-format dataset read from an existing file."""
    from ..io.nonmem import read_nonmem

    return read_nonmem(data_file(path), model=model)


def out_dir(path: str) -> Path:
    """The output folder, created when needed."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise DataError(f"--out {path!r}: exists and is not a folder")
    p.mkdir(parents=True, exist_ok=True)
    return p


DATASET_FORMATS = (".nc", ".csv", ".zarr")


def check_dataset_path(path: str | None, option: str = "--out") -> None:
    """Fail early on an output name of unknown format."""
    if path is not None and Path(path).suffix.lower() not in DATASET_FORMATS:
        raise DataError(f"{option} {path!r}: unknown format; use a name ending in .nc, .csv "
                        "or .zarr")


def write_dataset(ds: xr.Dataset, path: str) -> None:
    """Save a simulation: ``.nc`` (netCDF), ``.csv`` (one row per id, sample and time) or
    ``.zarr`` (a zarr store, not consolidated: open it with ``xarray.open_zarr(path,
    consolidated=False)``)."""
    from .._atomic import atomic_path

    check_dataset_path(path)
    suffix = Path(path).suffix.lower()
    if suffix == ".nc":
        with atomic_path(path) as tmp:
            ds.to_netcdf(tmp)
    elif suffix == ".csv":
        write_csv(ds.to_dataframe(), path)
    else:   # a folder of files: written in place (xarray/zarr's own protocol)
        ds.to_zarr(path, mode="w", consolidated=False)


def write_csv(frame: pd.DataFrame, path: str | Path, **kwargs: Any) -> None:
    """``frame.to_csv(path, **kwargs)``, atomically: a failed write leaves no partial file
    (and an existing file as it was)."""
    from .._atomic import atomic_path

    with atomic_path(path) as tmp:
        frame.to_csv(tmp, **kwargs)


def print_frame(frame: pd.DataFrame, digits: int = 4, index: bool = True) -> None:
    """A table on stdout, numbers to ``digits`` significant figures."""
    print(frame.to_string(index=index, float_format=lambda v: f"{v:.{digits}g}"))


def wrote(path: Any) -> None:
    print(f"wrote {path}")


def _interactive() -> bool:
    return bool(getattr(sys.stderr, "isatty", lambda: False)())


@contextmanager
def iteration_progress(desc: str, total: int | None = None
                       ) -> Iterator[Callable[[str], None]]:
    """A callable for ``fit_population(progress=...)``: each line advances a tqdm bar on
    stderr and shows the line; silent when stderr is not a terminal."""
    from tqdm import tqdm

    with tqdm(total=total, desc=desc, unit="it", file=sys.stderr, leave=False,
              disable=not _interactive()) as bar:
        def report(line: str) -> None:
            bar.update(1)
            bar.set_postfix_str(" ".join(line.split())[:60], refresh=False)

        yield report


@contextmanager
def working(desc: str, after: float = 1.0) -> Iterator[None]:
    """A tqdm line with the elapsed time while one long call runs (shown on a terminal only,
    once ``after`` seconds have passed)."""
    if not _interactive():
        yield
        return
    from tqdm import tqdm

    done = threading.Event()

    def tick() -> None:
        if done.wait(after):
            return
        with tqdm(desc=desc, file=sys.stderr, leave=False, bar_format="{desc}: {elapsed}") as bar:
            while not done.wait(0.2):
                bar.refresh()

    thread = threading.Thread(target=tick, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
