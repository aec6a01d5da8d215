"""Object summaries: one ``objects`` row per objectId, from all its detections.

The writer calls :func:`summarise_objects` with every detection of the objects a
batch touched (read back inside the batch's transaction), so a summary always
reflects the whole light curve, whatever order alerts arrive in.

Definitions follow Lasair-ZTF's ``objects`` table (its ``create_features``), with the
same names and meanings; where a reading of the name could mislead, the difference is
said here. Per band b in g, r, i (Lasair-ZTF counts ZTF's rare i-band points as r;
Lasair-NB keeps i apart, with its own columns):

* ``ramean``, ``decmean``: mean position of all detections, averaged as unit vectors (so
  it is right across RA = 0, where Lasair's arithmetic mean of RA is not; elsewhere the
  two agree to far below a milliarcsecond). ``rastd``, ``decstd``: population standard
  deviation of the detections' RA and Dec [arcsec], as Lasair: ``rastd`` is in arcsec
  *of RA* (multiply by cos(decmean) for the distance on the sky); RA differences are
  taken across RA = 0 the short way.
* ``glonmean``, ``glatmean``: galactic longitude and latitude of the mean position.
* ``jdmin``, ``jdmax``: first and latest detection (any band); ``jdbmax``: latest in b.
* ``bmag`` (``gmag``, ``rmag``, ``imag``): ``magpsf`` of the latest detection with a
  magnitude; ``magbmin``/``magbmax``/``magbmean``: brightest, faintest and mean
  ``magpsf``. These are *difference* magnitudes (negative differences included, as in
  Lasair): for a variable star on a reference source they are not its brightness.
  ZTF's sentinels (−999 and the like, :func:`lasair_nb.domain.photometry.valid_magnitude`)
  are missing values.
* ``dmdt_b`` [mag/day]: ``(m[-2] - m[-1]) / (t[-1] - t[-2])`` over the band's last two
  detections, NULL unless both are positive differences: positive = brightening
  (magnitude falls as flux rises). Two detections of one night count, as in Lasair, so
  the rate can be photometric noise over half an hour. ``dmdt_b_2`` is the same for the
  two detections before the latest (``m[-3]`` to ``m[-2]``), also positive = brightening
  as Lasair documents it (one published version of Lasair-ZTF's code subtracts the other
  way round for ``dmdt_b_2`` only).
* ``mag_b02``, ``mag_b08``, ``mag_b28``: exponential moving averages of ``magpsf`` with
  time constants of 2, 8 and 28 days (Lasair's EMA note): starting from the first
  magnitude, each detection ``k`` makes ``e = e f + m_k (1 - f)`` with
  ``f = exp(-(t_k - t_{k-1}) / tau)``.
* ``ncandgp``: detections that are positive differences with a real-bogus score
  ``rb`` or ``drb`` above 0.75 ("good and positive"); ``ncandgp_7``, ``ncandgp_14``: those
  less than 7 and 14 days before ``jdmax``.
* ``g_minus_r``, ``jd_g_minus_r``: on the latest night (ZTF ``nid``) with positive
  detections in both g and r, the night's last g ``magpsf`` minus its last r ``magpsf``
  (difference magnitudes, so a colour of the change) and the time of that g detection.
* ``sgmag1``, ``srmag1``, ``sgscore1``, ``distpsnr1``, ``neargaia``, ``maggaia``,
  ``ssnamenr`` and ``context`` from the most recent *alert* candidate (history entries
  lack them); the context rule is in :mod:`lasair_nb.domain.context`.

Lasair-NB's own additions, under their own names: ``ncand_b``, ``latest_dcmag_b`` (DC
magnitude of the latest detection, only where the reference source is the object,
:func:`lasair_nb.domain.photometry.is_coincident`), ``nalerts``, ``latest_candid`` and the
light-curve features ``{name}_b`` (:mod:`lasair_nb.domain.features`) on the DC magnitudes
when every detection of the band has one (a variable source on a reference star), else
on ``magpsf`` of the positive differences (a transient).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import groupby
from operator import itemgetter
from typing import Any

import numpy as np
from astropy import units as u
from astropy.coordinates import SkyCoord
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
    "sgmag1",
    "srmag1",
    "rb",
    "drb",
    "nid",
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
    "rb",
    "drb",
    "nid",
)

CONTEXT_FIELDS = ("sgscore1", "distpsnr1", "neargaia", "maggaia", "ssnamenr", "sgmag1", "srmag1")
EMA_DAYS = {"02": 2.0, "08": 8.0, "28": 28.0}
"""Suffix of ``mag_b02``... → time constant of the moving average [days]."""
GOOD_SCORE = 0.75
"""Real-bogus score (``rb`` or ``drb``) above which Lasair counts a detection as good."""


def _none_if_nan(value: Any) -> Any:
    """A value for the ``objects`` row: Python's own type, and NaN as None (NULL)."""
    if type(value) is float:  # the usual case, first
        return None if math.isnan(value) else value
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


