"""The three cutouts of an alert: Gaussian profiles, gzipped FITS stamps, the scene."""

from __future__ import annotations

import zlib
from functools import cache
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
from astropy.io import fits

from ingest.simulator.constants import PUBLISHER, STAMP_SIZE


@cache
def _fits_header() -> bytes:
    header = fits.Header()
    header["SIMPLE"] = True
    header["BITPIX"] = -32
    header["NAXIS"] = 2
    header["NAXIS1"] = STAMP_SIZE
    header["NAXIS2"] = STAMP_SIZE
    header["BUNIT"] = "DN"
    header["ORIGIN"] = (PUBLISHER, "simulated, not a ZTF observation")
    return header.tostring().encode("ascii")


_FITS_PADDING = b"\0" * (-(STAMP_SIZE * STAMP_SIZE * 4) % 2880)
_AXIS = np.arange(STAMP_SIZE, dtype=np.float64)
_CENTRE = (STAMP_SIZE - 1) / 2


def _profile(x0: float, y0: float, sigma: float) -> npt.NDArray[np.float64]:
    """A unit-flux circular Gaussian on the stamp grid centred at pixel (x0, y0)."""
    gx = np.exp(-0.5 * ((_AXIS - x0) / sigma) ** 2)
    gy = np.exp(-0.5 * ((_AXIS - y0) / sigma) ** 2)
    total_x, total_y = gx.sum(), gy.sum()
    if total_x < 1e-12 or total_y < 1e-12:  # centred off the stamp
        return np.zeros((STAMP_SIZE, STAMP_SIZE))
    return np.outer(gy / total_y, gx / total_x)


def _fits_gz(image: npt.NDArray[Any]) -> bytes:
    """A gzipped single-HDU FITS file of a 63×63 float32 image."""
    # Z_RLE compresses noisy float32 stamps as well as the default strategy, twice as fast.
    compressor = zlib.compressobj(1, zlib.DEFLATED, 31, 8, zlib.Z_RLE)
    return b"".join(
        (
            compressor.compress(_fits_header()),
            compressor.compress(image.astype(">f4").tobytes()),
            compressor.compress(_FITS_PADDING),
            compressor.flush(),
        )
    )


class _Scene(NamedTuple):
    """What the stamps show besides the flux change at the centre."""

    ref_flux: float  # of the reference-image source [DN]
    distance: float  # of that source from the candidate [arcsec]
    angle: float  # its position angle [rad]
    extent: float  # its Gaussian sigma beyond the PSF [pixels]
