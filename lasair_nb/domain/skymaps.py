r"""Gravitational-wave sky maps: LVK HEALPix localisations as arrays, and questions about them.

LIGO/Virgo/KAGRA publish where on the sky a gravitational-wave source may be as a HEALPix
map (Górski et al. 2005), in one of two layouts:

- **flat**: one row per pixel of a single resolution ``NSIDE``, in ``NESTED`` or ``RING``
  order, with ``PROB``, the probability of each pixel (``pix-1``);
- **multi-order**: one row per pixel of any resolution, identified by its ``UNIQ`` number
  :math:`u = 4 \cdot 4^{\ell} + i` (level :math:`\ell`, nested index :math:`i`), with
  ``PROBDENSITY``, the probability per steradian.

Both may carry the distance ansatz ``DISTMU``, ``DISTSIGMA`` and ``DISTNORM`` (Singer et al.
2016). :func:`read_skymap` reads either (or the base64 map inside an IGWN GCN-Kafka JSON
notice) into one form, :class:`SkyMap`: multi-order, nested, density per steradian. A flat
map becomes a multi-order map whose pixels all have the same level, without merging.

The **credible region** at level :math:`p` is the smallest set of pixels, taken in order of
decreasing probability density, whose summed probability (density × pixel area) reaches
:math:`p`; its area is the "90% area" quoted in alerts. The **credible level** of a position
(the "searched probability") is the probability of all pixels at least as dense as the one
holding it: near 0 at the peak, near 1 far away.

The archive stores a map as **tiles** (:meth:`SkyMap.tiles`): half-open ranges of
order-29 nested indices, the healpix-alchemy ``Tile`` form, each of one density and one
distance ansatz. Neighbouring pixels (in nested order) with equal values are merged into one
tile, which loses nothing: every position keeps its density, distances and credible level.
A flat NSIDE-1024 map rasterised from BAYESTAR's multi-order map (12.6 M pixels) becomes
its ~19 200 original pixels again. :meth:`SkyMap.from_tiles` turns tiles back into a map.

Everything here is pure numpy, astropy-healpix and mocpy; the SQL is elsewhere.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import io
import json
import math
import os
import warnings
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, NamedTuple

import astropy.units as u
import numpy as np
import numpy.typing as npt
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.utils.exceptions import AstropyUserWarning
from astropy_healpix import (
    HEALPix,
    level_to_nside,
    lonlat_to_healpix,
    npix_to_nside,
    uniq_to_level_ipix,
)
from mocpy import MOC

from lasair_nb.errors import SkyMapError

__all__ = [
    "DEG2_PER_SR",
    "LEVEL29_AREA_SR",
    "MAX_LEVEL",
    "CredibleRegion",
    "PositionProbability",
    "SkyMap",
    "SkyMapError",
    "SkyTiles",
    "read_skymap",
]

MAX_LEVEL = 29
"""Deepest HEALPix level a 64-bit index holds; positions are looked up at this level."""

DEG2_PER_SR = (180 / math.pi) ** 2
"""Square degrees in one steradian."""

LEVEL29_AREA_SR = math.ldexp(math.pi / 3, -2 * MAX_LEVEL)
"""Area of one order-29 cell in steradians (4π / (12 · 4**29)); a tile of n cells has n times it."""

_DISTANCE_COLUMNS = ("DISTMU", "DISTSIGMA", "DISTNORM")

# Header cards that describe the FITS layout rather than the event; left out of ``meta``.
_LAYOUT_CARDS = frozenset(
    {"SIMPLE", "BITPIX", "EXTEND", "XTENSION", "PCOUNT", "GCOUNT", "TFIELDS", "HISTORY"}
    | {"COMMENT", ""}
)
_LAYOUT_PREFIXES = ("NAXIS", "TTYPE", "TFORM", "TUNIT", "TZERO", "TSCAL", "TNULL", "TDIM")


class CredibleRegion(NamedTuple):
    """The smallest part of the sky holding a given probability."""

    moc: MOC
    """The region's pixels as a MOC."""
    area_deg2: float
    """Its area in square degrees."""


