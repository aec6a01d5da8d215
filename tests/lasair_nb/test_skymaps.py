"""LVK sky maps: reading every layout, credible regions and levels, against plain numpy.

The real maps of ``shared/data/skymaps`` are read in place. The 90% areas are checked
against a calculation written here with nothing but astropy.io.fits and numpy, and
against the areas the data README quotes. Maps stored in the archive as tiles are
questioned through a fresh connection and checked against the maps read here.
"""

from __future__ import annotations

import base64
import gzip
import io
import json
import math
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import astropy.units as u
import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest
import sqlalchemy as sa
from alembic import command
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy_healpix import HEALPix
from healpix_alchemy.constants import HPX
from mocpy import MOC

import lasair_nb as ln
from lasair_nb.admin.users import add_user
from lasair_nb.archive import skymaps as skymap_storage
from lasair_nb.archive.migrate import alembic_config, upgrade
from lasair_nb.archive.schema import objects
from lasair_nb.domain.skymaps import SkyMap, SkyMapError, SkyTiles, read_skymap
from lasair_nb.errors import LasairError, NotFoundError

FULL_SKY_DEG2 = 4 * math.pi * (180 / math.pi) ** 2


@dataclass(frozen=True)
class Event:
    path: str
    readme_area_deg2: float  # the 90% area the data README quotes, rounded
    object_name: str | None
    flat: bool


EVENTS = {
    "GW170817": Event("GW170817/bayestar.fits.gz", 187, "G298107", flat=True),
    "S190425z": Event("S190425z/bayestar.fits.gz", 10183, "G330561", flat=True),
    "S190814bv": Event("S190814bv/LALInference.v1.fits.gz", 23, None, flat=True),
    "G338125": Event("G338125/bayestar.multiorder.fits", 11369, "G338125", flat=False),
    "MS181101ab": Event("MS181101ab_mock/bayestar.multiorder.fits", 31, "MS181101ab", flat=False),
}


@pytest.fixture(scope="session")
def skymap_dir(shared_data: Path) -> Path:
    return shared_data / "skymaps"


@pytest.fixture(scope="module", params=list(EVENTS))
def event(request: pytest.FixtureRequest, skymap_dir: Path) -> tuple[Event, Path, SkyMap]:
    """Each real map once per module; pytest drops one before reading the next."""
    event = EVENTS[request.param]
    path = skymap_dir / event.path
    # Distances cost 300 MB for an NSIDE-1024 map and nothing here needs them.
    return event, path, read_skymap(path, distance=False)


@dataclass(frozen=True)
class Reference:
    area_deg2: dict[float, float]  # credible level -> area
    total_probability: float


