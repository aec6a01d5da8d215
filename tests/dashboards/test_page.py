"""The dashboards' parameters and tables: hostile values are refused or escaped."""

from __future__ import annotations

import html
import json
import re
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


# --- the widgets' state in the page's address ---------------------------------------------


def test_view_parameters_are_read_and_written_back() -> None:
    query = "kind=flux&forced=1&fold=true&period=0.5&phase=0.25&candid=1234567890123456789"
    view = page.parameters(optional=dict.fromkeys(page.OBJECT_VIEW), query=query)
    assert view == {
        "objectId": None,
        "kind": "flux",
        "forced": True,
        "fold": True,
        "period": 0.5,
        "phase": 0.25,
        "candid": 1234567890123456789,
    }
    again = page.parameters(optional=dict.fromkeys(page.OBJECT_VIEW), query=page.query_string(view))
    assert again == view
    sky = page.parameters(
        optional=dict.fromkeys(page.SKY_VIEW), query="target=150.1+2.2&fov=3&layers=objects,skymap"
    )
    assert sky == {"target": "150.1 2.2", "fov": 3.0, "layers": ["objects", "skymap"]}
    assert page.query_string(sky) == "target=150.1+2.2&fov=3&layers=objects%2Cskymap"


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("kind=<b>", "kind '<b>' is not one of mag, flux, diffmag, diffflux"),
        ("forced=maybe", "forced 'maybe' is not 1 or 0"),
        ("period=-1", "period '-1' is not a number of days above 0 to 10000"),
        ("period=nan", "period 'nan' is not a number of days above 0"),
        ("phase=2", "phase '2' is not a number from 0 to 1"),
        ("candid=99999999999999999999", "is not a ZTF candid"),
        ("candid=1;DROP", "is not a ZTF candid"),
        ("fov=0", "fov '0' is not a number of degrees above 0 to 360"),
        ("layers=objects,evil", "is not a comma-separated list of objects, coverage"),
        ("layers=", "is not a comma-separated list"),
    ],
)
def test_bad_view_parameters_say_what_is_accepted(query: str, message: str) -> None:
    with pytest.raises(page.PageError) as refused:
        page.parameters(optional=dict.fromkeys(page.OBJECT_VIEW | page.SKY_VIEW), query=query)
    assert message in str(refused.value)


def test_the_pages_choices_are_the_widgets() -> None:
    """The page's kinds and layers are exactly what the widgets accept (no drift)."""
    import lasair_nb as ln  # noqa: PLC0415

    assert tuple(ln.ObjectViewer.class_traits()["kind"].values) == page.LIGHT_CURVE_KINDS
    from lasair_nb.widgets.sky_map import LAYERS  # noqa: PLC0415

    assert page.SKY_LAYERS == LAYERS
    for state, widget in ((page.OBJECT_VIEW, ln.ObjectViewer), (page.SKY_VIEW, ln.SkyMap)):
        assert set(state.values()) <= set(widget.class_trait_names())


def _text_of(widget) -> str:
    """Every HTML value inside a widget tree."""
    found, stack = [], [widget]
    while stack:
        item = stack.pop()
        if type(item).__name__ == "HTML":
            found.append(item.value)
        stack.extend(getattr(item, "children", ()))
    return "\n".join(found)


def _linked_query(links) -> str:
    found = re.search(r'class="lasair-view-link" href="([^"]+)"', links.value)
    assert found, links.value
    address = html.unescape(found.group(1))
    assert address.startswith(page.DASHBOARDS_PATH)
    return address.partition("?")[2]


@pytest.mark.slow  # a seeded archive (20 s to make)
def test_an_object_page_sets_the_viewer_and_its_link_follows_the_view(
    make_seeded_archive,
) -> None:
    import lasair_nb as ln  # noqa: PLC0415

    archive = ln.connect(make_seeded_archive())
    try:
        # an object with stamps of more than one alert: its first one is not the default
        chosen = archive.sql(
            "SELECT objectid, min(candid) AS candid FROM cutouts GROUP BY objectid "
            "HAVING count(*) > 1 ORDER BY count(*) DESC, objectid LIMIT 1"
        ).iloc[0]
        object_id, candid = str(chosen["objectid"]), int(chosen["candid"])
        query = f"objectId={object_id}&kind=flux&forced=1&fold=1&period=0.75&candid={candid}"
        params = page.parameters(("objectId",), dict.fromkeys(page.OBJECT_VIEW), query=query)
        viewer = ln.ObjectViewer(archive, object_id, defer_details=False)
        links = page.bind("object", params, viewer, page.OBJECT_VIEW)
        assert (viewer.kind, viewer.show_forced, viewer.folded) == ("flux", True, True)
        assert (viewer.period, viewer.selected_candid) == (0.75, candid)
        assert viewer.cutouts is not None  # the stamps of that detection are shown
        assert f"candid {candid}" in _text_of(viewer.cutout_view)

        # the visitor changes the view; the link carries the view as it is now
        viewer.kind = "mag"
        viewer.phase = 0.5
        shared = page.parameters(
            ("objectId",), dict.fromkeys(page.OBJECT_VIEW), _linked_query(links)
        )
        assert shared["kind"] == "mag"
        assert (shared["forced"], shared["fold"], shared["phase"]) == (True, True, 0.5)
        # whoever follows the link sees the same view
        theirs = ln.ObjectViewer(archive, object_id, defer_details=False)
        page.bind("object", shared, theirs, page.OBJECT_VIEW)
        for trait in page.OBJECT_VIEW.values():
            assert getattr(theirs, trait) == getattr(viewer, trait), trait
        assert "lasair-open-notebook" in links.value

        # stamps the viewer picks by itself (the latest alert's) are not pinned in the link
        later = ln.ObjectViewer(archive, object_id, defer_details=True)
        plain = page.parameters(
            ("objectId",), dict.fromkeys(page.OBJECT_VIEW), f"objectId={object_id}"
        )
        plain_links = page.bind("object", plain, later, page.OBJECT_VIEW)
        later.finish_loading()
        assert later.selected_candid is not None
        assert _linked_query(plain_links) == f"objectId={object_id}"
        assert f"/services/notebooks/open/object?objectId={object_id}&amp;" in links.value
    finally:
        archive.close()
