"""LVK sky maps: reading every layout, credible regions and levels, against plain numpy.

The real maps of ``shared/data/skymaps`` are read in place. The 90% areas are checked
against a calculation written here with nothing but astropy.io.fits and numpy, and
against the areas the data README quotes.
"""

from __future__ import annotations

import base64
import gzip
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy_healpix import HEALPix
from healpix_alchemy.constants import HPX
from mocpy import MOC

from lasair_nb.domain.skymaps import SkyMap, SkyMapError, read_skymap
from lasair_nb.errors import LasairError

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
