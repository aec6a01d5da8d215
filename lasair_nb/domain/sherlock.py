"""Sherlock-like context classification: the rules, with no database.

Lasair-ZTF labels every object with Sherlock's class (Young et al.; Smith et al. 2020,
PASP 132, 085002, section 4.2): what the transient's position coincides with in
catalogues of stars, AGN and galaxies. This module decides the class of one position
from the catalogue sources found near it and from the alert's own Pan-STARRS1 (PS1) and
Gaia fields; :mod:`lasair_nb.archive.sherlock` finds the sources and stores the answer.

Matches, as Sherlock (its ``classificationReliability``)
--------------------------------------------------------
A **synonym** (reliability 1) says the transient *is* the catalogued source: a point
source (star, AGN, QSO, CV) within :data:`SYNONYM_RADIUS_ARCSEC` (1.5″, ZTF's own
association radius, also :data:`lasair_nb.domain.context.ASSOCIATION_RADIUS`: catalogue
positions of point sources are good to a fraction of it).

=================  ============================================================
source kind        association type when a synonym
=================  ============================================================
star               VS (variable star); BS if brighter than mag 13, see below
agn, qso           AGN
cv                 CV
=================  ============================================================

A star brighter than :data:`BRIGHT_STAR_MAG` (13) within :data:`BRIGHT_STAR_RADIUS_ARCSEC`
(5″) gives **BS** (bright star): ZTF difference images around such stars are dominated by
their halo and spikes, so the "transient" is an artefact or the star's own variability.

An **association** (reliability 2) puts the transient *in* a galaxy:

* **NT** (nuclear transient) within :data:`NUCLEAR_RADIUS_ARCSEC` of the centre: 1.0″,
  the ``nuclear`` radius of :mod:`lasair_nb.domain.context` and of Lasair's own
  nuclear-transient filter (``distpsnr1 < 1``). Catalogued galaxy centres (2MASX, CLU) and
  the mean ZTF position are each good to a few tenths of an arcsec, so a smaller radius
  would call real nuclear events offset; a larger one would call supernovae in the
  bulges of nearby galaxies nuclear (1″ is 0.2 kpc at 40 Mpc).
* **SN** within the galaxy's extent: its catalogued semi-major axis if known; else the
  angle :data:`GALAXY_PHYSICAL_RADIUS_KPC` (50 kpc, beyond which few supernovae lie from
  their hosts) subtends at its distance; else :data:`DEFAULT_GALAXY_RADIUS_ARCSEC` (10″);
  never more than :data:`MAX_GALAXY_RADIUS_ARCSEC` (180″, which also bounds the search).

Associations rank by separation in units of the galaxy's size (``separation / radius``,
Sherlock's and Lestrade's "A-value"), so a large nearby host beats a small distant one at
the same angle.

The alert's own PS1 and Gaia fields
-----------------------------------
With no catalogue, or none near, the nearest PS1 source (``sgscore1``, ``distpsnr1``,
``sgmag1``/``srmag1``) and Gaia source (``neargaia``, ``maggaia``) stand in, as
:mod:`lasair_nb.domain.context` reads them (star-like: ``sgscore1 > 0.5``; exactly 0.5 is
PS1's "unclassified", typical of the pieces of a bright galaxy, so it counts as a galaxy):

* a PS1 star-like source or a Gaia source brighter than mag 13 within 5″ → BS;
* a PS1 star-like source within 1.5″, or (with no PS1 source there) a Gaia source → VS;
* a PS1 galaxy-like source within 1.0″ → NT; within :data:`PS1_HOST_RADIUS_ARCSEC`
  (5″, a few arcsec: without its size PS1 cannot say more) → SN.

Choosing the class
------------------
Matches are ranked: catalogue BS, catalogue synonyms, PS1/Gaia BS, PS1/Gaia synonyms,
catalogue associations, PS1 associations (a catalogue beats the survey fields: PS1 calls
a QSO star-like; synonyms beat associations, as in Sherlock); within each group synonyms
by separation, associations by separation in galaxy sizes. The class is the best match's
association type, except:

* **ORPHAN**: no match at all (Sherlock's "not matched against any known catalogued
  source": hostless, faint host, or an asteroid);
* **UNCLEAR**: the evidence conflicts: catalogue synonyms of different types at the top
  (a star and an AGN both within 1.5″), or the best match is a PS1/Gaia star while a
  catalogued galaxy has its centre within the nuclear radius (a compact nucleus looks
  star-like to PS1).

Distances and physical separations
----------------------------------
``direct_distance`` is the catalogued distance (CLU's ``distmpc``); ``distance`` is it, or
else the luminosity distance of the catalogued redshift in Planck18 (astropy). The
projected separation is the small-angle formula
``physical_separation_kpc = separation_rad × D × 1000`` with ``D`` the catalogued distance
in Mpc when there is one (the galaxies of such catalogues are near, where angular-diameter
and luminosity distances agree to a few per cent) and else the angular-diameter distance
``D_A(z)`` (Planck18), the distance that turns angles into proper lengths.

North and east offsets are of the transient from the source, in the source's tangent
plane (as astropy's ``spherical_offsets_to``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from lasair_nb.domain.context import ASSOCIATION_RADIUS, NUCLEAR_RADIUS, STAR_SGSCORE

CATALOG_KINDS = ("galaxy", "agn", "qso", "star", "cv")
"""What a context catalogue may list."""
CLASSES = ("SN", "NT", "AGN", "VS", "CV", "BS", "ORPHAN", "UNCLEAR")
"""Sherlock's classes."""
ANNOTATOR = "lasair-nb sherlock 1"
"""Written with every classification: the rules of this module, version 1."""

