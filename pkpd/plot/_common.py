"""Pieces shared by the concentration-time, spaghetti and twin plots: the style, bands of
percentiles, observed levels, dose markers and target windows."""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import DataError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    import xarray as xr
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__: list[str] = []

#: Readable defaults of every plot of these modules.
STYLE: dict[str, Any] = {"font.size": 10, "axes.titlesize": 11, "axes.labelsize": 10.5,
                         "xtick.labelsize": 9.5, "ytick.labelsize": 9.5, "legend.fontsize": 9,
                         "legend.framealpha": 0.85, "axes.spines.top": False,
                         "axes.spines.right": False}
BAND_COLOR = "#3b6ea8"
MEDIAN_COLOR = "#1d3f6e"
OBSERVED_COLOR = "#111111"
TARGET_COLOR = "#2ca02c"
DOSE_COLOR = "#7a4fa3"
#: Default bands: 5-95 % and 25-75 % (percent).
BANDS: tuple[tuple[float, float], ...] = ((5.0, 95.0), (25.0, 75.0))


@contextmanager
def quiet() -> Iterator[None]:
    """No floating-point or all-NaN warnings (a time where every curve is NaN, e.g. 0 on a
    log axis, has no median: it is not drawn)."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def pyplot(path: str | Path | None) -> Any:
    """matplotlib.pyplot, on the Agg backend when the figure is saved."""
    import matplotlib

    if path is not None:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def finish(fig: Figure, path: str | Path | None, dpi: int = 150) -> Figure:
    """Save the figure (PNG at 150 dpi) and close it when ``path`` is given."""
    if path is not None:
        import matplotlib.pyplot as plt

        save_figure(fig, path, dpi)
        plt.close(fig)
    return fig


def save_figure(fig: Figure, path: str | Path, dpi: int = 150) -> None:
    """``fig.savefig(path)``, atomically (:func:`pkpd._atomic.atomic_path`): a failed save
    leaves no partial image. The format comes from the suffix of ``path`` (matplotlib's
    default format when it has none)."""
    import matplotlib as mpl

    from .._atomic import atomic_path

    fmt = Path(path).suffix.lstrip(".").lower() or mpl.rcParams["savefig.format"]
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format=fmt)


def label(name: str, unit: str | None) -> str:
    """``name (unit)``, or ``name`` without a unit."""
    return f"{name} ({unit})" if unit and unit not in ("1", "dimensionless") else name


def time_of(ds: xr.Dataset | xr.DataArray) -> tuple[np.ndarray, str]:
    """The time coordinate and its unit."""
    if "time" not in ds.coords:
        raise DataError("the result has no time coordinate: simulate with times=")
    return np.asarray(ds["time"].values, dtype=float), str(ds["time"].attrs.get("units", ""))


def curves(da: xr.DataArray) -> np.ndarray:
    """Every curve of ``da`` (one per subject and sample) as an array (n_curves, n_time)."""
    if "time" not in da.dims:
        raise DataError(f"{da.name}: no time dimension (dims {', '.join(map(str, da.dims))})")
    other = [d for d in da.dims if d != "time"]
    values = np.asarray(da.transpose(*other, "time").values, dtype=float)
    return values.reshape(-1, da.sizes["time"])


def check_bands(bands: Iterable[Sequence[float]] | None) -> list[tuple[float, float]]:
    """Bands as (low, high) percentiles in [0, 100], widest first."""
    out = []
    for b in bands if bands is not None else BANDS:
        lo, hi = (float(v) for v in b)
        if not 0.0 <= lo < hi <= 100.0:
            raise DataError(f"band {b!r}: give (low, high) percentiles with 0 <= low < high "
                            "<= 100, e.g. (5, 95)")
        out.append((lo, hi))
    return sorted(out, key=lambda b: b[0] - b[1])


def positive(y: np.ndarray, log: bool) -> np.ndarray:
    """The values, non-positive ones NaN on a log axis."""
    y = np.asarray(y, dtype=float)
    return np.where(y > 0, y, np.nan) if log else y


def draw_bands(ax: Axes, t: np.ndarray, y: np.ndarray, bands: list[tuple[float, float]], *,
               log: bool, color: str = BAND_COLOR, median_color: str = MEDIAN_COLOR,
               what: str = "", gid: str = "", median_style: str = "-") -> np.ndarray:
    """Shaded percentile bands of the curves ``y`` (n_curves, n_time) and their median on
    top; returns the median. Artists carry gids ``"<gid>band <lo>-<hi>"`` and
    ``"<gid>median"``."""
    with quiet():
        median = np.nanmedian(y, axis=0) if len(y) else np.full(len(t), np.nan)
    alphas = np.linspace(0.18, 0.38, len(bands)) if len(bands) > 1 else [0.25]
    for (lo, hi), alpha in zip(bands, alphas, strict=True):
        with quiet():
            p = np.nanpercentile(y, [lo, hi], axis=0)
        ax.fill_between(t, positive(p[0], log), positive(p[1], log), color=color,
                        alpha=float(alpha), lw=0, label=f"{what}{lo:g}-{hi:g} %",
                        gid=f"{gid}band {lo:g}-{hi:g}")
    ax.plot(t, positive(median, log), color=median_color, lw=2.0, ls=median_style,
            label=f"{what}median", gid=f"{gid}median", zorder=3)
    return median


def observed_frame(observed: Any) -> pd.DataFrame:
    """The observations as a DataFrame with TIME and DV (and ID, OUTPUT, BLQ, LLOQ where
    given) from a DataFrame, a NONMEM dataset or a FitResult."""
    import pandas as pd

    frame = observed
    if hasattr(observed, "predictions") and hasattr(observed, "etas"):   # FitResult
        frame = observed.predictions
    elif hasattr(observed, "observations") and hasattr(observed, "events"):   # NonmemData
        frame = observed.observations
    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"observed: a DataFrame with TIME and DV, a NONMEM dataset or a fit "
                        f"is needed, got {type(observed).__name__}")
    cols = {str(c).upper(): c for c in frame.columns}
    missing = [c for c in ("TIME", "DV") if c not in cols]
    if missing:
        raise DataError(f"observed: no column {', '.join(missing)} (columns: "
                        f"{', '.join(map(str, frame.columns))})")
    out = pd.DataFrame({k: frame[cols[k]].to_numpy() for k in
                        ("ID", "TIME", "DV", "OUTPUT", "DVID", "BLQ", "LLOQ", "MDV", "EVID")
                        if k in cols})
    keep = np.ones(len(out), bool)
    for flag in ("MDV", "EVID"):
        if flag in out:
            keep &= np.asarray(out[flag].fillna(0).to_numpy(float) == 0)
    out = out[keep & np.isfinite(out["DV"].to_numpy(float))].reset_index(drop=True)
    out["TIME"] = out["TIME"].astype(float)
    out["DV"] = out["DV"].astype(float)
    return out


def observed_for(observed: Any, name: str, first: bool) -> pd.DataFrame | None:
    """The observations of output ``name``: from a mapping by name; from a frame with an
    OUTPUT column, its rows of ``name``; otherwise all of them, on the first panel only."""
    if observed is None:
        return None
    if isinstance(observed, Mapping):
        return observed_frame(observed[name]) if name in observed else None
    frame = observed_frame(observed)
    if "OUTPUT" in frame:
        return frame[frame["OUTPUT"].astype(str) == name]
    return frame if first else None


def subject_colour(k: int) -> Any:
    """The colour of the k-th subject (tab10, cycling): lines and levels of a subject match."""
    import matplotlib as mpl

    return mpl.colormaps["tab10"](k % 10)


def draw_observed(ax: Axes, frame: pd.DataFrame | None, log: bool, *,
                  label_text: str = "observed", subjects: Sequence[Any] | None = None
                  ) -> np.ndarray:
    """Observed levels as black points (gid ``"observed"``), one marker colour per subject
    when there are several (up to 10): the colour of the subject's line when its ID is among
    ``subjects`` (the plotted subjects, in order), else by order of appearance. Censored
    levels (BLQ) are open triangles at the LLOQ (gid ``"BLQ"``). Returns the values drawn."""
    if frame is None or not len(frame):
        return np.empty(0)
    blq = frame["BLQ"].to_numpy(bool) if "BLQ" in frame else np.zeros(len(frame), bool)
    obs = frame[~blq]
    y = positive(obs["DV"].to_numpy(float), log)
    colors: Any = OBSERVED_COLOR
    ids = obs["ID"].to_numpy() if "ID" in obs else None
    if ids is not None and 1 < len(np.unique(ids)) <= 10:
        order = list(subjects) if subjects is not None else []
        if not all(v in order for v in ids):
            order = list(dict.fromkeys(ids))
        colors = [subject_colour(order.index(v)) for v in ids]
        label_text += " (colour: ID)"
    ax.scatter(obs["TIME"].to_numpy(float), y, s=30, c=colors, edgecolors="white",
               linewidths=0.6, zorder=5, label=label_text, gid="observed")
    if blq.any():
        cens = frame[blq]
        at = cens["LLOQ"].to_numpy(float) if "LLOQ" in cens else cens["DV"].to_numpy(float)
        ax.scatter(cens["TIME"].to_numpy(float), positive(at, log), marker="v", s=32,
                   facecolors="none", edgecolors=OBSERVED_COLOR, zorder=5,
                   label="below LLOQ (at LLOQ)", gid="BLQ")
        y = np.r_[y, at]
    return y


def _event_doses(events: Any) -> tuple[np.ndarray, np.ndarray]:
    """Start and end of every dose of an event table (ADDL expanded; infusions by rate)."""
    dose = np.isin(events.evid, (1, 4))
    starts, ends = [], []
    for t, amt, rate, ii, addl in zip(events.time[dose], events.amt[dose], events.rate[dose],
                                      events.ii[dose], events.addl[dose], strict=True):
        dur = float(amt / rate) if rate > 0 else 0.0
        for k in range(int(addl) + 1):
            starts.append(float(t + k * ii))
            ends.append(float(t + k * ii + dur))
    order = np.argsort(starts, kind="stable")
    return np.asarray(starts, float)[order], np.asarray(ends, float)[order]


def dose_times(doses: Any, time_unit: str, attrs: Mapping[str, Any] | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
    """Start and end times (``time_unit``) of the doses given as a regimen (text, Regimen or
    Dose), an EventTable, a NONMEM dataset, a FitResult (its dose history), or a list of
    times (numbers in ``time_unit``, or quantities such as ``"12 h"``). Without ``doses``:
    the ``dose_times`` or ``regimen`` attribute of a result (``attrs``), else none."""
    from ..events import Dose, EventTable, Regimen
    from ..trials._spec import dose_times as regimen_times
    from ..units import convert

    unit = time_unit or "h"
    if doses is None:
        attrs = attrs or {}
        if "dose_times" in attrs:
            doses = np.atleast_1d(np.asarray(attrs["dose_times"], dtype=float))
        elif "regimen" in attrs:
            doses = str(attrs["regimen"])
        else:
            return np.empty(0), np.empty(0)
    if hasattr(doses, "etas") and hasattr(doses, "predictions"):        # FitResult
        doses = getattr(doses, "_history", None) or getattr(doses, "data", None)
        if doses is None:
            return np.empty(0), np.empty(0)
    if hasattr(doses, "observations") and hasattr(doses, "events"):     # NonmemData
        doses = doses.events
    if isinstance(doses, EventTable):
        return _event_doses(doses)
    if isinstance(doses, str):
        doses = Regimen.parse(doses)
    if isinstance(doses, Dose):
        doses = Regimen.single(doses)
    if isinstance(doses, Regimen):
        return regimen_times(doses, unit)
    times = np.array([convert(v, unit, what="dose time") for v in np.atleast_1d(
        np.asarray(doses, dtype=object))], dtype=float)
    times.sort()
    return times, times.copy()


def draw_doses(ax: Axes, starts: np.ndarray, ends: np.ndarray) -> None:
    """Dose markers on the time axis: a triangle pointing up at each dose time (gid
    ``"doses"``) and, for infusions, a bar over their duration (gid ``"infusions"``)."""
    if not len(starts):
        return
    tr = ax.get_xaxis_transform()
    ax.plot(starts, np.full(len(starts), 0.03), ls="", marker="^", ms=7, color=DOSE_COLOR,
            transform=tr, clip_on=False, zorder=6, label="dose", gid="doses")
    spans = ends > starts
    if spans.any():
        ax.hlines(np.full(int(spans.sum()), 0.008), starts[spans], ends[spans], transform=tr,
                  color=DOSE_COLOR, lw=3, alpha=0.6, gid="infusions")


def draw_target(ax: Axes, target: Sequence[float | None] | None, unit: str) -> None:
    """The target window (low, high) shaded (gid ``"target"``); with one bound None, a
    dashed line at the other. Bounds are numbers in ``unit`` or quantities (``"10 mg/L"``)."""
    if target is None:
        return
    if len(target) != 2:
        raise DataError(f"target {target!r}: give (low, high), e.g. (10, 20); None for an "
                        "open side")
    from ..units import convert

    lo, hi = (None if v is None else convert(v, unit, what="target") if unit and not
              isinstance(v, int | float | np.number) else float(v) for v in target)
    text = " ".join(filter(None, ["target", f"{lo:g}" if lo is not None else "",
                                  "-" if lo is not None and hi is not None else "",
                                  f"{hi:g}" if hi is not None else "", unit or ""]))
    if lo is not None and hi is not None:
        if not lo < hi:
            raise DataError(f"target {target!r}: low must be below high")
        ax.axhspan(lo, hi, color=TARGET_COLOR, alpha=0.13, lw=0, zorder=0, label=text,
                   gid="target")
        for v in (lo, hi):
            ax.axhline(v, color=TARGET_COLOR, lw=0.8, alpha=0.7, zorder=0)
    elif lo is not None or hi is not None:
        ax.axhline(lo if lo is not None else hi, color=TARGET_COLOR, lw=1.3, ls="--",
                   label=("≥ " if lo is not None else "≤ ") + text, gid="target")


def finish_axis(ax: Axes, log: bool, arrays: Sequence[np.ndarray]) -> None:
    """Log scale (lower limit at most 4 decades below the highest value shown), grid."""
    if log:
        ax.set_yscale("log")
        v = np.concatenate([np.ravel(a) for a in arrays]) if arrays else np.empty(0)
        v = v[np.isfinite(v) & (v > 0)]
        if len(v):
            top = float(v.max())
            ax.set_ylim(max(float(v.min()), top * 1e-4) / 1.5, top * 1.6)
    else:
        v = np.concatenate([np.ravel(a) for a in arrays]) if arrays else np.empty(0)
        v = v[np.isfinite(v)]
        if len(v) and v.min() >= 0:
            ax.set_ylim(bottom=0.0)
    ax.grid(True, which="major", alpha=0.3)
    ax.margins(x=0.01)


def legend(ax: Axes, fig: Figure | None = None) -> None:
    """The panel's legend, to the right of the axes (never over the data); with ``fig``, a
    figure legend right of everything (e.g. of a colour bar)."""
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        leg = (fig.legend(handles, labels, loc="outside right upper", frameon=False)
               if fig is not None else
               ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.01, 1.0),
                         borderaxespad=0.0, frameon=False))
        for h in leg.legend_handles:        # faint lines (many curves) legible in the key
            if h is not None and h.get_alpha() is not None and h.get_alpha() < 0.5:
                h.set_alpha(0.7)
