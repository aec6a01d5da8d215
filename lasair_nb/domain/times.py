"""Times as astronomers give them, converted with astropy ``Time``."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from astropy.time import Time
from erfa import ErfaWarning

from lasair_nb.errors import ArgumentError

_NUMBER = (int, float, np.integer, np.floating)


def to_jd(value: Any, name: str) -> float | None:
    """A time as a Julian date (UTC): astropy ``Time``, a JD number, an ISO string or a datetime.

    Parameters
    ----------
    value
        The time, or None.
    name
        The argument's name, for the error message.

    Raises
    ------
    ArgumentError
        If ``value`` is not a time (the message lists what is accepted).
    """
    if value is None:
        return None
    if isinstance(value, Time):
        if not value.isscalar:
            raise ArgumentError(f"{name} is one time, not {value.size}")
        return float(value.utc.jd)
    if isinstance(value, bool):
        raise ArgumentError(f"{name}={value!r} is not a time; give a JD, ISO date or Time")
    if isinstance(value, _NUMBER):
        if not 2_400_000 < float(value) < 2_600_000:
            raise ArgumentError(
                f"{name}={value!r} is not a Julian date; give a JD, ISO date or Time"
            )
        return float(value)
    try:
        with warnings.catch_warnings():
            # Dates past the leap-second table are fine for selecting detections.
            warnings.simplefilter("ignore", ErfaWarning)
            return float(Time(value, scale="utc").jd)
    except (ValueError, TypeError, KeyError, OverflowError) as error:
        raise ArgumentError(
            f"{name}={value!r} is not a time; accepted: astropy Time, Julian date, "
            "ISO string ('2021-09-01'), datetime"
        ) from error


def jd_to_datetime(jd: npt.ArrayLike) -> pd.DatetimeIndex:
    """Julian dates (UTC) as UTC datetimes, leap seconds handled by astropy."""
    values = np.asarray(jd, dtype=float)
    if values.size == 0:
        return pd.DatetimeIndex([], tz="UTC")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ErfaWarning)
        # A leap second (23:59:60) has no datetime: it shows as the next second's start.
        times = Time(values, format="jd", scale="utc").to_datetime(leap_second_strict="silent")
    return pd.DatetimeIndex(pd.to_datetime(np.atleast_1d(times), utc=True))


JD_UNIX_EPOCH = 2_440_587.5
"""Julian date of 1970-01-01T00:00 UTC."""


def jd_to_unix_days(jd: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Days since 1970-01-01 of Julian dates: exact for calendar dates.

    For the date of a night or the name of a topic, where a leap second cannot
    move a date; times of day to show a user go through :func:`jd_to_datetime`.
    """
    return np.asarray(jd, dtype=float) - JD_UNIX_EPOCH


def jd_to_mjd(jd: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Modified Julian dates from Julian dates."""
    return np.asarray(jd, dtype=float) - 2_400_000.5