SYNONYM_RADIUS_ARCSEC = ASSOCIATION_RADIUS
NUCLEAR_RADIUS_ARCSEC = NUCLEAR_RADIUS
BRIGHT_STAR_MAG = 13.0
BRIGHT_STAR_RADIUS_ARCSEC = 5.0
PS1_HOST_RADIUS_ARCSEC = 5.0
GALAXY_PHYSICAL_RADIUS_KPC = 50.0
DEFAULT_GALAXY_RADIUS_ARCSEC = 10.0
MAX_GALAXY_RADIUS_ARCSEC = 180.0

SEARCH_RADIUS_ARCSEC = MAX_GALAXY_RADIUS_ARCSEC
"""Farthest a galaxy can be and still be matched: the cone searched around each object."""
POINT_SEARCH_RADIUS_ARCSEC = BRIGHT_STAR_RADIUS_ARCSEC
"""Farthest a star, AGN, QSO or CV can be and still be matched."""

SYNONYM_TYPES = {"star": "VS", "agn": "AGN", "qso": "AGN", "cv": "CV"}
OBJECT_TYPES = {
    "galaxy": "a galaxy",
    "star": "a star",
    "agn": "an AGN",
    "qso": "a QSO",
    "cv": "a cataclysmic variable",
}
PS1 = "PS1"
GAIA = "Gaia"
SURVEY_NAMES = {PS1: "Pan-STARRS1", GAIA: "Gaia"}
ARCSEC_PER_RADIAN = math.degrees(1) * 3600
ORPHAN_DESCRIPTION = "The transient location is not matched against any known catalogued source."

SYNONYM = 1
ASSOCIATION = 2


