"""Results as pandas or astropy: one convention for every tabular answer of the client.

Every method of the client that returns a table returns a pandas ``DataFrame``
by default. ``ln.connect(output="astropy")`` (or ``archive.output = "astropy"``)
makes every one of them an astropy ``Table`` instead, with units on the columns
whose unit is known (degrees, arcsec, days, magnitudes, Jy, …) and the
DataFrame's ``attrs`` as the Table's ``meta``. :func:`to_table` converts one
DataFrame the same way.
"""

from __future__ import annotations

import re
from typing import Any, Literal

import astropy.units as u
import pandas as pd
from astropy.table import Table

from lasair_nb.errors import ArgumentError

Output = Literal["pandas", "astropy"]
OUTPUTS = ("pandas", "astropy")

_UNITS: list[tuple[str, u.UnitBase]] = [
    (r"(.*_)?(ra|dec|ramean|decmean|source_ra|source_dec|glat\w*|glon\w*)", u.deg),
    (r"(.*_)?(separation|radius_arcsec|dist\w*arcsec|distnr|distpsnr\d|host_offset)", u.arcsec),
    (r"area\w*_deg2", u.deg**2),
    (r"(jd|mjd|jd\w*|\w*_jd|jdmin|jdmax)", u.day),
    (r"(period|period_[gri])", u.day),
    (
        r"(mag|mag_err\w*|magpsf|sigmapsf|magnr|sigmagnr|diffmaglim|dc_mag|dc_sigmag"
        r"|mag\w*_[gri]|\w*mag)",
        u.mag,
    ),
    (r"(dmdt|dmdt_[gri])", u.mag / u.day),
    (r"(flux|flux_err)", u.Jy),
    (r"probdensity", u.sr**-1),
    (r"(distmu|distsigma)", u.Mpc),
]


def unit_of(column: str) -> u.UnitBase | None:
    """The unit of a column named ``column``, if the client knows it."""
    for pattern, unit in _UNITS:
        if re.fullmatch(pattern, column):
            return unit
    return None


def to_table(frame: pd.DataFrame) -> Table:
    """A DataFrame as an astropy Table with units; ``frame.attrs`` becomes ``meta``.

    Column names are made unique as astropy needs (a join's second ``ra`` becomes
    ``ra_2``) and turned into strings.
    """
    if not isinstance(frame, pd.DataFrame):
        raise ArgumentError(f"to_table takes a pandas DataFrame, not {type(frame).__name__}")
    attrs = dict(frame.attrs)
    frame = frame.set_axis(_unique_names(frame.columns), axis="columns")
    keep_index = any(name is not None for name in frame.index.names)
    frame = frame.reset_index(drop=not keep_index)  # a named index (band) becomes a column
    for column in frame.columns:  # astropy takes naive datetimes (as UTC), not tz-aware ones
        if isinstance(frame[column].dtype, pd.DatetimeTZDtype):
            frame[column] = frame[column].dt.tz_convert("UTC").dt.tz_localize(None)
    table = Table.from_pandas(frame)
    for name in table.colnames:
        unit = unit_of(name)
        if unit is not None and table[name].dtype.kind in "fi":
            table[name].unit = unit
    table.meta.update(attrs)
    return table


def _unique_names(columns: pd.Index) -> list[str]:
    seen: dict[str, int] = {}
    names = []
    for column in map(str, columns):
        seen[column] = seen.get(column, 0) + 1
        names.append(column if seen[column] == 1 else f"{column}_{seen[column]}")
    return names


def deliver(frame: pd.DataFrame, output: Output) -> Any:
    """``frame`` in the archive's chosen output: as it is, or as an astropy Table."""
    return to_table(frame) if output == "astropy" else frame