class PositionProbability(NamedTuple):
    """What a sky map says about some positions, one value per position."""

    probdensity: npt.NDArray[np.float64]
    """Probability per steradian of the pixel holding each position (0 outside the map)."""
    credible_level: npt.NDArray[np.float64]
    """Probability of all pixels at least as dense as that pixel: ~0 at the peak, ~1 far off."""


class SkyTiles(NamedTuple):
    """A sky map as tiles: ranges ``[lo, hi)`` of order-29 nested indices, ascending.

    Each tile has one probability density (and distance ansatz); together they cover what
    the map covers, without overlap. This is what the archive stores, one row per tile.
    """

    lo: npt.NDArray[np.int64]
    """First order-29 index of each tile."""
    hi: npt.NDArray[np.int64]
    """One past its last order-29 index."""
    probdensity: npt.NDArray[np.float64]
    """Probability per steradian."""
    distmu: npt.NDArray[np.float64] | None
    """Distance ansatz location [Mpc], or None when the map has no distance."""
    distsigma: npt.NDArray[np.float64] | None
    """Distance ansatz scale [Mpc], or None."""
    distnorm: npt.NDArray[np.float64] | None
    """Distance ansatz normalisation [Mpc⁻²], or None."""

    @property
    def area_sr(self) -> npt.NDArray[np.float64]:
        """Area of each tile in steradians."""
        return (self.hi - self.lo) * LEVEL29_AREA_SR


