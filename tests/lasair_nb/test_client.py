"""The lasair_nb client on a real PostgreSQL: an archive of the real sample alerts plus
simulated objects. Users are real PostgreSQL roles; privacy is row-level security."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg2
import pytest
import sqlalchemy as sa
from astropy import units as u
from astropy.coordinates import SkyCoord, search_around_sky
from mocpy import MOC

import lasair_nb as ln
from lasair_nb.admin.users import add_user, list_users
from lasair_nb.domain.skymaps import read_skymap

SUPERNOVA = "ZTF21abiuvdk"


@pytest.fixture(scope="module")
def archive_url(make_seeded_archive) -> str:
    return make_seeded_archive()


@pytest.fixture(scope="module")
def archive(archive_url: str) -> ln.Archive:
    return ln.connect(archive_url)


@pytest.fixture(scope="module")
def objects(archive: ln.Archive) -> pd.DataFrame:
    return archive.sql(
        "SELECT objectid, ramean AS ra, decmean AS dec, jdmin, jdmax FROM objects", limit=100_000
    )


@pytest.fixture(scope="module")
def people(archive_url: str) -> dict[str, ln.Archive]:
    """Three users: alice and bob (users) and carol (administrator), logged in."""
    suffix = uuid.uuid4().hex[:6]
    engine = sa.create_engine(archive_url)
    logins = {}
    with engine.begin() as connection:
        for person, admin in (("alice", False), ("bob", False), ("carol", True)):
            name = f"{person}_{suffix}"
            logins[person] = (name, add_user(connection, name, admin=admin))
    engine.dispose()
    return {
        person: ln.connect(archive_url, user=name, password=password)
        for person, (name, password) in logins.items()
    }


# --- SQL -----------------------------------------------------------------------------------


def test_sql_pages_and_returns_frames(archive: ln.Archive) -> None:
    everything = archive.sql("SELECT objectid FROM objects ORDER BY objectid", limit=100_000)
    assert len(everything) > 300 and not everything.attrs["truncated"]
    page = archive.sql("SELECT objectid FROM objects ORDER BY objectid", limit=10, offset=20)
    assert page["objectid"].tolist() == everything["objectid"].tolist()[20:30]
    assert page.attrs["truncated"]


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("DELETE FROM objects", "only SELECT"),
        ("SELECT 1; SELECT 2", "2 statements"),
        ("SELECT * FROM candidate", "unknown table 'candidate'; did you mean candidates"),
        (
            "SELECT magpsff FROM candidates",
            "unknown column 'magpsff' in candidates; did you mean magpsf",
        ),
        ("SELECT pg_sleep(3)", "exceeded 1 s"),
    ],
)
def test_sql_errors_say_what_and_what_is_accepted(
    archive: ln.Archive, sql: str, message: str
) -> None:
    with pytest.raises(ln.QueryError, match=message):
        archive.sql(sql, timeout=1)


@pytest.mark.parametrize(
    ("argument", "value"), [("limit", 0), ("limit", 10**9), ("offset", -1), ("timeout", 0)]
)
def test_sql_arguments_are_validated(archive: ln.Archive, argument: str, value: int) -> None:
    with pytest.raises(ln.QueryError, match=argument):
        archive.sql("SELECT 1", **{argument: value})


def test_lasair_style_query_joins_on_objectid(archive: ln.Archive) -> None:
    rows = archive.query(
        "objects.objectid, objects.ncand, candidates.candid",
        "objects, candidates",
        f"objects.objectid = '{SUPERNOVA}' AND candidates.in_alert",
        limit=100,
    )
    assert len(rows) == 34 and {row["objectid"] for row in rows} == {SUPERNOVA}


def test_schema_lists_tables_columns_and_comments(archive: ln.Archive) -> None:
    schema = archive.schema()
    magpsf = schema[(schema["table"] == "candidates") & (schema["column"] == "magpsf")]
    assert "magnitude" in magpsf["description"].iloc[0].lower()
    assert {"candidates", "objects", "watchlists", "annotations"} <= set(schema["table"])
    assert schema["description"].notna().all()


# --- cone search ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("centre", "radius"),
    [
        ((0.8142, 16.1457), 30.0),
        ((0.3, 16.0), 3600.0),  # crosses RA = 0
        ((46.9, 8.6), 3600.0),
        ((297.63, 57.99), 600.0),
        ("simulated", 1800.0),
        ((120.0, 89.9), 3600.0),  # around the pole
    ],
)
def test_cone_equals_brute_force_astropy(
    archive: ln.Archive, objects: pd.DataFrame, centre, radius
) -> None:
    if centre == "simulated":
        centre = tuple(objects.sort_values("objectid")[["ra", "dec"]].iloc[-1])
    coord = SkyCoord(centre[0] * u.deg, centre[1] * u.deg)
    found = archive.cone(coord, radius=radius)
    everything = SkyCoord(objects["ra"].to_numpy() * u.deg, objects["dec"].to_numpy() * u.deg)
    separation = coord.separation(everything).to(u.arcsec).value
    inside = objects.assign(separation=separation)[separation <= radius].sort_values("separation")
    assert found["objectid"].tolist() == inside["objectid"].tolist()
    assert np.allclose(found["separation"], inside["separation"], atol=1e-3)  # 1 mas
    assert found["separation"].is_monotonic_increasing
    if centre[1] < 89:
        assert len(found) > 0


def test_cone_accepts_what_astronomers_paste(archive: ln.Archive) -> None:
    position = archive.object(SUPERNOVA).position
    text = position.to_string("hmsdms", sep=":", precision=2)
    assert archive.cone(f"{text} 5")["objectid"].iloc[0] == SUPERNOVA
    assert archive.cone(position.to_string("decimal", precision=6), nearest=True)[
        "objectid"
    ].tolist() == [SUPERNOVA]
    assert (
        archive.cone((position.ra.deg, position.dec.deg), radius=2 * u.arcsec)["objectid"].iloc[0]
        == SUPERNOVA
    )
    both = archive.cone(f"{SUPERNOVA}, ZTF20aajcdad")
    assert set(both["objectid"]) == {SUPERNOVA, "ZTF20aajcdad"}
    assert archive.cone(position, radius=5, since="2030-01-01").empty
    with pytest.raises(ln.TargetError, match="Accepted targets"):
        archive.cone("12:34 somewhere")
    with pytest.raises(ln.ObjectNotFoundError, match="ZTF99aaaaaaa"):
        archive.cone("ZTF99aaaaaaa")


# --- one object ----------------------------------------------------------------------------


def test_object_record(archive: ln.Archive) -> None:
    record = archive.object(SUPERNOVA)
    assert record.summary["nalerts"] == 34  # its 34 alerts; ncand counts history too
    curve = record.lightcurve("mag")
    detections = curve[curve["measurement"] == "detection"]
    assert len(detections) == record.summary["ncand"]
    assert set(curve["measurement"]) == {"detection", "nondetection"}
    assert curve["jd"].is_monotonic_increasing
    assert curve.loc[curve["measurement"] == "nondetection", "upper_limit"].all()
    # Its reference source is the host 3-4" away: apparent magnitudes are the PSF ones.
    assert (detections["mag_type"] == "psf").all()

    flux = record.lightcurve("flux")
    flux_det = flux[flux["measurement"] == "detection"]
    assert np.allclose(flux_det["flux"], 10 ** (-0.4 * (detections["mag"].to_numpy() - 8.9)))
    diff = record.lightcurve("diffflux")
    signs = np.sign(diff.loc[diff["measurement"] == "detection", "flux"])
    assert (signs == np.where(detections["isdiffpos"].isin(["t", "1"]), 1, -1)).all()
    diffmag = record.lightcurve("diffmag")
    assert (diffmag["mag_err_minus"].dropna() > 0).all()
    with pytest.raises(ln.ArgumentError, match="accepted: mag, flux, diffmag, diffflux"):
        record.lightcurve("counts")

    assert record.features.loc["g", "period"] == pytest.approx(record.summary["period_g"])
    assert record.context["context"] == "near galaxy"
    folded = record.fold(period=10.0)
    assert folded["phase"].between(0, 1).all() and folded.attrs["period"] == 10.0
    stamps = record.cutouts()
    assert stamps.science.data.shape == (63, 63) and "NAXIS1" in stamps.science.header
    assert stamps.candid == record.summary["latest_candid"]
    document = json.loads(record.to_json())
    assert document["objectId"] == SUPERNOVA and len(document["candidates"]) == len(curve)
    with pytest.raises(ln.ObjectNotFoundError, match=r"no object 'ZTF21abiuvdx'.*ZTF21abiuvdk"):
        archive.object("ZTF21abiuvdx")


def test_forced_photometry_and_fold_on_the_ls_period(archive: ln.Archive) -> None:
    with_forced = archive.sql("SELECT DISTINCT objectid FROM forced_photometry LIMIT 1")[
        "objectid"
    ].iloc[0]
    curve = archive.object(with_forced).lightcurve("diffflux")
    forced = curve[curve["measurement"] == "forced"]
    assert len(forced) > 0 and forced["flux_err"].gt(0).all()
    periodic = archive.sql(
        "SELECT objectid FROM objects WHERE period_snr_g IS NOT NULL ORDER BY period_snr_g DESC LIMIT 1"
    )["objectid"].iloc[0]
    record = archive.object(periodic)
    assert record.fold().attrs["period"] in set(record.features["period"].dropna())


def test_neighbours_exclude_the_object(archive: ln.Archive) -> None:
    record = archive.object("ZTF23abjjnhj")
    around = record.neighbours(radius=30 * u.arcmin)
    assert record.object_id not in set(around["objectid"]) and len(around) > 0


# --- users and privacy -----------------------------------------------------------------------


def test_users_are_roles_and_private_data_stays_private(
    people: dict[str, ln.Archive], tmp_path: Path
) -> None:
    alice, bob = people["alice"], people["bob"]
    sources = pd.DataFrame({"name": ["a", "b"], "ra": [0.8142, 46.9973], "dec": [16.1457, 9.368]})
    alice.watchlists.create("secret", sources)
    alice.watchlists.create("shared", sources, public=True)
    alice.queries.save("mine", "SELECT count(*) FROM objects")
    assert set(alice.watchlists.list()["name"]) >= {"secret", "shared"}
    assert "secret" not in set(bob.watchlists.list()["name"])
    assert "shared" in set(bob.watchlists.list()["name"])
    # Not even raw SQL shows bob alice's private rows: the database filters them.
    seen = bob.sql("SELECT name FROM watchlists UNION ALL SELECT name FROM queries")["name"]
    assert "secret" not in set(seen) and "mine" not in set(seen)
    assert (
        bob.sql(
            "SELECT count(*) AS n FROM watchlist_sources s JOIN watchlists w ON w.id = s.watchlist_id WHERE w.name = 'secret'"
        )["n"][0]
        == 0
    )
    with pytest.raises(ln.NotAllowedError):
        bob.watchlists.delete(f"{alice.user}/shared")
    with pytest.raises(ln.NotFoundError, match="no watchlist"):
        bob.watchlists.get("secret")

    # Bob's own connection, outside the client: no writes to the archive, none to alice's rows.
    raw = psycopg2.connect(
        **{
            **bob.engine.url.translate_connect_args(username="user", database="dbname"),
            **bob.engine.url.query,
        }
    )
    raw.autocommit = True
    with raw.cursor() as cursor:
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            cursor.execute("DELETE FROM candidates")
        cursor.execute("UPDATE watchlists SET public = true WHERE owner = %s", (alice.user,))
        assert cursor.rowcount == 0
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            cursor.execute(
                "INSERT INTO watchlists (owner, name, radius_arcsec) VALUES (%s, 'forged', 2)",
                (alice.user,),
            )
    raw.close()


def test_saved_queries_and_promotion(people: dict[str, ln.Archive]) -> None:
    alice, bob, carol = people["alice"], people["bob"], people["carol"]
    alice.queries.save("bright", "SELECT objectid FROM objects WHERE maggmin < 16", public=True)
    assert len(bob.queries.run(f"{alice.user}/bright")) > 0
    with pytest.raises(ln.NotAllowedError, match=r"administrators|may not"):
        bob.queries.promote(f"{alice.user}/bright")
    carol.queries.promote(f"{alice.user}/bright")
    assert "bright" in set(bob.queries.list("system")["name"])
    assert "bright" not in set(bob.queries.list("public")["name"])
    with pytest.raises(ln.QueryError):
        alice.queries.save("bad", "DROP TABLE objects")


def test_annotations_keep_their_history(people: dict[str, ln.Archive]) -> None:
    alice, bob = people["alice"], people["bob"]
    tag = f"sn-ia-{uuid.uuid4().hex[:4]}"
    alice.tags.add(tag, "Type Ia supernova")
    with pytest.raises(ln.StoreError, match="unknown tags"):
        alice.annotate(SUPERNOVA, tags=["no-such-tag"])
    first = alice.annotate(SUPERNOVA, tags=[tag], comment="classic Ia light curve")
    alice.annotations.update(first, comment="Ia, peak 12.4 mag")
    hidden = alice.annotate(SUPERNOVA, comment="private note", public=False)
    found = bob.annotations.search(tag=tag)
    assert found["id"].tolist() == [first] and found["comment"].iloc[0] == "Ia, peak 12.4 mag"
    assert hidden not in set(bob.annotations.search(author=alice.user)["id"])
    assert len(bob.annotations.search(text="peak 12.4")) == 1
    history = bob.annotations.history(SUPERNOVA)
    changes = history[history["annotation_id"] == first]
    assert changes["action"].tolist() == ["insert", "update"]
    assert changes["comment"].tolist() == ["classic Ia light curve", "Ia, peak 12.4 mag"]
    assert (changes["changed_by"] == alice.user).all()
    assert first in set(bob.object(SUPERNOVA).annotations["id"])


# --- watchlists, watchmaps, sky maps, TNS ------------------------------------------------------


def test_watchlist_from_a_catalog_crossmatches_as_brute_force_says(
    archive: ln.Archive, objects: pd.DataFrame, shared_data: Path
) -> None:
    catalog = pd.read_csv(shared_data / "catalogs" / "3hsp.csv", skipinitialspace=True)
    name = f"hsp-{uuid.uuid4().hex[:4]}"
    archive.watchlists.create(name, catalog, radius=3600)  # "R.A."/"Dec" sexagesimal columns
    matches = archive.watchlists.crossmatch(name)
    sources = archive.watchlists.get(name)
    assert len(sources) == len(catalog)
    left = SkyCoord(sources["ra"].to_numpy() * u.deg, sources["dec"].to_numpy() * u.deg)
    right = SkyCoord(objects["ra"].to_numpy() * u.deg, objects["dec"].to_numpy() * u.deg)
    i, j, separation, _ = search_around_sky(left, right, 3600 * u.arcsec)
    expected = set(
        zip(sources["number"].to_numpy()[i], objects["objectid"].to_numpy()[j], strict=True)
    )
    assert len(expected) > 0
    assert set(zip(matches["number"], matches["objectid"], strict=True)) == expected
    assert np.allclose(
        np.sort(matches["separation"]), np.sort(separation.to_value(u.arcsec)), atol=1e-3
    )


def test_watchmaps(archive: ln.Archive, objects: pd.DataFrame) -> None:
    centre = SkyCoord(46.9 * u.deg, 8.6 * u.deg)
    name = f"field-{uuid.uuid4().hex[:4]}"
    archive.watchmaps.create(name, cone=(centre, 1 * u.deg))
    inside = archive.watchmaps.objects(name)
    coords = SkyCoord(objects["ra"].to_numpy() * u.deg, objects["dec"].to_numpy() * u.deg)
    moc = archive.watchmaps.get(name)
    expected = set(objects["objectid"][moc.contains_skycoords(coords)])
    assert set(inside["objectid"]) == expected and len(expected) > 0
    with pytest.raises(ln.StoreError, match="exactly one area"):
        archive.watchmaps.create("nothing")


def test_skymap_candidates_with_probability_and_level(
    archive: ln.Archive, objects: pd.DataFrame, shared_data: Path
) -> None:
    path = shared_data / "skymaps" / "S190425z" / "bayestar.fits.gz"
    name = archive.skymaps.ingest(path, name=f"S190425z-{uuid.uuid4().hex[:4]}")
    moc, area = archive.skymaps.credible_region(name, 0.9)
    assert area == pytest.approx(10183, rel=0.01)
    found = archive.skymaps.candidates(name, level=0.9)
    skymap = read_skymap(path)
    at = skymap.credible_level(ra=objects["ra"].to_numpy(), dec=objects["dec"].to_numpy())
    inside = moc.contains_lonlat(
        objects["ra"].to_numpy() * u.deg, objects["dec"].to_numpy() * u.deg
    )
    assert set(found["objectid"]) == set(objects["objectid"][inside])
    assert found["credible_level"].le(0.9 + 1e-9).all() and found["probdensity"].gt(0).all()
    assert {"distmu", "distsigma"} <= set(found.columns)
    by_id = dict(zip(objects["objectid"], at.credible_level, strict=True))
    assert np.allclose(found["credible_level"], [by_id[o] for o in found["objectid"]])


def test_tns_names_resolve_and_annotate(archive: ln.Archive, tmp_path: Path) -> None:
    record = archive.object(SUPERNOVA)
    near = record.position.directional_offset_by(0 * u.deg, 1.0 * u.arcsec)
    far = record.position.directional_offset_by(90 * u.deg, 20 * u.arcsec)
    csv = tmp_path / "tns_public_objects.csv"
    pd.DataFrame(
        {
            "objid": [1, 2],
            "name_prefix": ["SN", "AT"],
            "name": ["2021rhu", "2021zzz"],
            "ra": [near.ra.deg, far.ra.deg],
            "declination": [near.dec.deg, far.dec.deg],
            "type": ["SN Ia", None],
            "redshift": [0.0035, None],
            "discoverydate": ["2021-07-01 09:42:00", "2021-07-02 00:00:00"],
            "discoverymag": [15.5, 19.0],
            "internal_names": [SUPERNOVA, None],
            "reporting_group": ["ZTF", "ATLAS"],
            "lastmodified": ["2021-08-01", "2021-08-01"],
        }
    ).to_csv(csv, index=False)
    assert archive.tns.load(csv) == 1
    assert archive.tns.load(csv) == 0  # once only
    named = archive.annotations.search(author="tns", object_id=SUPERNOVA)
    assert named["comment"].tolist() == ["TNS SN 2021rhu (SN Ia)"]
    assert archive.cone("SN 2021rhu", radius=3)["objectid"].tolist() == [SUPERNOVA]
    assert archive.cone("2021zzz", radius=3).empty


def test_coverage_and_status(archive: ln.Archive) -> None:
    nights = archive.coverage(since="2021-08-31", until="2021-09-02")
    assert len(nights) > 0 and nights["ncandidates"].sum() > 0
    assert archive.status()["ingested_today"] > 0


def test_watchmap_from_moc_file_polygon_and_skymap(
    archive: ln.Archive, objects: pd.DataFrame, shared_data: Path, tmp_path: Path
) -> None:
    coords = SkyCoord(objects["ra"].to_numpy() * u.deg, objects["dec"].to_numpy() * u.deg)
    moc = MOC.from_cone(46.9 * u.deg, 8.6 * u.deg, radius=2 * u.deg, max_depth=12)
    path = tmp_path / "area.fits"
    moc.save(path, format="fits")
    tag = uuid.uuid4().hex[:4]
    archive.watchmaps.create(f"file-{tag}", path)
    expected = set(objects["objectid"][moc.contains_skycoords(coords)])
    assert set(archive.watchmaps.objects(f"file-{tag}")["objectid"]) == expected

    square = SkyCoord([45, 49, 49, 45] * u.deg, [7, 7, 11, 11] * u.deg)
    archive.watchmaps.create(f"square-{tag}", polygon=square)
    inside = archive.watchmaps.get(f"square-{tag}").contains_skycoords(coords)
    found = set(archive.watchmaps.objects(f"square-{tag}")["objectid"])
    assert found == set(objects["objectid"][inside]) and len(found) > 0

    multiorder = shared_data / "skymaps" / "MS181101ab_mock" / "bayestar.multiorder.fits"
    name = archive.skymaps.ingest(multiorder, name=f"MS181101ab-{tag}")
    region, area = archive.skymaps.credible_region(name, 0.9)
    assert area == pytest.approx(31, rel=0.02)
    archive.watchmaps.create(f"gw-{tag}", skymap=name, level=0.9)
    stored = archive.watchmaps.get(f"gw-{tag}")
    assert (stored.to_depth29_ranges == region.to_depth29_ranges).all()  # the same cells
    listed = archive.watchmaps.list()
    assert {f"file-{tag}", f"square-{tag}", f"gw-{tag}"} <= set(listed["name"])
    archive.watchmaps.delete(f"file-{tag}")
    assert f"file-{tag}" not in set(archive.watchmaps.list()["name"])


def test_watchlist_update_and_tag_descriptions(people: dict[str, ln.Archive]) -> None:
    alice, bob = people["alice"], people["bob"]
    first = pd.DataFrame({"name": ["sn"], "ra": [0.8142], "dec": [16.1457]})
    alice.watchlists.create("evolving", first, radius=3)
    assert alice.watchlists.crossmatch("evolving")["objectid"].tolist() == [SUPERNOVA]
    second = pd.DataFrame({"name": ["other"], "ra": [46.9973], "dec": [9.368], "radius": [2.0]})
    alice.watchlists.update("evolving", sources=second, public=True, description="moved")
    settings = bob.watchlists.get(f"{alice.user}/evolving").attrs
    assert settings["public"] and settings["description"] == "moved"
    assert SUPERNOVA not in set(alice.watchlists.crossmatch("evolving")["objectid"])
    with pytest.raises(ln.NotAllowedError, match="you can only read it"):
        bob.watchlists.update(f"{alice.user}/evolving", active=True)
    alice.watchlists.delete("evolving")
    assert "evolving" not in set(alice.watchlists.list()["name"])

    tag = f"agn-{uuid.uuid4().hex[:4]}"
    alice.tags.add(tag, "Active galactic nucleus")
    bob.tags.describe(tag, "Active galactic nucleus (variable, nuclear)")
    assert alice.tags.list().set_index("name").loc[tag, "description"].endswith("nuclear)")
    with pytest.raises(ln.StoreError, match="invalid tag"):
        alice.tags.add("Bad Tag")


def test_the_tag_vocabulary_cannot_be_renamed_or_reattributed(
    people: dict[str, ln.Archive],
) -> None:
    alice, bob = people["alice"], people["bob"]
    tag = f"cv-{uuid.uuid4().hex[:4]}"
    alice.tags.add(tag, "Cataclysmic variable")
    raw = psycopg2.connect(
        **{
            **bob.engine.url.translate_connect_args(username="user", database="dbname"),
            **bob.engine.url.query,
        }
    )
    raw.autocommit = True
    with raw.cursor() as cursor:
        for forgery in (
            "UPDATE tags SET name = 'stolen' WHERE name = %s",
            "UPDATE tags SET created_by = 'bob' WHERE name = %s",
            "DELETE FROM tags WHERE name = %s",
        ):
            with pytest.raises(psycopg2.errors.InsufficientPrivilege):
                cursor.execute(forgery, (tag,))
    raw.close()
    assert alice.tags.list().set_index("name").loc[tag, "created_by"] == alice.user


def raw_login(archive: ln.Archive):
    url = archive.engine.url
    connection = psycopg2.connect(
        **{**url.translate_connect_args(username="user", database="dbname"), **url.query}
    )
    connection.autocommit = True
    return connection


def test_a_user_cannot_hijack_the_history_trigger_or_squat_ids(
    people: dict[str, ln.Archive],
) -> None:
    alice = people["alice"]
    note = alice.annotate(SUPERNOVA, comment="to be changed")
    raw = raw_login(alice)
    with raw.cursor() as cursor:
        # A temporary table shadowing annotation_history, with a trigger that would
        # run as the history function's owner: search_path keeps pg_temp last.
        cursor.execute("CREATE TEMP TABLE annotation_history (LIKE public.annotation_history)")
        cursor.execute(
            "CREATE FUNCTION pg_temp.grab() RETURNS trigger LANGUAGE plpgsql AS"
            f" $$ BEGIN EXECUTE 'ALTER ROLE {alice.user} SUPERUSER'; RETURN NEW; END $$"
        )
        cursor.execute(
            "CREATE TRIGGER grab BEFORE INSERT ON pg_temp.annotation_history"
            " FOR EACH ROW EXECUTE FUNCTION pg_temp.grab()"
        )
        cursor.execute("UPDATE annotations SET comment = 'changed' WHERE id = %s", (note,))
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        assert cursor.fetchone()[0] is False
        with pytest.raises(psycopg2.errors.GeneratedAlways):
            cursor.execute(
                "INSERT INTO watchlists (id, name, radius_arcsec) VALUES (999999, 'squat', 2)"
            )
    raw.close()
    history = alice.annotations.history(SUPERNOVA)
    assert history[history["annotation_id"] == note]["action"].tolist() == ["insert", "update"]


def test_system_queries_are_frozen_for_their_owner(people: dict[str, ln.Archive]) -> None:
    bob, carol = people["bob"], people["carol"]
    bob.queries.save("promoted", "SELECT 1", public=True)
    carol.queries.promote(f"{bob.user}/promoted")
    raw = raw_login(bob)
    with raw.cursor() as cursor, pytest.raises(psycopg2.errors.InsufficientPrivilege):
        cursor.execute("UPDATE queries SET sql = 'SELECT 2' WHERE name = 'promoted'")
    raw.close()
    assert carol.queries.list("system").set_index("name").loc["promoted", "sql"] == "SELECT 1"


def test_superusers_are_not_listed_as_users(
    archive_url: str, people: dict[str, ln.Archive]
) -> None:
    engine = sa.create_engine(archive_url)
    with engine.connect() as connection:
        names = {user.name for user in list_users(connection)}
    engine.dispose()
    assert "postgres" not in names and {people["alice"].user, people["carol"].user} <= names


def test_sql_leaves_no_session_locks_behind(archive: ln.Archive) -> None:
    # Advisory locks are the archive owner's only (migration 0005): a side channel.
    with pytest.raises(ln.QueryError, match="permission denied"):
        archive.sql("SELECT pg_advisory_lock(4242)")
    held = archive.sql(
        "SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND objid = 4242"
    )
    assert held["n"][0] == 0
