"""A simulated ZTF alert stream: schema 4.02 packets of a known population.

:class:`AlertSimulator` turns ``objects``, ``nights`` and a ``seed`` into nights of
alert packets that look like ZTF's: each packet is an Avro object container file
(codec null, one record) embedding the 4.02 writer schema, with the candidate, 30
days of ``prv_candidates`` (detections and upper limits), 30 days of forced
photometry (``fp_hists``) and three gzipped 63×63 FITS cutouts. The same seed gives
the same bytes; the truth (class and parameters of every object) comes with them.

Population (``objects`` simulated sources; counts rounded from these fractions):

============  ========  ========================================================
class         fraction  model
============  ========  ========================================================
periodic      40 %      variable star on a PS1 star (``distnr`` < 0.5″,
                        ``magnr`` = mean magnitude, ``sgscore1`` ≈ 1): sinusoid
                        or sawtooth, period log-uniform 0.3–20 d, peak-to-peak
                        amplitude 0.3–1 mag (r; g × 1.2), mean r 13.5–17.5
supernova     25 %      Bazin rise and fall, peak r 17–19.5 mag between 20 days
                        before the start and the last night, 1–5″ from a galaxy
                        (``sgscore1`` < 0.15), blue at peak and reddening
agn           15 %      damped random walk (τ 50–400 d, SF∞ 0.2–0.5 mag) of a
                        nuclear source: a galaxy-like PS1 source within 0.5″
asteroid      10 %      a moving object: at most one detection a night, each a
                        new objectId (as ZTF does), ``ssnamenr`` set
bogus         10 %      one detection ever, low ``rb``/``drb``, sharp artefact
============  ========  ========================================================

Cadence: a ZTF-like grid of fields (the rows of ZTF's primary grid, ~7° tiles;
sources at dec > −30°) is observed every night from ``start_jd`` on, and during the
31 nights before it, so the first alerts already carry 30 days of history. A
night is lost to weather with probability 0.1; otherwise each field is visited
with probability 0.5 (a revisit every 1–3 nights), once in g and once in r, some
fields with a second g (35 %) or r (15 %) exposure. Visited fields are observed in
blocks, pass after pass, one exposure every ≤ 38 s between 04:00 and 11:00 UT, so a
field's exposures are typically 20–60 minutes apart. Each exposure has its own
zero point (``magzpsci`` ≈ 26.2), seeing (~2″) and 5σ limit (``diffmaglim``
19.5–21, shallower in g near full moon). A source is detected, and an alert
emitted, when its measured difference flux is brighter than ``diffmaglim``;
otherwise the epoch is an upper limit in later alerts' histories.

Truth (:attr:`AlertSimulator.truth`; ``truth.csv`` beside written packets): one
row per objectId — every non-moving source, detected or not, and every nightly
asteroid detection (an asteroid never detected has no objectId and no row;
:attr:`AlertSimulator.class_counts` counts the sources) — with ``object_id``,
``source`` (index of the simulated source; an asteroid's rows share it),
``class``, ``ra``, ``dec``, ``field``, ``rcid``, ``mag_g``/``mag_r`` (mean
magnitude for periodic and AGN, host magnitude for supernovae, magnitude that
night for asteroids; ``mag_r`` of a bogus row is its magnitude, in either band),
``period``, ``amplitude`` (r band, peak to peak; g is 1.2 times larger),
``shape`` (``sinusoid`` or ``sawtooth``), ``epoch_jd`` (a time of maximum light),
``peak_mag`` (r), ``peak_jd``, ``tau_rise``, ``tau_fall``, ``host_offset``
[arcsec], ``drw_tau``, ``drw_sf``, ``ssnamenr`` and ``jd`` (of an asteroid or
bogus detection); NaN or empty where a column does not apply.

Identifiers follow ZTF's: ``nid`` counts nights from 2017-01-01; ``pid`` is
``nid``, the UT fraction of day of the exposure, ``rcid`` and ``15``; ``candid``
is ``pid``, ``015`` and a table index, unique across the simulation; objectIds
are ``ZTF`` + two-digit year + seven letters, numbered in order of first
detection.

Speed: fastavro resolves every ``["null", type]`` union value by value, about a
microsecond a field, and a packet has thousands. Records are therefore encoded
here from precompiled layouts (:class:`_RecordEncoder`, byte-identical to
fastavro, checked by the tests): the history entries of every detection in an
observing block at once, column by column with numpy; upper limits once per
exposure and readout channel. An alert's history is then a slice of its
source's encoded entries. Stamps are gzipped with zlib's run-length strategy.
About 600–1000 packets/s on one core, fewer sources per field being slower.

Modules: ``constants`` (parameters), ``encoding`` (schema and
Avro encoding), ``grid`` (the field grid), ``helpers``, ``stamps`` (cutouts),
``types`` (:class:`SimulatedPacket`, :class:`SimulatedNight`), ``schedule`` (the
exposures), ``detections`` (candidate fields), ``simulator`` (:class:`AlertSimulator`:
the population, truth and nights) and ``blocks`` (the packets of an observing block).
"""

from ingest.simulator.constants import (
    CLASS_FRACTIONS,
    DEFAULT_START_JD,
    DRBVERSION,
    EXPOSURE_SPACING,
    FIELD_SIZE_DEG,
    FIELDS_PER_BLOCK,
    GAIN,
    HISTORY_DAYS,
    MAX_TABLE_INDEX,
    NID_EPOCH_JD,
    NIGHT_END_HOURS,
    NIGHT_START_HOURS,
    PIXEL_SCALE,
    PRE_NIGHTS,
    PROGRAMPI,
    PUBLISHER,
    QUADRANT_PIXELS,
    RBVERSION,
    SCHEMA_VERSION,
    SECOND_VISIT,
    SOURCES_PER_BLOCK,
    STAMP_SIZE,
    TEMPLATE_FWHM,
    UPPER_LIMIT_CACHE_SIZE,
    VISIT_PROBABILITY,
    WEATHER_LOSS,
    ZTF_START_JD,
)
from ingest.simulator.encoding import alert_schema
from ingest.simulator.grid import field_centres, locate
from ingest.simulator.simulator import AlertSimulator
from ingest.simulator.types import SimulatedNight, SimulatedPacket

__all__ = [
    "CLASS_FRACTIONS",
    "DEFAULT_START_JD",
    "DRBVERSION",
    "EXPOSURE_SPACING",
    "FIELDS_PER_BLOCK",
    "FIELD_SIZE_DEG",
    "GAIN",
    "HISTORY_DAYS",
    "MAX_TABLE_INDEX",
    "NID_EPOCH_JD",
    "NIGHT_END_HOURS",
    "NIGHT_START_HOURS",
    "PIXEL_SCALE",
    "PRE_NIGHTS",
    "PROGRAMPI",
    "PUBLISHER",
    "QUADRANT_PIXELS",
    "RBVERSION",
    "SCHEMA_VERSION",
    "SECOND_VISIT",
    "SOURCES_PER_BLOCK",
    "STAMP_SIZE",
    "TEMPLATE_FWHM",
    "UPPER_LIMIT_CACHE_SIZE",
    "VISIT_PROBABILITY",
    "WEATHER_LOSS",
    "ZTF_START_JD",
    "AlertSimulator",
    "SimulatedNight",
    "SimulatedPacket",
    "alert_schema",
    "field_centres",
    "locate",
]
