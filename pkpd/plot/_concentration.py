"""Concentration-time plots of simulated results."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import xarray as xr
    from matplotlib.figure import Figure

__all__ = ["concentration_time"]


def concentration_time(ds: xr.Dataset, *, variables: list[str] | None = None,
                       title: str | None = None, log: bool = False,
                       path: str | Path | None = None) -> Figure:
    """Plot outputs against time, one panel per output and one line per subject.

    Parameters
    ----------
    ds : xarray.Dataset
        A result of :func:`pkpd.simulate` with dims ``(id, time)``.
    variables : list of str, optional
        Outputs to plot (default: every data variable).
    title : str, optional
        Figure title.
    log : bool
        Logarithmic concentration axis.
    path : str or Path, optional
        Save the figure there (PNG at 150 dpi) and close it.
    """
    import matplotlib

    if path is not None:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = variables or list(ds.data_vars)
    fig, axes = plt.subplots(len(names), 1, figsize=(8, 3.2 * len(names)), squeeze=False,
                             sharex=True)
    t_unit = ds["time"].attrs.get("units", "")
    for ax, name in zip(axes[:, 0], names, strict=True):
        da = ds[name]
        for i in range(da.sizes.get("id", 1)):
            y = da.isel(id=i) if "id" in da.dims else da
            ax.plot(ds["time"], y, lw=1.2, alpha=0.8 if da.sizes.get("id", 1) > 1 else 1.0)
        ax.set_ylabel(f"{name} ({da.attrs.get('units', '')})")
        if log:
            ax.set_yscale("log")
        ax.grid(True, alpha=0.3)
    axes[-1, 0].set_xlabel(f"time ({t_unit})")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=150)
        plt.close(fig)
    return fig
