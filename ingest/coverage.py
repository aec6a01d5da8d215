"""Survey coverage: what each ZTF night observed, per field and band.

The writer adds the detections and upper limits each batch newly stored, so
counts stay exact when packets are ingested twice.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd

from lasair_nb.domain.photometry import valid_magnitude
from lasair_nb.domain.times import jd_to_unix_days

NIGHT_OFFSET_DAYS = 20 / 24
"""Palomar nights start in the evening: UTC − 20 h falls on the local date the night began
(a measurement's night is the whole days from 1970-01-01 to its time minus this)."""


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
    # Vectorised over the batch (a batch stores some 100,000 measurements): one row per
    # measurement, then one group per (night, field, fid).
    measured = [
        (field, fid, jd, limit if in_alert else None, 1 if inserted else 0, 0)
        for field, fid, jd, limit, inserted, in_alert in detections
        if field is not None and fid is not None
    ]
    measured += [
        (field, fid, jd, limit, 0, 1)
        for field, fid, jd, limit in upper_limits
        if field is not None and fid is not None
    ]
    if not measured:
        return []
    field, fid, jd, limit, ncandidates, nlimits = (
        np.asarray(c) for c in zip(*measured, strict=True)
    )
    jd = jd.astype(float)
    frame = pd.DataFrame(
        {
            "night": np.floor(jd_to_unix_days(jd) - NIGHT_OFFSET_DAYS).astype(np.int64),
            "field": field.astype(np.int64),
            "fid": fid.astype(np.int64),
            "ncandidates": ncandidates,
            "nlimits": nlimits,
            "limit": valid_magnitude(limit),
            "jd": jd,
        }
    )
    cells = frame.groupby(["night", "field", "fid"], sort=True).agg(
        ncandidates=("ncandidates", "sum"),
        nlimits=("nlimits", "sum"),
        maglim_min=("limit", "min"),
        maglim_max=("limit", "max"),
        jd_first=("jd", "min"),
        jd_last=("jd", "max"),
    )
    epoch = date(1970, 1, 1)
    return [
        {
            "night": epoch + timedelta(days=night),
            "field": field,
            "fid": fid,
            "ncandidates": ncandidates,
            "nlimits": nlimits,
            "maglim_min": None if math.isnan(low) else low,
            "maglim_max": None if math.isnan(high) else high,
            "jd_first": first,
            "jd_last": last,
        }
        for (night, field, fid), ncandidates, nlimits, low, high, first, last in zip(
            cells.index.tolist(), *(cells[c].tolist() for c in cells.columns), strict=True
        )
    ]
