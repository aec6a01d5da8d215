"""Cone-search targets as astronomers paste them: positions, radii, objectIds, TNS names."""

from __future__ import annotations

import pickle

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord

from lasair_nb.domain.sky import ACCEPTED_FORMS, Target, TargetError, as_radius, parse_target
from lasair_nb.errors import LasairError

# The reference positions, built by astropy from one unambiguous form each.
SEXAGESIMAL = SkyCoord("12h34m56.7s", "+12d34m56s", frame="icrs")
SOUTHERN = SkyCoord("12h34m56.7s", "-12d34m56s", frame="icrs")
DECIMAL = SkyCoord(194.7 * u.deg, 12.58 * u.deg, frame="icrs")


def assert_same_position(found: SkyCoord | None, expected: SkyCoord) -> None:
    assert found is not None
    assert found.frame.name == "icrs"
    assert found.separation(expected) < 1 * u.mas


@pytest.mark.parametrize(
    ("text", "expected", "radius_arcsec"),
    [
        # decimal degrees
        ("194.7 12.58", DECIMAL, None),
        ("194.7, +12.58", DECIMAL, None),
        ("194.7,12.58", DECIMAL, None),
        ("  194.7\t12.58  ", DECIMAL, None),
        ("194.7+12.58", DECIMAL, None),
        ("194.7° +12.58°", DECIMAL, None),
        ("194.7d 12.58d", DECIMAL, None),
        ("(194.7, 12.58)", DECIMAL, None),
        ("194.7 12.58 3.5", DECIMAL, 3.5),
        ("194.7, 12.58, 3.5", DECIMAL, 3.5),
        ('194.7 12.58 5"', DECIMAL, 5.0),
        ("194.7 12.58 5″", DECIMAL, 5.0),
        ("194.7 12.58 2'", DECIMAL, 120.0),
        ("194.7 12.58 2′", DECIMAL, 120.0),
        ("194.7 12.58 2 arcmin", DECIMAL, 120.0),
        ("194.7 12.58 0.01°", DECIMAL, 36.0),
        # sexagesimal with colons, spaces and letters
        ("12:34:56.7 +12:34:56", SEXAGESIMAL, None),
        ("12:34:56.7, +12:34:56", SEXAGESIMAL, None),
        ("12:34:56.7 12:34:56", SEXAGESIMAL, None),
        ("12:34:56.7-12:34:56", SOUTHERN, None),
        ("12:34:56.7 −12:34:56", SOUTHERN, None),  # a typographic minus sign
        ("12:34:56.7 +12:34:56 5", SEXAGESIMAL, 5.0),
        ("12 34 56.7 +12 34 56", SEXAGESIMAL, None),
        ("12 34 56.7 -12 34 56", SOUTHERN, None),
        ("12 34 56.7 +12 34 56 5", SEXAGESIMAL, 5.0),
        ("12h34m56.7s +12d34m56s", SEXAGESIMAL, None),
        ("12h34m56.7s+12d34m56s", SEXAGESIMAL, None),
        ("12H34M56.7S +12D34M56S", SEXAGESIMAL, None),
        ("12h 34m 56.7s -12d 34m 56s", SOUTHERN, None),
        ("12h34m56.7s +12°34′56″", SEXAGESIMAL, None),
        ("12ʰ34ᵐ56.7ˢ +12°34′56″", SEXAGESIMAL, None),
        ("12h34m56.7s +12°34'56''", SEXAGESIMAL, None),
        ("12h34m56.7s +12°34'56\" 3", SEXAGESIMAL, 3.0),
        ("12h34m56.7s, +12d34m56s, 2.5", SEXAGESIMAL, 2.5),
    ],
)
def test_positions_in_every_pasted_form(
    text: str, expected: SkyCoord, radius_arcsec: float | None
) -> None:
    target = parse_target(text)
    assert target.kind == "position"
    assert_same_position(target.coord, expected)
    if radius_arcsec is None:
        assert target.radius is None
    else:
        assert target.radius is not None
        assert target.radius.unit == u.arcsec
        assert target.radius.value == pytest.approx(radius_arcsec)
    assert target.object_ids == ()
    assert target.name is None


