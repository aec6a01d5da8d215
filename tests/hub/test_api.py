"""The JSON API (/services/api/) through the `lasair` client from PyPI, unchanged.

Every call made over HTTP is compared with what `lasair_nb.lasair` answers in-process for
the same user and archive; tokens are the hub's own; rows stay behind row-level security.
"""

from __future__ import annotations

import json
import math
import uuid
from pathlib import Path

import pandas as pd
import pytest
import requests
from astropy import units as u
from astropy.coordinates import SkyCoord

import lasair_nb as ln
from lasair_nb.lasair import lasair_client as in_process_client
from lasair_nb.settings import Settings

lasair = pytest.importorskip("lasair", reason="the lasair client from PyPI (pip install lasair)")

pytestmark = pytest.mark.slow  # a hub, its services and users' tokens

SUPERNOVA = "ZTF21abiuvdk"  # SN 2021zby, in the real sample alerts


def _user_with_token(hub, role: str) -> tuple[str, str]:
    user = hub.user(role)
    assert "sent to the admin" in user.sign_up()
    hub.admin.session.get(f"{hub.base}/hub/authorize/{user.name}", timeout=30)
    assert user.log_in().status_code == 302
    made = user.api("POST", f"/users/{user.name}/tokens", json={"note": "lasair client"})
    assert made.status_code == 201, made.text
    return user.name, made.json()["token"]


@pytest.fixture(scope="module")
def alice(hub) -> tuple[str, str]:
    return _user_with_token(hub, "alice")


@pytest.fixture(scope="module")
def bob(hub) -> tuple[str, str]:
    return _user_with_token(hub, "bob")


def plain(value):
    """JSON's view of an answer: what survives json.dumps, NaN as null; "days ago"
    (``mjdmin_ago``...) to 1e-3 days, since it grows between two calls."""

    def clean(item):
        if isinstance(item, float) and not math.isfinite(item):
            return None
        if isinstance(item, dict):
            return {
                key: round(inner, 3) if key.endswith("_ago") and inner else clean(inner)
                for key, inner in item.items()
            }
        if isinstance(item, list):
            return [clean(inner) for inner in item]
        return item

    return clean(json.loads(json.dumps(value, default=str)))


def both(hub, user: tuple[str, str]):
    """(the PyPI client over HTTP, lasair_nb.lasair in-process) as the same user."""
    name, token = user
    remote = lasair.lasair_client(token, endpoint=f"{hub.base}/services/api")
    assert remote.cone(0, 0, 0, "count") == {"count": 0}  # the API makes the user's role
    local = in_process_client(archive=ln.connect(hub.db_url, act_as=name))
    return remote, local


def test_the_pypi_client_gets_what_the_notebook_gets(hub, alice) -> None:
    remote, local = both(hub, alice)
    record = local.object(SUPERNOVA)
    ra, dec = record["objectData"]["ramean"], record["objectData"]["decmean"]
    calls = [
        ("cone", (ra, dec, 60, "all")),
        ("cone", (ra, dec, 60, "nearest")),
        ("cone", (ra, dec, 3600, "count")),
        ("query", ("objectId, ncand, gmag", "objects", "ncand > 30 ORDER BY ncand DESC", 5)),
        ("object", (SUPERNOVA,)),
        ("object", (SUPERNOVA, False, True)),
        ("sherlock_object", (SUPERNOVA,)),
        ("sherlock_position", (ra, dec)),
    ]
    for method, arguments in calls:
        over_http = plain(getattr(remote, method)(*arguments))
        expected = plain(getattr(local, method)(*arguments))
        if over_http != expected and isinstance(expected, dict):
            different = {
                key: (over_http.get(key), value)
                for key, value in expected.items()
                if over_http.get(key) != value
            }
            if "objectData" in different:
                mine, theirs = different["objectData"]
                different["objectData"] = {
                    k: (mine.get(k), v) for k, v in theirs.items() if mine.get(k) != v
                }
            pytest.fail(f"{method}: {different}")
        assert over_http == expected, method
    found = remote.cone(ra, dec, 60, "all")
    assert found[0]["object"] == SUPERNOVA and found[0]["separation"] < 1
    # the newer calls, which the PyPI client (0.1.4) does not have, answer the same way
    for method, field, arguments in (
        ("objects", "objectIds", [SUPERNOVA]),
        ("lightcurves", "objectIds", [SUPERNOVA]),
        ("sherlock/objects", "objectIds", [SUPERNOVA]),
    ):
        answer = requests.post(
            f"{hub.base}/services/api/{method}/",
            data={field: ",".join(arguments)},
            headers={"Authorization": f"Token {alice[1]}"},
            timeout=60,
        )
        expected = getattr(local, method.replace("/", "_"))(arguments)
        assert answer.status_code == 200 and plain(answer.json()) == plain(expected), method


