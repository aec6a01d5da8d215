"""Read the targets astronomers paste into a cone search.

A target is one of three things:

- a **position**, possibly with a search radius: decimal degrees (``194.7 12.58``),
  sexagesimal with colons, spaces or letters (``12:34:56.7 +12:34:56``,
  ``12 34 56.7 +12 34 56``, ``12h34m56.7s +12d34m56s``, ``12ʰ34ᵐ56.7ˢ +12°34′56″``), then
  optionally a radius (arcsec unless marked ``″``/``′``/``°``); or an astropy ``SkyCoord``;
  or an ``(ra, dec)`` pair in degrees;
- one or more **ZTF objectIds** (``ZTF21abiuvdk``, or a comma-separated list; typed in
  any case, returned as ZTF writes them);
- a **TNS name** to resolve later (``2021abc``, ``AT 2021abc``, ``SN2021abc``).

Sexagesimal right ascension is in hours and decimal right ascension in degrees, as
everywhere in astronomy. RA and Dec must be written the same way: ``12:34:56.7 +12.58``
mixes notations and is refused rather than guessed. Three bare integers such as
``12 34 56`` are refused too: they could be a sexagesimal RA or a position plus a radius.

Parsing is pure; resolving names and searching the archive happen elsewhere.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import astropy.units as u
from astropy.coordinates import Angle, SkyCoord
from astropy.coordinates.errors import ConvertError

from lasair_nb import errors

__all__ = [
    "ACCEPTED_FORMS",
    "ACCEPTED_RADII",
    "MAX_RADIUS",
    "Target",
    "TargetError",
    "as_radius",
    "parse_target",
]

ACCEPTED_FORMS = """\
Accepted targets:
  194.7 12.58                 decimal degrees, RA then Dec (a comma between them is fine)
  12:34:56.7 +12:34:56        sexagesimal with colons: RA in hours, Dec in degrees
  12 34 56.7 +12 34 56        sexagesimal with spaces (all three fields of each)
  12h34m56.7s +12d34m56s      sexagesimal with letters, or 12ʰ34ᵐ56.7ˢ +12°34′56″
  194.7 12.58 3.5             any position followed by a radius in arcsec (or 3.5″, 2′, 0.1°)
  ZTF21abiuvdk                a ZTF objectId, or several separated by commas
  2021abc, AT 2021abc, SN2021abc   a TNS name
  from Python: a SkyCoord, or (ra, dec) in degrees"""
"""The forms :func:`parse_target` accepts; every :class:`TargetError` ends with it."""

ACCEPTED_RADII = """\
Accepted radii: a positive number of arcseconds (5, 3.5) or an angular Quantity
(5 * u.arcsec, 2 * u.arcmin, 0.1 * u.deg), at most 180°."""
"""The forms :func:`as_radius` accepts."""

MAX_RADIUS = 180 * u.deg
"""Largest search radius: a cone of 180° already covers the whole sky."""


class TargetError(errors.TargetError):
    """A target or radius could not be read; the message lists the accepted forms."""

    def __init__(self, problem: str, accepted: str = ACCEPTED_FORMS) -> None:
        super().__init__(problem, accepted)


@dataclass(frozen=True)
class Target:
    """What a cone search looks for: a position, some ZTF objectIds or a name to resolve.

    Exactly one of ``coord``, ``object_ids`` and ``name`` is set.

    Attributes
    ----------
    coord
        The position (ICRS), or None.
    radius
        The search radius in arcsec if the input gave one, else None (the caller's default
        applies). Only with ``coord``.
    object_ids
        ZTF objectIds in the order given, without repeats; empty unless the target is a list
        of objects.
    name
        A TNS name without its prefix (``2021abc``; a lone letter is upper case, ``2019A``),
        or None.
    """

    coord: SkyCoord | None = None
    radius: u.Quantity | None = None
    object_ids: tuple[str, ...] = ()
    name: str | None = None

    def __post_init__(self) -> None:
        # Accept any sequence but store a tuple, so that the target stays immutable.
        object.__setattr__(self, "object_ids", tuple(self.object_ids))
        given = [self.coord is not None, bool(self.object_ids), self.name is not None]
        if sum(given) != 1:
            raise TargetError(
                f"a Target holds exactly one of a position, objectIds or a name, not {sum(given)}"
            )
        if self.radius is not None:
            if self.coord is None:
                raise TargetError("a radius goes only with a position")
            object.__setattr__(self, "radius", as_radius(self.radius))

    @property
    def kind(self) -> Literal["position", "objects", "name"]:
        """Which of the three kinds of target this is."""
        if self.coord is not None:
            return "position"
        if self.object_ids:
            return "objects"
        return "name"

    def _key(self) -> tuple[object, ...]:
        position = None if self.coord is None else (self.coord.ra.deg, self.coord.dec.deg)
        radius = None if self.radius is None else float(self.radius.to_value(u.arcsec))
        return (position, radius, self.object_ids, self.name)

    def __eq__(self, other: object) -> bool:
        # SkyCoord and Quantity are unhashable and compare element-wise, so compare values.
        if not isinstance(other, Target):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())


def parse_target(target: str | SkyCoord | Sequence[object] | Target) -> Target:
    """Read a cone-search target as an astronomer would write it.

    Parameters
    ----------
    target
        A string in one of the forms of :data:`ACCEPTED_FORMS`; a scalar ``SkyCoord`` (any
        frame, converted to ICRS); a tuple or list ``(ra, dec)`` or ``(ra, dec, radius)``
        with RA and Dec in degrees as numbers, numeric strings or angular Quantities (two
        sexagesimal strings are read as in a single string, RA in hours); or a
        :class:`Target`, returned unchanged.

    Returns
    -------
    Target
        A position (with its radius if one was given), objectIds or a TNS name.

    Raises
    ------
    TargetError
        If the input is empty, out of range (RA outside 0–360° or 0–24 h, Dec outside
        ±90°, a radius that is not positive) or ambiguous. The message lists the accepted
        forms.

    Examples
    --------
    >>> parse_target("12:34:56.7 +12:34:56 5").radius
    <Quantity 5. arcsec>
    >>> parse_target("ZTF21abiuvdk, ZTF20aajcdad").object_ids
    ('ZTF21abiuvdk', 'ZTF20aajcdad')
    >>> parse_target("SN 2021abc").name
    '2021abc'
    """
    if isinstance(target, Target):
        return target
    if isinstance(target, SkyCoord):
        return Target(coord=_from_skycoord(target))
    if isinstance(target, str):
        return _parse_text(target)
    if isinstance(target, tuple | list):
        return _parse_sequence(target)
    raise TargetError(
        "a target is a string, a SkyCoord or an (ra, dec) pair, "
        f"not a {type(target).__name__}: {target!r}"
    )


def as_radius(radius: float | u.Quantity) -> u.Quantity:
    """A search radius as an angle in arcsec.

    Parameters
    ----------
    radius
        A number of arcseconds, or a scalar angular Quantity.

    Returns
    -------
    astropy.units.Quantity
        The radius in arcsec.

    Raises
    ------
    TargetError
        If the radius is not positive, not finite, larger than 180°, not an angle
        (a length, a dimensionless Quantity) or not a number.
    """
    if isinstance(radius, u.Quantity):
        if not radius.isscalar:
            raise TargetError(f"a radius is one angle, not {radius.size}", ACCEPTED_RADII)
        if not radius.unit.is_equivalent(u.arcsec):
            raise TargetError(
                f"the radius {radius} is not an angle (unit {radius.unit!s})", ACCEPTED_RADII
            )
        quantity = radius.to(u.arcsec)
    elif isinstance(radius, numbers.Real) and not isinstance(radius, bool):
        quantity = float(radius) * u.arcsec
    else:
        raise TargetError(
            f"a radius is a number or an angular Quantity, not {radius!r}", ACCEPTED_RADII
        )
    value = float(quantity.value)
    if not math.isfinite(value):
        raise TargetError(f"the radius must be finite, not {radius}", ACCEPTED_RADII)
    if value <= 0:
        raise TargetError(f"the radius must be positive, not {radius}", ACCEPTED_RADII)
    if quantity > MAX_RADIUS:
        raise TargetError(f"the radius {radius} is larger than 180°", ACCEPTED_RADII)
    return quantity


# ---------------------------------------------------------------------------------------
# objectIds and TNS names

_OBJECT_ID = re.compile(r"(?i:ZTF)(\d{2})([a-zA-Z]{7})")
_TNS_NAME = re.compile(r"(?:(?:AT|SN|TDE)\s*)?((?:19|20)\d{2})([a-z]{1,4})", re.IGNORECASE)
_LIST_SEPARATOR = re.compile(r"[\s,;]+")


def _object_ids(tokens: list[str]) -> tuple[str, ...]:
    bad = [token for token in tokens if not _OBJECT_ID.fullmatch(token)]
    if bad:
        listed = ", ".join(repr(token) for token in bad)
        raise TargetError(
            f"{listed} {'is not a' if len(bad) == 1 else 'are not'} ZTF objectId"
            f"{'' if len(bad) == 1 else 's'}: an objectId is 'ZTF', two digits of year and "
            "seven letters (ZTF21abiuvdk); a list of them is separated by commas"
        )
    ids: dict[str, None] = {}
    for token in tokens:
        match = _OBJECT_ID.fullmatch(token)
        assert match is not None  # every token was checked above
        # ZTF writes the prefix in upper case and the letters in lower case; the archive
        # compares exactly, so normalise what was typed.
        ids[f"ZTF{match[1]}{match[2].lower()}"] = None
    return tuple(ids)


def _tns_name(match: re.Match[str]) -> str:
    year, letters = match[1], match[2]
    # IAU convention: the first 26 transients of a year are 2021A…2021Z, then 2021aa….
    return year + (letters.upper() if len(letters) == 1 else letters.lower())


# ---------------------------------------------------------------------------------------
# positions

# Typographic characters that mean the same as the ASCII ones the patterns use.
_TRANSLATION = str.maketrans(
    {
        "\u2212": "-",  # minus sign
        "\u2013": "-",  # en dash, often pasted for a minus
        "\u2010": "-",
        "\u2011": "-",
        "\u00a0": " ",
        "\u2009": " ",
        "\u202f": " ",
        "\u2032": "'",  # prime
        "\u2019": "'",
        "\u2033": '"',  # double prime
        "\u201d": '"',
        "\u00b0": "d",  # degree sign
        "\u00ba": "d",  # masculine ordinal, typed for a degree sign
        "\u02b0": "h",  # superscript h, m, s
        "\u1d50": "m",
        "\u02e2": "s",
    }
)

_NUMBER = r"(?:\d+(?:\.\d*)?|\.\d+)"
_SIGN = r"[+-]?"
_SEXAGESIMAL_FIELD = r"\d{1,2}(?:\.\d*)?"

# One angle in each notation. Sexagesimal patterns also take a sign and large leading
# fields so that out-of-range values get a range message rather than "could not read".
_NOTATIONS: dict[str, str] = {
    "decimal degrees": rf"{_SIGN}{_NUMBER}(?:\s*d(?:eg)?)?",
    "sexagesimal with colons": rf"{_SIGN}\d{{1,3}}:\d{{1,2}}(?::{_SEXAGESIMAL_FIELD}|\.\d*)?",
    "sexagesimal with spaces": rf"{_SIGN}\d{{1,3}}\s+\d{{1,2}}\s+{_SEXAGESIMAL_FIELD}",
    "sexagesimal with letters": (
        rf"{_SIGN}\d{{1,3}}\s*[hd]\s*"
        rf"(?:\d{{1,2}}\.\d*\s*[m']|\d{{1,2}}\s*[m'](?:\s*{_SEXAGESIMAL_FIELD}\s*[s\"]?)?)"
    ),
}
_SEPARATOR = r"(?:\s*,\s*|\s+|(?=[+-]))"
_RADIUS = (
    rf"(?:{_SEPARATOR}(?P<radius>{_SIGN}{_NUMBER})\s*"
    r"(?P<radius_unit>\"|arcsec|'|arcmin|d(?:eg)?)?)?"
)
_POSITIONS = {
    notation: re.compile(rf"(?P<ra>{angle}){_SEPARATOR}(?P<dec>{angle}){_RADIUS}")
    for notation, angle in _NOTATIONS.items()
}
_ANY_ANGLE = "|".join(f"(?:{angle})" for angle in _NOTATIONS.values())
_MIXED_POSITION = re.compile(rf"(?P<ra>{_ANY_ANGLE}){_SEPARATOR}(?P<dec>{_ANY_ANGLE}){_RADIUS}")
_RADIUS_UNITS = {None: u.arcsec, '"': u.arcsec, "arcsec": u.arcsec, "'": u.arcmin}
_RADIUS_UNITS |= {"arcmin": u.arcmin, "d": u.deg, "deg": u.deg}


def _parse_text(text: str) -> Target:
    stripped = text.strip()
    if not stripped:
        raise TargetError("the target is empty")
    tokens = [token for token in _LIST_SEPARATOR.split(stripped) if token]
    if any(token.upper().startswith("ZTF") for token in tokens):
        return Target(object_ids=_object_ids(tokens))
    name = _TNS_NAME.fullmatch(stripped)
    if name:
        return Target(name=_tns_name(name))
    return _parse_position(stripped)


def _parse_position(text: str) -> Target:
    normal = text.translate(_TRANSLATION).lower().replace("''", '"')
    # Positions copied from Python or a paper often come in brackets: (194.7, 12.58).
    bracketed = re.fullmatch(r"\((.*)\)|\[(.*)\]", normal)
    if bracketed:
        normal = (bracketed[1] if bracketed[1] is not None else bracketed[2]).strip()
    for notation, pattern in _POSITIONS.items():
        match = pattern.fullmatch(normal)
        if match:
            return _position_from_match(text, notation, match)
    _explain_unreadable(text, normal)
    raise AssertionError("unreachable")  # _explain_unreadable always raises


def _position_from_match(text: str, notation: str, match: re.Match[str]) -> Target:
    ra_text, dec_text = match["ra"].strip(), match["dec"].strip()
    radius = None
    if match["radius"] is not None:
        try:
            radius = as_radius(float(match["radius"]) * _RADIUS_UNITS[match["radius_unit"]])
        except TargetError as error:
            # Re-raised so that the message lists the target forms, radius among them.
            raise TargetError(f"in {text!r}, {error.problem}") from error
    if notation == "decimal degrees":
        if match["radius"] is not None and _could_be_sexagesimal(ra_text, dec_text):
            raise TargetError(
                f"{text!r} is ambiguous: three whole numbers could be a sexagesimal RA "
                "(hours minutes seconds) or RA, Dec in degrees and a radius; write decimal "
                "degrees with a decimal point (12.0 34.0 56) or give the Dec as well"
            )
        ra = Angle(_strip_degree_unit(ra_text), unit=u.deg)
        dec = Angle(_strip_degree_unit(dec_text), unit=u.deg)
    else:
        ra = _sexagesimal_angle(ra_text, right_ascension=True)
        dec = _sexagesimal_angle(dec_text, right_ascension=False)
    return Target(coord=_checked_position(ra, dec, text), radius=radius)


def _could_be_sexagesimal(ra_text: str, dec_text: str) -> bool:
    """True for ``12 34 56``: hours and minutes as bare integers, then one more number."""
    return ra_text.isdigit() and dec_text.isdigit() and int(ra_text) < 24 and int(dec_text) < 60


def _strip_degree_unit(text: str) -> str:
    return re.sub(r"\s*d(?:eg)?$", "", text)


def _sexagesimal_angle(text: str, *, right_ascension: bool) -> Angle:
    """An angle from colon, space or letter notation, checking each field's range first.

    astropy would carry a minute or second of 60 into the next field with only a
    warning; a typo like that is refused here instead.
    """
    sign = "-" if text.startswith("-") else "+"
    fields = re.findall(_NUMBER, text)
    in_degrees = not right_ascension or "d" in text
    unit = u.deg if in_degrees else u.hourangle
    what = "Dec" if not right_ascension else "RA"
    if not right_ascension and "h" in text:
        raise TargetError(f"the Dec {text!r} is written in hours; a Dec is in degrees (d or °)")
    for value, field in zip(fields[1:], ("minutes", "seconds"), strict=False):
        if float(value) >= 60:
            raise TargetError(f"the {what} {text!r} has {field} {value}, which must be below 60")
    if right_ascension and not in_degrees and float(fields[0]) >= 24:
        raise TargetError(
            f"the RA {text!r} has {fields[0]} hours: a sexagesimal RA is in hours, "
            "from 0 to below 24"
        )
    return Angle(sign + ":".join(fields), unit=unit)


def _checked_position(ra: Angle, dec: Angle, text: object) -> SkyCoord:
    ra_deg, dec_deg = float(ra.deg), float(dec.deg)
    if not (math.isfinite(ra_deg) and math.isfinite(dec_deg)):
        raise TargetError(f"the position {text!r} is not finite")
    if not 0 <= ra_deg <= 360:
        raise TargetError(
            f"the RA of {text!r} is {ra_deg:g}°, outside 0 to 360° (0 to 24 h in sexagesimal)"
        )
    if not -90 <= dec_deg <= 90:
        raise TargetError(f"the Dec of {text!r} is {dec_deg:g}°, outside -90 to +90°")
    return SkyCoord(ra=ra, dec=dec, frame="icrs")


def _explain_unreadable(text: str, normal: str) -> None:
    """Raise the most helpful TargetError for text that matched no position pattern."""
    single = re.compile(_ANY_ANGLE)
    if single.fullmatch(normal):
        raise TargetError(f"{text!r} is a single angle: a position needs both RA and Dec")
    mixed = _MIXED_POSITION.fullmatch(normal)
    if mixed:
        notations = [
            next(name for name, angle in _NOTATIONS.items() if re.fullmatch(angle, part.strip()))
            for part in (mixed["ra"], mixed["dec"])
        ]
        raise TargetError(
            f"{text!r} writes RA and Dec in different notations (RA {mixed['ra'].strip()!r} "
            f"in {notations[0]}, Dec {mixed['dec'].strip()!r} in {notations[1]}); "
            "write both the same way"
        )
    raise TargetError(f"could not read {text!r} as a position, ZTF objectIds or a TNS name")


def _from_skycoord(coord: SkyCoord) -> SkyCoord:
    if not coord.isscalar:
        raise TargetError(f"a target is one position, not a SkyCoord of shape {coord.shape}")
    try:
        icrs = coord.icrs
    except ConvertError as error:
        raise TargetError(f"cannot convert {coord!r} to ICRS: {error}") from error
    return _checked_position(icrs.ra, icrs.dec, coord)


def _parse_sequence(values: Sequence[object]) -> Target:
    if len(values) not in (2, 3):
        raise TargetError(
            f"a sequence target is (ra, dec) or (ra, dec, radius), not {len(values)} values"
        )
    ra_value, dec_value = values[0], values[1]
    radius = None if len(values) == 2 else values[2]
    if isinstance(ra_value, str) and isinstance(dec_value, str):
        if not (_is_decimal(ra_value) and _is_decimal(dec_value)):
            target = _parse_position(f"{ra_value.strip()} {dec_value.strip()}")
            if target.radius is not None:
                raise TargetError(f"{values!r} holds more than an RA and a Dec")
            return Target(coord=target.coord, radius=_optional_radius(radius))
    ra = _degrees(ra_value, "RA", values)
    dec = _degrees(dec_value, "Dec", values)
    coord = _checked_position(ra, dec, tuple(values))
    return Target(coord=coord, radius=_optional_radius(radius))


def _optional_radius(radius: object) -> u.Quantity | None:
    if radius is None:
        return None
    if isinstance(radius, u.Quantity | numbers.Real):
        return as_radius(radius)
    raise TargetError(
        f"a radius is a number or an angular Quantity, not {radius!r}", ACCEPTED_RADII
    )


def _is_decimal(text: str) -> bool:
    return re.fullmatch(rf"\s*{_SIGN}{_NUMBER}\s*", text.translate(_TRANSLATION)) is not None


def _degrees(value: object, what: str, values: Sequence[object]) -> Angle:
    if isinstance(value, u.Quantity):
        if not (value.isscalar and value.unit.is_equivalent(u.deg)):
            raise TargetError(f"the {what} in {values!r} is not one angle")
        return Angle(value)
    if isinstance(value, str) and _is_decimal(value):
        return Angle(float(value.translate(_TRANSLATION)), unit=u.deg)
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return Angle(float(value), unit=u.deg)
    raise TargetError(f"the {what} in {values!r} is not a number of degrees: {value!r}")
