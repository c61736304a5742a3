"""Checks shared by the plot tests: the PNG written and the artists of a figure."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.image as mpimg
import numpy as np

DPI = 150


def check_png(path: Path, figsize: tuple[float, float]) -> np.ndarray:
    """The PNG exists, has the figure's size at 150 dpi, and is not blank: its pixels vary
    (a blank or single-colour image has variance 0) and a fair share of them is not white."""
    assert path.exists() and path.stat().st_size > 10_000
    img = mpimg.imread(path)
    h, w = img.shape[:2]
    assert (w, h) == (round(figsize[0] * DPI), round(figsize[1] * DPI))
    rgb = img[..., :3]
    assert float(rgb.var()) > 1e-3
    assert 0.02 < float(np.mean(rgb.min(axis=2) < 0.9)) < 0.9
    return img


def by_gid(ax, gid: str) -> list:
    """Every artist of ``ax`` (lines, collections, patches) with that gid."""
    return [a for a in (*ax.lines, *ax.collections, *ax.patches) if a.get_gid() == gid]


def one(ax, gid: str):
    found = by_gid(ax, gid)
    assert len(found) == 1, f"{len(found)} artists with gid {gid!r}"
    return found[0]


def polygon_matches(collection, x: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                    rtol: float = 1e-12) -> None:
    """Every vertex of the filled band sits at a time of ``x`` on its lower or upper edge,
    and each (finite) edge value appears among the vertices."""
    verts = np.concatenate([p.vertices for p in collection.get_paths()])
    index = {float(v): i for i, v in enumerate(x)}
    seen_lo, seen_hi = np.zeros(len(x), bool), np.zeros(len(x), bool)
    for vx, vy in verts:
        i = index[float(vx)]
        on_lo = np.isclose(vy, lo[i], rtol=rtol, atol=0.0)
        on_hi = np.isclose(vy, hi[i], rtol=rtol, atol=0.0)
        assert on_lo or on_hi, f"vertex ({vx}, {vy}) is on neither edge ({lo[i]}, {hi[i]})"
        seen_lo[i] |= on_lo
        seen_hi[i] |= on_hi
    finite = np.isfinite(lo) & np.isfinite(hi)
    assert seen_lo[finite].all() and seen_hi[finite].all()
