"""Sherlock-like context: catalogues loaded from real files, objects ingested at chosen
positions, classes and separations checked against values computed here with astropy
(``SkyCoord.separation``, Planck18) and the small-angle formula written out, never by the
code under test.

Catalogues (read in place from ``../shared/data/catalogs``): CLU_mini.csv (galaxies with
``distmpc``), table-4LAC-DR3-h.fits (AGN: counterpart positions and redshifts) and
3hsp.csv (blazars, sexagesimal RA/Dec under " R.A. " / " Dec " headers).
"""

from __future__ import annotations

import copy
import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import fastavro
import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.cosmology import Planck18
from astropy.table import Table

from ingest.connection import connect as connect_ingester
from ingest.objects_stage import ObjectUpdater
from ingest.rows import alert_rows
from ingest.writer import ArchiveWriter
from lasair_nb import lasair
from lasair_nb.archive.schema import CATALOG_KINDS, SHERLOCK_CLASSES
from lasair_nb.cli import catalogs as catalog_cli
from lasair_nb.cli.main import main
from lasair_nb.client.archive import connect
from lasair_nb.domain import sherlock as rules

pytestmark = pytest.mark.slow  # catalogues and ingest: the full suite, not the fast lane

NO_SOURCE = -999.0
NOTHING_NEAR = {"sgscore1": NO_SOURCE, "distpsnr1": NO_SOURCE, "neargaia": NO_SOURCE}

# CLU galaxy with a distance and no catalogued size: its extent is 50 kpc at 139.5 Mpc.
GALAXY = "2MASX J00022478-5445592"
GALAXY_RA, GALAXY_DEC, GALAXY_MPC = 0.60321, -54.76653, 139.5183563232422
# A 4LAC AGN with a redshift, at its counterpart's position.
AGN = "4FGL J0001.4-0010"
BLAZAR = "3HSPJ000132.7-415525"


# --- fixtures and factories --------------------------------------------------------------


@pytest.fixture(scope="module")
def catalogs_dir(shared_data: Path) -> Path:
    return shared_data / "catalogs"


@pytest.fixture(scope="module")
def alert_template(ztf_alert_files: list[Path]) -> dict[str, Any]:
    """A real 4.02 alert, to be moved to chosen positions."""
    path = next(p for p in reversed(ztf_alert_files) if "ZTF23" in p.name)
    return next(fastavro.reader(io.BytesIO(path.read_bytes())))


@pytest.fixture
def ingest_at(alert_template: dict[str, Any]) -> Callable[..., None]:
    """Factory: ingest one single-detection alert per (objectId, ra, dec, fields) in one batch."""
    counter = iter(range(10**6))

    def ingest(url: str, objects: list[tuple[str, float, float, dict[str, float]]]) -> None:
        rows = []
        for object_id, ra, dec, fields in objects:
            record = copy.deepcopy(alert_template)
            candid = 3_000_000_000_000_000_000 + next(counter)
            record.update(objectId=object_id, candid=candid, prv_candidates=None, fp_hists=None)
            record["candidate"].update(candid=candid, ra=ra, dec=dec, **fields)
            rows.append(alert_rows(record))
        connection = connect_ingester(url)
        try:
            ArchiveWriter(connection).write_batch(rows, source="test")
            ObjectUpdater(connection).drain()  # the objects stage, at once
        finally:
            connection.close()

    return ingest


@pytest.fixture
def run_cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    """Run ``lasair-nb`` in-process on an archive: (exit status, stdout, stderr)."""

    def run(url: str, *argv: str) -> tuple[int, str, str]:
        monkeypatch.setenv("LASAIR_DB_URL", url)
        status = main(list(argv))
        out, err = capsys.readouterr()
        return status, out, err

    return run


@pytest.fixture
def engine(archive_url: str) -> Iterator[sa.Engine]:
    engine = sa.create_engine(archive_url)
    yield engine
    engine.dispose()


