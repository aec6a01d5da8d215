"""SkyMap by its traits, against a real seeded archive and a real GW sky map.

Every expectation is computed here independently of the widget: object sets by SQL on
``jdmin``/``jdmax``, coverage squares from the coverage table and the ZTF field list read
from the shared data, corners by astropy's ``spherical_offsets_by``.
"""

from __future__ import annotations

import itertools
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.table import Table

pytest.importorskip("ipyaladin")

import lasair_nb as ln
from lasair_nb.widgets.sky_map import (
    DEFAULT_LEVELS,
    FIELD_WIDTH_DEG,
    SkyMap,
    field_corners,
    object_ids,
)

GW_EVENT = "GW170817/bayestar.fits.gz"
WIDE_EVENT = "S190425z/bayestar.fits.gz"  # 90 % over ~10⁴ deg²: candidates are certain


@pytest.fixture(scope="module")
def archive_url(make_seeded_archive) -> str:
    return make_seeded_archive()


@pytest.fixture(scope="module")
def archive(archive_url: str, shared_data: Path) -> ln.Archive:
    archive = ln.connect(archive_url)
    skymaps = shared_data / "skymaps"
    archive.skymaps.ingest(skymaps / GW_EVENT, name="GW170817")
    archive.skymaps.ingest(skymaps / WIDE_EVENT, name="S190425z")
    yield archive
    archive.close()


