"""Context class of an object from the alert's own Pan-STARRS1 and Gaia fields.

Every ZTF candidate names the three nearest Pan-STARRS1 (PS1) sources within 30″
(``distpsnr1..3``, their star/galaxy score ``sgscore1..3``: 1 = star, 0 = galaxy)
and the nearest Gaia source (``neargaia``, ``maggaia``). Missing values are
negative (-999). From these alone — no external catalogue — the rule is, first
match wins:

1. ``star-like``: a PS1 source with ``sgscore`` > 0.5 within 1.5″, or, when PS1 has
   nothing within 1.5″, a Gaia source within 1.5″ (a variable star, not a transient).
2. ``nuclear``: a galaxy-like PS1 source (``sgscore`` ≤ 0.5; exactly 0.5 is PS1's
   "unclassified", typical of the pieces PS1 splits a bright galaxy into) within
   1.0″ — on the core of a galaxy (AGN, TDE, nuclear supernova).
3. ``near galaxy``: a galaxy-like PS1 source among the three nearest, within 15″ —
   a candidate host (supernova-like).
4. ``orphan``: none of these — no host in PS1 (hostless transient, faint host, or
   an asteroid).

The radii follow ZTF's own 1.5″ association radius and the seed Lasair's 1″
"nuclear" query; Sherlock-style catalogue context replaces this later.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

STAR_SGSCORE = 0.5
ASSOCIATION_RADIUS = 1.5
NUCLEAR_RADIUS = 1.0
HOST_RADIUS = 15.0

STAR_LIKE = "star-like"
NUCLEAR = "nuclear"
NEAR_GALAXY = "near galaxy"
ORPHAN = "orphan"
CONTEXT_CLASSES = (STAR_LIKE, NUCLEAR, NEAR_GALAXY, ORPHAN)


def _value(candidate: Mapping[str, Any], name: str) -> float | None:
    value = candidate.get(name)
    if value is None:
        return None
    value = float(value)
    return value if value >= 0 else None  # ZTF writes -999 for "no source"


def context_class(candidate: Mapping[str, Any]) -> str:
    """Classify the surroundings of a detection by the rule of this module.

    Parameters
    ----------
    candidate
        A ZTF candidate record (or row) with the ``distpsnr*``, ``sgscore*`` and
        ``neargaia`` fields; missing fields count as "no source".

    Returns
    -------
    str
        One of :data:`CONTEXT_CLASSES`.
    """
    sources = []
    for index in (1, 2, 3):
        distance = _value(candidate, f"distpsnr{index}")
        score = _value(candidate, f"sgscore{index}")
        if distance is not None and score is not None:
            sources.append((distance, score))
    sources.sort()
    gaia = _value(candidate, "neargaia")

    associated = [score for distance, score in sources if distance <= ASSOCIATION_RADIUS]
    if associated and associated[0] > STAR_SGSCORE:
        return STAR_LIKE
    if not associated and gaia is not None and gaia <= ASSOCIATION_RADIUS:
        return STAR_LIKE
    galaxies = [distance for distance, score in sources if score <= STAR_SGSCORE]
    if galaxies and galaxies[0] <= NUCLEAR_RADIUS:
        return NUCLEAR
    if galaxies and galaxies[0] <= HOST_RADIUS:
        return NEAR_GALAXY
    return ORPHAN