@dataclass
class Match:
    """One ranked match of a transient, with Sherlock's column names."""

    association_type: str
    classificationreliability: int
    catalogue_table_name: str
    catalogue_object_id: str | None
    catalogue_object_type: str
    separationarcsec: float
    northseparationarcsec: float | None = None
    eastseparationarcsec: float | None = None
    physical_separation_kpc: float | None = None
    direct_distance: float | None = None
    distance: float | None = None
    z: float | None = None
    photoz: float | None = None
    major_axis_arcsec: float | None = None
    radeg: float | None = None
    decdeg: float | None = None
    rank: int = 0
    mag: float | None = field(default=None, repr=False)
    detail: str = field(default="", repr=False)
    """Extra words for the description (PS1's score)."""
    group: int = field(default=0, repr=False)
    score: float = field(default=0.0, repr=False)

    def row(self) -> dict[str, Any]:
        """The match as a ``sherlock_crossmatches`` row (without ``objectid``)."""
        return {name: getattr(self, name) for name in MATCH_COLUMNS}


_ASSOCIATION_COLUMNS = (
    "association_type",
    "catalogue_table_name",
    "catalogue_object_id",
    "catalogue_object_type",
    "separationarcsec",
    "northseparationarcsec",
    "eastseparationarcsec",
    "physical_separation_kpc",
    "direct_distance",
    "distance",
    "z",
    "photoz",
    "major_axis_arcsec",
)
MATCH_COLUMNS = ("rank", "classificationreliability", *_ASSOCIATION_COLUMNS, "radeg", "decdeg")
"""Columns of ``sherlock_crossmatches`` besides ``objectid``."""

CLASSIFICATION_COLUMNS = ("classification", *_ASSOCIATION_COLUMNS, "description", "annotator")
"""Columns of ``sherlock_classifications`` besides ``objectid`` and ``updated_at``."""


@dataclass
class Classification:
    """The class of one position, its one-line description and every ranked match."""

    classification: str
    description: str
    matches: list[Match]

    def row(self) -> dict[str, Any]:
        """The ``sherlock_classifications`` row (without ``objectid``)."""
        best = self.matches[0].row() if self.matches else {}
        row = {name: best.get(name) for name in CLASSIFICATION_COLUMNS}
        row.update(
            classification=self.classification, description=self.description, annotator=ANNOTATOR
        )
        return row


# --- geometry ---------------------------------------------------------------------------