def _load_all(run_cli, url: str, catalogs_dir: Path) -> None:
    for argv in (
        ("CLU", str(catalogs_dir / "CLU_mini.csv"), "--kind", "galaxy"),
        (
            "4LAC", str(catalogs_dir / "table-4LAC-DR3-h.fits"), "--kind", "agn",
            "--ra", "RA_Counterpart", "--dec", "DEC_Counterpart", "--id", "Source_Name",
            "--z", "Redshift",
        ),
        ("3HSP", str(catalogs_dir / "3hsp.csv"), "--kind", "agn", "--id", "3HSP Source name"),
    ):  # fmt: skip
        status, _, err = run_cli(url, "catalogs", "load", *argv, "--quiet")
        assert status == 0, err


def _rows(engine: sa.Engine, sql: str, **params: Any) -> list[dict[str, Any]]:
    with engine.connect() as connection:
        return [dict(row) for row in connection.execute(sa.text(sql), params).mappings()]


def _classes(engine: sa.Engine) -> dict[str, dict[str, Any]]:
    rows = _rows(engine, "SELECT * FROM sherlock_classifications")
    return {row["objectid"]: row for row in rows}


def _offset(ra: float, dec: float, north_arcsec: float, east_arcsec: float) -> tuple[float, float]:
    """A position offset from (ra, dec), by astropy."""
    moved = SkyCoord(ra * u.deg, dec * u.deg).spherical_offsets_by(
        east_arcsec * u.arcsec, north_arcsec * u.arcsec
    )
    return float(moved.ra.deg), float(moved.dec.deg)


def _agn_position(catalogs_dir: Path) -> tuple[float, float, float]:
    table = Table.read(catalogs_dir / "table-4LAC-DR3-h.fits")
    row = table[[name.strip() == AGN for name in table["Source_Name"].astype(str)]][0]
    return float(row["RA_Counterpart"]), float(row["DEC_Counterpart"]), float(row["Redshift"])


# --- classification of ingested objects ----------------------------------------------------


