"""HEALPix covers of sky regions, as the order-29 index ranges the archive's ``hpx`` columns use.

One library for every cone (searches, watchlist sources, TNS matches, watchmaps):
mocpy's ``MOC.from_cone`` / ``MOC.from_cones``, which cover a cone completely, at a
depth chosen by :func:`cone_depth`: cells a quarter of the radius across for one
search cone (a tight cover), as wide as the radius for the many cones of a
watchlist (a few ranges each, small joins).
"""

from __future__ import annotations

import math

import astropy.units as u
import numpy as np
import numpy.typing as npt
import pandas as pd
from astropy.coordinates import SkyCoord
from mocpy import MOC

MAX_DEPTH = 29
"""healpix-alchemy stores positions as nested indices at order 29."""

_ORDER0_CELL_ARCSEC = math.degrees(math.sqrt(4 * math.pi / 12)) * 3600
"""Width of an order-0 HEALPix cell (~58.6°), in arcsec; each order halves it."""


def cone_depth(radius: u.Quantity, cells_across: float = 4.0, max_depth: int = MAX_DEPTH) -> int:
    """The HEALPix depth whose cells are about ``radius / cells_across`` wide (2 to max_depth)."""
    radius_arcsec = max(float(radius.to_value(u.arcsec)), 1e-3)
    depth = math.ceil(math.log2(cells_across * _ORDER0_CELL_ARCSEC / radius_arcsec))
    return int(np.clip(depth, 2, max_depth))


def cone_moc(centre: SkyCoord, radius: u.Quantity, max_depth: int = MAX_DEPTH) -> MOC:
    """The MOC covering a cone (a little larger than it, never smaller)."""
    return MOC.from_cone(
        centre.ra, centre.dec, radius=radius, max_depth=cone_depth(radius, max_depth=max_depth)
    )


def moc_ranges(moc: MOC) -> npt.NDArray[np.uint64]:
    """A MOC as ``(n, 2)`` half-open order-29 index ranges ``[low, high)``."""
    return np.asarray(moc.to_depth29_ranges, dtype=np.uint64).reshape(-1, 2)


def cone_ranges(centre: SkyCoord, radius: u.Quantity) -> tuple[list[int], list[int]]:
    """Order-29 index ranges covering one cone: lows and highs."""
    ranges = moc_ranges(cone_moc(centre, radius))
    return ranges[:, 0].tolist(), ranges[:, 1].tolist()


def cones_ranges(
    ra: npt.ArrayLike, dec: npt.ArrayLike, radius_arcsec: npt.ArrayLike
) -> pd.DataFrame:
    """Order-29 index ranges covering many cones (watchlist sources, TNS objects).

    Cells about as wide as each radius keep a source to a handful of ranges,
    which keeps crossmatch joins of 10⁵ sources small.

    Returns
    -------
    pandas.DataFrame
        ``index`` (of the cone in the inputs), ``lo``, ``hi``: one row per range.
    """
    ra = np.atleast_1d(np.asarray(ra, dtype=float))
    dec = np.atleast_1d(np.asarray(dec, dtype=float))
    radius_arcsec = np.broadcast_to(np.asarray(radius_arcsec, dtype=float), ra.shape)
    depths = np.array([cone_depth(r * u.arcsec, cells_across=1) for r in radius_arcsec], int)
    indices, lows, highs = [], [], []
    for depth in np.unique(depths):
        chosen = np.flatnonzero(depths == depth)
        mocs = MOC.from_cones(
            ra[chosen] * u.deg,
            dec[chosen] * u.deg,
            radius=radius_arcsec[chosen] * u.arcsec,
            max_depth=int(depth),
        )
        for index, moc in zip(chosen, mocs, strict=True):
            ranges = moc_ranges(moc)
            indices.append(np.full(len(ranges), index, dtype=np.int64))
            lows.append(ranges[:, 0])
            highs.append(ranges[:, 1])
    if not indices:
        return pd.DataFrame({"index": [], "lo": [], "hi": []}, dtype=np.int64)
    return pd.DataFrame(
        {
            "index": np.concatenate(indices),
            "lo": np.concatenate(lows).astype(np.int64),
            "hi": np.concatenate(highs).astype(np.int64),
        }
    )


def area_deg2(moc: MOC) -> float:
    """Area of a MOC in square degrees."""
    return float(moc.sky_fraction * 4 * math.pi * math.degrees(1) ** 2)
