"""ObjectViewer by its traits, against the seeded archive (real alerts and a simulated stream).

The marks are compared with ``ObjectRecord.lightcurve`` and with counts taken straight
from the ``candidates`` / ``noncandidates`` tables (tests may use SQL; the widget may not).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from astropy import units as u
from astropy.coordinates import SkyCoord

import lasair_nb as ln

with warnings.catch_warnings():
    # bqscales declares a trait the old way (traitlets DeprecationWarning); not ours to fix
    warnings.simplefilter("ignore", DeprecationWarning)
    pytest.importorskip("bqplot")

from lasair_nb.widgets.light_curve_plot import AXIS_LABELS, BAND_COLOURS
from lasair_nb.widgets.object_viewer import ObjectViewer

SUPERNOVA = "ZTF21abiuvdk"
"""A real supernova: 34 detections and 16 upper limits."""
WITH_FORCED = "ZTF22acfcycj"
"""A real object with forced photometry."""
BANDS = {1: "g", 2: "r", 3: "i"}


@pytest.fixture(scope="module")
def seeded_url(make_seeded_archive: Callable[[], str]) -> str:
    return make_seeded_archive()


@pytest.fixture(scope="module")
def archive(seeded_url: str) -> Iterator[ln.Archive]:
    opened = ln.connect(seeded_url)
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def periodic(seeded_simulation: dict[str, int], archive: ln.Archive) -> pd.Series:
    """A simulated periodic variable in the archive, with its true period."""
    from ingest.simulator import AlertSimulator  # noqa: PLC0415 - the truth only

    truth = AlertSimulator(**seeded_simulation).truth
    for row in truth[truth["class"] == "periodic"].itertuples():
        record = archive.object(row.object_id)
        if record.summary["ncand"] >= 30:
            return pd.Series({"object_id": row.object_id, "period": row.period})
    pytest.fail("no well-sampled periodic variable in the seeded archive")


def _sql_counts(url: str, object_id: str) -> dict[str, dict[str, int]]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            counts = {}
            for table in ("candidates", "noncandidates"):
                rows = connection.execute(
                    sa.text(f"SELECT fid, count(*) FROM {table} WHERE objectid = :id GROUP BY fid"),
                    {"id": object_id},
                ).all()
                counts[table] = {BANDS[fid]: n for fid, n in rows}
    finally:
        engine.dispose()
    return counts


def _shown(viewer: ObjectViewer, role: str) -> dict[str, int]:
    return {band: len(viewer.plot.marks[(band, role)].x) for band in BAND_COLOURS}


def test_marks_carry_the_detections_and_limits(archive: ln.Archive, seeded_url: str) -> None:
    viewer = ObjectViewer(archive, SUPERNOVA)
    assert not viewer.notice.value
    curve = archive.object(SUPERNOVA).lightcurve()
    sql = _sql_counts(seeded_url, SUPERNOVA)
    assert sum(sql["candidates"].values()) == 34
    assert sum(sql["noncandidates"].values()) == 16
    detections, limits = _shown(viewer, "detection"), _shown(viewer, "limit")
    assert sum(detections.values()) == 34
    assert sum(limits.values()) == 16
    for band in BAND_COLOURS:
        assert detections[band] == sql["candidates"].get(band, 0)
        assert limits[band] == sql["noncandidates"].get(band, 0)
        for role, measurement in (("detection", "detection"), ("limit", "nondetection")):
            rows = curve[(curve["band"] == band) & (curve["measurement"] == measurement)]
            mark = viewer.plot.marks[(band, role)]
            np.testing.assert_allclose(np.sort(mark.y), np.sort(rows["mag"].to_numpy()))
            np.testing.assert_allclose(np.sort(mark.x), np.sort(rows["mjd"].to_numpy()))
    # nothing forced is drawn while the toggle is off
    assert sum(_shown(viewer, "forced").values()) == 0
    assert viewer.lightcurve.equals(curve)


def test_hover_gives_mjd_and_calendar_date(archive: ln.Archive) -> None:
    viewer = ObjectViewer(archive, SUPERNOVA)
    names = viewer.plot.marks[("g", "detection")].names
    assert len(names) == len(viewer.plot.marks[("g", "detection")].x)
    assert "MJD 59" in names[0]
    assert " 2021-" in names[0]
    assert "UTC" in names[0]


def test_the_kind_sets_axis_direction_units_and_labels(archive: ln.Archive) -> None:
    viewer = ObjectViewer(archive, SUPERNOVA)
    seen = {}
    for kind, reversed_axis in (("mag", True), ("flux", False), ("diffmag", True), ("diffflux", False)):  # fmt: skip
        viewer.kind = kind
        assert viewer.plot.y_scale.reverse is reversed_axis
        assert viewer.plot.y_axis.label == AXIS_LABELS[kind]
        assert viewer.kind_buttons.value == kind
        seen[kind] = np.sort(np.concatenate([m.y for m in viewer.plot.marks.values()]))
        assert list(viewer.lightcurve.columns) == list(
            archive.object(SUPERNOVA).lightcurve(kind).columns
        )
    assert "mag" in viewer.plot.y_axis.label or "Jy" in viewer.plot.y_axis.label
    assert AXIS_LABELS["flux"].endswith("(µJy)")
    assert AXIS_LABELS["mag"].endswith("(AB mag)")
    # flux in µJy: the same detections, other numbers
    assert not np.allclose(seen["mag"][:5], seen["flux"][:5])
    viewer.kind_buttons.value = "flux"  # the control drives the trait too
    assert viewer.kind == "flux"


def test_forced_toggle_adds_the_forced_points(archive: ln.Archive) -> None:
    viewer = ObjectViewer(archive, WITH_FORCED)
    before_limits = sum(_shown(viewer, "limit").values())
    assert sum(_shown(viewer, "forced").values()) == 0
    viewer.show_forced = True
    assert viewer.forced_box.value is True
    curve = archive.object(WITH_FORCED).lightcurve()
    forced = curve[curve["measurement"] == "forced"]
    assert len(forced) > 0
    measured = forced[~forced["upper_limit"] & np.isfinite(forced["mag"])]
    below = forced[forced["upper_limit"] & np.isfinite(forced["mag"])]
    assert sum(_shown(viewer, "forced").values()) == len(measured)
    assert sum(_shown(viewer, "limit").values()) == before_limits + len(below)
    for band in BAND_COLOURS:
        rows = measured[measured["band"] == band]
        np.testing.assert_allclose(
            np.sort(viewer.plot.marks[(band, "forced")].y), np.sort(rows["mag"].to_numpy())
        )
    viewer.show_forced = False
    assert sum(_shown(viewer, "forced").values()) == 0
    assert sum(_shown(viewer, "limit").values()) == before_limits


def test_folding_uses_the_lomb_scargle_period_and_phase_wraps(
    archive: ln.Archive, periodic: pd.Series
) -> None:
    viewer = ObjectViewer(archive, periodic["object_id"])
    features = archive.object(periodic["object_id"]).features.dropna(subset=["period"])
    best = features.sort_values("period_snr").iloc[-1]["period"]
    assert viewer.period == pytest.approx(best)
    assert viewer.ls_period == pytest.approx(best)
    assert viewer.period == pytest.approx(periodic["period"], rel=0.02)  # the true period
    viewer.folded = True
    x = np.concatenate([viewer.plot.marks[(b, "detection")].x for b in BAND_COLOURS])
    assert len(x) == archive.object(periodic["object_id"]).summary["ncand"]
    assert ((x >= 0) & (x < 1)).all()
    assert "phase" in viewer.plot.x_axis.label
    reference = archive.object(periodic["object_id"]).fold(kind="mag")
    assert viewer.folded_lightcurve is not None
    np.testing.assert_allclose(
        np.sort(viewer.folded_lightcurve["phase"]), np.sort(reference["phase"])
    )
    viewer.phase = 1.25
    assert viewer.phase == pytest.approx(0.25)
    shifted = viewer.folded_lightcurve["phase"].to_numpy()
    assert ((shifted >= 0) & (shifted < 1)).all()
    expected = np.mod(reference["phase"].to_numpy() + 0.25, 1.0)
    np.testing.assert_allclose(np.sort(shifted), np.sort(expected), atol=1e-12)
    viewer.period = 2 * best  # edited
    assert viewer.period_box.value == pytest.approx(2 * best)
    assert f"{2 * best:.6g}" in viewer.plot.x_axis.label
    viewer.period_box.value = 3.0  # typed
    assert viewer.period == 3.0
    viewer.use_ls_period()
    assert viewer.period == pytest.approx(best)


def test_selecting_a_candid_changes_the_cutouts(archive: ln.Archive) -> None:
    viewer = ObjectViewer(archive, SUPERNOVA)
    record = archive.object(SUPERNOVA)
    assert viewer.selected_candid == record.summary["latest_candid"]
    detections = viewer.lightcurve[viewer.lightcurve["measurement"] == "detection"]
    with_stamps = []
    for candid in detections["candid"].dropna().astype(int):
        try:
            record.cutouts(candid)
        except ln.NotFoundError:
            continue
        with_stamps.append(candid)
    assert len(with_stamps) >= 1
    first = {name: bytes(image.value) for name, image in viewer.cutout_view.images.items()}
    assert all(value.startswith(b"\x89PNG") for value in first.values())
    # click a detection: the mark reports its index, the viewer finds the candid
    other = (
        next(c for c in with_stamps if c != viewer.selected_candid)
        if len(with_stamps) > 1
        else None
    )
    if other is None:
        pytest.skip("only one alert of this object carries cutouts")
    band = detections.loc[detections["candid"] == other, "band"].iloc[0]
    points = viewer.plot.points[(band, "detection")]
    index = int(np.flatnonzero(points["candid"].to_numpy() == other)[0])
    mark = viewer.plot.marks[(band, "detection")]
    mark._handle_custom_msgs(None, {"event": "element_click", "data": {"index": index}})
    assert viewer.selected_candid == other
    assert viewer.cutouts is not None
    assert viewer.cutouts.candid == other
    assert mark.selected == [index]
    second = {name: bytes(image.value) for name, image in viewer.cutout_view.images.items()}
    for name in ("science", "template", "difference"):
        assert second[name].startswith(b"\x89PNG")
    assert second["science"] != first["science"]
    assert second["difference"] != first["difference"]
    assert str(other) in viewer.cutout_view.caption.value


def test_summary_block(archive: ln.Archive, seeded_url: str, tmp_path: Path) -> None:
    record = archive.object(SUPERNOVA)
    position = record.position
    tns_csv = tmp_path / "tns.csv"
    tns_csv.write_text(
        "name_prefix,name,ra,declination,type,redshift\n"
        f"SN,2021test,{position.ra.deg},{position.dec.deg},SN Ia,0.05\n"
    )
    owner = ln.connect(seeded_url)
    try:
        owner.tns.load(tns_csv)
    finally:
        owner.close()
    viewer = ObjectViewer(archive, SUPERNOVA)
    summary = viewer.summary
    assert summary["tns_name"] == "SN 2021test"
    assert summary["tns_type"] == "SN Ia"
    sherlock = archive.sherlock(SUPERNOVA)
    assert summary["sherlock_classification"] == sherlock["classification"]
    assert summary["host"]["separation_arcsec"] == pytest.approx(sherlock["separationarcsec"])
    galactic = SkyCoord(
        record.summary["ramean"] * u.deg, record.summary["decmean"] * u.deg
    ).galactic
    assert summary["galactic_l"] == pytest.approx(galactic.l.deg, abs=1e-9)
    assert summary["galactic_b"] == pytest.approx(galactic.b.deg, abs=1e-9)
    assert summary["ra"] == pytest.approx(record.summary["ramean"])
    assert set(summary["links"]) == {"Lasair", "ALeRCE", "Fink", "ANTARES", "SNAD"}
    for url in summary["links"].values():
        assert SUPERNOVA in url
        assert url.startswith("https://")
    html = viewer.summary_view.value
    for text in ("SN 2021test", sherlock["classification"], "Gal ", "Eq ", "ALeRCE", "Fink"):
        assert text in html
    assert summary["detections"] == 34


def test_previous_and_next_walk_the_list(archive: ln.Archive, periodic: pd.Series) -> None:
    ids = [SUPERNOVA, WITH_FORCED, periodic["object_id"]]
    viewer = ObjectViewer(archive, WITH_FORCED, object_ids=ids)
    assert viewer.record.object_id == WITH_FORCED
    assert "2 of 3" in viewer.title.value
    viewer.next()
    assert viewer.object_id == periodic["object_id"]
    assert viewer.record.object_id == periodic["object_id"]
    assert viewer.next_button.disabled
    viewer.next()  # at the end: stays
    assert viewer.object_id == periodic["object_id"]
    viewer.previous()
    viewer.previous_button.click()
    assert viewer.object_id == SUPERNOVA
    assert viewer.previous_button.disabled
    assert sum(_shown(viewer, "detection").values()) == 34


def test_setting_object_id_reloads_and_a_bad_id_is_a_notice(archive: ln.Archive) -> None:
    viewer = ObjectViewer(archive, SUPERNOVA)
    viewer.kind = "diffflux"
    viewer.object_id = WITH_FORCED
    assert viewer.record.object_id == WITH_FORCED
    assert viewer.kind == "diffflux"  # the view settings stay
    curve = archive.object(WITH_FORCED).lightcurve("diffflux")
    assert len(viewer.lightcurve) == len(curve)
    viewer.object_id = "ZTF99notthere"
    assert "no object" in viewer.notice.value
    assert "Traceback" not in viewer.notice.value
    assert viewer.record is None


def test_export_png_and_csv(archive: ln.Archive, tmp_path: Path) -> None:
    viewer = ObjectViewer(archive, SUPERNOVA)
    png = viewer.save_png(tmp_path / "curve.png")
    assert png.read_bytes().startswith(b"\x89PNG")
    csv = viewer.save_csv(tmp_path / "curve.csv")
    written = pd.read_csv(csv)
    assert len(written) == len(viewer.lightcurve) == 50
    assert list(written.columns) == list(viewer.lightcurve.columns)
    viewer.folded = True
    viewer._offer_download("png")
    assert "data:image/png;base64," in viewer.export_links.value
    viewer._offer_download("csv")
    assert "data:text/csv;base64," in viewer.export_links.value


def test_annotations_with_history(archive: ln.Archive) -> None:
    archive.tags.add("interesting", "worth a look")
    viewer = ObjectViewer(archive, SUPERNOVA)
    before = len(viewer.annotations)  # e.g. a `tns` annotation from loading TNS
    assert viewer.can_annotate
    assert "interesting" in viewer.tag_input.allowed_tags
    viewer.tag_input.value = ["interesting"]
    viewer.comment_input.value = "rising fast"
    viewer.annotate_button.click()
    assert "annotation added" in viewer.notice.value
    assert len(viewer.annotations) == before + 1
    assert "rising fast" in viewer.annotations_view.value
    assert len(viewer.annotation_history) >= 1
    with pytest.raises(ln.StoreError, match="unknown tags"):
        viewer.annotate(tags=["no-such-tag"])
    viewer.tag_input.value = []
    viewer.comment_input.value = ""
    viewer.annotate_button.click()
    assert "needs tags" in viewer.notice.value


def test_build_time_is_near_the_light_curve(archive: ln.Archive) -> None:
    ObjectViewer(archive, SUPERNOVA)  # warm: imports, first widgets
    start = time.perf_counter()
    archive.object(SUPERNOVA).lightcurve()
    light_curve = time.perf_counter() - start
    start = time.perf_counter()
    viewer = ObjectViewer(archive, SUPERNOVA)
    build = time.perf_counter() - start
    start = time.perf_counter()
    viewer.object_id = WITH_FORCED
    reload = time.perf_counter() - start
    print(f"lightcurve {light_curve:.3f} s, viewer build {build:.3f} s, reload {reload:.3f} s")
    assert build < 3.0


VIEWER_NOTEBOOK = [
    """\