def test_ingest_classifies_against_loaded_catalogues(
    archive_url: str, engine: sa.Engine, run_cli, ingest_at, catalogs_dir: Path
) -> None:
    _load_all(run_cli, archive_url, catalogs_dir)
    nucleus = _offset(GALAXY_RA, GALAXY_DEC, 0.3, 0.2)
    disc = _offset(GALAXY_RA, GALAXY_DEC, 12.0, -15.0)
    agn_ra, agn_dec, agn_z = _agn_position(catalogs_dir)
    on_agn = _offset(agn_ra, agn_dec, 0.2, 0.1)
    blazar = SkyCoord("00 01 32.74", "-41 55 24.99", unit=(u.hourangle, u.deg))
    on_blazar = _offset(float(blazar.ra.deg), float(blazar.dec.deg), -0.4, 0.0)
    empty = (200.0, -30.0)
    ingest_at(
        archive_url,
        [
            ("ZTF26aanucle", *nucleus, NOTHING_NEAR),
            ("ZTF26aadiscc", *disc, NOTHING_NEAR),
            ("ZTF26aaagnnn", *on_agn, NOTHING_NEAR),
            ("ZTF26aablazr", *on_blazar, NOTHING_NEAR),
            ("ZTF26aaorphn", *empty, NOTHING_NEAR),
        ],
    )
    found = _classes(engine)
    assert {k: v["classification"] for k, v in found.items()} == {
        "ZTF26aanucle": "NT",
        "ZTF26aadiscc": "SN",
        "ZTF26aaagnnn": "AGN",
        "ZTF26aablazr": "AGN",
        "ZTF26aaorphn": "ORPHAN",
    }
    galaxy = SkyCoord(GALAXY_RA * u.deg, GALAXY_DEC * u.deg)
    for object_id, position in (("ZTF26aanucle", nucleus), ("ZTF26aadiscc", disc)):
        row = found[object_id]
        separation = galaxy.separation(SkyCoord(position[0] * u.deg, position[1] * u.deg))
        kpc = separation.to_value(u.rad) * GALAXY_MPC * 1000  # small angle, D = distmpc
        assert row["catalogue_table_name"] == "CLU"
        assert row["catalogue_object_id"] == GALAXY
        assert row["association_type"] == row["classification"]
        assert row["separationarcsec"] == pytest.approx(separation.to_value(u.arcsec), abs=2e-3)
        assert row["physical_separation_kpc"] == pytest.approx(kpc, rel=1e-3)
        assert row["direct_distance"] == pytest.approx(GALAXY_MPC)
        assert row["distance"] == pytest.approx(GALAXY_MPC)
        assert GALAXY in row["description"] and "CLU" in row["description"]
        assert row["annotator"] == rules.ANNOTATOR
    disc_row = found["ZTF26aadiscc"]
    assert disc_row["northseparationarcsec"] == pytest.approx(12.0, abs=0.01)
    assert disc_row["eastseparationarcsec"] == pytest.approx(-15.0, abs=0.01)
    # The galaxy's extent: 50 kpc at its distance, in arcsec.
    assert disc_row["major_axis_arcsec"] == pytest.approx(
        np.degrees(50 / (GALAXY_MPC * 1000)) * 3600, rel=1e-6
    )
    agn_row = found["ZTF26aaagnnn"]
    separation = SkyCoord(agn_ra * u.deg, agn_dec * u.deg).separation(
        SkyCoord(on_agn[0] * u.deg, on_agn[1] * u.deg)
    )
    assert agn_row["catalogue_table_name"] == "4LAC"
    assert agn_row["catalogue_object_id"] == AGN
    assert agn_row["catalogue_object_type"] == "agn"
    assert agn_row["separationarcsec"] == pytest.approx(separation.to_value(u.arcsec), abs=2e-3)
    assert agn_row["z"] == pytest.approx(agn_z, rel=1e-6)
    assert agn_row["distance"] == pytest.approx(
        Planck18.luminosity_distance(agn_z).to_value(u.Mpc), rel=1e-6
    )
    assert agn_row["physical_separation_kpc"] == pytest.approx(
        separation.to_value(u.rad) * Planck18.angular_diameter_distance(agn_z).to_value(u.kpc),
        rel=1e-3,
    )
    # The 3HSP blazar is a 4LAC AGN too: both are synonyms, the nearer first.
    blazar_matches = _rows(
        engine,
        "SELECT catalogue_table_name AS catalogue, catalogue_object_id AS id, association_type"
        " FROM sherlock_crossmatches WHERE objectid = 'ZTF26aablazr' ORDER BY rank",
    )
    assert {(m["catalogue"], m["association_type"]) for m in blazar_matches} == {
        ("3HSP", "AGN"),
        ("4LAC", "AGN"),
    }
    assert BLAZAR in {m["id"] for m in blazar_matches}
    assert found["ZTF26aaorphn"]["catalogue_object_id"] is None
    assert "not matched" in found["ZTF26aaorphn"]["description"]
    # Crossmatches: ranked from 1, the first the classification's match.
    matches = _rows(
        engine, "SELECT * FROM sherlock_crossmatches WHERE objectid = 'ZTF26aadiscc' ORDER BY rank"
    )
    assert [m["rank"] for m in matches] == list(range(1, len(matches) + 1))
    assert matches[0]["catalogue_object_id"] == GALAXY
    assert matches[0]["classificationreliability"] == 2
    assert (
        _rows(engine, "SELECT * FROM sherlock_crossmatches WHERE objectid = 'ZTF26aaorphn'") == []
    )