def independent_areas(path: Path, levels: tuple[float, ...]) -> Reference:
    """Credible areas and total probability from the FITS file, with plain numpy."""
    with fits.open(path) as hdus:
        header = hdus[1].header
        data = hdus[1].data
        if header["ORDERING"] == "NUNIQ":
            uniq = np.asarray(data["UNIQ"]).astype(np.float64)
            order = (np.log2(uniq) // 2).astype(int) - 1  # uniq is in [4**(o+1), 4**(o+2))
            pixel_sr = 4 * math.pi / (12 * 4.0**order)
            density = np.asarray(data["PROBDENSITY"], dtype=np.float64)
            ranked = np.argsort(-density, kind="stable")
            probability = (density * pixel_sr)[ranked]
            areas = pixel_sr[ranked]
        else:
            probability = np.sort(np.asarray(data["PROB"], dtype=np.float64))[::-1]
            areas = np.full(probability.size, 4 * math.pi / probability.size)
    cumulative = np.cumsum(probability)
    found = {}
    for level in levels:
        count = int(np.argmax(cumulative >= level)) + 1  # the pixel crossing the level counts
        found[level] = float(np.sum(areas[:count])) * (180 / math.pi) ** 2
    return Reference(area_deg2=found, total_probability=float(cumulative[-1]))


@pytest.fixture(scope="module")
def reference(event: tuple[Event, Path, SkyMap]) -> Reference:
    return independent_areas(event[1], (0.5, 0.9))


def pixel_centres(skymap: SkyMap, indices: list[int]) -> SkyCoord:
    """Centres of some of the map's pixels, computed with astropy-healpix."""
    ra, dec = [], []
    for index in indices:
        level = int(skymap.levels[index])
        ipix = int(skymap.uniq[index]) - 4 * 4**level
        lon, lat = HEALPix(nside=2**level, order="nested").healpix_to_lonlat(ipix)
        ra.append(lon.deg)
        dec.append(lat.deg)
    return SkyCoord(ra, dec, unit="deg", frame="icrs")


# ---------------------------------------------------------------------------------------
# every real map


@pytest.mark.slow  # reads every real map (large FITS files)
def test_credible_area_matches_plain_numpy_and_the_readme(
    event: tuple[Event, Path, SkyMap], reference: Reference
) -> None:
    info, _, skymap = event
    region = skymap.credible_region(0.9)
    assert region.area_deg2 == pytest.approx(reference.area_deg2[0.9], rel=1e-6)
    assert region.area_deg2 == pytest.approx(info.readme_area_deg2, rel=0.01)
    # The MOC is exactly those pixels.
    assert region.moc.sky_fraction * FULL_SKY_DEG2 == pytest.approx(region.area_deg2, rel=1e-9)
    assert skymap.total_probability() == pytest.approx(reference.total_probability, rel=1e-9)
    assert skymap.total_probability() == pytest.approx(1.0, abs=1e-4)


def test_other_credible_levels_nest(
    event: tuple[Event, Path, SkyMap], reference: Reference
) -> None:
    _, _, skymap = event
    fifty = skymap.credible_region(0.5)
    ninety = skymap.credible_region(0.9)
    assert fifty.area_deg2 == pytest.approx(reference.area_deg2[0.5], rel=1e-6)
    assert fifty.area_deg2 < ninety.area_deg2
    assert fifty.moc.difference(ninety.moc).sky_fraction == 0
    everything = skymap.credible_region(1.0)
    assert ninety.area_deg2 < everything.area_deg2 <= FULL_SKY_DEG2 * (1 + 1e-12)


def test_map_layout_and_metadata(event: tuple[Event, Path, SkyMap]) -> None:
    info, path, skymap = event
    assert skymap.uniq.dtype == np.int64
    assert skymap.probdensity.dtype == np.float64
    assert skymap.event_name == info.object_name
    assert skymap.meta["DATE-OBS"].startswith(("2017", "2018", "2019"))
    assert "TTYPE1" not in skymap.meta and "HISTORY" not in skymap.meta
    assert not skymap.has_distance  # read with distance=False
    # The pixels tile the sky exactly once.
    assert float(np.sum(skymap.pixel_area_deg2)) == pytest.approx(FULL_SKY_DEG2, rel=1e-12)
    if info.flat:
        nside = fits.getheader(path, 1)["NSIDE"]
        assert skymap.uniq.size == 12 * nside**2
        assert np.all(skymap.levels == int(math.log2(nside)))


def test_credible_level_at_the_peak_and_far_away(event: tuple[Event, Path, SkyMap]) -> None:
    _, _, skymap = event
    peak = int(np.argmax(skymap.probdensity))
    dullest = int(np.argmin(skymap.probdensity))
    where = pixel_centres(skymap, [peak, dullest])
    found = skymap.credible_level(where)
    assert found.probdensity[0] == skymap.probdensity[peak]
    assert found.credible_level[0] == pytest.approx(skymap.probability[peak], rel=1e-9)
    assert found.credible_level[0] < 1e-3
    assert found.credible_level[1] == pytest.approx(skymap.total_probability(), rel=1e-9)
    assert found.credible_level[1] > 0.999


def test_credible_level_agrees_with_the_credible_region(event: tuple[Event, Path, SkyMap]) -> None:
    _, _, skymap = event
    rng = np.random.default_rng(20190814)
    ra = rng.uniform(0, 360, 5000)
    dec = np.degrees(np.arcsin(rng.uniform(-1, 1, 5000)))
    region = skymap.credible_region(0.9)
    found = skymap.credible_level(ra=ra, dec=dec)
    inside = region.moc.contains_lonlat(ra * u.deg, dec * u.deg)
    largest_pixel_probability = float(np.max(skymap.probability))
    assert np.all(inside[found.credible_level < 0.9])
    assert not np.any(inside[found.credible_level > 0.9 + largest_pixel_probability])
    # Denser pixels lie at lower levels.
    ranked = np.argsort(-found.probdensity, kind="stable")
    assert np.all(np.diff(found.credible_level[ranked]) >= 0)


# ---------------------------------------------------------------------------------------
# positions


def test_positions_given_three_ways_agree(skymap_dir: Path) -> None:
    skymap = read_skymap(skymap_dir / EVENTS["MS181101ab"].path)
    coord = SkyCoord([10.0, 200.0, 359.9], [-30.0, 45.0, 89.9], unit="deg")
    by_coord = skymap.credible_level(coord)
    by_degrees = skymap.credible_level(ra=[10.0, 200.0, 359.9], dec=[-30.0, 45.0, 89.9])
    # The archive's hpx column, computed as the ingester does.
    hpx = HPX.lonlat_to_healpix(coord.ra, coord.dec)
    by_hpx = skymap.credible_level(hpx=hpx)
    by_galactic = skymap.credible_level(coord.galactic)
    for other in (by_degrees, by_hpx, by_galactic):
        np.testing.assert_array_equal(other.probdensity, by_coord.probdensity)
        np.testing.assert_array_equal(other.credible_level, by_coord.credible_level)
    one = skymap.credible_level(ra=10.0, dec=-30.0)
    assert one.probdensity.shape == ()
    assert float(one.credible_level) == by_coord.credible_level[0]


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"ra": [1.0]},
        {"ra": [1.0], "dec": [91.0]},
        {"ra": [1.0], "dec": [float("nan")]},
        {"hpx": [1.5]},
        {"hpx": [-1]},
        {"ra": [1.0], "dec": [2.0], "hpx": [3]},
    ],
)
def test_bad_positions(skymap_dir: Path, kwargs: dict[str, list[float]]) -> None:
    skymap = read_skymap(skymap_dir / EVENTS["MS181101ab"].path)
    with pytest.raises(SkyMapError):
        skymap.credible_level(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("level", [0, -0.1, 1.01, float("nan")])
def test_bad_credible_levels(skymap_dir: Path, level: float) -> None:
    skymap = read_skymap(skymap_dir / EVENTS["MS181101ab"].path)
    with pytest.raises(SkyMapError, match=r"\(0, 1\]"):
        skymap.credible_region(level)


def test_a_map_that_does_not_cover_the_sky() -> None:
    # Two level-1 pixels only: positions elsewhere have no probability.
    skymap = SkyMap(uniq=np.array([16, 17]), probdensity=np.array([3.0, 1.0]) / (math.pi / 12))
    assert skymap.total_probability() == pytest.approx(4.0)
    centre = pixel_centres(skymap, [0])[0]
    outside = SkyCoord(centre.ra + 180 * u.deg, -centre.dec)
    found = skymap.credible_level(SkyCoord([centre.ra, outside.ra], [centre.dec, outside.dec]))
    assert found.probdensity[1] == 0
    assert found.credible_level[0] == pytest.approx(3.0)
    assert found.credible_level[1] == pytest.approx(4.0)


# ---------------------------------------------------------------------------------------
# the MS181101ab MOC and the JSON notice


def test_ninety_percent_moc_matches_the_published_one(skymap_dir: Path) -> None:
    skymap = read_skymap(skymap_dir / "MS181101ab_mock" / "bayestar.multiorder.fits")
    published = MOC.from_fits(skymap_dir / "MS181101ab_mock" / "90pct.moc.fits")
    ours = skymap.credible_region(0.9).moc
    overlap = ours.intersection(published).sky_fraction / ours.union(published).sky_fraction
    # Measured 0.99958: the published MOC leaves out the pixels at the very edge.
    assert overlap > 0.999
    assert ours.max_order == published.max_order == 11


def test_json_notice_decodes(skymap_dir: Path) -> None:
    path = skymap_dir / "MS260605l_mock" / "igwn_gwalert_preliminary.json"
    skymap = read_skymap(path)
    assert skymap.event_name == "MS260605l"
    assert skymap.meta["OBJECT"] == "M639421"
    assert skymap.meta["alert_type"] == "PRELIMINARY"
    assert skymap.meta["notice"]["event"]["pipeline"] == "gstlal"
    assert "skymap" not in skymap.meta["notice"]["event"]
    assert skymap.has_distance
    assert skymap.uniq.size == 19200
    assert skymap.total_probability() == pytest.approx(1.0, abs=1e-6)
    assert 0 < skymap.credible_region(0.9).area_deg2 < 100
    # The same notice as bytes (a Kafka message) and as parsed JSON.
    raw = path.read_bytes()
    notice = json.loads(raw)
    for other in (read_skymap(raw), read_skymap(notice)):
        np.testing.assert_array_equal(other.uniq, skymap.uniq)
        np.testing.assert_array_equal(other.probdensity, skymap.probdensity)
    # The embedded FITS, decoded here, says the same.
    with fits.open(io.BytesIO(base64.b64decode(notice["event"]["skymap"]))) as hdus:
        np.testing.assert_array_equal(hdus[1].data["PROBDENSITY"], skymap.probdensity)


# ---------------------------------------------------------------------------------------
# layouts: distances, bytes, gzip, RING


def test_distances_are_read(skymap_dir: Path) -> None:
    flat = read_skymap(skymap_dir / EVENTS["S190425z"].path)
    multiorder = read_skymap(skymap_dir / EVENTS["G338125"].path)
    for skymap, distmean in ((flat, 154.6), (multiorder, 867.6)):
        assert skymap.has_distance
        assert skymap.meta["DISTMEAN"] == pytest.approx(distmean, abs=0.1)
        for column in (skymap.distmu, skymap.distsigma, skymap.distnorm):
            assert column is not None
            assert column.shape == skymap.uniq.shape and column.dtype == np.float64
    with fits.open(skymap_dir / EVENTS["S190425z"].path) as hdus:
        np.testing.assert_array_equal(flat.distmu, hdus[1].data["DISTMU"])
        prob = np.asarray(hdus[1].data["PROB"], dtype=np.float64)
    np.testing.assert_allclose(flat.probability, prob, rtol=1e-12)


def test_bytes_gzipped_or_not_read_like_the_file(skymap_dir: Path) -> None:
    path = skymap_dir / EVENTS["S190425z"].path
    from_path = read_skymap(path)
    compressed = path.read_bytes()
    for source in (compressed, gzip.decompress(compressed), bytearray(compressed), str(path)):
        other = read_skymap(source)
        np.testing.assert_array_equal(other.uniq, from_path.uniq)
        np.testing.assert_array_equal(other.probdensity, from_path.probdensity)
        np.testing.assert_array_equal(other.distnorm, from_path.distnorm)  # type: ignore[arg-type]


def write_ring_copy(nested_path: Path, ring_path: Path) -> None:
    """Rewrite a NESTED map in RING order, the way healpy-era tools stored maps."""
    with fits.open(nested_path) as hdus:
        header = hdus[1].header.copy()
        nside = header["NSIDE"]
        ring_of_nested = HEALPix(nside=nside, order="nested").nested_to_ring(
            np.arange(12 * nside**2)
        )
        columns = []
        for column in hdus[1].columns:
            values = np.empty(12 * nside**2)
            values[ring_of_nested] = hdus[1].data[column.name]
            columns.append(
                fits.Column(name=column.name, format="D", unit=column.unit, array=values)
            )
    table = fits.BinTableHDU.from_columns(columns)
    for key in ("PIXTYPE", "NSIDE", "INDXSCHM", "OBJECT", "DATE-OBS", "COORDSYS"):
        table.header[key] = header[key]
    table.header["ORDERING"] = "RING"
    table.writeto(ring_path)


def test_ring_maps_are_reordered_to_nested(skymap_dir: Path, tmp_path: Path) -> None:
    nested_path = skymap_dir / EVENTS["S190425z"].path
    ring_path = tmp_path / "ring.fits"
    write_ring_copy(nested_path, ring_path)
    nested = read_skymap(nested_path)
    ring = read_skymap(ring_path)
    assert ring.meta["ORDERING"] == "RING"
    np.testing.assert_array_equal(ring.uniq, nested.uniq)
    np.testing.assert_array_equal(ring.probdensity, nested.probdensity)
    np.testing.assert_array_equal(ring.distmu, nested.distmu)  # type: ignore[arg-type]
    assert ring.credible_region().area_deg2 == nested.credible_region().area_deg2


def test_explicitly_indexed_partial_map(tmp_path: Path) -> None:
    # Three RING pixels at NSIDE 2, listed out of order, as INDXSCHM = EXPLICIT allows.
    ring_pixels = np.array([40, 3, 17])
    prob = np.array([0.2, 0.5, 0.3])
    table = fits.BinTableHDU.from_columns(
        [
            fits.Column(name="PIXEL", format="K", array=ring_pixels),
            fits.Column(name="PROB", format="D", array=prob),
        ]
    )
    table.header.update(PIXTYPE="HEALPIX", ORDERING="RING", NSIDE=2, INDXSCHM="EXPLICIT")
    table.writeto(tmp_path / "partial.fits")
    skymap = read_skymap(tmp_path / "partial.fits")
    nested = HEALPix(nside=2, order="ring").ring_to_nested(ring_pixels)
    expected = dict(zip(nested + 16, prob, strict=True))
    assert dict(
        zip(skymap.uniq.tolist(), skymap.probability.tolist(), strict=True)
    ) == pytest.approx(expected)
    assert skymap.total_probability() == pytest.approx(1.0)


# ---------------------------------------------------------------------------------------
# what is not a sky map


def write(tmp_path: Path, name: str, content: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


def test_files_that_are_not_sky_maps(shared_data: Path, tmp_path: Path) -> None:
    alert = next((shared_data / "ztf" / "alerts").glob("*.avro"))
    image = tmp_path / "image.fits"
    fits.PrimaryHDU(np.zeros((4, 4))).writeto(image)
    catalogue = tmp_path / "catalogue.fits"
    fits.BinTableHDU.from_columns([fits.Column(name="RA", format="D", array=[1.0])]).writeto(
        catalogue
    )
    galactic = tmp_path / "galactic.fits"
    table = fits.BinTableHDU.from_columns(
        [fits.Column(name="PROB", format="D", array=np.full(12, 1 / 12))]
    )
    table.header.update(PIXTYPE="HEALPIX", ORDERING="NESTED", NSIDE=1, COORDSYS="G")
    table.writeto(galactic)
    wrong_size = tmp_path / "wrong_size.fits"
    table = fits.BinTableHDU.from_columns(
        [fits.Column(name="PROB", format="D", array=np.full(13, 1 / 13))]
    )
    table.header.update(PIXTYPE="HEALPIX", ORDERING="NESTED", NSIDE=1)
    table.writeto(wrong_size)
    gzipped = (shared_data / "skymaps" / EVENTS["S190425z"].path).read_bytes()
    multiorder = (shared_data / "skymaps" / EVENTS["G338125"].path).read_bytes()
    cases = {
        alert: "neither a FITS sky map",
        write(tmp_path, "cut.fits.gz", gzipped[: len(gzipped) // 2]): "cut short",
        write(tmp_path, "cut.fits", multiorder[: len(multiorder) // 2]): "truncated",
        write(tmp_path, "cut_header.fits", multiorder[:3000]): "not a readable FITS",
        write(tmp_path, "junk.fits", b"SIMPLE  = nonsense" + bytes(100)): "not a readable FITS",
        write(tmp_path, "junk.gz", gzip.compress(b"not fits at all")): "not a readable FITS",
        image: "no binary table",
        catalogue: "not a HEALPix sky map",
        galactic: "celestial",
        wrong_size: "13 pixels",
        write(
            tmp_path,
            "retraction.json",
            json.dumps({"superevent_id": "S1", "alert_type": "RETRACTION", "event": None}).encode(),
        ): "carries no sky map",
        write(
            tmp_path, "bad64.json", json.dumps({"event": {"skymap": "not base64!"}}).encode()
        ): "not base64",
        write(
            tmp_path,
            "notfits.json",
            json.dumps({"event": {"skymap": base64.b64encode(b"hello").decode()}}).encode(),
        ): "does not decode to a FITS",
        write(tmp_path, "broken.json", b"{not json"): "not valid JSON",
        tmp_path / "missing.fits": "no sky map file",
    }
    for path, says in cases.items():
        with pytest.raises(SkyMapError, match=says):
            read_skymap(path)
    with pytest.raises(SkyMapError, match="neither"):
        read_skymap(b"\x00\x01 random bytes")
    with pytest.raises(LasairError):
        read_skymap(alert)
    with pytest.raises(ValueError):
        read_skymap(alert)


@pytest.mark.parametrize(
    ("uniq", "density", "says"),
    [
        ([4, 5], [1.0], "one length"),
        ([], [], "at least one pixel"),
        ([3, 4], [1.0, 1.0], "NUNIQ"),
        ([4, 16], [1.0, 1.0], "overlap"),  # pixel 0 of level 0 and its first child
        ([16, 16], [1.0, 1.0], "overlap"),
        ([4, 5], [1.0, -1.0], "not negative"),
        ([4, 5], [1.0, float("nan")], "finite"),
    ],
)
def test_invalid_sky_maps_are_refused(uniq: list[int], density: list[float], says: str) -> None:
    with pytest.raises(SkyMapError, match=says):
        SkyMap(uniq=np.array(uniq, dtype=np.int64), probdensity=np.array(density))


def test_distance_columns_come_together() -> None:
    with pytest.raises(SkyMapError, match="all of distmu"):
        SkyMap(uniq=np.array([4]), probdensity=np.array([1.0]), distmu=np.array([1.0]))


# ---------------------------------------------------------------------------------------
# tiles: the form the archive stores


def test_tiles_merge_equal_neighbours_and_lose_nothing(skymap_dir: Path) -> None:
    flat = read_skymap(skymap_dir / EVENTS["S190425z"].path)  # NSIDE 256, rasterised
    multiorder = read_skymap(skymap_dir / EVENTS["MS181101ab"].path)
    rng = np.random.default_rng(425)
    hpx = np.concatenate([rng.integers(0, 12 * 4**29, 50_000), [0, 12 * 4**29 - 1]])
    for skymap, expected in ((flat, 19_200), (multiorder, 19_200)):
        tiles = skymap.tiles()
        assert tiles.lo.size == expected  # 786 432 flat pixels are BAYESTAR's 19 200 again
        assert np.all(tiles.lo[1:] >= tiles.hi[:-1]) and np.all(tiles.hi > tiles.lo)
        assert float(np.sum(tiles.area_sr)) == pytest.approx(4 * math.pi, rel=1e-12)
        rebuilt = SkyMap.from_tiles(tiles, skymap.meta)
        before, after = skymap.credible_level(hpx=hpx), rebuilt.credible_level(hpx=hpx)
        np.testing.assert_array_equal(after.probdensity, before.probdensity)
        np.testing.assert_allclose(after.credible_level, before.credible_level, rtol=0, atol=1e-12)
        where = skymap.pixel_index(hpx), rebuilt.pixel_index(hpx)
        np.testing.assert_array_equal(rebuilt.distmu[where[1]], skymap.distmu[where[0]])  # type: ignore[index]
        np.testing.assert_array_equal(rebuilt.distnorm[where[1]], skymap.distnorm[where[0]])  # type: ignore[index]


def test_only_touching_pixels_of_equal_values_merge() -> None:
    # Level 1 (NSIDE 2): pixels 16..19 are the four children of base pixel 0.
    nan = float("nan")
    skymap = SkyMap(
        uniq=np.array([16, 17, 18, 19, 21, 22]),  # 20 missing: 19 and 21 do not touch
        probdensity=np.array([1.0, 1.0, 1.0, 2.0, 2.0, 2.0]),
        distmu=np.array([nan, nan, 5.0, 5.0, 5.0, 5.0]),
        distsigma=np.ones(6),
        distnorm=np.ones(6),
    )
    tiles = skymap.tiles()
    cell = 4**28  # order-29 cells in one level-1 pixel
    assert tiles.lo.tolist() == [0, 2 * cell, 3 * cell, 5 * cell]
    assert tiles.hi.tolist() == [2 * cell, 3 * cell, 4 * cell, 7 * cell]
    assert tiles.probdensity.tolist() == [1.0, 1.0, 2.0, 2.0]
    # Ranges split back into the fewest pixels: [5, 7) cells of level 1 are 21 and 22.
    rebuilt = SkyMap.from_tiles(tiles)
    assert sorted(rebuilt.uniq.tolist()) == [16, 17, 18, 19, 21, 22]
    # A whole base pixel, and a range that ends one order-29 cell into the next one.
    odd = SkyTiles(
        lo=np.array([0, 5 * cell]),
        hi=np.array([4 * cell, 8 * cell + 1]),
        probdensity=np.array([1.0, 2.0]),
        distmu=None,
        distsigma=None,
        distnorm=None,
    )
    assert sorted(SkyMap.from_tiles(odd).uniq.tolist()) == [4, 21, 22, 23, 4 * 4**29 + 8 * cell]


# ---------------------------------------------------------------------------------------
# the archive: maps stored as tiles, every answer SQL
#
# Objects are written straight into a fresh archive: uniform over the sky, plus some
# drawn from the small maps' probability and some on pixel edges. The answers of a second,
# fresh connection (a new process would know no more) are checked against the maps read
# here and questioned with numpy.

STORED = ("MS181101ab", "S190425z")
"""Maps ingested once for the archive tests: multi-order, and flat NSIDE 256."""

JD_SPAN = (2_458_000.0, 2_458_100.0)


@pytest.fixture(scope="module")
def small_maps(skymap_dir: Path) -> dict[str, SkyMap]:
    return {name: read_skymap(skymap_dir / EVENTS[name].path) for name in STORED}


def object_rows(hpx: npt.NDArray[np.int64], seed: int) -> list[dict[str, Any]]:
    """Minimal ``objects`` rows at these order-29 indices, with detection times."""
    rng = np.random.default_rng(seed)
    ra, dec = HPX.healpix_to_lonlat(hpx)
    jdmin = rng.uniform(*JD_SPAN, hpx.size)
    jdmax = jdmin + rng.uniform(0, 20, hpx.size)
    required = [c.name for c in objects.c if not c.nullable]
    rows = []
    for n in range(hpx.size):
        row = dict.fromkeys(required, 0) | {
            "objectid": f"GW{seed}{n:06d}",
            "ra": float(ra[n].deg),
            "dec": float(dec[n].deg),
            "hpx": int(hpx[n]),
            "jdmin": float(jdmin[n]),
            "jdmax": float(jdmax[n]),
            "context": "orphan",
        }
        rows.append(row)
    return rows


def positions_in(skymap: SkyMap, count: int, rng: np.random.Generator) -> npt.NDArray[np.int64]:
    """Order-29 indices drawn from the map's probability, a quarter on pixel edges."""
    tiles = skymap.tiles()
    weight = tiles.probdensity * tiles.area_sr
    chosen = rng.choice(tiles.lo.size, count, p=weight / weight.sum())
    lo, hi = tiles.lo[chosen], tiles.hi[chosen]
    inside = lo + (rng.random(count) * (hi - lo)).astype(np.int64)
    edge = np.where(rng.random(count) < 0.5, lo, hi - 1)
    return np.where(np.arange(count) % 4 == 0, edge, np.minimum(inside, hi - 1))


@pytest.fixture(scope="module")
def gw_archive(make_archive: Callable[[], str], small_maps: dict[str, SkyMap]) -> Iterator[str]:
    """An archive with 20 000 objects anywhere and 1 000 in MS181101ab's probable region."""
    url = make_archive()
    rng = np.random.default_rng(170817)
    hpx = np.concatenate(
        [rng.integers(0, 12 * 4**29, 20_000), positions_in(small_maps["MS181101ab"], 1000, rng)]
    )
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.insert(objects), object_rows(hpx, seed=1))
        connection.exec_driver_sql("ANALYZE objects")
    engine.dispose()
    yield url


@pytest.fixture(scope="module")
def stored(gw_archive: str, skymap_dir: Path) -> dict[str, str]:
    """The small maps, ingested by one connection that is then closed."""
    archive = ln.connect(gw_archive)
    names = {name: archive.skymaps.ingest(skymap_dir / EVENTS[name].path) for name in STORED}
    archive.close()
    return names


def superuser_count(url: str, sql: str, **params: Any) -> int:
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        count = connection.execute(sa.text(sql), params).scalar_one()
    engine.dispose()
    return int(count)


def density_threshold(skymap: SkyMap, level: float) -> float:
    """Density of the pixel whose running sum, by decreasing density, first reaches ``level``."""
    density = skymap.probdensity
    order = np.argsort(-density, kind="stable")
    cumulative = np.cumsum((density * skymap.pixel_area_sr)[order])
    crossing = min(int(np.searchsorted(cumulative, level, side="left")), density.size - 1)
    return float(density[order][crossing])


def check_candidates(
    found: pd.DataFrame, skymap: SkyMap, level: float, everything: pd.DataFrame
) -> None:
    """Candidates are the objects at least as dense as the crossing pixel, with its values."""
    threshold = density_threshold(skymap, level)
    at_all = skymap.credible_level(hpx=everything["hpx"].to_numpy(np.int64))
    expected = set(everything["objectid"][at_all.probdensity >= threshold])
    assert set(found["objectid"]) == expected and len(expected) > 10
    assert set(everything["objectid"][at_all.credible_level < level]) <= expected
    hpx = found["hpx"].to_numpy(np.int64)
    at = skymap.credible_level(hpx=hpx)
    np.testing.assert_array_equal(found["probdensity"].to_numpy(), at.probdensity)
    # Sums of the same probabilities in another order: rounding only.
    np.testing.assert_allclose(found["credible_level"], at.credible_level, rtol=0, atol=1e-9)
    assert found["credible_level"].is_monotonic_increasing
    pixel = skymap.pixel_index(hpx)
    np.testing.assert_array_equal(found["distmu"].to_numpy(), skymap.distmu[pixel])  # type: ignore[index]
    np.testing.assert_array_equal(found["distsigma"].to_numpy(), skymap.distsigma[pixel])  # type: ignore[index]


@pytest.mark.slow  # stores three real maps
@pytest.mark.parametrize("event_name", STORED)
def test_a_fresh_connection_answers_from_the_tiles(
    event_name: str, gw_archive: str, stored: dict[str, str], small_maps: dict[str, SkyMap]
) -> None:
    archive = ln.connect(gw_archive)  # knows nothing of the maps but what the archive holds
    assert vars(archive.skymaps) == {"archive": archive}
    name, skymap = stored[event_name], small_maps[event_name]
    everything = archive.sql("SELECT objectid, hpx, jdmin, jdmax FROM objects", limit=100_000)
    for level in (0.5, 0.9):
        moc, area = archive.skymaps.credible_region(name, level)
        ours = skymap.credible_region(level)
        assert area == pytest.approx(ours.area_deg2, rel=0.01)
        assert moc.sky_fraction * FULL_SKY_DEG2 == pytest.approx(area, rel=1e-9)
        # All the pixels the map's own region takes; more only where the crossing pixel's
        # density ties with (flat map: sits beside) others the map takes one by one.
        assert ours.moc.difference(moc).sky_fraction == 0
        threshold = density_threshold(skymap, level)
        hpd_deg2 = float(np.sum(skymap.pixel_area_deg2[skymap.probdensity >= threshold]))
        assert area == pytest.approx(hpd_deg2, rel=1e-9)
        found = archive.skymaps.candidates(name, level)
        check_candidates(found, skymap, level, everything)
    if event_name == "MS181101ab":  # no ties: exactly the pixels the map's region takes
        ninety = skymap.credible_region(0.9).moc
        assert (
            archive.skymaps.credible_region(name, 0.9)[0].to_depth29_ranges
            == ninety.to_depth29_ranges
        ).all()
    # Detected between two dates: the same candidates, fewer.
    since, until = JD_SPAN[0] + 40, JD_SPAN[0] + 60
    window = archive.skymaps.candidates(name, 0.9, since=since, until=until)
    full = archive.skymaps.candidates(name, 0.9)
    kept = full[(full["jdmax"] >= since) & (full["jdmin"] <= until)]
    assert window["objectid"].tolist() == kept["objectid"].tolist() and 0 < len(kept) < len(full)
    listed = archive.skymaps.list().set_index("name").loc[name]
    assert listed["area90_deg2"] == pytest.approx(skymap.credible_region(0.9).area_deg2, rel=0.01)
    assert bool(listed["has_distance"])
    archive.close()


def test_a_map_rebuilt_from_its_tiles(
    gw_archive: str, stored: dict[str, str], small_maps: dict[str, SkyMap]
) -> None:
    archive = ln.connect(gw_archive)
    rng = np.random.default_rng(3)
    hpx = rng.integers(0, 12 * 4**29, 20_000)
    for event_name, name in stored.items():
        rebuilt, original = archive.skymaps.get(name), small_maps[event_name]
        assert rebuilt.meta["OBJECT"] == original.meta["OBJECT"] and rebuilt.has_distance
        np.testing.assert_array_equal(rebuilt.pixel_density(hpx), original.pixel_density(hpx))
    archive.close()


@pytest.mark.slow
def test_flat_nside_1024_map_is_stored_small(gw_archive: str, skymap_dir: Path) -> None:
    path = skymap_dir / EVENTS["GW170817"].path
    archive = ln.connect(gw_archive)
    name = archive.skymaps.ingest(path, name="GW170817-flat")
    tiles = superuser_count(
        gw_archive,
        "SELECT count(*) FROM skymap_tiles t JOIN skymaps m ON m.id = t.skymap_id"
        " WHERE m.name = :name",
        name=name,
    )
    assert tiles == 19_200  # not 12 582 912: the flat map's equal neighbours are merged
    fresh = ln.connect(gw_archive)
    _, area = fresh.skymaps.credible_region(name, 0.9)
    skymap = read_skymap(path, distance=False)
    assert area == pytest.approx(skymap.credible_region(0.9).area_deg2, rel=0.01)
    assert area == pytest.approx(EVENTS["GW170817"].readme_area_deg2, rel=0.01)
    found = fresh.skymaps.candidates(name, 0.9)
    assert len(found) > 0  # ~ 20 000 × 187 / 41 253 uniform objects
    at = skymap.credible_level(hpx=found["hpx"].to_numpy(np.int64))
    np.testing.assert_allclose(found["credible_level"], at.credible_level, rtol=0, atol=1e-9)
    fresh.close()
    archive.close()


def test_deleting_a_map_deletes_its_tiles(gw_archive: str, skymap_dir: Path) -> None:
    archive = ln.connect(gw_archive)
    name = archive.skymaps.ingest(skymap_dir / EVENTS["MS181101ab"].path, name="short-lived")
    count = "SELECT count(*) FROM skymap_tiles WHERE skymap_id = :id"
    skymap_id = superuser_count(gw_archive, "SELECT id FROM skymaps WHERE name = 'short-lived'")
    assert superuser_count(gw_archive, count, id=skymap_id) == 19_200
    with pytest.raises(ln.StoreError, match="exists already"):
        archive.skymaps.ingest(skymap_dir / EVENTS["MS181101ab"].path, name="short-lived")
    assert superuser_count(gw_archive, count, id=skymap_id) == 19_200  # nothing half-written
    archive.skymaps.delete(name)
    assert superuser_count(gw_archive, count, id=skymap_id) == 0
    fresh = ln.connect(gw_archive)
    with pytest.raises(NotFoundError, match="short-lived"):
        fresh.skymaps.candidates(name)
    with pytest.raises(NotFoundError):
        fresh.skymaps.credible_region(name)
    fresh.close()
    archive.close()


def test_bad_requests_say_what_is_accepted(
    gw_archive: str, stored: dict[str, str], tmp_path: Path
) -> None:
    archive = ln.connect(gw_archive)
    name = stored["MS181101ab"]
    for level in (0, 1.5, float("nan"), "0.9", True):
        with pytest.raises(ln.StoreError, match=r"\(0, 1\]"):
            archive.skymaps.candidates(name, level)  # type: ignore[arg-type]
    with pytest.raises(SkyMapError, match="no sky map file"):
        archive.skymaps.ingest(tmp_path / "missing.fits")
    with pytest.raises(SkyMapError, match="neither"):
        archive.skymaps.ingest(b"not a map")
    with pytest.raises(ln.StoreError, match="path or bytes"):
        archive.skymaps.ingest(42)  # type: ignore[arg-type]
    archive.close()


def test_ties_share_one_credible_level(gw_archive: str, tmp_path: Path) -> None:
    # Level 1 pixels (859 deg² each) of four densities, repeated apart from one another;
    # the map covers 40 of the 48, so the rest have no probability.
    rng = np.random.default_rng(7)
    uniq = np.sort(rng.choice(np.arange(16, 64), 40, replace=False))
    density = rng.choice([4.0, 2.0, 1.0, 0.5], 40)
    density /= np.sum(density * math.pi / 12)  # pixel area 4π / 48
    path = tmp_path / "ties.multiorder.fits"
    fits.BinTableHDU.from_columns(
        [
            fits.Column(name="UNIQ", format="K", array=uniq),
            fits.Column(name="PROBDENSITY", format="D", array=density),
        ],
        header=fits.Header({"PIXTYPE": "HEALPIX", "ORDERING": "NUNIQ", "OBJECT": "TIES"}),
    ).writeto(path)
    skymap = read_skymap(path)
    archive = ln.connect(gw_archive)
    name = archive.skymaps.ingest(path)
    assert name == "TIES"
    everything = archive.sql("SELECT objectid, hpx FROM objects", limit=100_000)
    for level in (0.3, 0.5, 0.9, 1.0):
        _, area = archive.skymaps.credible_region(name, level)
        threshold = density_threshold(skymap, level)
        assert area == pytest.approx(
            float(np.sum(skymap.pixel_area_deg2[skymap.probdensity >= threshold])), rel=1e-12
        )
        found = archive.skymaps.candidates(name, level)
        at = skymap.credible_level(hpx=found["hpx"].to_numpy(np.int64))
        np.testing.assert_allclose(found["credible_level"], at.credible_level, rtol=0, atol=1e-12)
        assert set(found["objectid"]) == set(
            everything["objectid"][
                skymap.pixel_density(everything["hpx"].to_numpy(np.int64)) >= threshold
            ]
        )
    # What the map says at any object, inside it or not.
    ids = everything["objectid"].tolist()[:500]
    with archive.engine.connect() as connection:
        skymap_id = skymap_storage.find(connection, name).id
        said = skymap_storage.at_objects(connection, skymap_id, ids)
    hpx = everything.set_index("objectid").loc[said["objectid"], "hpx"].to_numpy(np.int64)
    at = skymap.credible_level(hpx=hpx)
    np.testing.assert_array_equal(said["probdensity"].to_numpy(), at.probdensity)
    np.testing.assert_allclose(said["credible_level"], at.credible_level, rtol=0, atol=1e-12)
    assert (said["probdensity"] == 0).any() and len(said) == 500
    archive.close()


def test_tiles_follow_their_maps_visibility(gw_archive: str, skymap_dir: Path) -> None:
    suffix = uuid.uuid4().hex[:6]
    engine = sa.create_engine(gw_archive)
    with engine.begin() as connection:
        logins = {who: add_user(connection, f"{who}_{suffix}") for who in ("alice", "bob")}
    engine.dispose()
    alice, bob = (
        ln.connect(gw_archive, user=f"{who}_{suffix}", password=logins[who])
        for who in ("alice", "bob")
    )
    name = alice.skymaps.ingest(skymap_dir / EVENTS["MS181101ab"].path, name="alices")
    theirs = f"alice_{suffix}/{name}"
    mine = alice.skymaps.candidates(name)
    assert bob.skymaps.candidates(theirs)["objectid"].tolist() == mine["objectid"].tolist()
    with pytest.raises(ln.NotAllowedError):
        bob.skymaps.delete(theirs)
    skymap_id = superuser_count(gw_archive, "SELECT id FROM skymaps WHERE name = 'alices'")
    with bob.engine.begin() as connection:
        gone = connection.execute(
            sa.text("DELETE FROM skymap_tiles WHERE skymap_id = :id"), {"id": skymap_id}
        )
        assert gone.rowcount == 0  # row-level security keeps alice's tiles from bob
    with pytest.raises(sa.exc.ProgrammingError, match="row-level security"):
        with bob.engine.begin() as connection:
            connection.execute(
                sa.text(
                    "INSERT INTO skymap_tiles (skymap_id, tile, probdensity, cumprob)"
                    " VALUES (:id, '[0,1)', 1, 1)"
                ),
                {"id": skymap_id},
            )
    with alice.engine.begin() as connection:  # alice hides her map
        connection.execute(
            sa.text("UPDATE skymaps SET public = false WHERE id = :id"), {"id": skymap_id}
        )
    with pytest.raises(NotFoundError):
        bob.skymaps.candidates(theirs)
    seen = "SELECT count(*) FROM skymap_tiles WHERE skymap_id = %(id)s"
    with bob.engine.connect() as connection:
        assert connection.exec_driver_sql(seen, {"id": skymap_id}).scalar_one() == 0
    with alice.engine.connect() as connection:
        assert connection.exec_driver_sql(seen, {"id": skymap_id}).scalar_one() == 19_200
    assert alice.skymaps.candidates(name)["objectid"].tolist() == mine["objectid"].tolist()
    alice.skymaps.delete(name)
    assert (
        superuser_count(
            gw_archive, "SELECT count(*) FROM skymap_tiles WHERE skymap_id = :id", id=skymap_id
        )
        == 0
    )
    alice.close()
    bob.close()


def test_upgrading_tiles_the_maps_stored_before(pg_server_url: str, skymap_dir: Path) -> None:
    database = f"lasair_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(pg_server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{database}"')
    url = sa.make_url(pg_server_url).set(database=database).render_as_string(hide_password=False)
    try:
        command.upgrade(alembic_config(url), "0003")
        data = (skymap_dir / EVENTS["MS181101ab"].path).read_bytes()
        engine = sa.create_engine(url)
        with engine.begin() as connection:
            connection.execute(
                sa.text(
                    "INSERT INTO skymaps (name, skymap, has_distance, area90_deg2)"
                    " VALUES ('before', :data, true, 31)"
                ),
                {"data": data},
            )
        engine.dispose()
        upgrade(url)
        assert superuser_count(url, "SELECT count(*) FROM skymap_tiles") == 19_200
        archive = ln.connect(url)
        _, area = archive.skymaps.credible_region("before", 0.9)
        assert area == pytest.approx(read_skymap(data).credible_region(0.9).area_deg2, rel=1e-9)
        archive.close()
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        admin.dispose()
