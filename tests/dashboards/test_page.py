"""The dashboards' parameters and tables: hostile values are refused or escaped."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from dashboards import page
from dashboards.serve import access_of

DASHBOARDS = Path(__file__).resolve().parents[2] / "dashboards"


def test_good_parameters_are_read_and_converted() -> None:
    assert page.parameters(("objectId",), query="objectId=ZTF21abiuvdk") == {
        "objectId": "ZTF21abiuvdk"
    }
    found = page.parameters(
        optional={"ra": None, "dec": None, "radius": 5.0},
        query="ra=0.8143&dec=-16.5&template=lab&stranger=1",
    )
    assert found == {"ra": 0.8143, "dec": -16.5, "radius": 5.0}  # Voila's own are ignored


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("", "missing objectId: this page takes ?objectId=…"),
        ("objectId=ZTF21abiuvdk'--", "is not a ZTF objectId; one looks like ZTF21abiuvdk"),
        ("objectId=a&objectId=b", "give objectId once, not 2 times"),
        ("objectId=<script>alert(1)</script>", "is not a ZTF objectId"),
    ],
)
def test_bad_object_ids_say_what_is_accepted(query: str, message: str) -> None:
    with pytest.raises(page.PageError, match=None) as refused:
        page.parameters(("objectId",), query=query)
    assert message in str(refused.value)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("ra=400&dec=0", "from 0 to 360"),
        ("ra=nan&dec=0", "is not a number of degrees"),
        ("ra=1&dec=-91", "from -90 to 90"),
        ("ra=1&dec=1&radius=0", "above 0 and up to 3600"),
        ("ra=1&dec=1&radius=1e9", "above 0 and up to 3600"),
        ("name=../../etc/passwd", "is not a name"),
        ("id=1;DROP", "is not a whole number"),
        ("from=yesterday-ish", "is not a date"),
        ("level=2", "is not a probability above 0 and up to 1"),
        ("band=z", "is not one of g, r, i"),
    ],
)
def test_bad_values_are_refused(query: str, message: str) -> None:
    optional = dict.fromkeys(("ra", "dec", "radius", "name", "id", "from", "level", "band"))
    with pytest.raises(page.PageError) as refused:
        page.parameters(optional=optional, query=query)
    assert message in str(refused.value)


def test_tables_escape_every_value_and_link_object_ids() -> None:
    frame = pd.DataFrame(
        {
            "objectid": ["ZTF21abiuvdk"],
            "comment": ['<img src=x onerror="alert(1)">'],
            "mag": [float("nan")],
        }
    )
    shown = page.table(frame, ["objectid", "comment", "mag"]).value
    assert "<img" not in shown and "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in shown
    assert 'href="/services/dashboards/object?objectId=ZTF21abiuvdk"' in shown
    assert "nan" not in shown.lower()
    assert page.link("cone", target="SN 2021zby", radius=None) == (
        "/services/dashboards/cone?target=SN+2021zby"
    )


def test_the_dashboards_say_who_may_see_them(tmp_path: Path) -> None:
    shipped = {path.stem: access_of(path) for path in DASHBOARDS.glob("*.ipynb")}
    assert set(shipped) == {"home", "object", "cone", "skymap", "watchlist", "status", "coverage"}
    assert set(shipped.values()) == {"public"}
    odd = tmp_path / "odd.ipynb"
    for metadata, expected in (
        ({}, "users"),  # no word: logged-in users only
        ({"lasair": {"access": "group:team"}}, "group:team"),
        ({"lasair": {"access": "everyone; DROP"}}, "users"),
    ):
        odd.write_text(json.dumps({"metadata": metadata, "cells": []}))
        assert access_of(odd) == expected