def _rate(mag: np.ndarray, times: np.ndarray, positive: np.ndarray, a: int, b: int) -> float:
    """Lasair's rate from detection ``a`` to the later ``b``: NaN unless both are positive."""
    if a < 0 or not (positive[a] and positive[b]) or times[b] <= times[a]:
        return float("nan")
    return float((mag[a] - mag[b]) / (times[b] - times[a]))


def moving_averages(times: np.ndarray, mag: np.ndarray) -> dict[str, float]:
    """Lasair's exponential moving averages of ``mag`` (time-ordered) by :data:`EMA_DAYS`."""
    averages = {}
    for suffix, tau in EMA_DAYS.items():
        value = float("nan")
        for k in range(len(mag)):
            if k == 0:
                value = float(mag[0])
            else:
                weight = math.exp(-(times[k] - times[k - 1]) / tau)
                value = value * weight + float(mag[k]) * (1.0 - weight)
        averages[suffix] = value
    return averages


def _band_summary(band: str, columns: dict[str, np.ndarray]) -> dict[str, Any]:
    """Summary of one band; ``columns`` holds that band's detections sorted by time."""
    times = columns["jd"]
    # ZTF's sentinels (-999 ...) are missing magnitudes, not measurements.
    mag = columns["mag"]
    sigma = valid_error(columns["sigmapsf"])
    positive = columns["positive"]
    # DC magnitudes describe the object only when the reference source is the object.
    dc = np.where(is_coincident(columns["distnr"]), valid_magnitude(columns["dc_mag"]), np.nan)
    measured = np.flatnonzero(np.isfinite(mag))
    nan = float("nan")
    summary: dict[str, Any] = {
        f"ncand_{band}": len(times),
        f"jd{band}max": times[-1],
        f"{band}mag": mag[measured[-1]] if len(measured) else nan,
        f"latest_dcmag_{band}": dc[-1],
        f"mag{band}min": np.min(mag[measured]) if len(measured) else nan,
        f"mag{band}max": np.max(mag[measured]) if len(measured) else nan,
        f"mag{band}mean": np.mean(mag[measured]) if len(measured) else nan,
    }
    m, t, p = mag[measured], times[measured], positive[measured]
    last = len(m) - 1
    summary[f"dmdt_{band}"] = _rate(m, t, p, last - 1, last) if last >= 1 else nan
    summary[f"dmdt_{band}_2"] = _rate(m, t, p, last - 2, last - 1) if last >= 2 else nan
    averages = moving_averages(t, m)
    summary.update({f"mag_{band}{suffix}": value for suffix, value in averages.items()})

    if np.all(np.isfinite(dc)):
        features = band_features(times, dc, valid_error(columns["dc_sigmag"]))  # a variable
    else:
        features = band_features(times[positive], mag[positive], sigma[positive])
    summary.update({f"{name}_{band}": value for name, value in features.items()})
    return summary


BAND_COLUMNS = (
    "jd{b}max", "{b}mag", "latest_dcmag_{b}", "mag{b}min", "mag{b}max", "mag{b}mean",
    "dmdt_{b}", "dmdt_{b}_2", "mag_{b}02", "mag_{b}08", "mag_{b}28",
)  # fmt: skip
"""Per-band columns besides ``ncand_b`` and the features (``{b}`` is the band)."""