@pytest.fixture(scope="module")
def engine(archive_url: str) -> sa.Engine:
    engine = sa.create_engine(archive_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def window(engine: sa.Engine) -> tuple[float, float]:
    """Three days around the median last detection (in the simulated nights)."""
    with engine.connect() as connection:
        middle = connection.execute(
            sa.text("SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY jdmax) FROM objects")
        ).scalar_one()
    return middle - 1.5, middle + 1.5


def _ids_in_window(engine: sa.Engine, since: float | None, until: float | None) -> list[str]:
    with engine.connect() as connection:
        rows = connection.execute(
            sa.text(
                "SELECT objectid FROM objects WHERE (:since IS NULL OR jdmax >= :since) "
                "AND (:until IS NULL OR jdmin <= :until) ORDER BY objectid"
            ),
            {"since": since, "until": until},
        )
        return [row.objectid for row in rows]


def test_objects_are_those_of_the_time_window(archive, engine, window, aladin_lite) -> None:
    since, until = window
    sky = SkyMap(archive, since=str(since), until=str(until))
    expected = _ids_in_window(engine, since, until)
    assert 0 < len(expected) < len(_ids_in_window(engine, None, None))
    assert object_ids(sky.objects) == expected
    assert len(sky.objects) == len(expected)
    assert set(sky.objects.colnames) >= {"objectid", "ra", "dec"}
    assert f"{len(expected)} objects" in sky.summary.value


def test_changing_the_time_window_updates_the_objects(archive, engine, window, aladin_lite) -> None:
    since, until = window
    sky = SkyMap(archive, since=str(since), until=str(until))
    before = object_ids(sky.objects)
    sky.since = str(since - 3)
    assert sky.since_box.value == str(since - 3)  # the control follows the trait
    widened = object_ids(sky.objects)
    assert widened == _ids_in_window(engine, since - 3, until)
    assert len(widened) > len(before)
    sky.until = until  # a JD as a number does as well as text
    assert sky.until_box.value == str(until)
    assert object_ids(sky.objects) == widened
    sky.until_box.value = ""  # and the trait follows the control: open-ended
    assert sky.until is None
    assert object_ids(sky.objects) == _ids_in_window(engine, since - 3, None)


def test_a_field_view_holds_the_objects_around_its_target(archive, engine, aladin_lite) -> None:
    everything = SkyMap(archive)
    centre = everything.objects[0]
    sky = SkyMap(archive, target=f"{centre['ra']} {centre['dec']}", fov=2.0)
    positions = SkyCoord(sky.objects["ra"], sky.objects["dec"], unit="deg")
    here = SkyCoord(centre["ra"], centre["dec"], unit="deg")
    assert centre["objectid"] in object_ids(sky.objects)
    assert (positions.separation(here) <= 1.5 * u.deg).all()
    assert len(sky.objects) < len(everything.objects)
    sky.target = str(centre["objectid"])  # an objectId centres the view on the object
    assert sky.sky.target.ra.deg == pytest.approx(float(centre["ra"]) % 360)
    assert centre["objectid"] in object_ids(sky.objects)
    sky.target = "nowhere at all"
    assert "target: " in sky.notice.value and "nowhere at all" in sky.notice.value


def test_objects_from_a_query(archive, aladin_lite) -> None:
    sky = SkyMap(archive, query="SELECT objectid, ramean, decmean FROM objects WHERE ncand > 3")
    expected = archive.sql("SELECT objectid FROM objects WHERE ncand > 3", limit=10000)
    assert object_ids(sky.objects) == sorted(expected["objectid"])
    sky.query = "SELECT ncand FROM objects"
    assert "objectid and ramean, decmean" in sky.notice.value  # said, not raised


def test_coverage_has_one_square_per_field_and_band(
    archive, engine, window, shared_data, aladin_lite
) -> None:
    since, until = window
    sky = SkyMap(archive, since=str(since), until=str(until))
    fields = pd.read_csv(shared_data / "catalogs" / "ZTF_Fields.csv")
    centres = {int(row.ID): (row.RA, row.Dec) for row in fields.itertuples()}
    with engine.connect() as connection:
        observed = connection.execute(
            sa.text(
                "SELECT DISTINCT field, fid FROM coverage WHERE jd_last >= :since "
                "AND jd_first <= :until AND fid IN (1, 2) ORDER BY fid, field"
            ),
            {"since": since, "until": until},
        ).all()
    expected = [(field, fid) for field, fid in observed if field in centres]
    assert expected
    assert list(zip(sky.coverage["field"], sky.coverage["fid"], strict=True)) == expected
    assert set(sky.coverage["band"]) == {"g", "r"}

    half = FIELD_WIDTH_DEG / 2 * u.deg
    for square in sky.coverage.itertuples():
        ra, dec = centres[square.field]
        centre = SkyCoord(ra * u.deg, dec * u.deg)
        for (corner_ra, corner_dec), (east, north) in zip(
            square.corners, [(-1, -1), (1, -1), (1, 1), (-1, 1)], strict=True
        ):
            wanted = centre.spherical_offsets_by(east * half, north * half)
            assert (
                wanted.separation(SkyCoord(corner_ra * u.deg, corner_dec * u.deg)) < 0.1 * u.arcsec
            )
        assert square.stcs.startswith("POLYGON ICRS ")
        assert len(square.stcs.split()) == 2 + 8

    sky.bands = ["g"]
    assert set(sky.coverage["fid"]) == {1}
    assert sky.band_boxes["g"].value and not sky.band_boxes["r"].value


def test_field_corners_near_the_pole_stay_square() -> None:
    corners = field_corners([0.0], [-89.05])[0]
    pole = SkyCoord(0 * u.deg, -89.05 * u.deg)
    distances = pole.separation(SkyCoord(corners[:, 0], corners[:, 1], unit="deg")).deg
    assert np.allclose(distances, distances[0], atol=1e-9)  # four equal half-diagonals
    assert (corners[:, 1] >= -90).all()


@pytest.fixture(scope="module")
def gw_sky(archive, aladin_lite) -> SkyMap:
    return SkyMap(archive, skymap_name="GW170817")


def test_contours_nest_and_the_outer_one_is_the_credible_region(archive, gw_sky) -> None:
    assert sorted(gw_sky.contours) == list(DEFAULT_LEVELS)
    levels = sorted(gw_sky.contours)
    for inner, outer in itertools.pairwise(levels):
        assert gw_sky.contours[inner].difference(gw_sky.contours[outer]).empty()
        assert gw_sky.contour_areas[inner] < gw_sky.contour_areas[outer]
    moc, area = archive.skymaps.credible_region("GW170817", 0.9)
    assert gw_sky.contour_areas[0.9] == pytest.approx(area)
    assert gw_sky.contours[0.9] == moc
    assert area == pytest.approx(187, rel=0.05)  # GW170817's first bayestar map: 90 % in 187 deg²


def test_candidates_are_inside_the_outer_contour(archive, aladin_lite) -> None:
    sky = SkyMap(archive, skymap_name="S190425z", levels=[0.5, 0.9])
    expected = archive.skymaps.candidates("S190425z", level=0.9)
    assert len(sky.candidates) == len(expected) > 0
    inside = sky.contours[0.9].contains_lonlat(
        sky.candidates["ramean"] * u.deg, sky.candidates["decmean"] * u.deg
    )
    assert inside.all()
    sky.skymap_name = None
    assert sky.contours == {} and len(sky.candidates) == 0


def test_watchmap_layer_is_the_stored_moc(archive, aladin_lite) -> None:
    name = f"field_{uuid.uuid4().hex[:6]}"
    archive.watchmaps.create(name, cone=(SkyCoord(150 * u.deg, 20 * u.deg), 2 * u.deg))
    sky = SkyMap(archive, watchmap=name)
    assert sky.watchmap_moc == archive.watchmaps.get(name)
    assert f"watchmap {name}" in sky.summary.value


def test_watchlist_layer_holds_its_sources(archive, aladin_lite) -> None:
    name = f"list_{uuid.uuid4().hex[:6]}"
    sources = Table({"name": ["a", "b"], "ra": [10.0, 20.0], "dec": [-5.0, 5.0]})
    archive.watchlists.create(name, sources, radius=3.0)
    sky = SkyMap(archive)
    sky.watchlist = name
    assert list(sky.watchlist_sources["name"]) == ["a", "b"]
    assert np.allclose(sky.watchlist_sources["ra"], [10.0, 20.0])


@pytest.mark.filterwarnings(
    # The viewer's plots (bqplot, bqscales) still use traitlets' deprecated forms.
    "ignore::DeprecationWarning"
)
def test_a_clicked_object_opens_its_viewer(archive, aladin_lite) -> None:
    sky = SkyMap(archive)
    chosen = str(sky.objects["objectid"][0])
    sky.sky.clicked_object = {"ra": 1.0, "dec": 2.0, "data": {"objectid": chosen}}
    assert sky.selected_object == chosen
    assert "error" not in sky.notice.value
    sky.sky.clicked_object = {"ra": 1.0, "dec": 2.0, "data": {"name": "a watchlist source"}}
    assert sky.selected_object == chosen  # not an archive object: nothing changes


def test_bad_input_is_said_in_plain_words(archive, aladin_lite) -> None:
    import traitlets  # noqa: PLC0415

    sky = SkyMap(archive)
    with pytest.raises(traitlets.TraitError, match="probabilities"):
        sky.levels = [0.5, 90]
    with pytest.raises(traitlets.TraitError, match="ZTF bands"):
        sky.bands = ["z"]
    sky.skymap_name = "no such map"
    assert "skymap" in sky.notice.value and "no such map" in sky.notice.value
    sky.since = "not a time"
    assert "not a time" in sky.notice.value


def test_one_aladin_per_sky_map_and_nothing_queued_before_it_is_drawn(archive, aladin_lite) -> None:
    sky = SkyMap(archive, skymap_name="GW170817")
    view = sky.sky
    sky.since, sky.bands = "2400000.5", ["r"]
    assert sky.sky is view
    assert view._call_store.calls == []  # overlays wait for the browser (see the module)
    assert view.overlays == []


def test_drawn_overlays_replace_the_old_ones(archive, window, aladin_lite) -> None:
    """What the view holds once the browser says it is loaded (no browser: messages only)."""
    since, until = window
    sky = SkyMap(archive, since=str(since), until=str(until), skymap_name="GW170817")
    sky.sky._is_loaded = True  # as the front end sets it after drawing
    names = set(sky.sky.overlays)
    assert {"objects", "ZTF coverage g", "ZTF coverage r", "GW170817 90%"} <= names
    sky.since = str(since - 2)
    assert set(sky.sky.overlays) == names  # replaced, not piled up
    sky.layers = ["objects"]
    assert sky.sky.overlays == ["objects"]


def _many_objects(count: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "objectid": [f"ZTF24{index:07d}" for index in range(count)],
            "ramean": rng.uniform(0, 360, count),
            "decmean": np.degrees(np.arcsin(rng.uniform(-1, 1, count))),
            "ncand": rng.integers(1, 50, count),
        }
    )