import os

import lasair_nb as ln
from lasair_nb.widgets.object_viewer import ObjectViewer

archive = ln.connect(os.environ["LASAIR_DB_URL"])
viewer = ObjectViewer(archive, "ZTF21abiuvdk")
viewer.zoom = False  # clicks on points, not drags
viewer
""",
]


@pytest.mark.slow
def test_in_voila_points_show_and_a_click_changes_the_cutouts(  # noqa: PLR0917 - fixtures
    tmp_path: Path,
    seeded_url: str,
    start_voila: Callable[..., object],
    page: object,
    page_log: object,
    block_network: Callable[[object], list[str]],
    write_notebook: Callable[..., Path],
    screenshot: Callable[..., Path],
) -> None:
    pytest.importorskip("playwright")
    write_notebook(tmp_path, "viewer", VIEWER_NOTEBOOK)
    voila = start_voila(tmp_path, env={"LASAIR_DB_URL": seeded_url})
    block_network(page)
    page.goto(voila.render_url("viewer"), timeout=120_000)
    page.locator(".lasair-light-curve").first.wait_for(state="visible", timeout=90_000)
    # 34 detections and 16 upper limits, forced photometry off
    page.wait_for_function(
        "() => document.querySelectorAll('.lasair-light-curve path.dot').length === 50",
        timeout=30_000,
    )
    science = page.locator("img.lasair-cutout").first
    page.wait_for_function(
        "() => (document.querySelector('img.lasair-cutout') || {}).src", timeout=30_000
    )
    before = science.get_attribute("src")
    screenshot(page, "object_viewer_page")
    # the first dot drawn is the earliest g detection (the latest alert is shown first)
    page.locator(".lasair-light-curve path.dot").first.dispatch_event("click")
    page.wait_for_function(
        "(before) => document.querySelector('img.lasair-cutout').src !== before",
        arg=before,
        timeout=30_000,
    )
    assert "candid" in page.locator(".lasair-cutouts").inner_text()
    screenshot(page, "object_viewer_clicked")
    screenshot(page.locator(".lasair-light-curve").first, "object_viewer_light_curve")
    # offline, Aladin Lite cannot reach the HiPS sky images (the outside world); else no errors
    assert not page_log.unexpected_errors(), page_log.errors


def test_in_a_kernel_the_light_curve_comes_first_and_details_follow(archive: ln.Archive) -> None:
    """Deferred (a kernel's default) under a running event loop, the constructor returns
    once the light curve is drawn; the summary, cutouts and sky view load when the loop
    runs next, and reading any of them in the same cell loads them at once."""
    import asyncio  # noqa: PLC0415 - this test only
    from concurrent.futures import ThreadPoolExecutor  # noqa: PLC0415

    async def cell() -> tuple[ObjectViewer, ObjectViewer, bool, dict, int]:
        viewer = ObjectViewer(archive, SUPERNOVA, defer_details=True)
        pending_after_constructor = viewer._details_pending
        drawn = len(viewer.plot.marks[("g", "detection")].x)
        # nothing beside the plot is built yet: the side panel is still empty
        assert viewer._side.children == ()
        await asyncio.sleep(0)  # the cell returns: the kernel's loop runs what was scheduled
        other = ObjectViewer(archive, SUPERNOVA, defer_details=True)
        summary = other.summary  # read in the same cell: loads now
        return viewer, other, pending_after_constructor, summary, drawn

    # a thread of its own: the browser tests' Playwright keeps a loop in the main thread
    with ThreadPoolExecutor(1) as pool:
        viewer, other, pending, summary, drawn = pool.submit(asyncio.run, cell()).result()
    expected = archive.object(SUPERNOVA).lightcurve()
    assert drawn == int(
        ((expected["band"] == "g") & (expected["measurement"] == "detection")).sum()
    )
    assert pending
    assert not viewer._details_pending
    assert viewer.summary["object_id"] == SUPERNOVA
    assert viewer.cutouts is not None
    assert viewer.cutouts.candid == viewer.selected_candid
    assert len(viewer._side.children) == 2
    assert summary["object_id"] == SUPERNOVA
    assert other.summary_view.value.startswith("<h4")
    # outside a kernel (this test process) the default loads everything at once
    assert not ObjectViewer(archive, SUPERNOVA)._details_pending
