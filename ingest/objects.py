"""Object summaries: one ``objects`` row per objectId, from all its detections.

The writer calls :func:`summarise_objects` with every detection of the objects a
batch touched (read back inside the batch's transaction), so a summary always
reflects the whole light curve, whatever order alerts arrive in.

Definitions (per band b in g, r, i):

* ``ra``, ``dec``: mean position of all detections (averaged as unit vectors, so
  it is right across RA = 0).
* ``ncand_b``, ``latest_mag_b``/``latest_dcmag_b`` (the most recent detection),
  ``min_mag_b``, ``max_mag_b``, ``mean_mag_b`` of ``magpsf``, over the detections
  that have one: ZTF's sentinels (−999 and the like,
  :func:`lasair_nb.domain.photometry.valid_magnitude`) are missing values, so
  ``latest_mag_b`` is that of the latest detection with a magnitude. Here and below a DC
  magnitude counts only where the reference source is the object itself
  (:func:`lasair_nb.domain.photometry.is_coincident`); elsewhere it is NULL.
* ``dmdt_b``: rate of change [mag/day] from the latest earlier detection of the band
  at least :data:`DMDT_MIN_INTERVAL` days (another night) before the latest one, on
  DC magnitudes when both have one, else on ``magpsf``; NULL without such a pair.
  Two detections an hour apart would turn photometric noise into tens of mag/day.
  Positive = brightening, as in Lasair-ZTF (magnitude falls as flux rises), so a filter
  copied from Lasair (``dmdt_g > 0``) selects the same objects.
* features ``{name}_b`` (:mod:`lasair_nb.domain.features`) on the DC magnitudes when every
  detection of the band has one (a variable source on a reference star), else on
  ``magpsf`` of the positive differences (a transient).
* ``context`` and the PS1/Gaia fields from the most recent *alert* candidate
  (history entries lack them); the rule is in :mod:`lasair_nb.domain.context`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import groupby
from operator import itemgetter
from typing import Any

import numpy as np
from astropy import units as u
from healpix_alchemy.constants import HPX

from lasair_nb.domain.context import context_class
from lasair_nb.domain.features import FEATURES, band_features
from lasair_nb.domain.photometry import (
    BANDS,
    is_coincident,
    is_positive,
    valid_error,
    valid_magnitude,
)

DETECTION_COLUMNS: tuple[str, ...] = (
    "objectid",
    "candid",
    "jd",
    "fid",
    "ra",
    "dec",
    "magpsf",
    "sigmapsf",
    "isdiffpos",
    "dc_mag",
    "dc_sigmag",
    "distnr",
    "in_alert",
    "sgscore1",
    "distpsnr1",
    "sgscore2",
    "distpsnr2",
    "sgscore3",
    "distpsnr3",
    "neargaia",
    "maggaia",
    "ssnamenr",
)
"""Candidate columns the summary needs, in the order the writer selects them."""

NUMERIC_COLUMNS = (
    "candid",
    "jd",
    "fid",
    "ra",
    "dec",
    "magpsf",
    "sigmapsf",
    "dc_mag",
    "dc_sigmag",
    "distnr",
)

CONTEXT_FIELDS = ("sgscore1", "distpsnr1", "neargaia", "maggaia", "ssnamenr")
DMDT_MIN_INTERVAL = 0.5
"""Shortest time between the two detections of a rate of change [days]."""


def _none_if_nan(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _mean_position(ra: np.ndarray, dec: np.ndarray) -> tuple[float, float]:
    ra_rad, dec_rad = np.radians(ra), np.radians(dec)
    x = np.mean(np.cos(dec_rad) * np.cos(ra_rad))
    y = np.mean(np.cos(dec_rad) * np.sin(ra_rad))
    z = np.mean(np.sin(dec_rad))
    mean_ra = math.degrees(math.atan2(y, x)) % 360.0
    mean_dec = math.degrees(math.atan2(z, math.hypot(x, y)))
    return mean_ra, mean_dec


def _band_summary(band: str, columns: dict[str, np.ndarray]) -> dict[str, Any]:
    """Summary of one band; ``columns`` holds that band's detections sorted by time."""
    times = columns["jd"]
    # ZTF's sentinels (-999 ...) are missing magnitudes, not measurements.
    mag = valid_magnitude(columns["magpsf"])
    sigma = valid_error(columns["sigmapsf"])
    # DC magnitudes describe the object only when the reference source is the object.
    dc = np.where(is_coincident(columns["distnr"]), valid_magnitude(columns["dc_mag"]), np.nan)
    measured = np.flatnonzero(np.isfinite(mag))
    summary: dict[str, Any] = {
        f"ncand_{band}": len(times),
        f"latest_mag_{band}": mag[measured[-1]] if len(measured) else float("nan"),
        f"latest_dcmag_{band}": dc[-1],
        f"min_mag_{band}": np.min(mag[measured]) if len(measured) else float("nan"),
        f"max_mag_{band}": np.max(mag[measured]) if len(measured) else float("nan"),
        f"mean_mag_{band}": np.mean(mag[measured]) if len(measured) else float("nan"),
        f"dmdt_{band}": float("nan"),
    }
    if len(measured):
        last = measured[-1]
        earlier = measured[times[measured] <= times[last] - DMDT_MIN_INTERVAL]
        if len(earlier):
            previous = earlier[-1]
            use_dc = np.isfinite(dc[last]) and np.isfinite(dc[previous])
            values = dc if use_dc else mag
            summary[f"dmdt_{band}"] = (values[previous] - values[last]) / (
                times[last] - times[previous]
            )

    if np.all(np.isfinite(dc)):
        features = band_features(times, dc, valid_error(columns["dc_sigmag"]))  # a variable
    else:
        positive = is_positive(columns["isdiffpos"])
        features = band_features(times[positive], mag[positive], sigma[positive])
    summary.update({f"{name}_{band}": value for name, value in features.items()})
    return summary