def test_a_hundred_thousand_objects_are_drawn_as_their_density(archive, aladin_lite) -> None:
    """Over max_markers objects in view, the view gets filled HEALPix cells, one MOC per
    decade of objects a cell holds; the counts are checked with mocpy's own cell test."""
    from mocpy import MOC  # noqa: PLC0415

    frame = _many_objects(100_000)
    sky = SkyMap(archive, layers=["objects"])
    sky.sky._is_loaded = True
    sky.show_objects(frame)
    assert sky.max_markers == 5000  # the default a user gets
    assert len(sky.objects) == 100_000
    assert sky.density is not None
    assert int(sky.density["count"].sum()) == 100_000
    names = sky.sky.overlays
    assert names[0] == "objects: cells with ≥ 1"
    assert all(name.startswith("objects: cells with ≥ ") for name in names)
    assert "drawn as their density" in sky.summary.value
    # independent count: the densest cell, as a one-cell MOC, contains exactly that many
    order = int(sky.density.meta["order"])
    densest = sky.density[int(np.argmax(sky.density["count"]))]
    cell = MOC.from_healpix_cells(
        np.array([densest["ipix"]], dtype=np.uint64), np.array([order], dtype=np.uint8), order
    )
    inside = cell.contains_lonlat(
        frame["ramean"].to_numpy() * u.deg, frame["decmean"].to_numpy() * u.deg
    )
    assert int(inside.sum()) == int(densest["count"])
    # a cell at order k is ~58.6° / 2^k wide: about 60 of them across the 360° view
    assert 30 <= 360 / (58.6 / 2**order) <= 120


