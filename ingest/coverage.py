"""Survey coverage: what each ZTF night observed, per field and band.

The writer adds the detections and upper limits each batch newly stored, so
counts stay exact when packets are ingested twice.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

from lasair_nb.domain.photometry import valid_magnitude
from lasair_nb.domain.times import jd_to_unix_days

NIGHT_OFFSET_DAYS = 20 / 24
"""Palomar nights start in the evening: UTC − 20 h falls on the local date the night began."""


def night_of(jd: float) -> date:
    """The local date on which the Palomar night containing ``jd`` began."""
    return date(1970, 1, 1) + timedelta(days=int((jd_to_unix_days(jd) - NIGHT_OFFSET_DAYS) // 1))


def coverage_rows(
    detections: Iterable[tuple[Any, Any, float, Any, bool, bool]],
    upper_limits: Iterable[tuple[Any, Any, float, Any]],
) -> list[dict[str, Any]]:
    """Aggregate newly stored measurements per (night, field, fid).

    Parameters
    ----------
    detections
        ``(field, fid, jd, diffmaglim, inserted, in_alert)`` of each detection a
        batch inserted or upgraded. A detection counts when first inserted; its
        limiting magnitude counts from its own alert only, because a history copy
        may carry a slightly different value and the result must not depend on
        which arrived first.
    upper_limits
        ``(field, fid, jd, diffmaglim)`` of each newly stored non-detection.
        Entries without a field (some legacy history) are skipped. A limit that is
        a ZTF sentinel (e.g. −1006.94, :func:`~lasair_nb.domain.photometry.valid_magnitude`)
        counts the measurement but not its limit.

    Returns
    -------
    list of dict
        ``night, field, fid, ncandidates, nlimits, maglim_min, maglim_max,
        jd_first, jd_last``, one per key.
    """
    cells: dict[tuple[date, int, int], dict[str, Any]] = {}

    def add(field: Any, fid: Any, jd: float, limit: Any, kind: str | None) -> None:
        if field is None or fid is None:
            return
        key = (night_of(jd), field, fid)
        cell = cells.setdefault(
            key,
            {
                "night": key[0],
                "field": field,
                "fid": fid,
                "ncandidates": 0,
                "nlimits": 0,
                "maglim_min": None,
                "maglim_max": None,
                "jd_first": jd,
                "jd_last": jd,
            },
        )
        if kind is not None:
            cell[kind] += 1
        cell["jd_first"] = min(cell["jd_first"], jd)
        cell["jd_last"] = max(cell["jd_last"], jd)
        if limit is not None and math.isfinite(limit := float(valid_magnitude(limit))):
            low, high = cell["maglim_min"], cell["maglim_max"]
            cell["maglim_min"] = limit if low is None else min(low, limit)
            cell["maglim_max"] = limit if high is None else max(high, limit)

    for field, fid, jd, limit, inserted, in_alert in detections:
        add(field, fid, jd, limit if in_alert else None, "ncandidates" if inserted else None)
    for field, fid, jd, limit in upper_limits:
        add(field, fid, jd, limit, "nlimits")
    return list(cells.values())