def test_without_catalogues_the_alert_fields_decide(
    archive_url: str, engine: sa.Engine, ingest_at
) -> None:
    ps1 = {"neargaia": NO_SOURCE, "maggaia": NO_SOURCE, "sgmag1": 18.0, "srmag1": 17.5}
    ingest_at(
        archive_url,
        [
            ("ZTF26aastarr", 10.0, 10.0, {**ps1, "sgscore1": 0.98, "distpsnr1": 0.2}),
            ("ZTF26aacorer", 11.0, 10.0, {**ps1, "sgscore1": 0.05, "distpsnr1": 0.4}),
            ("ZTF26aahostt", 12.0, 10.0, {**ps1, "sgscore1": 0.05, "distpsnr1": 3.0}),
            (
                "ZTF26aabrite", 13.0, 10.0,
                {"sgscore1": NO_SOURCE, "distpsnr1": NO_SOURCE, "neargaia": 2.5, "maggaia": 10.5},
            ),
            ("ZTF26aafarhs", 14.0, 10.0, {**ps1, "sgscore1": 0.05, "distpsnr1": 12.0}),
        ],
    )  # fmt: skip
    found = _classes(engine)
    assert {k: v["classification"] for k, v in found.items()} == {
        "ZTF26aastarr": "VS",
        "ZTF26aacorer": "NT",
        "ZTF26aahostt": "SN",
        "ZTF26aabrite": "BS",
        "ZTF26aafarhs": "ORPHAN",
    }
    assert found["ZTF26aastarr"]["catalogue_table_name"] == "PS1"
    assert found["ZTF26aastarr"]["separationarcsec"] == pytest.approx(0.2, abs=1e-6)
    assert found["ZTF26aabrite"]["catalogue_table_name"] == "Gaia"


# --- the command line ------------------------------------------------------------------


def test_reload_is_idempotent_and_list_remove(
    archive_url: str, engine: sa.Engine, run_cli, catalogs_dir: Path
) -> None:
    clu = str(catalogs_dir / "CLU_mini.csv")
    for _ in range(2):
        status, out, _ = run_cli(
            archive_url, "catalogs", "load", "CLU", clu, "--kind", "galaxy", "--quiet"
        )
        assert status == 0 and "loaded 10 galaxy sources" in out
    expected = pd.read_csv(catalogs_dir / "CLU_mini.csv")
    stored = pd.DataFrame(_rows(engine, "SELECT * FROM catalog_sources ORDER BY number"))
    assert len(stored) == len(expected) == 10
    assert list(stored["source_id"]) == list(expected["name"])
    np.testing.assert_allclose(stored["ra"], expected["ra"])
    np.testing.assert_allclose(stored["distance_mpc"], expected["distmpc"])
    assert _rows(engine, "SELECT name, kind, rows FROM catalogs") == [
        {"name": "CLU", "kind": "galaxy", "rows": 10}
    ]
    status, out, _ = run_cli(archive_url, "catalogs", "list", "--format", "csv")
    assert status == 0 and "CLU,galaxy,10" in out
    status, out, _ = run_cli(archive_url, "catalogs", "remove", "CLU")
    assert status == 0 and "10 sources" in out
    assert _rows(engine, "SELECT count(*) AS n FROM catalog_sources") == [{"n": 0}]
    status, _, err = run_cli(archive_url, "catalogs", "remove", "CLU")
    assert status == 2 and "no catalogue 'CLU'" in err


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["missing.csv", "--kind", "galaxy"], "no file"),
        (["CLU_mini.csv", "--kind", "planet"], "accepted: galaxy, agn, qso, star, cv"),
        (["CLU_mini.csv", "--kind", "galaxy", "--ra", "nope"], "no column 'nope' for --ra"),
        (["CLU_mini.csv", "--kind", "galaxy", "--radius-unit", "furlong"], "unknown radius unit"),
        (["bad_coordinates.csv", "--kind", "star"], "row 2: cannot read RA"),
        (["out_of_range.csv", "--kind", "star"], "row 1: RA"),
        (["no_ra.csv", "--kind", "star"], "no ra column found"),
        (["notes.txt.bin", "--kind", "star"], "unknown catalogue format"),
    ],
)
def test_bad_input_is_one_line_and_changes_nothing(  # noqa: PLR0917 - fixtures
    archive_url: str,
    engine: sa.Engine,
    run_cli,
    catalogs_dir: Path,
    tmp_path: Path,
    argv: list[str],
    says: str,
) -> None:
    # A good version first: a refused reload must leave it as it was.
    status, _, _ = run_cli(
        archive_url, "catalogs", "load", "CLU", str(catalogs_dir / "CLU_mini.csv"),
        "--kind", "galaxy", "--quiet",
    )  # fmt: skip
    assert status == 0
    before = _rows(engine, "SELECT * FROM catalog_sources ORDER BY number")
    (tmp_path / "bad_coordinates.csv").write_text(
        "name,ra,dec\na,00 01 16.37,+29 35 34.0\nb,12 xx 00,+10 00 00\n"
    )
    (tmp_path / "out_of_range.csv").write_text("name,ra,dec\na,10,95\n")
    (tmp_path / "no_ra.csv").write_text("name,x,dec\na,10,5\n")
    (tmp_path / "notes.txt.bin").write_text("x")
    file = catalogs_dir / argv[0] if argv[0] == "CLU_mini.csv" else tmp_path / argv[0]
    status, _, err = run_cli(archive_url, "catalogs", "load", "CLU", str(file), *argv[1:])
    assert status == 2
    assert says in err, err
    assert "Traceback" not in err and err.startswith("error: ")
    assert len(err.strip().splitlines()) == 1
    assert _rows(engine, "SELECT * FROM catalog_sources ORDER BY number") == before