def test_zooming_in_the_browser_draws_each_object_of_the_view(archive, aladin_lite) -> None:
    """The view reports a zoom (as Aladin Lite does, through _fov and _target): the traits
    follow, and the objects within the view's circle are drawn one by one."""
    frame = _many_objects(100_000, seed=2)
    sky = SkyMap(archive, layers=["objects"])
    sky.sky._is_loaded = True
    sky.show_objects(frame)
    assert sky.density is not None
    # what the browser sends when the user zooms to 3 degrees around (150, 20)
    with sky.sky.hold_sync():
        sky.sky._target = "150 20"
        sky.sky._fov = 3.0
    assert sky.fov == pytest.approx(3.0)
    assert sky.target == "150 20"
    assert sky.density is None
    assert sky.sky.overlays == ["objects"]
    drawn = sky.sky._overlay_manager["objects"]["table"]
    centre = SkyCoord(150 * u.deg, 20 * u.deg)
    positions = SkyCoord(frame["ramean"].to_numpy() * u.deg, frame["decmean"].to_numpy() * u.deg)
    expected = frame["objectid"][positions.separation(centre).deg <= 3.0 * 0.75]
    assert 0 < len(expected) <= sky.max_markers
    assert sorted(drawn["objectid"]) == sorted(expected)
    assert len(sky.objects) == 100_000  # the data are all still there
    # setting the trait moves the view, and its echo is not taken as a move of its own
    sky.fov = 360.0
    assert sky.sky._fov == pytest.approx(360.0)
    assert sky.density is not None


def test_max_markers_draws_them_all_when_raised(archive, aladin_lite) -> None:
    sky = SkyMap(archive, layers=["objects"], max_markers=200_000)
    sky.sky._is_loaded = True
    sky.show_objects(_many_objects(20_000))
    assert sky.density is None
    assert sky.sky.overlays == ["objects"]
    assert len(sky.sky._overlay_manager["objects"]["table"]) == 20_000
    sky.max_markers = 1000
    assert sky.density is not None
    assert int(sky.density["count"].sum()) == 20_000


def test_redraw_sends_the_overlays_again(archive, aladin_lite, monkeypatch) -> None:
    """A second view (or a reloaded page) starts without overlays: redraw sends them again."""
    sky = SkyMap(archive, layers=["objects"])
    sky.sky._is_loaded = True
    sky.show_objects(_many_objects(50))
    sent: list[int] = []
    original = type(sky.sky).add_table

    def counting(view, table, **options):
        sent.append(len(table))
        return original(view, table, **options)

    monkeypatch.setattr(type(sky.sky), "add_table", counting)
    sky.redraw_button.click()
    assert sent == [50]
    assert sky.sky.overlays == ["objects"]