@pytest.mark.parametrize(
    ("text", "ra", "dec"),
    [
        ("00:00:00 -00:30:00", "0h0m0s", "-0d30m0s"),  # a negative Dec under one degree
        ("0 0 0 -0 30 0", "0h0m0s", "-0d30m0s"),
        ("23:59:59.999 +89:59:59.9", "23h59m59.999s", "89d59m59.9s"),
        ("00:00:00.0 -90:00:00", "0h0m0s", "-90d0m0s"),
        ("12:34.5 +12:34", "12h34m30s", "12d34m0s"),
        ("12h34m -12d34m", "12h34m0s", "-12d34m0s"),
        ("188d44m10.5s +12d34m56s", "188d44m10.5s", "12d34m56s"),  # letters in degrees
        ("0 -90", "0d", "-90d"),
        ("359.9999 89.9999", "359.9999d", "89.9999d"),
        ("360 0", "0d", "0d"),
        ("150 2 10", "150d", "2d"),  # 150 cannot be hours: decimal degrees and a radius
    ],
)
def test_positions_agree_with_astropy(text: str, ra: str, dec: str) -> None:
    expected = SkyCoord(ra, dec, frame="icrs")
    assert_same_position(parse_target(text).coord, expected)


def test_sexagesimal_ra_is_hours_and_decimal_ra_is_degrees() -> None:
    hours = parse_target("12:00:00 +00:00:00").coord
    degrees = parse_target("12.0 0.0").coord
    assert hours is not None and degrees is not None
    assert hours.ra.deg == pytest.approx(180.0)
    assert degrees.ra.deg == pytest.approx(12.0)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ((194.7, 12.58), DECIMAL),
        ([194.7, 12.58], DECIMAL),
        (("194.7", "+12.58"), DECIMAL),
        ((np.float64(194.7), np.float32(12.58).item()), DECIMAL),
        ((194.7 * u.deg, 12.58 * u.deg), DECIMAL),
        ((194700 * u.mdeg, 12.58 * u.deg), DECIMAL),
        (("12:34:56.7", "+12:34:56"), SEXAGESIMAL),  # as in a string, RA in hours
        (("12h34m56.7s", "-12d34m56s"), SOUTHERN),
        (SEXAGESIMAL, SEXAGESIMAL),
        (SEXAGESIMAL.galactic, SEXAGESIMAL),  # converted to ICRS
        (SkyCoord(194.7, 12.58, unit="deg", frame="fk5", equinox="J2000"), DECIMAL),
    ],
)
def test_python_positions(value: object, expected: SkyCoord) -> None:
    target = parse_target(value)  # type: ignore[arg-type]
    assert target.kind == "position"
    assert target.radius is None
    # FK5 J2000 and ICRS differ by tens of mas; allow that for the FK5 case only.
    found = target.coord
    assert found is not None
    assert found.frame.name == "icrs"
    assert found.separation(expected) < 0.1 * u.arcsec


def test_python_position_with_radius() -> None:
    target = parse_target((194.7, 12.58, 2 * u.arcmin))
    assert target.radius is not None
    assert target.radius.to_value(u.arcsec) == pytest.approx(120)
    assert parse_target((194.7, 12.58, 5)).radius == 5 * u.arcsec


