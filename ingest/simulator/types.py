"""What the simulator hands out: packets and nights."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple


class SimulatedPacket(NamedTuple):
    """One alert packet and what it is about."""

    jd: float
    """Time of the exposure that triggered the alert [JD]."""
    object_id: str
    candid: int
    data: bytes
    """The Avro object container file."""


@dataclass
class SimulatedNight:
    """One night of the simulation.

    ``packets`` is a one-pass iterator in time order. Consume the nights in order:
    ``ndethist`` and ``jdstarthist`` build on the earlier nights.
    """

    index: int
    """0 for the night of ``start_jd``."""
    date: str
    """UT date of the night, ``YYYYMMDD``, as in ZTF's nightly tarball names."""
    jd: float
    """Julian date of 00:00 UT on ``date``."""
    packets: Iterator[SimulatedPacket]
