"""The simulated ZTF field grid.

The centres of its fields, and the field, readout channel and pixel of a sky position.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from ingest.simulator.constants import FIELD_SIZE_DEG, QUADRANT_PIXELS

# Rows of ZTF's primary field grid: declination of the row centre and number of
# fields in it, as in ZTF's public field list. Field ids run along the rows from
# the south pole, so ids and neighbours look like the real ones.
_GRID_ROWS: tuple[tuple[float, int], ...] = (
    (-89.05, 4),
    (-81.85, 11),
    (-74.65, 17),
    (-67.45, 23),
    (-60.25, 29),
    (-53.05, 34),
    (-45.85, 38),
    (-38.65, 42),
    (-31.45, 46),
    (-24.25, 49),
    (-17.05, 51),
    (-9.85, 51),
    (-2.65, 51),
    (4.55, 52),
    (11.75, 52),
    (18.95, 50),
    (26.15, 48),
    (33.35, 46),
    (40.55, 42),
    (47.75, 37),
    (54.95, 33),
    (62.15, 28),
    (69.35, 21),
    (76.55, 15),
    (83.75, 9),
    (88.0, 4),
)


@cache
def _grid() -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Row centre declinations, field counts and first field id of each row."""
    decs = np.array([row[0] for row in _GRID_ROWS])
    counts = np.array([row[1] for row in _GRID_ROWS])
    first = np.concatenate(([1], 1 + np.cumsum(counts)[:-1]))
    return decs, counts, first


def field_centres() -> pd.DataFrame:
    """The simulated ZTF field grid.

    Returns
    -------
    pandas.DataFrame
        ``field``, ``ra`` and ``dec`` of every field centre [deg].
    """
    decs, counts, first = _grid()
    rows = []
    for dec, count, start in zip(decs.tolist(), counts.tolist(), first.tolist(), strict=True):
        rows.extend((start + j, (j + 0.5) * 360.0 / count, dec) for j in range(count))
    return pd.DataFrame(rows, columns=["field", "ra", "dec"])


def locate(ra: npt.ArrayLike, dec: npt.ArrayLike) -> dict[str, npt.NDArray[Any]]:
    """Field, readout channel and pixel position of sky positions on the simulated grid.

    A position falls in the field of the nearest grid row and its RA cell. The
    field's 16 CCDs × 4 quadrants form an 8 × 8 grid of readout channels
    (``rcid`` = 4 (ccd − 1) + quadrant − 1) of 3072 × 3080 pixels.

    Parameters
    ----------
    ra, dec
        Positions [deg].

    Returns
    -------
    dict
        Arrays ``field``, ``rcid``, ``ccd``, ``quadrant``, ``xpos``, ``ypos``.
    """
    ra = np.asarray(ra, dtype=float) % 360.0
    dec = np.asarray(dec, dtype=float)
    decs, counts, first = _grid()
    row = np.clip(np.searchsorted((decs[1:] + decs[:-1]) / 2, dec), 0, len(decs) - 1)
    width = 360.0 / counts[row]
    column = np.floor(ra / width).astype(np.int64) % counts[row]
    east = ((ra - (column + 0.5) * width + 180.0) % 360.0 - 180.0) * np.cos(np.radians(dec))
    north = dec - decs[row]
    u = np.clip((east / FIELD_SIZE_DEG + 0.5) * 8, 0, 8 - 1e-9)
    v = np.clip((north / FIELD_SIZE_DEG + 0.5) * 8, 0, 8 - 1e-9)
    x, y = np.floor(u).astype(np.int64), np.floor(v).astype(np.int64)
    ccd = (y // 2) * 4 + x // 2 + 1
    quadrant = (y % 2) * 2 + x % 2 + 1
    return {
        "field": first[row] + column,
        "rcid": (ccd - 1) * 4 + quadrant - 1,
        "ccd": ccd,
        "quadrant": quadrant,
        "xpos": (u - x) * QUADRANT_PIXELS[0],
        "ypos": (v - y) * QUADRANT_PIXELS[1],
    }
