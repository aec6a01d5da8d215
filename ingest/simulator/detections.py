"""Candidate fields of detections, computed column by column for many at once."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from ingest.simulator.constants import (
    DRBVERSION,
    PIXEL_SCALE,
    PROGRAMPI,
    QUADRANT_PIXELS,
    RBVERSION,
)
from ingest.simulator.schedule import _Schedule


def _detection_columns(
    schedule: _Schedule,
    *,
    exposure: npt.NDArray[np.int64],
    place: dict[str, npt.NDArray[Any]],
    tblid: npt.NDArray[np.int64],
    flux: npt.NDArray[np.float64],
    error: npt.NDArray[np.float64],
    draws: npt.NDArray[np.float64],
    bogus: npt.NDArray[np.bool_],
) -> dict[str, Any]:
    """Candidate fields of many detections at once: an array per field, or one value.

    ``place`` holds ``rcid``, ``ccd``, ``quadrant``, ``ra``, ``dec``, ``xpos`` and
    ``ypos``; ``draws`` five rows of random numbers (one normal, four uniform) per
    detection. Fields about the reference source, Pan-STARRS1 and Gaia, solar
    system objects and the history are the caller's.
    """
    sch = schedule
    rcid = place["rcid"]
    zp, limit, seeing = sch.magzpsci[exposure], sch.diffmaglim[exposure], sch.fwhm[exposure]
    snr = np.abs(flux) / error
    magpsf = zp - 2.5 * np.log10(np.abs(flux))
    sigmapsf = 1.0857 / snr
    z_ap, u_rb, u_drb, u_shape, u_misc = draws
    magap = magpsf + (0.03 + 0.5 * sigmapsf) * z_ap
    sigmagap = 1.1 * sigmapsf + 0.002
    quality = np.minimum(1.0, 0.6 + snr / 25)
    fwhm = seeing * np.where(bogus, 0.35 + 0.3 * u_shape, 0.9 + 0.25 * u_shape)
    elong = np.where(bogus, 1.3 + 1.5 * u_misc, 1.0 + 0.12 * u_misc)
    aimage = 0.42 * fwhm * np.sqrt(elong) * PIXEL_SCALE
    bimage = aimage / elong
    xpos, ypos = place["xpos"], place["ypos"]
    ssnrms = sch.pixel_sigma[exposure] * (3.0 + u_misc)
    dsnrms = ssnrms * (0.55 + 0.3 * u_shape)
    pid = sch.pid_base[exposure] + 100 * rcid
    columns: dict[str, Any] = {
        "jd": sch.jd[exposure],
        "fid": sch.fid[exposure],
        "pid": pid,
        "diffmaglim": limit,
        "pdiffimfilename": None,  # the caller's: formatted only when needed
        "programpi": PROGRAMPI,
        "programid": 1,
        "candid": pid * 10**6 + 15000 + tblid,
        "isdiffpos": np.where(flux > 0, "t", "f"),
        "tblid": tblid,
        "nid": sch.nid[exposure],
        "rcid": rcid,
        "field": sch.field[exposure],
        "xpos": xpos,
        "ypos": ypos,
        "ra": place["ra"],
        "dec": place["dec"],
        "magpsf": magpsf,
        "sigmapsf": sigmapsf,
        "chipsf": 0.8 + 0.6 * u_misc + (snr / 60) ** 2,
        "magap": magap,
        "sigmagap": sigmagap,
        "sky": 2 * u_misc - 1,
        "magdiff": magap - magpsf,
        "fwhm": fwhm,
        "mindtoedge": np.minimum.reduce(
            [xpos, ypos, QUADRANT_PIXELS[0] - xpos, QUADRANT_PIXELS[1] - ypos]
        ),
        "magfromlim": limit - magap,
        "seeratio": 0.85 + 0.3 * u_shape,
        "aimage": aimage,
        "bimage": bimage,
        "aimagerat": aimage / fwhm,
        "bimagerat": bimage / fwhm,
        "elong": elong,
        "nneg": np.where(bogus, np.floor(8 * u_misc), np.floor(3 * u_misc)).astype(np.int64),
        "nbad": np.where(bogus, np.floor(3 * u_rb), 0).astype(np.int64),
        "rb": np.where(bogus, 0.03 + 0.3 * u_rb, (0.5 + 0.48 * np.sqrt(u_rb)) * quality),
        "sumrat": np.where(bogus, 0.4 + 0.5 * u_drb, 0.93 + 0.07 * u_drb),
        "magapbig": magap - 0.01 * np.abs(z_ap),
        "sigmagapbig": 1.15 * sigmagap,
        "scorr": snr * (1 + 0.05 * z_ap),
        "magzpsci": zp,
        "magzpsciunc": sch.magzpsciunc[exposure],
        "magzpscirms": sch.magzpscirms[exposure],
        "clrcoeff": sch.clrcoeff[exposure],
        "clrcounc": sch.clrcounc[exposure],
        "rbversion": RBVERSION,
        # candidate-only fields
        "tooflag": 0,
        "rfid": sch.rfid_base[exposure] + rcid,
        "jdstartref": sch.jdstartref[exposure],
        "jdendref": sch.jdendref[exposure],
        "nframesref": sch.nframesref[exposure],
        "dsnrms": dsnrms,
        "ssnrms": ssnrms,
        "dsdiff": dsnrms - ssnrms,
        "nmatches": sch.nmatches[exposure],
        "zpclrcov": sch.zpclrcov[exposure],
        "zpmed": zp + 0.05,
        "clrmed": sch.clrmed[exposure],
        "clrrms": sch.clrrms[exposure],
        "exptime": 30.0,
        "drb": np.where(bogus, 0.15 * u_drb**2, 1 - 0.35 * (1 - u_drb) ** 3 / quality),
        "drbversion": DRBVERSION,
    }
    return columns


def _select(columns: dict[str, Any], index: npt.NDArray[np.int64]) -> dict[str, Any]:
    """Some records of column-wise fields: a list per field, or the shared value."""
    chosen: dict[str, Any] = {}
    for name, values in columns.items():
        if isinstance(values, np.ndarray):
            chosen[name] = values[index].tolist()
        elif isinstance(values, list):
            chosen[name] = [values[i] for i in index.tolist()]
        else:
            chosen[name] = values
    return chosen


def _record(columns: dict[str, Any], k: int) -> dict[str, Any]:
    """Record ``k`` of fields chosen by :func:`_select`."""
    return {name: v[k] if isinstance(v, list) else v for name, v in columns.items()}