def test_a_target_is_returned_unchanged() -> None:
    target = parse_target("ZTF21abiuvdk")
    assert parse_target(target) is target


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ZTF21abiuvdk", ("ZTF21abiuvdk",)),
        ("  ZTF21abiuvdk ", ("ZTF21abiuvdk",)),
        ("ztf21abiuvdk", ("ZTF21abiuvdk",)),
        ("Ztf21abiuvdk", ("ZTF21abiuvdk",)),
        ("ZTF21ABIUVDK", ("ZTF21abiuvdk",)),  # ZTF's letters are lower case; so is the archive
        ("ZTF21abiuvdk,ZTF20aajcdad", ("ZTF21abiuvdk", "ZTF20aajcdad")),
        (
            "ZTF21abiuvdk, ZTF20aajcdad, ZTF20acvgcyj",
            ("ZTF21abiuvdk", "ZTF20aajcdad", "ZTF20acvgcyj"),
        ),
        ("ZTF21abiuvdk ZTF20aajcdad", ("ZTF21abiuvdk", "ZTF20aajcdad")),
        ("ZTF21abiuvdk,\nZTF20aajcdad,", ("ZTF21abiuvdk", "ZTF20aajcdad")),
        ("ZTF21abiuvdk, ZTF21abiuvdk, ztf21abiuvdk", ("ZTF21abiuvdk",)),  # repeats dropped
    ],
)
def test_object_ids(text: str, expected: tuple[str, ...]) -> None:
    target = parse_target(text)
    assert target.kind == "objects"
    assert target.object_ids == expected
    assert target.coord is None and target.radius is None and target.name is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2021abc", "2021abc"),
        ("AT2021abc", "2021abc"),
        ("AT 2021abc", "2021abc"),
        ("at 2021abc", "2021abc"),
        ("SN2021abc", "2021abc"),
        ("SN 2021abc", "2021abc"),
        ("SN  2021ABC", "2021abc"),
        ("TDE 2019qiz", "2019qiz"),
        ("2019A", "2019A"),  # the first 26 of a year are single capital letters
        ("SN 2019a", "2019A"),
        ("AT 2023aaab", "2023aaab"),
        ("SN 1987A", "1987A"),
    ],
)
def test_tns_names(text: str, expected: str) -> None:
    target = parse_target(text)
    assert target.kind == "name"
    assert target.name == expected
    assert target.coord is None and target.object_ids == ()


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("12:34:56.7", "single angle"),  # an RA alone
        ("194.7", "single angle"),
        ("12h34m56.7s", "single angle"),
        ("95:00:00 +12 00 00", "different notations"),
        ("12:34:56.7 +12.58", "different notations"),
        ("194.7 +12:34:56", "different notations"),
        ("95:00:00 +12:00:00", "hours"),
        ("24:00:00 +12:00:00", "hours"),
        ("12:60:00 +12:00:00", "minutes 60"),
        ("12:34:56.7 +12:34:60", "seconds 60"),
        ("12h34m56.7s +12h34m56s", "in hours"),
        ("-12:34:56.7 +12:34:56", "outside 0 to 360"),
        ("361 0", "outside 0 to 360"),
        ("-0.5 10", "outside 0 to 360"),
        ("194.7 91", "outside -90 to +90"),
        ("194.7 -90.0001", "outside -90 to +90"),
        ("12:00:00 +91:00:00", "outside -90 to +90"),
        ("12 34 56.7", "ambiguous"),  # sexagesimal RA alone, or RA Dec radius?
        ("12 34 56", "ambiguous"),
        ("194.7 12.58 0", "positive"),
        ("194.7 12.58 -3", "positive"),
        ("194.7 12.58 200d", "larger than 180"),
        ("abc def", "could not read"),
        ("dec 91", "could not read"),
        ("12 34 56.7 +12 34", "different notations"),
        ("194.7 12.58 3.5 7", "could not read"),
        ("ZTF21abc", "not a ZTF objectId"),
        ("ZTF21abiuvdk, 2021abc", "not a ZTF objectId"),
        ("ZTF21abiuvdk 5", "not a ZTF objectId"),
        ("ZTF21abiuvdk, ZTF2abiuvdk, ZTFxx", "are not ZTF objectIds"),
        ("2021", "single angle"),
        ("AT 21abc", "could not read"),
    ],
)
def test_bad_text_says_what_was_wrong_and_lists_the_forms(text: str, says: str) -> None:
    with pytest.raises(TargetError) as raised:
        parse_target(text)
    message = str(raised.value)
    assert says in message
    assert ACCEPTED_FORMS in message
    assert "12:34:56.7 +12:34:56" in message and "ZTF21abiuvdk" in message