@dataclass(eq=False)
class SkyMap:
    """A HEALPix sky map in multi-order (NUNIQ, nested) form.

    The arrays are read as immutable: derived values (pixel levels, the ranking by
    density) are computed once and kept, so change a map by building a new one.

    Attributes
    ----------
    uniq
        NUNIQ index of each pixel, int64 (``4 * 4**level + nested_index``).
    probdensity
        Probability per steradian of each pixel.
    distmu, distsigma, distnorm
        Distance ansatz per pixel (Mpc, Mpc, Mpc⁻²), or None when the map has no distance.
    meta
        Facts from the file's headers (``OBJECT``, ``DATE-OBS``, ``MJD-OBS``, ``INSTRUME``,
        ``DISTMEAN``, ``DISTSTD``, ``CREATOR``, the original ``ORDERING`` and ``NSIDE``…)
        and, for a JSON notice, ``superevent_id``, ``alert_type`` and ``notice`` (the
        notice without its sky map).
    """

    uniq: npt.NDArray[np.int64]
    probdensity: npt.NDArray[np.float64]
    distmu: npt.NDArray[np.float64] | None = None
    distsigma: npt.NDArray[np.float64] | None = None
    distnorm: npt.NDArray[np.float64] | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.uniq = np.asarray(self.uniq, dtype=np.int64)
        self.probdensity = np.asarray(self.probdensity, dtype=np.float64)
        if self.uniq.ndim != 1 or self.uniq.shape != self.probdensity.shape:
            raise SkyMapError(
                f"uniq and probdensity must be 1-D arrays of one length, not shapes "
                f"{self.uniq.shape} and {self.probdensity.shape}"
            )
        if self.uniq.size == 0:
            raise SkyMapError("a sky map needs at least one pixel")
        distances = [self.distmu, self.distsigma, self.distnorm]
        if any(d is None for d in distances) and not all(d is None for d in distances):
            raise SkyMapError("give all of distmu, distsigma and distnorm, or none of them")
        if self.distmu is not None:
            self.distmu, self.distsigma, self.distnorm = (
                np.asarray(d, dtype=np.float64) for d in distances
            )
            for name in _DISTANCE_COLUMNS:
                column = getattr(self, name.lower())
                if column.shape != self.uniq.shape:
                    raise SkyMapError(
                        f"{name.lower()} has shape {column.shape}, not {self.uniq.shape}"
                    )
        if self.uniq.min() < 4 or self.max_level > MAX_LEVEL:
            raise SkyMapError(
                "uniq holds values that are not NUNIQ HEALPix indices (4 * 4**level + ipix, "
                f"level 0 to {MAX_LEVEL})"
            )
        if not (np.all(np.isfinite(self.probdensity)) and self.probdensity.min() >= 0):
            raise SkyMapError("probdensity must be finite and not negative everywhere")
        self._check_no_overlap()

    # -- pixels ---------------------------------------------------------------------

    @cached_property
    def levels(self) -> npt.NDArray[np.int8]:
        """HEALPix level (order) of each pixel; NSIDE is ``2**level``."""
        if self._single_level is not None:
            return np.full(self.uniq.size, self._single_level, dtype=np.int8)
        level, _ = uniq_to_level_ipix(self.uniq)
        return level.astype(np.int8)

    @property
    def max_level(self) -> int:
        """Level of the finest pixels."""
        if self._single_level is not None:
            return self._single_level
        return int(self.levels.max())

    @property
    def nested_index(self) -> npt.NDArray[np.int64]:
        """Nested HEALPix index of each pixel at its own level."""
        return self.uniq - (np.int64(4) << (2 * self.levels.astype(np.int64)))

    @property
    def pixel_area_sr(self) -> npt.NDArray[np.float64]:
        """Area of each pixel in steradians: 4π / (12 · 4**level)."""
        return np.broadcast_to(self._area_sr, self.uniq.shape).copy()

    @property
    def pixel_area_deg2(self) -> npt.NDArray[np.float64]:
        """Area of each pixel in square degrees."""
        return self.pixel_area_sr * DEG2_PER_SR

    @property
    def probability(self) -> npt.NDArray[np.float64]:
        """Probability in each pixel: density times area."""
        return self.probdensity * self._area_sr

    @property
    def has_distance(self) -> bool:
        """True when the map carries the distance ansatz."""
        return self.distmu is not None

    @property
    def event_name(self) -> str | None:
        """The superevent id of a notice, else the file's ``OBJECT``, else None."""
        name = self.meta.get("superevent_id") or self.meta.get("OBJECT")
        return None if name is None else str(name)

    def total_probability(self) -> float:
        """Summed probability of all pixels; 1 for a complete map, up to rounding."""
        return float(np.sum(self.probability))

    # -- tiles ----------------------------------------------------------------------

    def tiles(self) -> SkyTiles:
        """The map as order-29 index ranges, neighbours of equal values merged.

        Pixels are taken in nested order; a run of pixels that touch (one ends where the
        next starts) and have the same density and distance ansatz (NaN equal to NaN)
        becomes one tile. Nothing is lost: every position keeps its values. A flat map
        rasterised from a multi-order one gets its multi-order pixels back (or fewer,
        where equal pixels sit side by side).

        Returns
        -------
        SkyTiles
            The tiles, ascending by ``lo``.
        """
        if self._single_level is not None:
            # uniq ascends: the pixels are already in nested order, no sort of 12.6 M values.
            shift = 2 * (MAX_LEVEL - self._single_level)
            starts = (self.uniq - (np.int64(4) << (2 * self._single_level))) << shift
            ends = starts + (np.int64(1) << shift)
            order = None
        else:
            starts, ends, order = self._pixel_ranges
        columns = [self.probdensity]
        if self.distmu is not None:
            columns += [self.distmu, self.distsigma, self.distnorm]  # type: ignore[list-item]
        if order is not None:
            columns = [column[order] for column in columns]
        joined = ends[:-1] == starts[1:]
        for column in columns:
            before, after = column[:-1], column[1:]
            joined &= (before == after) | (np.isnan(before) & np.isnan(after))
        first = np.flatnonzero(np.concatenate(([True], ~joined)))
        last = np.append(first[1:], starts.size) - 1
        values = [column[first] for column in columns]
        distances = values[1:] if len(values) > 1 else [None, None, None]
        return SkyTiles(starts[first], ends[last], values[0], *distances)

    @classmethod
    def from_tiles(cls, tiles: SkyTiles, meta: dict[str, Any] | None = None) -> SkyMap:
        """The multi-order map of some tiles: each range split into the fewest HEALPix pixels.

        The inverse of :meth:`tiles` up to the pixelisation: every position has the same
        density, distances and credible level as in the map the tiles came from.
        """
        lo = np.asarray(tiles.lo, dtype=np.int64)
        hi = np.asarray(tiles.hi, dtype=np.int64)
        if lo.shape != hi.shape or lo.ndim != 1 or np.any(hi <= lo) or np.any(lo < 0):
            raise SkyMapError("tiles need 1-D lo < hi, both of one length, lo >= 0")
        uniq, source = _ranges_to_uniq(lo, hi)
        arrays = {"probdensity": np.asarray(tiles.probdensity, dtype=np.float64)[source]}
        if tiles.distmu is not None:
            for name in ("distmu", "distsigma", "distnorm"):
                arrays[name] = np.asarray(getattr(tiles, name), dtype=np.float64)[source]
        return cls(uniq=uniq, **arrays, meta=dict(meta or {}))

    # -- questions ------------------------------------------------------------------

    def credible_region(self, level: float = 0.9) -> CredibleRegion:
        """The smallest region holding probability ``level``, and its area.

        Pixels are taken in order of decreasing probability density (ties in map order)
        until their summed probability reaches ``level``; the pixel that crosses it is
        included.

        Parameters
        ----------
        level
            Probability to enclose, 0 < level ≤ 1.

        Returns
        -------
        CredibleRegion
            ``(moc, area_deg2)``: the pixels as a :class:`mocpy.MOC` at the map's finest
            level, and their area in square degrees.

        Raises
        ------
        SkyMapError
            If ``level`` is not in (0, 1].
        """
        if not 0 < level <= 1:
            raise SkyMapError(f"a credible level is a probability in (0, 1], not {level!r}")
        order, cumulative, _ = self._ranking
        # The first pixel whose running sum reaches the level closes the region; a level
        # above the map's (rounded) total takes every pixel.
        count = min(int(np.searchsorted(cumulative, level, side="left")) + 1, order.size)
        chosen = order[:count]
        levels = self.levels[chosen].astype(np.int64)
        ipix = self.uniq[chosen] - (np.int64(4) << (2 * levels))
        moc = MOC.from_healpix_cells(
            ipix.astype(np.uint64), levels.astype(np.uint8), max_depth=self.max_level
        )
        area_sr = float(np.sum(np.ldexp(np.pi / 3, -2 * levels)))
        return CredibleRegion(moc=moc, area_deg2=area_sr * DEG2_PER_SR)

    def credible_level(
        self,
        coord: SkyCoord | None = None,
        *,
        ra: npt.ArrayLike | None = None,
        dec: npt.ArrayLike | None = None,
        hpx: npt.ArrayLike | None = None,
    ) -> PositionProbability:
        """Probability density and credible level at some positions.

        Give exactly one of ``coord``, ``ra`` with ``dec``, or ``hpx``.

        Parameters
        ----------
        coord
            Positions as a SkyCoord (any frame; converted to ICRS).
        ra, dec
            Positions in degrees (ICRS), arrays or scalars of one shape.
        hpx
            Nested HEALPix indices at level 29, as stored by healpix-alchemy ``Point``
            columns (``hpx`` in the archive).

        Returns
        -------
        PositionProbability
            ``(probdensity, credible_level)``, arrays of the input's shape. The credible
            level is the summed probability of every pixel whose density is at least that
            of the pixel holding the position (the "searched probability"). A position the
            map does not cover has density 0 and level equal to the total probability.

        Raises
        ------
        SkyMapError
            For anything but exactly one kind of position, or declinations beyond ±90°.
        """
        cells = self._level29_indices(coord, ra, dec, hpx)
        density = self.pixel_density(cells)
        _, cumulative, negated = self._ranking
        # ``negated`` is minus the densities from high to low, so it ascends: the number of
        # pixels at least as dense as d is a right-sided search for -d.
        counts = np.searchsorted(negated, -density, side="right")
        levels = np.where(counts > 0, cumulative[np.maximum(counts - 1, 0)], 0.0)
        return PositionProbability(probdensity=density, credible_level=levels)

    def pixel_density(self, hpx: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Probability density of the pixels holding level-29 nested indices ``hpx``.

        Positions the map does not cover get 0.
        """
        slot = self.pixel_index(hpx)
        return np.where(slot >= 0, self.probdensity[np.maximum(slot, 0)], 0.0)

    def pixel_index(self, hpx: npt.ArrayLike) -> npt.NDArray[np.int64]:
        """Index into the map's arrays of the pixel holding each level-29 index; -1 if none.

        Use it to read ``distmu``/``distsigma`` at positions.
        """
        cells = np.asarray(hpx, dtype=np.int64)
        if self._single_level is not None:
            # One level, uniq ascending: the pixel's uniq follows from the index directly.
            level = self._single_level
            wanted = (cells >> (2 * (MAX_LEVEL - level))) + (4 << (2 * level))
            slot = np.minimum(np.searchsorted(self.uniq, wanted), self.uniq.size - 1)
            inside = self.uniq[slot] == wanted
        else:
            starts, ends, pixels = self._pixel_ranges
            found = np.searchsorted(starts, cells, side="right") - 1
            clipped = np.maximum(found, 0)
            inside = (found >= 0) & (cells < ends[clipped])
            slot = pixels[clipped]
        return np.where(inside, slot, -1).astype(np.int64)

    # -- internals ------------------------------------------------------------------

    @cached_property
    def _single_level(self) -> int | None:
        """The level of every pixel when uniq ascends within one level, else None.

        Flat maps are like that; knowing it saves 100 MB arrays of levels and areas
        for an NSIDE-1024 map.
        """
        first, last = uniq_to_level_ipix(self.uniq[[0, -1]])[0]
        if first != last or not np.all(self.uniq[1:] > self.uniq[:-1]):
            return None
        return int(first)

    @property
    def _area_sr(self) -> float | npt.NDArray[np.float64]:
        """Pixel area in steradians: one number for a single-level map, else per pixel."""
        if self._single_level is not None:
            return math.ldexp(math.pi / 3, -2 * self._single_level)
        return np.ldexp(np.pi / 3, -2 * self.levels.astype(np.int32))

    @cached_property
    def _ranking(
        self,
    ) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Pixels by decreasing density, their running probability, and -density so sorted."""
        negated = -self.probdensity
        order = np.argsort(negated, kind="stable")
        negated = negated[order]
        area = self._area_sr
        cumulative = np.cumsum(negated * -(area if np.isscalar(area) else area[order]))
        return order, cumulative, negated

    @cached_property
    def _pixel_ranges(
        self,
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.intp]]:
        """Each pixel as a range [start, end) of level-29 indices, sorted by start."""
        shift = 2 * (MAX_LEVEL - self.levels.astype(np.int64))
        starts = self.nested_index << shift
        pixels = np.argsort(starts, kind="stable")
        starts, shift = starts[pixels], shift[pixels]
        ends = starts + (np.int64(1) << shift)
        return starts, ends, pixels

    def _check_no_overlap(self) -> None:
        if self._single_level is not None:
            return  # distinct pixels of one level cannot overlap
        starts, ends, _ = self._pixel_ranges
        if np.any(starts[1:] < ends[:-1]):
            raise SkyMapError(
                "the map's pixels overlap (a pixel and one of its parents or a repeat); "
                "a multi-order map tiles the sky with distinct pixels"
            )

    def _level29_indices(
        self,
        coord: SkyCoord | None,
        ra: npt.ArrayLike | None,
        dec: npt.ArrayLike | None,
        hpx: npt.ArrayLike | None,
    ) -> npt.NDArray[np.int64]:
        kinds = [coord is not None, ra is not None or dec is not None, hpx is not None]
        if sum(kinds) != 1:
            raise SkyMapError(
                "give positions one way: a SkyCoord, ra= and dec= in degrees, or hpx= "
                "(nested HEALPix indices at level 29)"
            )
        if hpx is not None:
            cells = np.asarray(hpx)
            if not np.issubdtype(cells.dtype, np.integer):
                raise SkyMapError(f"hpx must be integers, not {cells.dtype}")
            if cells.size and (cells.min() < 0 or cells.max() >= 12 * 4**MAX_LEVEL):
                raise SkyMapError("hpx holds indices outside 0 to 12 * 4**29 - 1")
            return cells.astype(np.int64)
        if coord is not None:
            icrs = coord.icrs
            lon, lat = icrs.ra, icrs.dec
        else:
            if ra is None or dec is None:
                raise SkyMapError("give both ra= and dec=, in degrees")
            lat_deg = np.asarray(dec, dtype=np.float64)
            if np.any(np.abs(lat_deg) > 90) or not np.all(np.isfinite(lat_deg)):
                raise SkyMapError("dec must be finite and within -90 to +90 degrees")
            lon = np.asarray(ra, dtype=np.float64) * u.deg
            lat = lat_deg * u.deg
        return np.asarray(
            lonlat_to_healpix(lon, lat, level_to_nside(MAX_LEVEL), order="nested"),
            dtype=np.int64,
        )