def test_hostile_catalogue_name_is_refused(
    archive_url: str, engine: sa.Engine, run_cli, catalogs_dir: Path
) -> None:
    status, _, err = run_cli(
        archive_url, "catalogs", "load", "x'; DROP TABLE objects; --",
        str(catalogs_dir / "CLU_mini.csv"), "--kind", "galaxy",
    )  # fmt: skip
    assert status == 2 and "invalid catalogue name" in err and len(err.strip().splitlines()) == 1
    assert _rows(engine, "SELECT count(*) AS n FROM catalogs") == [{"n": 0}]
    assert _rows(engine, "SELECT count(*) AS n FROM objects") == [{"n": 0}]


def test_classify_reclassifies_existing_objects(
    archive_url: str, engine: sa.Engine, run_cli, ingest_at, catalogs_dir: Path
) -> None:
    nucleus = _offset(GALAXY_RA, GALAXY_DEC, 0.1, 0.1)
    ingest_at(archive_url, [("ZTF26aalater", *nucleus, NOTHING_NEAR)])
    assert _classes(engine)["ZTF26aalater"]["classification"] == "ORPHAN"
    run_cli(
        archive_url, "catalogs", "load", "CLU", str(catalogs_dir / "CLU_mini.csv"),
        "--kind", "galaxy", "--quiet",
    )  # fmt: skip
    assert _classes(engine)["ZTF26aalater"]["classification"] == "ORPHAN"  # until re-run
    status, out, err = run_cli(archive_url, "catalogs", "classify", "--quiet")
    assert status == 0, err
    assert "classified 1 objects: NT 1" in out
    row = _classes(engine)["ZTF26aalater"]
    assert row["classification"] == "NT" and row["catalogue_object_id"] == GALAXY


# --- the clients ---------------------------------------------------------------------------


