"""``from lasair_nb import lasair``: Lasair-ZTF's client answered by the seeded archive."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from astropy import units as u
from astropy.coordinates import SkyCoord

import lasair_nb as ln
from lasair_nb import lasair

SUPERNOVA = "ZTF21abiuvdk"
ENDPOINT = "https://lasair-ztf.lsst.ac.uk/api"


@pytest.fixture(scope="module")
def archive_url(make_seeded_archive) -> str:
    return make_seeded_archive()


@pytest.fixture
def client(archive_url: str, monkeypatch: pytest.MonkeyPatch) -> lasair.lasair_client:
    monkeypatch.setenv("LASAIR_DB_URL", archive_url)
    return lasair.lasair_client("any-token", endpoint=ENDPOINT)


@pytest.fixture(scope="module")
def objects(archive_url: str) -> pd.DataFrame:
    engine = sa.create_engine(archive_url)
    with engine.connect() as connection:
        frame = pd.read_sql(
            "SELECT objectid, ramean AS ra, decmean AS dec, ncand FROM objects", connection
        )
    engine.dispose()
    return frame


def test_client_constructs_offline_with_token_and_endpoint(client: lasair.lasair_client) -> None:
    assert client.endpoint == ENDPOINT
    assert client.archive.user
    assert lasair.LasairError is ln.LasairError


def test_missing_cache_directory_is_refused(archive_url: str, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("LASAIR_DB_URL", archive_url)
    with pytest.raises(lasair.LasairError, match="does not exist"):
        lasair.lasair_client("t", cache=str(tmp_path / "nowhere"))
    assert lasair.lasair_client("t", cache=str(tmp_path)).cache == str(tmp_path)


def test_cone_request_types(client: lasair.lasair_client, objects: pd.DataFrame) -> None:
    target = objects.set_index("objectid").loc[SUPERNOVA]
    ra, dec = float(target["ra"]) + 1.0 / 3600, float(target["dec"])
    radius = 600.0
    separations = (
        SkyCoord(ra * u.deg, dec * u.deg)
        .separation(SkyCoord(objects["ra"].to_numpy() * u.deg, objects["dec"].to_numpy() * u.deg))
        .to_value(u.arcsec)
    )
    inside = objects.assign(sep=separations)[separations <= radius].sort_values("sep")
    assert len(inside) >= 1

    found = client.cone(ra, dec, radius=radius, requestType="all")
    assert [row["object"] for row in found] == list(inside["objectid"])
    assert np.allclose([row["separation"] for row in found], inside["sep"], atol=1e-6)
    assert all(set(row) == {"object", "separation"} for row in found)

    nearest = client.cone(ra, dec, radius=radius, requestType="nearest")
    assert nearest["object"] == SUPERNOVA == inside["objectid"].iloc[0]
    assert nearest["separation"] == pytest.approx(inside["sep"].iloc[0], abs=1e-6)

    assert client.cone(ra, dec, radius=radius, requestType="count") == {"count": len(inside)}
    assert client.cone(ra, dec)[0]["object"] == SUPERNOVA  # default radius 5 arcsec
    assert client.cone(0.0, -89.0, radius=1, requestType="nearest") == {}
    assert client.cone(0.0, -89.0, radius=1, requestType="count") == {"count": 0}


def test_query_keys_as_written(client: lasair.lasair_client, objects: pd.DataFrame) -> None:
    rows = client.query("objectId, ncand", "objects", f"objectId = '{SUPERNOVA}'")
    assert rows == [{"objectId": SUPERNOVA, "ncand": 34}]

    ordered = client.query(
        "objects.objectId, ncand AS nCand", "objects", "ncand > 1 ORDER BY ncand DESC", limit=5
    )
    expected = objects[objects["ncand"] > 1].sort_values("ncand", ascending=False).head(5)
    assert [set(row) for row in ordered] == [{"objectId", "nCand"}] * len(expected)
    assert [row["nCand"] for row in ordered] == list(expected["ncand"])
    top = objects[objects["ncand"] == expected["ncand"].iloc[0]]
    assert ordered[0]["objectId"] in set(top["objectid"])

    grouped = client.query(
        "ncand, count(*) AS n", "objects", "ncand >= 1 GROUP BY ncand ORDER BY ncand"
    )
    assert sum(row["n"] for row in grouped) == int((objects["ncand"] >= 1).sum())

    star = client.query("*", "objects", f"objectId = '{SUPERNOVA}'")
    assert star[0]["objectid"] == SUPERNOVA and "ncand" in star[0]
    everything = client.query("objectId", "objects", "", limit=2, offset=1)
    assert len(everything) == 2


def test_query_lasair_tables_and_unknown_ones(client: lasair.lasair_client) -> None:
    for tables in (
        "objects, sherlock_classifications",
        "objects, watchlist:42",
        "objects, area:7",
        "objects, annotator:fastfinder",
        "objects, crossmatch_tns",
    ):
        assert client.query("objects.objectId", tables, "objects.objectId = 'none'") == []
    with pytest.raises(lasair.LasairError, match=r"tables accepted: watchlist:N, .*objects"):
        client.query("objectId", "nosuchtable", "")
    with pytest.raises(lasair.LasairError, match=r"watchlist:N needs a positive whole number"):
        client.query("objectId", "objects, watchlist:x", "")


def test_object_shapes_and_mjd(client: lasair.lasair_client, archive_url: str) -> None:
    engine = sa.create_engine(archive_url)
    with engine.connect() as connection:
        raw = pd.read_sql(
            sa.text("SELECT candid, jd FROM candidates WHERE objectid = :o ORDER BY jd"),
            connection,
            params={"o": SUPERNOVA},
        )
    engine.dispose()
    full = client.object(SUPERNOVA, lite=False)
    assert full["objectId"] == SUPERNOVA
    assert full["objectData"]["ncand"] == 34
    assert {"candidates", "forcedphot", "annotations"} <= set(full)
    detections = [row for row in full["candidates"] if "candid" in row]
    limits = [row for row in full["candidates"] if "candid" not in row]
    assert [row["candid"] for row in detections] == list(raw["candid"])
    assert np.allclose([row["mjd"] for row in detections], raw["jd"] - 2400000.5)
    assert all(None not in row.values() and "mjd" in row for row in limits)

    lite = client.object(SUPERNOVA)
    assert set(lite) == {
        "objectId", "objectData", "candidates", "annotations", "sherlock", "TNS",
        "count_isdiffpos", "count_all_candidates", "count_noncandidate",
    }  # fmt: skip
    assert "forcedphot" not in lite and lite["objectData"]["objectId"] == SUPERNOVA
    assert set(lite["candidates"][-1]) <= set(lasair.LITE_CANDIDATE_KEYS)
    bare = client.object(SUPERNOVA, lasair_added=False)
    assert set(bare) == {"objectId", "candidates"}

    both = client.objects([SUPERNOVA, "ZTF17_____etfg", SUPERNOVA])
    assert both[0]["objectId"] == both[2]["objectId"] == SUPERNOVA
    assert both[1] is None  # Lasair's API answers null for an object it does not hold
    assert client.objects({SUPERNOVA: 1}.keys())[0]["objectId"] == SUPERNOVA  # any iterable

    curve, unknown = client.lightcurves([SUPERNOVA, "ZTF17_____etfg"])
    assert set(curve) == {"objectId", "candidates", "forcedphot"}
    assert curve["objectId"] == SUPERNOVA and curve["candidates"] == full["candidates"]
    assert curve["forcedphot"] == full["forcedphot"]
    assert unknown == {"objectId": "ZTF17_____etfg", "candidates": [], "forcedphot": []}
    points = [row for row in curve["candidates"] if "candid" in row]
    assert [row["candid"] for row in points] == list(raw["candid"])
    assert np.allclose([row["mjd"] for row in points], raw["jd"] - 2400000.5)
    assert any("diffmaglim" in row and "candid" not in row for row in curve["candidates"])

    # An empty cone (radius 0), as Lasair answers it.
    assert client.cone(10.0, 20.0, 0, requestType="count") == {"count": 0}
    assert client.cone(10.0, 20.0, 0, requestType="nearest") == {}
    assert client.cone(10.0, 20.0, 0, requestType="all") == []

    with pytest.raises(lasair.LasairError, match="no object"):
        client.object("ZTF99nothere")
    with pytest.raises(lasair.LasairError, match="at most 10"):
        client.lightcurves([SUPERNOVA] * 11)


def test_annotate_creates_an_annotation(client: lasair.lasair_client, archive_url: str) -> None:
    result = client.annotate(
        "mytopic", SUPERNOVA, "SN Ia", explanation="looks like one", classdict={"p": 0.9}
    )
    assert result["status"] == "success"
    assert result["tag"] == "mytopic:sn_ia"
    archive = ln.connect(archive_url)
    annotations = archive.object(SUPERNOVA).annotations
    mine = annotations[annotations["id"] == result["annotationID"]]
    assert list(mine["tags"].iloc[0]) == ["mytopic:sn_ia"]
    assert "looks like one" in mine["comment"].iloc[0]
    assert "mytopic:sn_ia" in archive.tags
    again = client.annotate_list(
        [{"objectId": SUPERNOVA, "topic": "mytopic", "classification": "SN Ia"}]
    )
    assert again[0]["tag"] == "mytopic:sn_ia"
    with pytest.raises(lasair.LasairError, match='missing "classification"'):
        client.annotate_list([{"objectId": SUPERNOVA, "topic": "t"}])
    with pytest.raises(lasair.LasairError, match="16 characters"):
        client.annotate("t", SUPERNOVA, "x", version="v" * 17)


def test_streams_not_there_yet(client: lasair.lasair_client) -> None:
    for call in (
        lambda: client.streams("2SN-likecandidates"),
        client.streams_topics,
        lambda: lasair.lasair_consumer("host:9092", "group", "topic"),
        lambda: lasair.lasair_producer("host:9092", "u", "p", "topic"),
    ):
        with pytest.raises(lasair.LasairError, match="Kafka streams are not in Lasair-NB yet"):
            call()


@pytest.mark.parametrize(
    ("call", "accepted"),
    [
        (lambda c: c.cone(10.0, 20.0, requestType="bogus"), "'all', 'nearest', 'count'"),
        (lambda c: c.cone(10.0, 20.0, radius=-1), "number of arcsec from 0 to 648000"),
        (lambda c: c.cone("x", 20.0), "ra must be a number"),
        (lambda c: c.cone(10.0, 95.0), "from -90 to 90"),
        (lambda c: c.query("objectId", "objects", "", limit=0), "limit must be"),
        (lambda c: c.query("objectId", "objects", 3), "conditions must be a string"),
        (lambda c: c.object(SUPERNOVA, lite="yes"), "True or False"),
        (lambda c: c.object("ZTF21abiuvdk ZTF"), "no object"),
        (lambda c: c.objects(42), "list of objectId strings"),
        (lambda c: c.annotate("t", SUPERNOVA, ""), "nontrivial string"),
    ],
)
def test_bad_arguments_say_what_is_accepted(client, call, accepted) -> None:
    with pytest.raises(lasair.LasairError, match=accepted):
        call(client)


@pytest.mark.slow
def test_lasair_style_script_runs_unchanged(
    archive_url: str, objects: pd.DataFrame, tmp_path
) -> None:
    script = tmp_path / "lasair_example.py"
    script.write_text(
        textwrap.dedent(
            """
            import sys
            from lasair_nb import lasair

            token = "0123456789abcdef"
            L = lasair.lasair_client(token, endpoint="https://lasair-ztf.lsst.ac.uk/api")
            try:
                rows = L.query(
                    "objectId, ncand", "objects", "ncand >= 34 ORDER BY ncand DESC, objectId"
                )
            except lasair.LasairError as e:
                sys.exit(str(e))
            for row in rows:
                print(row["objectId"], row["ncand"])
                info = L.object(row["objectId"])
                near = L.cone(info["objectData"]["ramean"], info["objectData"]["decmean"], 2, "nearest")
                print("nearest", near["object"])
            """
        )
    )
    env = {**os.environ, "LASAIR_DB_URL": archive_url}
    done = subprocess.run(
        [sys.executable, str(script)],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    chosen = objects[objects["ncand"] >= 34].sort_values(["ncand", "objectid"])
    chosen = chosen.sort_values("ncand", ascending=False, kind="stable")
    expected = []
    for object_id, ncand in zip(chosen["objectid"], chosen["ncand"], strict=True):
        expected += [f"{object_id} {ncand}", f"nearest {object_id}"]
    assert done.stdout.splitlines() == expected
    assert f"{SUPERNOVA} 34" in expected