def test_the_light_curve_counts_match_the_archive(hub, alice) -> None:
    answer = requests.post(
        f"{hub.base}/services/api/lightcurves/",
        data={"objectIds": SUPERNOVA},
        headers={"Authorization": f"Token {alice[1]}"},
        timeout=60,
    ).json()
    detections = [c for c in answer[0]["candidates"] if "candid" in c]
    archive = ln.connect(hub.db_url, act_as=alice[0])
    counted = archive.sql(f"SELECT count(*) AS n FROM candidates WHERE objectid = '{SUPERNOVA}'")[
        "n"
    ][0]
    assert len(detections) == counted > 0


def test_bad_requests_say_what_is_accepted(hub, alice) -> None:
    remote, _ = both(hub, alice)
    with pytest.raises(lasair.LasairError) as refused:
        remote.cone("north", 10)
    assert "Bad Request" in refused.value.message and "ra must be a number" in refused.value.message
    with pytest.raises(lasair.LasairError) as refused:
        remote.query("objectId", "objects; DROP TABLE objects", "")
    assert "Bad Request" in refused.value.message
    assert "Traceback" not in refused.value.message
    with pytest.raises(lasair.LasairError) as refused:
        remote.query("objectId", "objects", "ncand > 1", limit=10**9)
    assert "limit" in refused.value.message
    answer = requests.post(
        f"{hub.base}/services/api/nothing/",
        headers={"Authorization": f"Token {alice[1]}"},
        timeout=60,
    )
    assert answer.status_code == 404 and "cone" in answer.json()["error"]


def test_no_token_or_a_wrong_one_is_unauthorized(hub) -> None:
    for headers in ({}, {"Authorization": "Token not-a-token"}, {"Authorization": "nonsense"}):
        answer = requests.post(
            f"{hub.base}/services/api/cone/", data={"ra": 1, "dec": 1}, headers=headers, timeout=60
        )
        assert answer.status_code == 401, headers
    with pytest.raises(lasair.LasairError, match="Unauthorized"):
        lasair.lasair_client("wrong", endpoint=f"{hub.base}/services/api").cone(1, 1)


def test_a_token_without_the_api_scope_is_refused(hub) -> None:
    user = hub.user("narrow")
    assert "sent to the admin" in user.sign_up()
    hub.admin.session.get(f"{hub.base}/hub/authorize/{user.name}", timeout=30)
    assert user.log_in().status_code == 302
    made = user.api("POST", f"/users/{user.name}/tokens", json={"scopes": ["read:users:name!user"]})
    assert made.status_code == 201, made.text
    with pytest.raises(lasair.LasairError, match="Unauthorized"):
        lasair.lasair_client(made.json()["token"], endpoint=f"{hub.base}/services/api").cone(1, 1)


