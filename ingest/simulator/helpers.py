"""Small helpers: dates, identifiers, sky offsets, class counts, light-curve shapes."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from ingest.simulator.constants import CLASS_FRACTIONS
from lasair_nb.domain.times import jd_to_unix_days

_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def _datetime64(jd: npt.ArrayLike) -> npt.NDArray[np.datetime64]:
    seconds = jd_to_unix_days(jd) * 86400.0
    return np.round(seconds).astype("datetime64[s]")


def _date(jd: float) -> str:
    """UT date of a Julian date as ``YYYYMMDD``."""
    return str(_datetime64(jd).astype("datetime64[D]")).replace("-", "")


def _object_id(year: int, number: int) -> str:
    letters = []
    for _ in range(7):
        number, digit = divmod(number, 26)
        letters.append(_LETTERS[digit])
    return f"ZTF{year % 100:02d}{''.join(reversed(letters))}"


def _ps1_objid(ra: npt.ArrayLike, dec: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """Pan-STARRS1-style object ids: a declination zone, then the RA."""
    zone = np.floor((np.asarray(dec) + 90.0) * 120.0).astype(np.int64)
    return zone * 10**13 + np.floor(np.asarray(ra) * 1e10).astype(np.int64)


def _offset(
    ra: npt.ArrayLike, dec: npt.ArrayLike, east: npt.ArrayLike, north: npt.ArrayLike
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Position moved by (east, north) arcsec."""
    new_dec = np.asarray(dec) + np.asarray(north) / 3600.0
    new_ra = np.asarray(ra) + np.asarray(east) / 3600.0 / np.cos(np.radians(new_dec))
    return new_ra % 360.0, new_dec


def _split_counts(total: int) -> dict[str, int]:
    """Class counts summing to ``total``, rounded from :data:`CLASS_FRACTIONS`."""
    exact = {name: total * share for name, share in CLASS_FRACTIONS.items()}
    counts = {name: int(value) for name, value in exact.items()}
    shortfall = total - sum(counts.values())
    for name in sorted(exact, key=lambda name: counts[name] - exact[name])[:shortfall]:
        counts[name] += 1  # largest remainders first
    return counts


def _bazin(t: Any, t0: Any, rise: Any, fall: Any) -> Any:
    """Bazin et al. (2009) light-curve shape (unnormalised)."""
    return np.exp(-np.clip((t - t0) / fall, -50, 700)) / (
        1.0 + np.exp(np.clip(-(t - t0) / rise, -50, 700))
    )
