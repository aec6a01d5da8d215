"""Lasair-ZTF's tables on this archive: watchlist_hits, area_hits, crossmatch_tns, comments,
annotator fields, renamed objects columns and the object document.

Separations are checked against astropy (``SkyCoord.separation``), not the archive's SQL.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import fastavro
import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from astropy import units as u
from astropy.coordinates import SkyCoord

import lasair_nb as ln
from ingest.connection import connect
from ingest.pipeline import Ingester
from ingest.sources import read_packets
from lasair_nb import lasair
from lasair_nb.admin.users import add_user

SUPERNOVA = "ZTF21abiuvdk"


@pytest.fixture(scope="module")
def archive_url(make_seeded_archive) -> str:
    return make_seeded_archive()


@pytest.fixture(scope="module")
def archive(archive_url: str) -> ln.Archive:
    return ln.connect(archive_url)


@pytest.fixture(scope="module")
def objects(archive: ln.Archive) -> pd.DataFrame:
    return archive.sql("SELECT objectid, ramean, decmean FROM objects", limit=100_000)


@pytest.fixture(scope="module")
def people(archive_url: str) -> dict[str, ln.Archive]:
    suffix = uuid.uuid4().hex[:6]
    engine = sa.create_engine(archive_url)
    logins = {}
    with engine.begin() as connection:
        for person in ("alice", "bob"):
            logins[person] = (f"{person}_{suffix}", add_user(connection, f"{person}_{suffix}"))
    engine.dispose()
    return {
        person: ln.connect(archive_url, user=name, password=password)
        for person, (name, password) in logins.items()
    }


def _coords(frame: pd.DataFrame, ra: str = "ramean", dec: str = "decmean") -> SkyCoord:
    return SkyCoord(frame[ra].to_numpy(float) * u.deg, frame[dec].to_numpy(float) * u.deg)


def test_old_column_names_say_the_new_ones(archive: ln.Archive) -> None:
    for old, new in (("ra", "ramean"), ("latest_mag_g", "gmag"), ("min_mag_r", "magrmin")):
        with pytest.raises(ln.QueryError, match=f"it is now '{new}'"):
            archive.sql(f"SELECT {old} FROM objects")


def test_watchlist_hits_are_the_sources_cones(
    people: dict[str, ln.Archive], objects: pd.DataFrame
) -> None:
    alice, bob = people["alice"], people["bob"]
    rng = np.random.default_rng(5)
    chosen = objects.sample(6, random_state=1).reset_index(drop=True)
    offsets = rng.uniform(0.5, 8.0, len(chosen))  # arcsec; the radius is 5
    shifted = _coords(chosen).directional_offset_by(rng.uniform(0, 360, len(chosen)) * u.deg,
                                                    offsets * u.arcsec)  # fmt: skip
    sources = pd.DataFrame(
        {"name": [f"s{n}" for n in range(len(chosen))], "ra": shifted.ra.deg,
         "dec": shifted.dec.deg}
    )  # fmt: skip
    wl_id = alice.watchlists.create("private list", sources, radius=5)
    hits = alice.sql(
        f"SELECT wl_id, cone_id, objectid, name, arcsec FROM watchlist_hits WHERE wl_id = {wl_id}"
    )
    # Independently: every archive object within 5" of each source, by astropy.
    everything = _coords(objects)
    expected = {}
    for number, source in enumerate(_coords(sources, "ra", "dec")):
        separation = source.separation(everything).to_value(u.arcsec)
        for index in np.flatnonzero(separation <= 5):
            expected[(f"s{number}", objects["objectid"][index])] = separation[index]
    assert {(row.name, row.objectid): row.arcsec for row in hits.itertuples()}.keys() == (
        expected.keys()
    )
    for row in hits.itertuples():
        assert row.arcsec == pytest.approx(expected[(row.name, row.objectid)], abs=1e-6)
    assert 0 < len(hits) < len(chosen)  # some offsets are beyond the radius
    # Row-level security holds through the view: bob sees nothing of alice's private list.
    assert bob.sql(f"SELECT * FROM watchlist_hits WHERE wl_id = {wl_id}").empty


def test_area_hits_are_the_objects_inside_the_watchmap(
    people: dict[str, ln.Archive], objects: pd.DataFrame
) -> None:
    alice, bob = people["alice"], people["bob"]
    centre = SkyCoord(200 * u.deg, 20 * u.deg)
    ar_id = alice.watchmaps.create("field", cone=(centre, 20 * u.deg), public=True)
    hits = bob.sql(f"SELECT objectid FROM area_hits WHERE ar_id = {ar_id}", limit=100_000)
    # The area is the watchmap's MOC (a cover of the circle, never smaller than it).
    moc = alice.watchmaps.get("field")
    expected = set(objects["objectid"][moc.contains_skycoords(_coords(objects))])
    assert set(hits["objectid"]) == expected
    distance = centre.separation(_coords(objects)).to_value(u.deg)
    assert set(objects["objectid"][distance < 20]) <= expected
    assert len(hits) > 10


def test_crossmatch_tns_and_new_objects_at_ingest(
    archive_url: str, archive: ln.Archive, tmp_path: Path, ztf_alert_files: list[Path]
) -> None:
    record = archive.object(SUPERNOVA)
    near = record.position.directional_offset_by(30 * u.deg, 1.2 * u.arcsec)
    csv = tmp_path / "tns_public_objects.csv"
    pd.DataFrame(
        {
            "name_prefix": ["SN", "AT"],
            "name": ["2021zby", "2030new"],
            "ra": [near.ra.deg, 150.0],
            "declination": [near.dec.deg, 2.0],
            "type": ["SN Ia", None],
            "redshift": [0.0271, None],
            "discoverydate": ["2021-09-01 09:42:00", "2030-01-01 00:00:00"],
            "discoverymag": [18.5, 19.0],
            "internal_names": [SUPERNOVA, None],
            "reporting_group": ["ZTF", "ATLAS"],
            "lastmodified": ["2021-10-01", "2030-01-01"],
        }
    ).to_csv(csv, index=False)
    archive.tns.load(csv)
    rows = archive.sql(f"SELECT * FROM crossmatch_tns WHERE objectid = '{SUPERNOVA}'")
    assert rows["tns_name"].tolist() == ["2021zby"]
    assert rows["tns_prefix"][0] == "SN" and rows["z"][0] == pytest.approx(0.0271)
    assert rows["separation"][0] == pytest.approx(record.position.separation(near).arcsec, abs=1e-6)
    document = json.loads(record.to_json())
    assert document["TNS"]["tns_name"] == "2021zby" and document["TNS"]["type"] == "SN Ia"


def test_ingest_matches_new_objects_to_tns(
    make_archive, tmp_path: Path, ztf_alert_files: list[Path]
) -> None:
    """A TNS object known before the first alert of its transient: ingest names it."""
    url = make_archive()
    files = [p for p in ztf_alert_files if p.name.startswith("ZTF17aaajnnn_")]
    with files[0].open("rb") as handle:
        alert = next(fastavro.reader(handle))["candidate"]
    where = SkyCoord(alert["ra"] * u.deg, alert["dec"] * u.deg).directional_offset_by(
        0 * u.deg, 0.8 * u.arcsec
    )
    csv = tmp_path / "tns.csv"
    pd.DataFrame(
        {"name_prefix": ["AT"], "name": ["2017new"], "ra": [where.ra.deg],
         "declination": [where.dec.deg], "type": [None]}
    ).to_csv(csv, index=False)  # fmt: skip
    archive = ln.connect(url)
    assert archive.tns.load(csv) == 0  # no objects yet
    connection = connect(url)
    try:
        Ingester(connection, batch_size=10).ingest(read_packets(files), "test", progress=False)
    finally:
        connection.close()
    matched = archive.sql("SELECT objectid, tns_name, separation FROM crossmatch_tns")
    assert matched["objectid"].tolist() == ["ZTF17aaajnnn"]
    assert matched["tns_name"].tolist() == ["2017new"]
    mean = archive.object("ZTF17aaajnnn").position
    assert matched["separation"][0] == pytest.approx(mean.separation(where).arcsec, abs=1e-6)


def test_lasair_annotations_are_queryable_fields(
    people: dict[str, ln.Archive], archive_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice = people["alice"]
    client = lasair.lasair_client("token", archive=alice)
    done = client.annotate(
        "my_classifier",
        SUPERNOVA,
        "SN Ia",
        version="1.2",
        explanation="a Type Ia supernova",
        classdict={"Ia": 0.93, "II": 0.07},
        url="https://example.org/x",
    )
    assert done["status"] == "success"
    row = alice.sql(
        "SELECT objectid, topic, classification, version, explanation, classdict, url"
        f" FROM annotations WHERE id = {done['annotationID']}"
    ).iloc[0]
    assert (row.topic, row.classification, row.version) == ("my_classifier", "SN Ia", "1.2")
    assert row.classdict == {"Ia": 0.93, "II": 0.07} and row.url == "https://example.org/x"
    comments = people["bob"].sql(f"SELECT * FROM comments WHERE objectid = '{SUPERNOVA}'")
    assert "a Type Ia supernova" in comments["content"].tolist()
    assert alice.user in comments["user"].tolist()
    with pytest.raises(lasair.LasairError, match="Version must be 16 characters"):
        client.annotate("my_classifier", SUPERNOVA, "x", version="v" * 17)
    with pytest.raises(lasair.LasairError, match="classdict"):
        client.annotate("t", SUPERNOVA, "x", classdict={"bad": float("nan")})


def test_object_document_has_lasairs_shape(archive: ln.Archive) -> None:
    document = json.loads(archive.object(SUPERNOVA).to_json())
    data = document["objectData"]
    assert data["objectId"] == SUPERNOVA and "objectid" not in data
    for key in ("ramean", "decmean", "gmag", "rmag", "maggmin", "jdgmax", "ncandgp",
                "glatmean", "mag_g02", "rasex", "decsex", "ec_lon", "ec_lat", "mjdmin_ago"):  # fmt: skip
        assert key in data, key
    coord = SkyCoord(data["ramean"] * u.deg, data["decmean"] * u.deg)
    assert (
        SkyCoord(data["rasex"], data["decsex"], unit=(u.hourangle, u.deg)).separation(coord).arcsec
        < 0.01
    )
    ecliptic = coord.transform_to("geocentricmeanecliptic")
    assert data["ec_lon"] == pytest.approx(ecliptic.lon.deg) and data["ec_lat"] == pytest.approx(
        ecliptic.lat.deg
    )
    limits = [c for c in document["candidates"] if "candid" not in c]
    detections = [c for c in document["candidates"] if "candid" in c]
    assert limits and all(None not in c.values() for c in limits)
    assert all(c["mjd"] == pytest.approx(c["jd"] - 2400000.5) for c in document["candidates"])
    assert document["count_all_candidates"] == len(detections)
    assert document["count_noncandidate"] == len(limits)
    assert document["count_isdiffpos"] == sum(c["isdiffpos"] in ("t", "1") for c in detections)
    assert isinstance(document["sherlock"], dict) and isinstance(document["TNS"], dict)


def test_errors_have_lasairs_message_attribute(archive: ln.Archive) -> None:
    client = lasair.lasair_client("token", archive=archive)
    with pytest.raises(lasair.LasairError) as caught:
        client.cone(10.0, 95.0)
    assert caught.value.message == str(caught.value) and "dec" in caught.value.message
