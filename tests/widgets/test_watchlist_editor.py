"""WatchlistEditor by its traits, against a real seeded archive (and once in Voila)."""

from __future__ import annotations

import importlib.util
import uuid
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from astropy import units as u
from astropy.coordinates import SkyCoord

pytest.importorskip("ipywidgets")

import lasair_nb as ln
from lasair_nb.admin.users import add_user
from lasair_nb.widgets.watchlist_editor import WatchlistEditor, read_source_rows

SUPERNOVA = "ZTF21abiuvdk"
SUPERNOVA_POSITION = (0.814293, 16.1456989)


@pytest.fixture(scope="module")
def archive_url(make_seeded_archive) -> str:
    return make_seeded_archive()


@pytest.fixture(scope="module")
def people(archive_url: str) -> dict[str, ln.Archive]:
    """Two users, alice and bob, logged in."""
    suffix = uuid.uuid4().hex[:6]
    engine = sa.create_engine(archive_url)
    logins = {}
    with engine.begin() as connection:
        for person in ("alice", "bob"):
            name = f"{person}_{suffix}"
            logins[person] = (name, add_user(connection, name))
    engine.dispose()
    return {
        person: ln.connect(archive_url, user=name, password=password)
        for person, (name, password) in logins.items()
    }


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def sexagesimal(ra_deg: float, dec_deg: float) -> tuple[str, str]:
    coord = SkyCoord(ra_deg * u.deg, dec_deg * u.deg)
    return (
        coord.ra.to_string(unit=u.hourangle, sep=":", precision=3, pad=True),
        coord.dec.to_string(unit=u.deg, sep=":", precision=2, alwayssign=True, pad=True),
    )


GOOD_AND_BAD = """\
name, ra, dec, radius
supernova, 0.814293, 16.1456989, 3
bad-ra, 25:99:00, +10:00:00,
galaxy, 00:03:15.43, +16:08:44.5,
bad-radius, 10.0, -5.0, 5000
far, 180.0, -45.0, 2
"""


def test_bad_rows_are_listed_by_number_and_nothing_is_saved(
    people: dict[str, ln.Archive],
) -> None:
    alice = people["alice"]
    editor = WatchlistEditor(alice)
    name = unique("mixed")
    editor.name = name
    editor.text = GOOD_AND_BAD
    assert [row for row, _ in editor.errors] == [2, 4]
    messages = dict(editor.errors)
    assert messages[2].startswith("row 2: RA '25:99:00' is not an angle")
    assert "hh:mm:ss" in messages[2]
    assert messages[4].startswith("row 4: radius '5000'") and "3600" in messages[4]
    assert editor.sources["row"].tolist() == [1, 3, 5]
    assert "row 2: RA" in editor._problems.value  # shown in plain words under the text

    assert editor.save() is False
    assert "nothing was saved" in editor.notice.value
    assert name not in set(alice.watchlists.list()["name"])

    # Fix row 2 in the editable table and remove row 4: now it saves.
    editor._edit_rows(
        [
            ["supernova", "0.814293", "16.1456989", "3"],
            ["bad-ra", "23:59:00", "+10:00:00", ""],
            ["galaxy", "00:03:15.43", "+16:08:44.5", ""],
            ["far", "180.0", "-45.0", "2"],
        ]
    )
    assert editor.errors == []
    assert editor.save() is True
    stored = alice.watchlists.get(name)
    assert stored["name"].tolist() == ["supernova", "bad-ra", "galaxy", "far"]
    assert stored["radius_arcsec"].tolist() == [3.0, 2.0, 2.0, 2.0]  # empty: the default 2″
    assert editor.watchlist == name and editor.owned


@pytest.mark.parametrize(
    ("ra", "dec", "problem"),
    [
        ("abc", "10", "RA 'abc' is not an angle"),
        ("12:00:00", "+91:00:00", "outside -90 to 90°"),
        ("361", "0", "outside 0 to 360°"),
        ("24:00:00", "0", "hours must be below 24"),
        ("12:00:00", "10:61:00", "minutes 61 must be below 60"),
        ("12:00:00", "1h00m00s", "written in hours"),
        ("", "10", "RA is missing"),
    ],
)
def test_each_field_says_what_is_wrong(ra: str, dec: str, problem: str) -> None:
    _, sources, problems = read_source_rows(f"name,ra,dec\nx,{ra},{dec}\n")
    assert sources.empty
    assert len(problems) == 1 and problems[0][0] == 1
    assert problem in problems[0][1], problems[0][1]


