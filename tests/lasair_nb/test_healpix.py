"""HEALPix covers of cones hold every position inside the cone, and not much more."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from healpix_alchemy.constants import HPX

from lasair_nb.domain.healpix import cone_depth, cone_ranges, cones_ranges

CENTRES = [(0.0, 0.0), (359.9999, 10.0), (180.0, 89.9999), (45.0, -89.99), (123.4, 45.6)]


def _inside(ra: float, dec: float, radius_arcsec: float, count: int, seed: int) -> SkyCoord:
    """Random positions inside a cone, the rim included (independent of the code under test)."""
    rng = np.random.default_rng(seed)
    centre = SkyCoord(ra * u.deg, dec * u.deg)
    angle = rng.uniform(0, 360, count) * u.deg
    distance = radius_arcsec * np.sqrt(rng.uniform(0, 1, count)) * u.arcsec
    distance[:8] = radius_arcsec * u.arcsec * 0.999999  # on the rim
    return centre.directional_offset_by(angle, distance)


def _covered(points: SkyCoord, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    index = HPX.lonlat_to_healpix(points.ra, points.dec).astype(np.int64)
    return ((index[:, None] >= low[None, :]) & (index[:, None] < high[None, :])).any(axis=1)


@pytest.mark.parametrize("radius", [0.5, 2.0, 30.0, 600.0, 3600.0])
@pytest.mark.parametrize(("ra", "dec"), CENTRES)
def test_one_cone_cover_holds_every_inside_position(ra: float, dec: float, radius: float) -> None:
    low, high = (
        np.array(side, dtype=np.int64)
        for side in cone_ranges(SkyCoord(ra * u.deg, dec * u.deg), radius * u.arcsec)
    )
    assert _covered(_inside(ra, dec, radius, 400, seed=1), low, high).all()


@pytest.mark.parametrize("radius", [0.5, 3.0, 60.0, 3600.0])
def test_many_cones_cover_every_inside_position(radius: float) -> None:
    ra = np.array([c[0] for c in CENTRES])
    dec = np.array([c[1] for c in CENTRES])
    ranges = cones_ranges(ra, dec, np.full(len(ra), radius))
    for number, (r, d) in enumerate(CENTRES):
        mine = ranges[ranges["index"] == number]
        points = _inside(r, d, radius, 300, seed=number)
        assert _covered(points, mine["lo"].to_numpy(), mine["hi"].to_numpy()).all()


def test_covers_are_tight() -> None:
    # Cells a quarter of the radius wide: the cover is at most a few times the cone.
    for radius in (2.0, 60.0, 3600.0):
        depth = cone_depth(radius * u.arcsec)
        cell = np.degrees(np.sqrt(4 * np.pi / (12 * 4**depth))) * 3600
        assert radius / 8 <= cell <= radius / 2
        low, high = cone_ranges(SkyCoord(10 * u.deg, 20 * u.deg), radius * u.arcsec)
        cells29 = (np.array(high) - np.array(low)).sum()
        area = cells29 * 4 * np.pi / (12 * 4**29) * np.degrees(1) ** 2 * 3600**2
        assert area < 4 * np.pi * radius**2  # < 4 x the cone's area