def _empty_band(band: str) -> dict[str, Any]:
    names = [name.format(b=band) for name in BAND_COLUMNS]
    summary: dict[str, Any] = dict.fromkeys(names)
    summary.update({f"{name}_{band}": None for name in FEATURES})
    summary[f"ncand_{band}"] = 0
    return summary


def _good_positive_counts(columns: dict[str, np.ndarray], jdmax: float) -> dict[str, int]:
    """Lasair's ``ncandgp``, ``ncandgp_7``, ``ncandgp_14``."""
    good = (np.nan_to_num(columns["rb"]) > GOOD_SCORE) | (
        np.nan_to_num(columns["drb"]) > GOOD_SCORE
    )
    chosen = good & columns["positive"]
    age = jdmax - columns["jd"][chosen]
    return {
        "ncandgp": int(np.count_nonzero(chosen)),
        "ncandgp_7": int(np.count_nonzero(age < 7.0)),
        "ncandgp_14": int(np.count_nonzero(age < 14.0)),
    }


def _colour(columns: dict[str, np.ndarray]) -> tuple[float, float]:
    """Lasair's ``g_minus_r`` and ``jd_g_minus_r`` (see the module docstring)."""
    mag = columns["mag"]
    usable = columns["positive"] & np.isfinite(mag) & np.isfinite(columns["nid"])
    latest: dict[int, dict[float, tuple[float, float]]] = {1: {}, 2: {}}
    for k in np.flatnonzero(usable):  # time order: later detections of a night win
        fid = int(columns["fid"][k])
        if fid in latest:
            latest[fid][float(columns["nid"][k])] = (float(mag[k]), float(columns["jd"][k]))
    nights = sorted(set(latest[1]) & set(latest[2]))
    if not nights:
        return float("nan"), float("nan")
    (g, jd_g), (r, _) = latest[1][nights[-1]], latest[2][nights[-1]]
    return g - r, jd_g


def _spread_arcsec(values: np.ndarray, mean: float, wrap: bool) -> float:
    offsets = values - mean
    if wrap:
        offsets = (offsets + 180.0) % 360.0 - 180.0
    return float(3600.0 * np.sqrt(np.mean(offsets**2)))


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
    # Computed once here, then split by band with the rest.
    columns["positive"] = is_positive(columns["isdiffpos"])
    columns["mag"] = valid_magnitude(columns["magpsf"])
    ra, dec = _mean_position(columns["ra"], columns["dec"])
    alerts = [row for row in detections if row[DETECTION_COLUMNS.index("in_alert")]]
    latest = dict(zip(DETECTION_COLUMNS, (alerts or detections)[-1], strict=True))
    g_minus_r, jd_g_minus_r = _colour(columns)
    row: dict[str, Any] = {
        "objectid": objectid,
        "ramean": ra,
        "decmean": dec,
        "rastd": _spread_arcsec(columns["ra"], ra, wrap=True),
        "decstd": _spread_arcsec(columns["dec"], dec, wrap=False),
        "ncand": len(detections),
        "nalerts": len(alerts),
        "jdmin": columns["jd"][0],
        "jdmax": columns["jd"][-1],
        "latest_candid": latest["candid"],
        "context": context_class(latest),
        "g_minus_r": g_minus_r,
        "jd_g_minus_r": jd_g_minus_r,
        **_good_positive_counts(columns, columns["jd"][-1]),
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
        ra = np.array([row["ramean"] for row in rows]) * u.deg
        dec = np.array([row["decmean"] for row in rows]) * u.deg
        galactic = SkyCoord(ra, dec, frame="icrs").galactic
        for row, pixel, lon, lat in zip(
            rows,
            HPX.lonlat_to_healpix(ra, dec).tolist(),
            galactic.l.deg.tolist(),
            galactic.b.deg.tolist(),
            strict=True,
        ):
            row.update(hpx=pixel, glonmean=lon, glatmean=lat)
    return rows