def test_lasair_shim_and_native_client(
    archive_url: str, run_cli, ingest_at, catalogs_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _load_all(run_cli, archive_url, catalogs_dir)
    nucleus = _offset(GALAXY_RA, GALAXY_DEC, 0.3, 0.0)
    ingest_at(archive_url, [("ZTF26aashimm", *nucleus, NOTHING_NEAR)])
    monkeypatch.setenv("LASAIR_DB_URL", archive_url)
    client = lasair.lasair_client("any-token")
    try:
        lite = client.sherlock_object("ZTF26aashimm")
        assert list(lite) == ["classifications"]
        [(name, (cls, description))] = lite["classifications"].items()
        assert (name, cls) == ("ZTF26aashimm", "NT")
        assert description.startswith("The transient is possibly associated with " + GALAXY)
        full = client.sherlock_object("ZTF26aashimm", lite=False)
        best = full["crossmatches"][0]
        assert best["rank"] == 1 and best["transient_object_id"] == "ZTF26aashimm"
        assert best["catalogue_object_id"] == GALAXY and best["association_type"] == "NT"
        assert best["separationArcsec"] == pytest.approx(0.3, abs=2e-3)
        both = client.sherlock_objects(("ZTF26aashimm",), lite=False)
        assert both["classifications"] == lite["classifications"]
        assert both["crossmatches"] == full["crossmatches"]
        disc = _offset(GALAXY_RA, GALAXY_DEC, 20.0, 0.0)
        position = client.sherlock_position(*disc, lite=False)
        assert position["classifications"]["query"][0] == "SN"
        assert position["crossmatches"][0]["separationArcsec"] == pytest.approx(20.0, abs=2e-3)
        with pytest.raises(lasair.LasairError, match="no object"):
            client.sherlock_object("ZTF26nothere")
        with pytest.raises(lasair.LasairError):
            client.sherlock_position("north", 10)
        native = client.archive.sherlock("ZTF26aashimm")
        assert native["classification"] == "NT" and native["crossmatches"][0]["rank"] == 1
        assert isinstance(native["updated_at"], str)
        assert client.archive.sherlock_position(200.0, -30.0)["classification"] == "ORPHAN"
    finally:
        client.archive.close()


def test_users_read_but_do_not_write_the_classifications(
    archive_url: str, engine: sa.Engine, ingest_at
) -> None:
    ingest_at(archive_url, [("ZTF26aareadr", 10.0, 10.0, NOTHING_NEAR)])
    with engine.connect() as connection:
        privileges = {
            table: connection.execute(
                sa.text("SELECT has_table_privilege('lasair_reader', :t, 'SELECT'),"
                        " has_table_privilege('lasair_user', :t, 'INSERT')"),
                {"t": table},
            ).one()
            for table in ("catalogs", "catalog_sources", "sherlock_classifications",
                          "sherlock_crossmatches")
        }  # fmt: skip
    assert all(select and not insert for select, insert in privileges.values())
    archive = connect(archive_url)
    try:
        found = archive.sql("SELECT objectid, classification FROM sherlock_classifications")
    finally:
        archive.close()
    assert found.to_dict("records") == [{"objectid": "ZTF26aareadr", "classification": "ORPHAN"}]


# --- the rules, without a database -----------------------------------------------------------


def _source(kind: str, separation: float, **values: Any) -> dict[str, Any]:
    return {
        "catalogue": values.pop("catalogue", "CAT"), "source_id": values.pop("source_id", "s"),
        "kind": kind, "ra": 0.0, "dec": 0.0, "mag": None, "redshift": None,
        "separationarcsec": separation, "northseparationarcsec": 0.0,
        "eastseparationarcsec": separation, "direct_distance": None, "distance": None,
        "physical_separation_kpc": None, "galaxy_radius_arcsec": 10.0, **values,
    }  # fmt: skip


def test_rules_conflicts_bright_stars_and_ranking() -> None:
    empty: dict[str, Any] = {}
    both = [_source("star", 0.5, source_id="star"), _source("agn", 0.7, source_id="agn")]
    assert rules.classify_matches(both, empty).classification == "UNCLEAR"
    bright = _source("star", 3.0, mag=9.0)
    assert rules.classify_matches([bright], empty).classification == "BS"
    assert (
        rules.classify_matches([_source("star", 3.0, mag=16.0)], empty).classification == "ORPHAN"
    )
    # PS1 calls a star-like source on a catalogued nucleus: conflicting.
    star_on_core = {"sgscore1": 0.9, "distpsnr1": 0.3}
    galaxy_core = _source("galaxy", 0.3)
    assert rules.classify_matches([galaxy_core], star_on_core).classification == "UNCLEAR"
    # A QSO is star-like to PS1: the catalogue wins.
    assert rules.classify_matches([_source("qso", 0.3)], star_on_core).classification == "AGN"
    # Associations rank by separation in galaxy sizes: the big galaxy first.
    big = _source("galaxy", 30.0, source_id="big", galaxy_radius_arcsec=120.0)
    small = _source("galaxy", 8.0, source_id="small", galaxy_radius_arcsec=9.0)
    result = rules.classify_matches([small, big], empty)
    assert [m.catalogue_object_id for m in result.matches] == ["big", "small"]
    assert result.classification == "SN"
    assert set(rules.CLASSES) == set(SHERLOCK_CLASSES)
    assert rules.CATALOG_KINDS == CATALOG_KINDS == catalog_cli.KINDS


def test_offsets_agree_with_astropy() -> None:
    rng = np.random.default_rng(5)
    ra0, dec0 = rng.uniform(0, 360, 50), rng.uniform(-89, 89, 50)
    east, north = rng.uniform(-100, 100, 50), rng.uniform(-100, 100, 50)
    origin = SkyCoord(ra0 * u.deg, dec0 * u.deg)
    moved = origin.spherical_offsets_by(east * u.arcsec, north * u.arcsec)
    separation, got_north, got_east = rules.offsets_arcsec(moved.ra.deg, moved.dec.deg, ra0, dec0)
    np.testing.assert_allclose(separation, origin.separation(moved).to_value(u.arcsec), atol=1e-6)
    np.testing.assert_allclose(got_north, north, atol=1e-6)
    np.testing.assert_allclose(got_east, east, atol=1e-6)


def test_sexagesimal_columns_parse_like_astropy(catalogs_dir: Path) -> None:
    sources, found = catalog_cli.read_catalog(catalogs_dir / "3hsp.csv", {"id": "3HSP Source name"})
    assert (found["ra"], found["dec"]) == ("R.A.", "Dec")
    raw = pd.read_csv(catalogs_dir / "3hsp.csv", skipinitialspace=True)
    raw.columns = [c.strip() for c in raw.columns]
    expected = SkyCoord(
        raw["R.A."].str.strip().to_numpy(), raw["Dec"].str.strip().to_numpy(),
        unit=(u.hourangle, u.deg),
    )  # fmt: skip
    np.testing.assert_allclose(sources["ra"], expected.ra.deg)
    np.testing.assert_allclose(sources["dec"], expected.dec.deg)
    assert sources["source_id"].iloc[0] == "3HSPJ000116.4+293534"


def test_parquet_catalogues_load_like_csv(
    archive_url: str, engine: sa.Engine, run_cli, catalogs_dir: Path, tmp_path: Path
) -> None:
    """Parquet (pyarrow): the CLU rows as Parquet load as the CSV does; a Parquet table
    without coordinates (the CTAO blazar list: names and thresholds only) is refused."""
    parquet = tmp_path / "clu.parquet"
    pd.read_csv(catalogs_dir / "CLU_mini.csv").to_parquet(parquet)
    status, out, _ = run_cli(
        archive_url, "catalogs", "load", "CLUPQ", str(parquet), "--kind", "galaxy", "--quiet"
    )
    assert status == 0 and "loaded 10 galaxy sources" in out
    stored = pd.DataFrame(
        _rows(
            engine, "SELECT ra, dec FROM catalog_sources WHERE catalogue = 'CLUPQ' ORDER BY number"
        )
    )
    expected = pd.read_csv(catalogs_dir / "CLU_mini.csv")
    np.testing.assert_allclose(stored["ra"], expected["ra"])
    np.testing.assert_allclose(stored["dec"], expected["dec"])
    assert run_cli(archive_url, "catalogs", "remove", "CLUPQ")[0] == 0
    status, _, err = run_cli(
        archive_url, "catalogs", "load", "CTAO",
        str(catalogs_dir / "CTAO_blazars_ztf_dr22.parquet"), "--kind", "agn",
    )  # fmt: skip
    assert status == 2 and "no ra column found" in err and "Traceback" not in err
    assert _rows(engine, "SELECT count(*) AS n FROM catalogs WHERE name = 'CTAO'") == [{"n": 0}]
