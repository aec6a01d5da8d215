"""The context rule, case by case."""

from __future__ import annotations

import pytest

from lasair_nb.domain.context import context_class

NONE = {
    "distpsnr1": -999,
    "sgscore1": -999,
    "distpsnr2": -999,
    "sgscore2": -999,
    "distpsnr3": -999,
    "sgscore3": -999,
    "neargaia": -999,
}


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"distpsnr1": 0.3, "sgscore1": 0.98}, "star-like"),
        ({"neargaia": 0.4}, "star-like"),  # no PS1 source, a Gaia one on top
        ({"distpsnr1": 0.4, "sgscore1": 0.02}, "nuclear"),
        ({"distpsnr1": 0.4, "sgscore1": 0.02, "neargaia": 0.3}, "nuclear"),  # Gaia sees the core
        ({"distpsnr1": 1.3, "sgscore1": 0.02}, "near galaxy"),
        ({"distpsnr1": 2.0, "sgscore1": 0.99, "distpsnr2": 6.0, "sgscore2": 0.1}, "near galaxy"),
        ({"distpsnr1": 2.0, "sgscore1": 0.99}, "orphan"),  # a star nearby is no host
        ({"distpsnr1": 22.0, "sgscore1": 0.1}, "orphan"),  # galaxy too far
        ({}, "orphan"),
    ],
)
def test_context_rule(fields: dict, expected: str) -> None:
    assert context_class({**NONE, **fields}) == expected


def test_missing_fields_count_as_no_source() -> None:
    assert context_class({"distpsnr1": 0.2}) == "orphan"  # no score: cannot say star or galaxy
    assert context_class({"distpsnr1": None, "sgscore1": None, "neargaia": None}) == "orphan"