def test_sexagesimal_rows_read_as_astropy_reads_them() -> None:
    positions = [(0.814293, 16.1456989), (46.9973, 9.368), (201.365, -43.019), (359.99, -0.5)]
    lines = ["name,ra,dec"]
    for number, (ra, dec) in enumerate(positions):
        ra_text, dec_text = sexagesimal(ra, dec)
        lines.append(f"s{number},{ra_text},{dec_text}")
    lines.append("letters,12h34m56.7s,-00d30m00s")
    lines.append("spaces,12 34 56.7,-00 30 00")
    rows, sources, problems = read_source_rows("\n".join(lines))
    assert problems == []
    texts = [row[1:3] for row in rows]
    expected = SkyCoord(
        [ra for ra, _ in texts], [dec for _, dec in texts], unit=(u.hourangle, u.deg)
    )
    assert np.allclose(sources["ra"], expected.ra.deg, rtol=0, atol=1e-9)
    assert np.allclose(sources["dec"], expected.dec.deg, rtol=0, atol=1e-9)
    assert sources["dec"].iloc[-1] == pytest.approx(-0.5)  # the sign of -00 kept


def test_headerless_text_and_tabs() -> None:
    _, sources, problems = read_source_rows("a\t10.5\t-3\nb\t00:42:44.3\t+41:16:09\t4\n")
    assert problems == []
    assert sources["name"].tolist() == ["a", "b"]
    assert sources["radius_arcsec"].iloc[1] == 4.0 and np.isnan(sources["radius_arcsec"].iloc[0])


@pytest.mark.filterwarnings(
    # The object viewer's plots (bqplot, bqscales) still use traitlets' deprecated forms.
    "ignore::DeprecationWarning"
)
def test_crossmatch_agrees_with_the_client_and_astropy(people: dict[str, ln.Archive]) -> None:
    alice = people["alice"]
    ra_text, dec_text = sexagesimal(*SUPERNOVA_POSITION)
    name = unique("cross")
    editor = WatchlistEditor(alice, name=name, radius=5.0)
    editor.text = f"name,ra,dec\nsupernova,{ra_text},{dec_text}\nother,46.9973,9.368\n"
    assert editor.save()
    thread = editor.run_crossmatch()
    assert thread is not None
    thread.join(timeout=60)
    assert not editor.busy and editor._progress.value == 3
    expected = alice.watchlists.crossmatch(name)
    pd.testing.assert_frame_equal(editor.matches, expected)
    assert SUPERNOVA in set(editor.matches["objectid"])
    sources = SkyCoord(
        editor.matches["source_ra"].to_numpy() * u.deg,
        editor.matches["source_dec"].to_numpy() * u.deg,
    )
    found = SkyCoord(
        editor.matches["ramean"].to_numpy() * u.deg, editor.matches["decmean"].to_numpy() * u.deg
    )
    assert np.allclose(
        editor.matches["separation"], sources.separation(found).to_value(u.arcsec), atol=1e-6
    )
    # Every match is a button; clicking one selects the object.
    buttons = [
        child
        for child in editor._results.children[0].children
        if "lasair-object-link" in child._dom_classes
    ]
    assert [button.description for button in buttons] == editor.matches["objectid"].tolist()
    buttons[0].click()
    assert editor.selected_object == buttons[0].description
    if importlib.util.find_spec("lasair_nb.widgets.object_viewer"):  # where it is installed
        assert editor.viewer is not None, editor.notice.value
        assert editor.viewer.object_id == buttons[0].description
        assert editor.viewer in editor._viewer_box.children


def test_crossmatch_needs_a_saved_watchlist(people: dict[str, ln.Archive]) -> None:
    editor = WatchlistEditor(people["alice"])
    assert editor.run_crossmatch() is None
    assert "save the watchlist" in editor.notice.value


def test_toggles_update_the_stored_watchlist(people: dict[str, ln.Archive]) -> None:
    alice = people["alice"]
    name = unique("toggles")
    editor = WatchlistEditor(alice, name=name)
    editor.text = "name,ra,dec,radius\nsupernova,0.814293,16.1456989,\nown,46.9973,9.368,7\n"
    assert editor.save()

    def stored() -> pd.Series:
        listed = alice.watchlists.list()
        return listed[listed["name"] == name].iloc[0]

    assert not stored()["public"] and not stored()["active"]
    editor.public = True
    editor.active = True
    editor.radius = 4.5
    row = stored()
    assert row["public"] and row["active"] and row["radius_arcsec"] == 4.5
    # Sources without their own radius follow the watchlist's; the others keep theirs.
    assert alice.watchlists.get(name)["radius_arcsec"].tolist() == [4.5, 7.0]
    editor.active = False
    assert not stored()["active"]

    # A dashboard opens it by name: the toggles show the stored settings.
    other = WatchlistEditor(alice, watchlist=name)
    assert (other.public, other.active, other.radius) == (True, False, 4.5)
    assert other._public_box.value is True and other._radius_box.value == 4.5