def offsets_arcsec(
    ra: npt.ArrayLike, dec: npt.ArrayLike, source_ra: npt.ArrayLike, source_dec: npt.ArrayLike
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Separation, north and east offsets of positions from sources, in arcsec.

    Parameters
    ----------
    ra, dec
        Transient positions [deg].
    source_ra, source_dec
        Source positions [deg], broadcast against them.

    Returns
    -------
    separation, north, east
        Great-circle separation (haversine); latitude and longitude of the transient in
        the frame centred on the source (astropy's ``SkyOffsetFrame``).
    """
    ra, dec = np.radians(np.asarray(ra, float)), np.radians(np.asarray(dec, float))
    ra0, dec0 = np.radians(np.asarray(source_ra, float)), np.radians(np.asarray(source_dec, float))
    d_ra = ra - ra0
    haversine = np.sin((dec - dec0) / 2) ** 2 + np.cos(dec) * np.cos(dec0) * np.sin(d_ra / 2) ** 2
    separation = 2 * np.arcsin(np.sqrt(np.clip(haversine, 0, 1)))
    x = np.cos(dec) * np.cos(d_ra)
    y = np.cos(dec) * np.sin(d_ra)
    z = np.sin(dec)
    x_rotated = x * np.cos(dec0) + z * np.sin(dec0)
    z_rotated = -x * np.sin(dec0) + z * np.cos(dec0)
    east = np.arctan2(y, x_rotated)
    north = np.arcsin(np.clip(z_rotated, -1, 1))
    return (
        separation * ARCSEC_PER_RADIAN,
        north * ARCSEC_PER_RADIAN,
        east * ARCSEC_PER_RADIAN,
    )


def _positive(values: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Values as floats, NaN where missing, not finite or not above zero."""
    array = pd.to_numeric(pd.Series(np.atleast_1d(values)), errors="coerce").to_numpy(float)
    return np.where(np.isfinite(array) & (array > 0), array, np.nan)


def distances(
    redshift: npt.ArrayLike, distance_mpc: npt.ArrayLike
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Distances of sources by the rule of this module.

    Returns
    -------
    direct, distance, scale
        The catalogued distance; the distance reported (catalogued, else the Planck18
        luminosity distance of the redshift); the distance that turns angles into
        lengths (catalogued, else the Planck18 angular-diameter distance). All in Mpc,
        NaN where unknown.
    """
    z = _positive(redshift)
    direct = _positive(distance_mpc)
    luminosity = np.full_like(z, np.nan)
    angular = np.full_like(z, np.nan)
    needed = np.isnan(direct) & np.isfinite(z)
    if needed.any():
        from astropy.cosmology import Planck18  # noqa: PLC0415 - slow import, only with a redshift

        luminosity[needed] = Planck18.luminosity_distance(z[needed]).value
        angular[needed] = Planck18.angular_diameter_distance(z[needed]).value
    distance = np.where(np.isfinite(direct), direct, luminosity)
    scale = np.where(np.isfinite(direct), direct, angular)
    return direct, distance, scale


def physical_separation_kpc(separation_arcsec: npt.ArrayLike, scale_mpc: npt.ArrayLike) -> Any:
    """Projected separation [kpc] at distance ``scale_mpc``: ``sep_rad × D_Mpc × 1000``."""
    return np.asarray(separation_arcsec, float) / ARCSEC_PER_RADIAN * np.asarray(scale_mpc) * 1e3


def galaxy_radius_arcsec(radius_arcsec: npt.ArrayLike, scale_mpc: npt.ArrayLike) -> Any:
    """The extent within which a transient belongs to a galaxy, by the rule of this module."""
    radius = _positive(radius_arcsec)
    scale = _positive(scale_mpc)
    physical = GALAXY_PHYSICAL_RADIUS_KPC / (scale * 1e3) * ARCSEC_PER_RADIAN
    chosen = np.where(
        np.isfinite(radius),
        radius,
        np.where(np.isfinite(physical), physical, DEFAULT_GALAXY_RADIUS_ARCSEC),
    )
    return np.minimum(chosen, MAX_GALAXY_RADIUS_ARCSEC)


# --- the rules --------------------------------------------------------------------------

_CATALOGUE_BS, _CATALOGUE_SYNONYM, _SURVEY_BS, _SURVEY_SYNONYM = 0, 1, 2, 3
_CATALOGUE_ASSOCIATION, _SURVEY_ASSOCIATION = 4, 5


def _number(value: Any) -> float | None:
    """A finite number, or None (NULL, NaN, or ZTF's negative "no source" values)."""
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number >= 0 else None


def _optional(value: Any) -> float | None:
    number = None if value is None else float(value)
    return number if number is not None and math.isfinite(number) else None


def _redshift(value: Any) -> float | None:
    number = _optional(value)
    return number if number is not None and number > 0 else None


def _catalogue_match(source: Mapping[str, Any]) -> Match | None:
    """The match a catalogue source makes (its geometry already in ``source``), or None."""
    kind = source["kind"]
    separation = float(source["separationarcsec"])
    common = {
        "catalogue_table_name": str(source["catalogue"]),
        "catalogue_object_id": str(source["source_id"]),
        "catalogue_object_type": kind,
        "separationarcsec": separation,
        "northseparationarcsec": _optional(source["northseparationarcsec"]),
        "eastseparationarcsec": _optional(source["eastseparationarcsec"]),
        "physical_separation_kpc": _optional(source["physical_separation_kpc"]),
        "direct_distance": _optional(source["direct_distance"]),
        "distance": _optional(source["distance"]),
        "z": _redshift(source.get("redshift")),
        "radeg": float(source["ra"]),
        "decdeg": float(source["dec"]),
        "mag": _optional(source.get("mag")),
    }
    if kind == "galaxy":
        size = float(source["galaxy_radius_arcsec"])
        if separation > size:
            return None
        nuclear = separation <= NUCLEAR_RADIUS_ARCSEC
        return Match(
            association_type="NT" if nuclear else "SN",
            classificationreliability=ASSOCIATION,
            major_axis_arcsec=size,
            group=_CATALOGUE_ASSOCIATION,
            score=separation / size,
            **common,
        )
    mag = common["mag"]
    if kind == "star" and mag is not None and mag <= BRIGHT_STAR_MAG:
        if separation <= BRIGHT_STAR_RADIUS_ARCSEC:
            return Match(
                association_type="BS",
                classificationreliability=SYNONYM
                if separation <= SYNONYM_RADIUS_ARCSEC
                else ASSOCIATION,
                group=_CATALOGUE_BS,
                score=separation,
                **common,
            )
    if separation <= SYNONYM_RADIUS_ARCSEC:
        return Match(
            association_type=SYNONYM_TYPES[kind],
            classificationreliability=SYNONYM,
            group=_CATALOGUE_SYNONYM,
            score=separation,
            **common,
        )
    return None


def _survey_matches(alert: Mapping[str, Any]) -> list[Match]:
    """The matches the alert's own PS1 and Gaia fields make."""
    matches = []
    score, distance = _number(alert.get("sgscore1")), _number(alert.get("distpsnr1"))
    mags = [_number(alert.get(name)) for name in ("sgmag1", "srmag1")]
    mags = [mag for mag in mags if mag is not None and mag > 0]
    ps1_mag = min(mags) if mags else None
    if score is not None and distance is not None:
        common = {
            "catalogue_table_name": PS1,
            "catalogue_object_id": None,
            "separationarcsec": distance,
            "mag": ps1_mag,
            "detail": f"sgscore1 = {score:.2f}",
        }
        if score > STAR_SGSCORE:
            if ps1_mag is not None and ps1_mag <= BRIGHT_STAR_MAG:
                if distance <= BRIGHT_STAR_RADIUS_ARCSEC:
                    matches.append(
                        Match(
                            "BS",
                            SYNONYM if distance <= SYNONYM_RADIUS_ARCSEC else ASSOCIATION,
                            catalogue_object_type="star",
                            group=_SURVEY_BS,
                            score=distance,
                            **common,
                        )
                    )
            elif distance <= SYNONYM_RADIUS_ARCSEC:
                matches.append(
                    Match(
                        "VS",
                        SYNONYM,
                        catalogue_object_type="star",
                        group=_SURVEY_SYNONYM,
                        score=distance,
                        **common,
                    )
                )
        elif distance <= NUCLEAR_RADIUS_ARCSEC:
            matches.append(
                Match(
                    "NT",
                    ASSOCIATION,
                    catalogue_object_type="galaxy",
                    group=_SURVEY_ASSOCIATION,
                    score=distance / PS1_HOST_RADIUS_ARCSEC,
                    **common,
                )
            )
        elif distance <= PS1_HOST_RADIUS_ARCSEC:
            matches.append(
                Match(
                    "SN",
                    ASSOCIATION,
                    catalogue_object_type="galaxy",
                    group=_SURVEY_ASSOCIATION,
                    score=distance / PS1_HOST_RADIUS_ARCSEC,
                    **common,
                )
            )
    gaia, gaia_mag = _number(alert.get("neargaia")), _number(alert.get("maggaia"))
    if gaia is not None:
        common = {
            "catalogue_table_name": GAIA,
            "catalogue_object_id": None,
            "catalogue_object_type": "star",
            "separationarcsec": gaia,
            "mag": gaia_mag,
            "score": gaia,
        }
        ps1_there = distance is not None and score is not None and distance <= ASSOCIATION_RADIUS
        if gaia_mag is not None and 0 < gaia_mag <= BRIGHT_STAR_MAG:
            if gaia <= BRIGHT_STAR_RADIUS_ARCSEC:
                matches.append(
                    Match(
                        "BS",
                        SYNONYM if gaia <= SYNONYM_RADIUS_ARCSEC else ASSOCIATION,
                        group=_SURVEY_BS,
                        **common,
                    )
                )
        elif gaia <= SYNONYM_RADIUS_ARCSEC and not ps1_there:
            matches.append(Match("VS", SYNONYM, group=_SURVEY_SYNONYM, **common))
    return matches


def _unclear(matches: list[Match]) -> str | None:
    """Why the evidence conflicts, or None."""
    best = matches[0]
    if best.group in (_CATALOGUE_BS, _CATALOGUE_SYNONYM):
        rivals = {
            match.association_type
            for match in matches
            if match.group == best.group and match.classificationreliability == SYNONYM
        }
        if len(rivals) > 1:
            return f"catalogued sources of different types ({', '.join(sorted(rivals))}) are there"
    if best.group in (_SURVEY_BS, _SURVEY_SYNONYM):
        for match in matches:
            if match.group == _CATALOGUE_ASSOCIATION and match.association_type == "NT":
                return (
                    f"{SURVEY_NAMES[best.catalogue_table_name]} sees a star-like source "
                    f'{best.separationarcsec:.2f}" away, but it is on the core of '
                    f"{match.catalogue_object_id} (a galaxy in {match.catalogue_table_name})"
                )
    return None


def _distance_words(match: Match) -> str:
    if match.physical_separation_kpc is None:
        return ""
    return f" ({match.physical_separation_kpc:.1f} Kpc)"


def _describe_survey(match: Match, separation: str) -> str:
    survey = SURVEY_NAMES[match.catalogue_table_name]
    source = f"the nearest {survey} source"
    detail = f", {match.detail}" if match.detail else ""
    if match.association_type == "BS":
        return (
            f"The transient is possibly associated with {source}; a bright star-like "
            f"source (mag {match.mag:.1f}{detail}) {separation} away: an artefact of its "
            "light or its own variability."
        )
    if match.association_type == "VS":
        return (
            f"The transient is synonymous with {source}; a star-like source{detail}, "
            f"{separation} away."
        )
    where = "core" if match.association_type == "NT" else "centre"
    return (
        f"The transient is possibly associated with {source}; a galaxy-like source"
        f"{detail}. It's located {separation} from the galaxy {where}."
    )


def describe(match: Match | None) -> str:
    """One line like Sherlock's annotation of the best match."""
    if match is None:
        return ORPHAN_DESCRIPTION
    separation = f'{match.separationarcsec:.2f}"'
    if match.catalogue_table_name in SURVEY_NAMES:
        return _describe_survey(match, separation)
    name, catalogue = match.catalogue_object_id, match.catalogue_table_name
    kind = match.catalogue_object_type
    if match.association_type == "BS":
        return (
            f"The transient is possibly associated with {name}; a bright star (mag "
            f"{match.mag:.1f}) found in the {catalogue} catalogue, {separation} away: an "
            "artefact of its light or its own variability."
        )
    if match.classificationreliability == SYNONYM:
        return (
            f"The transient is synonymous with {name}; {OBJECT_TYPES[kind]} found in the "
            f"{catalogue} catalogue ({separation} away)."
        )
    redshift = f" at z = {match.z:.4g}" if match.z is not None else ""
    where = "core" if match.association_type == "NT" else "centre"
    return (
        f"The transient is possibly associated with {name}; a galaxy{redshift} found in the "
        f"{catalogue} catalogue. It's located {separation} from the galaxy {where}"
        f"{_distance_words(match)}."
    )


def classify_matches(
    sources: Sequence[Mapping[str, Any]], alert: Mapping[str, Any]
) -> Classification:
    """Classify one position by the rules of this module.

    Parameters
    ----------
    sources
        Catalogue sources near it, each with ``catalogue, source_id, kind, ra, dec, mag,
        redshift`` and its geometry (:func:`source_geometry`): ``separationarcsec,
        northseparationarcsec, eastseparationarcsec, direct_distance, distance,
        physical_separation_kpc, galaxy_radius_arcsec``.
    alert
        The object's PS1/Gaia fields (``sgscore1, distpsnr1, sgmag1, srmag1, neargaia,
        maggaia``); missing ones count as "no source".

    Returns
    -------
    Classification
        Class, description and the ranked matches (rank 1 first).
    """
    matches = [match for source in sources if (match := _catalogue_match(source)) is not None]
    matches += _survey_matches(alert)
    matches.sort(
        key=lambda m: (m.group, m.score, m.catalogue_table_name, m.catalogue_object_id or "")
    )
    for rank, match in enumerate(matches, start=1):
        match.rank = rank
    if not matches:
        return Classification("ORPHAN", ORPHAN_DESCRIPTION, [])
    conflict = _unclear(matches)
    if conflict:
        return Classification(
            "UNCLEAR",
            f"The transient's context is unclear: {conflict}. Best match: {describe(matches[0])}",
            matches,
        )
    return Classification(matches[0].association_type, describe(matches[0]), matches)


def source_geometry(pairs: pd.DataFrame) -> pd.DataFrame:
    """Add the geometry of each (transient, source) pair, vectorised over all pairs.

    Parameters
    ----------
    pairs
        ``ra_object, dec_object`` of the transient and ``ra, dec, redshift,
        distance_mpc, radius_arcsec`` of the source, one row per pair.

    Returns
    -------
    pandas.DataFrame
        ``pairs`` with ``separationarcsec``, ``northseparationarcsec``,
        ``eastseparationarcsec``, ``direct_distance``, ``distance``,
        ``physical_separation_kpc`` and ``galaxy_radius_arcsec``.
    """
    pairs = pairs.copy()
    separation, north, east = offsets_arcsec(
        pairs["ra_object"], pairs["dec_object"], pairs["ra"], pairs["dec"]
    )
    direct, distance, scale = distances(pairs["redshift"], pairs["distance_mpc"])
    pairs["separationarcsec"] = separation
    pairs["northseparationarcsec"] = north
    pairs["eastseparationarcsec"] = east
    pairs["direct_distance"] = direct
    pairs["distance"] = distance
    pairs["physical_separation_kpc"] = physical_separation_kpc(separation, scale)
    pairs["galaxy_radius_arcsec"] = galaxy_radius_arcsec(pairs["radius_arcsec"], scale)
    return pairs


ALERT_FIELDS = ("sgscore1", "distpsnr1", "sgmag1", "srmag1", "neargaia", "maggaia")
"""The object's own fields the rules read."""


def classify_objects(
    objects: pd.DataFrame, pairs: pd.DataFrame
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Classify many objects at once.

    Parameters
    ----------
    objects
        ``objectid``, ``ra``, ``dec`` and the :data:`ALERT_FIELDS` (missing columns count
        as "no source").
    pairs
        Catalogue sources near the objects: ``objectid, catalogue, source_id, kind, ra,
        dec, redshift, distance_mpc, radius_arcsec, mag`` (sources farther than the rules
        reach are ignored).

    Returns
    -------
    classifications, crossmatches
        Rows of ``sherlock_classifications`` and ``sherlock_crossmatches`` (with
        ``objectid``), one classification per object.
    """
    by_object: dict[str, list[dict[str, Any]]] = {}
    if len(pairs):
        positions = objects.set_index("objectid")[["ra", "dec"]]
        pairs = pairs.join(
            positions.rename(columns={"ra": "ra_object", "dec": "dec_object"}), on="objectid"
        )
        for row in source_geometry(pairs).to_dict("records"):
            by_object.setdefault(row["objectid"], []).append(row)
    classifications, crossmatches = [], []
    for alert in objects.to_dict("records"):
        result = classify_matches(by_object.get(alert["objectid"], []), alert)
        classifications.append({"objectid": alert["objectid"], **result.row()})
        crossmatches += [{"objectid": alert["objectid"], **match.row()} for match in result.matches]
    return classifications, crossmatches