@pytest.mark.parametrize(
    "value",
    [
        (194.7,),
        (194.7, 12.58, 3, 4),
        (194.7, 91),
        (-1, 0),
        (194.7, float("nan")),
        (True, 12.58),
        ("abc", "def"),
        (194.7, "12:34:56"),
        (194.7 * u.m, 12.58),
        (194.7, 12.58, 0),
        (194.7, 12.58, "5"),
        SkyCoord([1, 2], [3, 4], unit="deg"),
        12.5,
        None,
    ],
)
def test_bad_python_targets(value: object) -> None:
    with pytest.raises(TargetError):
        parse_target(value)  # type: ignore[arg-type]


def test_target_error_is_a_lasair_error_and_a_value_error() -> None:
    with pytest.raises(LasairError):
        parse_target("abc def")
    with pytest.raises(ValueError, match="Accepted targets"):
        parse_target("abc def")


def test_target_error_survives_pickling() -> None:
    with pytest.raises(TargetError) as raised:
        parse_target("194.7 91")
    copy = pickle.loads(pickle.dumps(raised.value))
    assert str(copy) == str(raised.value)
    assert copy.problem == raised.value.problem


@pytest.mark.parametrize(
    ("radius", "arcsec"),
    [
        (5, 5.0),
        (3.5, 3.5),
        (np.float64(2.0), 2.0),
        (5 * u.arcsec, 5.0),
        (2 * u.arcmin, 120.0),
        (0.1 * u.deg, 360.0),
        (1 * u.mas, 0.001),
        (180 * u.deg, 648000.0),
    ],
)
def test_as_radius(radius: float | u.Quantity, arcsec: float) -> None:
    quantity = as_radius(radius)
    assert quantity.unit == u.arcsec
    assert quantity.value == pytest.approx(arcsec)


@pytest.mark.parametrize(
    ("radius", "says"),
    [
        (0, "positive"),
        (-1.0, "positive"),
        (-2 * u.arcmin, "positive"),
        (float("nan"), "finite"),
        (float("inf"), "finite"),
        (np.inf * u.deg, "finite"),
        (5 * u.m, "not an angle"),
        (5 * u.dimensionless_unscaled, "not an angle"),
        ([1, 2] * u.arcsec, "one angle"),
        (181 * u.deg, "larger than 180"),
        ("5", "number or an angular Quantity"),
        (True, "number or an angular Quantity"),
        (None, "number or an angular Quantity"),
    ],
)
def test_bad_radius(radius: object, says: str) -> None:
    with pytest.raises(TargetError, match="Accepted radii") as raised:
        as_radius(radius)  # type: ignore[arg-type]
    assert says in str(raised.value)


def test_target_holds_exactly_one_kind() -> None:
    with pytest.raises(TargetError):
        Target()
    with pytest.raises(TargetError):
        Target(coord=DECIMAL, name="2021abc")
    with pytest.raises(TargetError, match="only with a position"):
        Target(name="2021abc", radius=5 * u.arcsec)
    assert Target(coord=DECIMAL, radius=5).radius == 5 * u.arcsec  # type: ignore[arg-type]
    assert Target(object_ids=["ZTF21abiuvdk"]).object_ids == ("ZTF21abiuvdk",)  # type: ignore[arg-type]


def test_targets_compare_and_hash_by_value() -> None:
    first = parse_target("194.7 12.58 3")
    same = parse_target((194.7, 12.58, 3 * u.arcsec))
    assert first == same
    assert hash(first) == hash(same)
    assert first != parse_target("194.7 12.58")
    assert parse_target("AT 2021abc") == parse_target("2021abc")
    assert parse_target("AT 2021abc") != parse_target("ZTF21abiuvdk")
    assert len({first, same, parse_target("2021abc"), parse_target("SN 2021abc")}) == 2
