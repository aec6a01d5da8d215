"""One convention for results: DataFrames by default, astropy Tables with units on request."""

from __future__ import annotations

from collections.abc import Callable

import astropy.units as u
import numpy as np
import pandas as pd
import pytest
from astropy.table import Table
from astropy.time import Time

import lasair_nb as ln


@pytest.fixture(scope="module")
def archives(make_seeded_archive: Callable[[], str]) -> tuple[ln.Archive, ln.Archive]:
    url = make_seeded_archive()
    frames, tables = ln.connect(url), ln.connect(url, output="astropy")
    yield frames, tables
    frames.close()
    tables.close()


def test_every_tabular_method_follows_the_archive_output(
    archives: tuple[ln.Archive, ln.Archive],
) -> None:
    frames, tables = archives
    calls: list[Callable[[ln.Archive], object]] = [
        lambda a: a.sql("SELECT objectid, ramean, decmean FROM objects", limit=5),
        lambda a: a.cone("ZTF21abiuvdk"),
        lambda a: a.schema(),
        lambda a: a.coverage(),
        lambda a: a.object("ZTF21abiuvdk").lightcurve(),
        lambda a: a.object("ZTF21abiuvdk").features,
        lambda a: a.object("ZTF21abiuvdk").neighbours(radius=600),
        lambda a: a.watchlists.list(),
        lambda a: a.queries.list("public"),
        lambda a: a.tags.list(),
    ]
    for call in calls:
        frame, table = call(frames), call(tables)
        assert isinstance(frame, pd.DataFrame)
        assert isinstance(table, Table)
        assert len(table) == len(frame)


def test_tables_carry_units_and_times(archives: tuple[ln.Archive, ln.Archive]) -> None:
    frames, tables = archives
    cone = tables.cone("ZTF21abiuvdk")
    assert cone["ramean"].unit == u.deg and cone["separation"].unit == u.arcsec
    assert cone["jdmin"].unit == u.day
    curve = tables.object("ZTF21abiuvdk").lightcurve(kind="flux")
    assert curve["flux"].unit == u.Jy and curve["flux_err"].unit == u.Jy
    assert isinstance(curve["time"], Time)
    # Independent: astropy's own JD → UTC for the first point.
    first = frames.object("ZTF21abiuvdk").lightcurve(kind="flux").iloc[0]
    assert abs((curve["time"][0] - Time(first["jd"], format="jd", scale="utc")).sec) < 1e-3
    features = tables.object("ZTF21abiuvdk").features
    assert list(features["band"]) == ["g", "r", "i"]
    assert features["period"].unit == u.day
    magnitudes = tables.object("ZTF21abiuvdk").lightcurve(kind="mag")
    assert magnitudes["mag"].unit == u.mag


def test_truncation_travels_with_the_result(archives: tuple[ln.Archive, ln.Archive]) -> None:
    frames, tables = archives
    assert frames.sql("SELECT objectid FROM objects", limit=2).attrs["truncated"] is True
    assert tables.sql("SELECT objectid FROM objects", limit=2).meta["truncated"] is True


def test_to_table_converts_one_frame() -> None:
    frame = pd.DataFrame({"ra": [1.5], "dec": [-2.0], "mag": [18.2], "name": ["x"]})
    table = ln.to_table(frame)
    assert table["ra"].unit == u.deg and table["mag"].unit == u.mag
    assert table["name"].unit is None
    assert np.isclose(table["ra"].quantity[0].to_value(u.arcsec), 5400.0)


def test_an_unknown_output_is_refused(archives: tuple[ln.Archive, ln.Archive]) -> None:
    with pytest.raises(ln.ArgumentError, match="pandas, astropy"):
        archives[0].output = "excel"
