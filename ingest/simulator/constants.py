"""Parameters of the simulation: schema, cadence, instrument, identifiers and classes."""

from __future__ import annotations

import numpy as np

SCHEMA_VERSION = "4.02"
PUBLISHER = "Lasair-NB simulator"
CLASS_FRACTIONS: dict[str, float] = {
    "periodic": 0.40,
    "supernova": 0.25,
    "agn": 0.15,
    "asteroid": 0.10,
    "bogus": 0.10,
}
"""Share of each class among the simulated sources."""

DEFAULT_START_JD = 2460462.5
"""2024-06-01 00:00 UT."""

HISTORY_DAYS = 30.0
STAMP_SIZE = 63
PIXEL_SCALE = 1.012  # arcsec per ZTF pixel
QUADRANT_PIXELS = (3072, 3080)
FIELD_SIZE_DEG = 7.5
TEMPLATE_FWHM = 2.0  # pixels, of the co-added reference image

PRE_NIGHTS = 31  # nights observed before start_jd, so the first alerts have a history
WEATHER_LOSS = 0.1
VISIT_PROBABILITY = 0.5
SECOND_VISIT = (0.35, 0.15)  # chance of a second exposure in the first, second filter
FIELDS_PER_BLOCK = 100
SOURCES_PER_BLOCK = 10_000  # bounds memory: a block keeps its sources' encoded histories
NIGHT_START_HOURS, NIGHT_END_HOURS = 4.0, 11.0  # UT, Palomar
EXPOSURE_SPACING = 38.0 / 86400.0  # 30 s exposure + readout and slew [days]
GAIN = 6.2  # electrons per DN: Poisson noise of the source in the science image
NID_EPOCH_JD = 2457754.5  # 2017-01-01: ZTF's night ids count from here
ZTF_START_JD = 2458194.5  # 2018-03-17
MAX_TABLE_INDEX = 985_000  # candid = pid · 10⁶ + 15000 + table index
UPPER_LIMIT_CACHE_SIZE = 200_000  # encoded upper limits kept between blocks (~50 MB at most)
PROGRAMPI = "Kulkarni"
RBVERSION, DRBVERSION = "t17_f5_c3", "d6_m7"

_CLASSES = ("periodic", "supernova", "agn", "asteroid", "bogus")
_PERIODIC, _SUPERNOVA, _AGN, _BOGUS = 0, 1, 2, 4  # codes of the non-moving classes
# Share of the reference source's light at the object's position, per class code.
_LOCAL_REFERENCE_LIGHT = np.array([1.0, 0.2, 1.0, 0.0, 0.0])
_ASTEROID_G_V, _ASTEROID_R_V = 0.2, -0.25  # colours of a typical asteroid: g − V, r − V
_FWHM_PER_SIGMA = 2.3548