def test_another_users_private_watchlists_are_not_listed(people: dict[str, ln.Archive]) -> None:
    alice, bob = people["alice"], people["bob"]
    sources = pd.DataFrame({"name": ["a"], "ra": [0.8142], "dec": [16.1457]})
    secret, shared = unique("secret"), unique("shared")
    alice.watchlists.create(secret, sources)
    alice.watchlists.create(shared, sources, public=True)
    editor = WatchlistEditor(bob)
    values = [value for _, value in editor._chooser.options]
    assert f"{alice.user}/{shared}" in values
    assert not any(secret in value for value in values)
    # Bob sees alice's public one read-only: its settings are not his to change.
    editor.watchlist = f"{alice.user}/{shared}"
    assert not editor.owned and len(editor.sources) == 1
    editor.active = True
    assert "not yours" in editor.notice.value
    listed = alice.watchlists.list()
    assert not listed[listed["name"] == shared]["active"].iloc[0]
    editor.watchlist = f"{alice.user}/{secret}"
    assert "no watchlist" in editor.notice.value and editor.watchlist == f"{alice.user}/{shared}"


def test_an_uploaded_csv_is_read_and_saved(people: dict[str, ln.Archive]) -> None:
    alice = people["alice"]
    content = b"\xef\xbb\xbfName,RA,Dec\nsupernova,00:03:15.43,+16:08:44.5\nother,46.9973,9.368\n"
    editor = WatchlistEditor(alice)
    stem = unique("upload")
    editor._upload.value = (
        {
            "name": f"{stem}.csv",
            "type": "text/csv",
            "size": len(content),
            "content": memoryview(content),
            "last_modified": datetime(2026, 1, 1, tzinfo=UTC),
        },
    )
    assert editor.name == stem and editor.errors == []
    assert editor.sources["name"].tolist() == ["supernova", "other"]
    assert editor.save()
    assert len(alice.watchlists.get(stem)) == 2


def test_a_saved_watchlist_shows_on_a_sky_map(people: dict[str, ln.Archive]) -> None:
    from lasair_nb.widgets.sky_map import SkyMap  # noqa: PLC0415

    name = f"sky-{uuid.uuid4().hex[:6]}"
    editor = WatchlistEditor(people["alice"], name=name, text="name,ra,dec\na,10,10\nb,20,-5\n")
    assert editor.save()
    editor.show_on_sky_map()
    assert isinstance(editor.sky_map, SkyMap), editor.notice.value
    assert editor.sky_map.watchlist == name
    assert sorted(editor.sky_map.watchlist_sources["name"]) == ["a", "b"]


# --- in a browser -----------------------------------------------------------------------------


@pytest.mark.slow
def test_upload_and_crossmatch_in_voila(  # noqa: PLR0917 - fixtures
    tmp_path: Path,
    people: dict[str, ln.Archive],
    archive_url: str,
    start_voila,
    page,
    page_log,
    write_notebook,
    screenshot,
) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    alice = people["alice"]
    password = alice.engine.url.password
    notebook = [
        f"""\
import lasair_nb as ln
from lasair_nb.widgets.watchlist_editor import WatchlistEditor

archive = ln.connect({archive_url!r}, user={alice.user!r}, password={password!r})
WatchlistEditor(archive)
"""
    ]
    write_notebook(tmp_path, "watchlists", notebook)
    csv_path = tmp_path / "browser-list.csv"
    ra_text, dec_text = sexagesimal(*SUPERNOVA_POSITION)
    csv_path.write_text(f"name,ra,dec,radius\nsupernova,{ra_text},{dec_text},5\n")
    voila = start_voila(tmp_path)
    page.goto(voila.render_url("watchlists"), timeout=120_000)
    save = page.locator(".lasair-watchlist-save")
    try:
        save.wait_for(state="visible", timeout=90_000)
    except sync_api.TimeoutError:
        screenshot(page, "watchlist_editor_voila_failed")
        raise AssertionError(voila.log()[-4000:]) from None
    # ipywidgets' FileUpload keeps its <input type=file> out of the page and clicks it.
    with page.expect_file_chooser() as chooser:
        page.locator(".lasair-watchlist-upload").click()
    chooser.value.set_files(str(csv_path))
    page.wait_for_function(
        "() => !document.querySelector('.lasair-watchlist-save').disabled", timeout=30_000
    )
    save.click()
    page.locator(".lasair-watchlist-crossmatch").click()
    link = page.locator(".lasair-object-link", has_text=SUPERNOVA)
    link.wait_for(state="visible", timeout=60_000)
    screenshot(page, "watchlist_editor_voila")
    assert not page_log.unexpected_errors(), page_log.errors  # but offline Aladin's
    assert "browser-list" in set(alice.watchlists.list()["name"])