def _ranges_to_uniq(
    lo: npt.NDArray[np.int64], hi: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.intp]]:
    """Split order-29 ranges into the fewest HEALPix pixels: their NUNIQ and their range's index.

    From each range's start, the largest pixel that starts there (aligned) and fits is
    taken, until the range is used up: at most ~6 pixels per level.
    """
    uniqs, sources = [], []
    start, end, source = lo.copy(), hi.copy(), np.arange(lo.size)
    while start.size:
        # Alignment: the lowest set bit of start (start = 0 is aligned at every level).
        lowest = start & -start
        aligned = np.where(start == 0, 2 * MAX_LEVEL, np.log2(np.maximum(lowest, 1)).astype(int))
        # Fit: the largest 4**k not above the length (float log2 can be one too high).
        length = end - start
        size = np.floor(np.log2(length.astype(np.float64))).astype(np.int64)
        size -= (np.int64(1) << size) > length
        k = np.minimum(np.minimum(aligned, size) // 2, MAX_LEVEL)
        uniqs.append((np.int64(4) << (2 * (MAX_LEVEL - k))) + (start >> (2 * k)))
        sources.append(source)
        start = start + (np.int64(1) << (2 * k))
        left = start < end
        start, end, source = start[left], end[left], source[left]
    return np.concatenate(uniqs), np.concatenate(sources)


def read_skymap(
    source: str | os.PathLike[str] | bytes | bytearray | memoryview | Mapping[str, Any],
    *,
    distance: bool = True,
) -> SkyMap:
    """Read an LVK HEALPix sky map from a file, bytes or a GCN-Kafka JSON notice.

    Parameters
    ----------
    source
        A path to, or the bytes of: a flat HEALPix FITS map (any NSIDE, NESTED or RING,
        full-sky or explicitly indexed), a multi-order NUNIQ FITS map (gzipped or not),
        or an IGWN GCN-Kafka JSON notice whose ``event.skymap`` is a base64 FITS map.
        A notice already parsed into a dict is accepted too.
    distance
        Read ``DISTMU``, ``DISTSIGMA`` and ``DISTNORM`` when the map has them. Pass False
        to save memory when only the 2-D localisation matters (a flat NSIDE-1024 map takes
        about 200 MB without distances, 500 MB with).

    Returns
    -------
    SkyMap
        The map in multi-order form, density per steradian.

    Raises
    ------
    SkyMapError
        If the path does not exist, or the content is not a HEALPix sky map in celestial
        coordinates, or a notice carries no sky map.
    """
    if isinstance(source, Mapping):
        return _from_notice(source, "the notice", distance)
    if isinstance(source, bytes | bytearray | memoryview):
        return _from_bytes(bytes(source), "the bytes given", distance)
    path = Path(source)
    if not path.is_file():
        raise SkyMapError(f"no sky map file at {path}")
    with path.open("rb") as file:
        head = file.read(80)
    if head.startswith(_GZIP_MAGIC) or head.startswith(_FITS_MAGIC):
        # astropy decompresses .gz itself and memory-maps plain FITS.
        return _from_fits(path, str(path), distance)
    if head.lstrip().startswith(b"{"):
        return _from_bytes(path.read_bytes(), str(path), distance)
    raise SkyMapError(
        f"{path} is neither a FITS sky map (gzipped or not) nor an IGWN JSON notice: "
        f"it starts with {head[:16]!r}"
    )


_GZIP_MAGIC = b"\x1f\x8b"
_FITS_MAGIC = b"SIMPLE  ="


def _from_bytes(data: bytes, origin: str, distance: bool) -> SkyMap:
    if data.startswith(_GZIP_MAGIC):
        return _from_fits(gzip.GzipFile(fileobj=io.BytesIO(data)), origin, distance)
    if data.startswith(_FITS_MAGIC):
        return _from_fits(io.BytesIO(data), origin, distance)
    if data.lstrip().startswith(b"{"):
        try:
            notice = json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise SkyMapError(f"{origin} is not valid JSON: {error}") from error
        if not isinstance(notice, dict):
            raise SkyMapError(f"{origin} is JSON but not an IGWN notice object")
        return _from_notice(notice, origin, distance)
    raise SkyMapError(
        f"{origin} is neither a FITS sky map (gzipped or not) nor an IGWN JSON notice: "
        f"it starts with {data[:16]!r}"
    )


def _from_notice(notice: Mapping[str, Any], origin: str, distance: bool) -> SkyMap:
    superevent = notice.get("superevent_id")
    event = notice.get("event")
    encoded = event.get("skymap") if isinstance(event, Mapping) else None
    if not isinstance(encoded, str | bytes) or not encoded:
        raise SkyMapError(
            f"{origin} carries no sky map (superevent {superevent!r}, alert_type "
            f"{notice.get('alert_type')!r}): an IGWN notice has it in event.skymap, base64"
        )
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as error:
        raise SkyMapError(f"event.skymap of {origin} is not base64: {error}") from error
    if not (data.startswith(_FITS_MAGIC) or data.startswith(_GZIP_MAGIC)):
        raise SkyMapError(f"event.skymap of {origin} does not decode to a FITS file")
    skymap = _from_bytes(data, f"event.skymap of {origin}", distance)
    described = {key: value for key, value in notice.items() if key != "event"}
    described["event"] = {key: value for key, value in event.items() if key != "skymap"}
    skymap.meta.update(
        superevent_id=superevent, alert_type=notice.get("alert_type"), notice=described
    )
    return skymap


def _from_fits(source: Path | io.IOBase, origin: str, distance: bool) -> SkyMap:
    with warnings.catch_warnings():
        # astropy only warns about a damaged header or a truncated file and then fails
        # somewhere later; make that an error here so that the message says what happened.
        warnings.simplefilter("error", AstropyUserWarning)
        try:
            with fits.open(source) as hdus:
                meta, arrays = _read_hdus(hdus, origin, distance)
        except (OSError, EOFError, zlib.error, AstropyUserWarning) as error:
            reason = " ".join(str(error).split())
            raise SkyMapError(f"{origin} is not a readable FITS file: {reason}") from error
    return SkyMap(**arrays, meta=meta)


def _read_hdus(
    hdus: fits.HDUList, origin: str, distance: bool
) -> tuple[dict[str, Any], dict[str, Any]]:
    table = next((hdu for hdu in hdus if isinstance(hdu, fits.BinTableHDU)), None)
    if table is None:
        # astropy stops quietly at a gzip stream that ends early, so that looks the same.
        raise SkyMapError(
            f"{origin} has no binary table (or is cut short), so it holds no HEALPix sky map"
        )
    header = table.header
    meta = _meta(hdus[0].header) | _meta(header)
    columns = [name.upper() for name in table.columns.names]
    ordering = str(header.get("ORDERING", "")).strip().upper()
    pixtype = str(header.get("PIXTYPE", "HEALPIX")).strip().upper()
    coordsys = str(header.get("COORDSYS", "C")).strip().upper()
    if pixtype != "HEALPIX":
        raise SkyMapError(f"{origin} is a {pixtype} map, not HEALPIX")
    if coordsys not in ("C", "CELESTIAL", "EQUATORIAL", "ICRS"):
        raise SkyMapError(
            f"{origin} is in coordinate system {coordsys!r}; sky maps are read only in "
            "celestial (equatorial, COORDSYS = 'C') coordinates"
        )
    if ordering == "NUNIQ" or "UNIQ" in columns:
        return meta, _multiorder_columns(table.data, columns, origin, distance)
    if ordering in ("NESTED", "RING"):
        return meta, _flat_columns(
            table.data,
            header,
            columns=columns,
            ordering=ordering,
            origin=origin,
            distance=distance,
        )
    raise SkyMapError(
        f"{origin} is not a HEALPix sky map: its table has ORDERING {ordering!r} "
        f"and columns {columns}; expected ORDERING NESTED, RING or NUNIQ with a PROB "
        "or PROBDENSITY column"
    )


def _meta(header: fits.Header) -> dict[str, Any]:
    return {
        key: value
        for key, value in header.items()
        if key not in _LAYOUT_CARDS and not key.startswith(_LAYOUT_PREFIXES)
    }


def _column(data: fits.FITS_rec, name: str) -> npt.NDArray[np.float64]:
    # FITS is big-endian; one native copy per column, flattened in case a writer stored
    # the map as rows of 1024 pixels.
    return np.array(data[name], dtype=np.float64).reshape(-1)


def _distances(
    data: fits.FITS_rec, columns: list[str], distance: bool, order: npt.NDArray[np.intp] | None
) -> dict[str, npt.NDArray[np.float64] | None]:
    if not (distance and all(name in columns for name in _DISTANCE_COLUMNS)):
        return {}
    found = {}
    for name in _DISTANCE_COLUMNS:
        column = _column(data, name)
        found[name.lower()] = column if order is None else column[order]
    return found


def _multiorder_columns(
    data: fits.FITS_rec, columns: list[str], origin: str, distance: bool
) -> dict[str, Any]:
    if "UNIQ" not in columns:
        raise SkyMapError(f"{origin} is ordered NUNIQ but has no UNIQ column: {columns}")
    uniq = np.array(data["UNIQ"]).reshape(-1)
    if uniq.dtype.kind not in "iu" or (uniq.size and uniq.max() > np.iinfo(np.int64).max):
        raise SkyMapError(f"the UNIQ column of {origin} does not hold 64-bit pixel indices")
    uniq = uniq.astype(np.int64)
    if "PROBDENSITY" in columns:
        density = _column(data, "PROBDENSITY")
    elif "PROB" in columns:
        # Rare, but the meaning is clear: a probability per pixel of varying size.
        level, _ = uniq_to_level_ipix(uniq)
        density = _column(data, "PROB") / np.ldexp(np.pi / 3, -2 * level)
    else:
        raise SkyMapError(f"{origin} has no PROBDENSITY (or PROB) column: {columns}")
    return {"uniq": uniq, "probdensity": density} | _distances(data, columns, distance, None)


def _flat_columns(
    data: fits.FITS_rec,
    header: fits.Header,
    *,
    columns: list[str],
    ordering: str,
    origin: str,
    distance: bool,
) -> dict[str, Any]:
    if "PROB" not in columns:
        raise SkyMapError(f"{origin} is a flat HEALPix map without a PROB column: {columns}")
    probability = _column(data, "PROB")
    explicit = str(header.get("INDXSCHM", "IMPLICIT")).strip().upper() == "EXPLICIT"
    nside = header.get("NSIDE")
    if nside is None and not explicit:
        try:
            nside = int(npix_to_nside(probability.size))
        except ValueError as error:
            raise SkyMapError(
                f"{origin} has no NSIDE and {probability.size} pixels, not 12 * NSIDE**2"
            ) from error
    if not isinstance(nside, int) or nside < 1 or nside & (nside - 1) or nside > 2**MAX_LEVEL:
        raise SkyMapError(
            f"{origin} has NSIDE {nside!r}, not a power of 2 from 1 to 2**{MAX_LEVEL}"
        )
    npix = 12 * nside**2
    if explicit:
        if "PIXEL" not in columns:
            raise SkyMapError(f"{origin} is explicitly indexed but has no PIXEL column")
        pixels = np.array(data["PIXEL"], dtype=np.int64).reshape(-1)
        if pixels.size and (pixels.min() < 0 or pixels.max() >= npix):
            raise SkyMapError(f"{origin} has PIXEL values outside 0 to {npix - 1}")
        if ordering == "RING":
            pixels = HEALPix(nside=nside).ring_to_nested(pixels).astype(np.int64)
        order: npt.NDArray[np.intp] | None = np.argsort(pixels, kind="stable")
        pixels = pixels[order]
    elif probability.size != npix:
        raise SkyMapError(f"{origin} has {probability.size} pixels but NSIDE {nside} needs {npix}")
    elif ordering == "RING":
        # Gather each column into nested order: position i of the result is the ring
        # pixel that is nested pixel i.
        order = HEALPix(nside=nside).nested_to_ring(np.arange(npix, dtype=np.int64))
        pixels = np.arange(npix, dtype=np.int64)
    else:
        order = None
        pixels = np.arange(npix, dtype=np.int64)
    if order is not None:
        probability = probability[order]
    probability /= 4 * math.pi / npix  # now a density per steradian, in place
    pixels += 4 * nside**2  # now NUNIQ indices, in place
    return {"uniq": pixels, "probdensity": probability} | _distances(data, columns, distance, order)