def _empty_band(band: str) -> dict[str, Any]:
    names = ["latest_mag", "latest_dcmag", "min_mag", "max_mag", "mean_mag", "dmdt", *FEATURES]
    summary: dict[str, Any] = {f"{name}_{band}": None for name in names}
    summary[f"ncand_{band}"] = 0
    return summary


def summarise_object(objectid: str, detections: Sequence[Sequence[Any]]) -> dict[str, Any]:
    """The ``objects`` row of one object from all of its detections.

    Parameters
    ----------
    objectid
        The ZTF objectId.
    detections
        Its detections as tuples in :data:`DETECTION_COLUMNS` order, sorted by
        ``jd`` then ``candid``.

    Returns
    -------
    dict
        Column name → value for the ``objects`` table (NaN turned into None).
    """
    by_name = dict(zip(DETECTION_COLUMNS, zip(*detections, strict=True), strict=True))
    columns: dict[str, np.ndarray] = {
        name: np.array(by_name[name], dtype=float) for name in NUMERIC_COLUMNS
    }
    columns["isdiffpos"] = np.array(by_name["isdiffpos"], dtype=object)
    ra, dec = _mean_position(columns["ra"], columns["dec"])
    alerts = [row for row in detections if row[DETECTION_COLUMNS.index("in_alert")]]
    latest = dict(zip(DETECTION_COLUMNS, (alerts or detections)[-1], strict=True))
    row: dict[str, Any] = {
        "objectid": objectid,
        "ra": ra,
        "dec": dec,
        "ncand": len(detections),
        "nalerts": len(alerts),
        "jdmin": columns["jd"][0],
        "jdmax": columns["jd"][-1],
        "latest_candid": latest["candid"],
        "context": context_class(latest),
    }
    row.update({name: latest[name] for name in CONTEXT_FIELDS})
    for fid, band in BANDS.items():
        in_band = columns["fid"] == fid
        if np.any(in_band):
            row.update(_band_summary(band, {name: v[in_band] for name, v in columns.items()}))
        else:
            row.update(_empty_band(band))
    return {key: _none_if_nan(value) for key, value in row.items()}


def summarise_objects(detections: Sequence[Sequence[Any]]) -> list[dict[str, Any]]:
    """``objects`` rows, with their HEALPix index, for every object in ``detections``.

    Parameters
    ----------
    detections
        Detections of one or more objects as tuples in :data:`DETECTION_COLUMNS`
        order, in any order.

    Returns
    -------
    list of dict
        One row per object, ordered by objectId.
    """
    key = itemgetter(
        DETECTION_COLUMNS.index("objectid"),
        DETECTION_COLUMNS.index("jd"),
        DETECTION_COLUMNS.index("candid"),
    )
    ordered = sorted(detections, key=key)
    rows = [
        summarise_object(objectid, list(group))
        for objectid, group in groupby(ordered, key=itemgetter(0))
    ]
    if rows:
        ra = np.array([row["ra"] for row in rows])
        dec = np.array([row["dec"] for row in rows])
        for row, pixel in zip(
            rows, HPX.lonlat_to_healpix(ra * u.deg, dec * u.deg).tolist(), strict=True
        ):
            row["hpx"] = pixel
    return rows