def test_another_users_private_watchlist_is_out_of_reach(hub, alice, bob) -> None:
    mine = ln.connect(hub.db_url, act_as=alice[0])
    sources = pd.DataFrame({"name": ["sn"], "ra": [0.814293], "dec": [16.1456989]})
    mine.watchlists.create(f"private-{uuid.uuid4().hex[:6]}", sources, radius=5)
    watchlist = int(mine.sql("SELECT max(id) AS id FROM watchlists")["id"][0])
    alices, _ = both(hub, alice)
    bobs, _ = both(hub, bob)
    rows = alices.query("objects.objectId", f"objects, watchlist:{watchlist}", "")
    assert [row["objectId"] for row in rows] == [SUPERNOVA]
    # row-level security: Bob's query runs, and his view of Alice's hits is empty
    assert bobs.query("objects.objectId", f"objects, watchlist:{watchlist}", "") == []
    assert bobs.query("count(*) AS n", "objects", "")[0]["n"] > 0  # he sees the objects


def test_annotations_through_the_api_are_the_users(hub, alice) -> None:
    remote, _ = both(hub, alice)
    answer = remote.annotate(
        "apitest", SUPERNOVA, "SN Ia", explanation="spectrum", classdict={"p": 0.9}
    )
    assert answer["status"] == "success" and answer["tag"] == "apitest:sn_ia"
    archive = ln.connect(hub.db_url, act_as=alice[0])
    found = archive.annotations.search(object_id=SUPERNOVA, author=alice[0])
    assert found["comment"].tolist() == ["spectrum"]  # written as Alice, with her words
    assert [list(tags) for tags in found["tags"]] == [["apitest:sn_ia"]]


def test_a_skymap_as_json(hub, alice, shared_data: Path) -> None:
    owner = ln.connect(hub.db_url)
    path = shared_data / "skymaps" / "S190425z" / "bayestar.fits.gz"
    name = owner.skymaps.ingest(path, name=f"S190425z-api-{uuid.uuid4().hex[:4]}")
    answer = requests.get(
        f"{hub.base}/services/api/skymap/{name}/",
        params={"levels": "0.5,0.9"},
        headers={"Authorization": f"Token {alice[1]}"},
        timeout=120,
    )
    assert answer.status_code == 200, answer.text
    document = answer.json()
    assert [r["level"] for r in document["credible_regions"]] == [0.5, 0.9]
    assert document["credible_regions"][1]["area_deg2"] == pytest.approx(10183, rel=0.01)
    moc, area = owner.skymaps.credible_region(name, 0.9)
    assert document["area90_deg2"] == pytest.approx(area)
    inside = {c["objectid"] for c in document["candidates"]}
    objects = owner.sql("SELECT objectid, ramean, decmean FROM objects", limit=100_000)
    coords = SkyCoord(objects["ramean"].to_numpy() * u.deg, objects["decmean"].to_numpy() * u.deg)
    assert inside == set(objects["objectid"][moc.contains_skycoords(coords)])


def test_openapi_describes_every_method(hub) -> None:
    document = requests.get(f"{hub.base}/services/api/openapi.json", timeout=60).json()
    assert document["openapi"].startswith("3.")
    for method in ("cone", "query", "object", "lightcurves", "sherlock/position", "annotate"):
        assert f"/{method}/" in document["paths"]


def test_the_default_rate_limit_holds(hub) -> None:
    """LASAIR_API_RATE_LIMIT's default, 600 a minute per token: the 601st call waits."""
    _, token = _user_with_token(hub, "busy")
    session = requests.Session()
    headers = {"Authorization": f"Token {token}"}
    url = f"{hub.base}/services/api/cone/"
    statuses = [
        session.post(url, data={"ra": 1, "dec": 1, "radius": 0}, headers=headers, timeout=60)
        for _ in range(Settings().api_rate_limit + 1)
    ]
    session.close()
    codes = [answer.status_code for answer in statuses]
    assert set(codes[:-1]) == {200} and codes[-1] == 429, sorted(set(codes))
    assert int(statuses[-1].headers["Retry-After"]) > 0
