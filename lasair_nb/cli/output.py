"""What the ``lasair-nb`` command prints: query results and the status page as text."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any

from tabulate import tabulate

from lasair_nb.archive.status import IngestStatus
from lasair_nb.domain.values import json_value
from lasair_nb.errors import ArgumentError

FORMATS = ("table", "csv", "json")


def format_rows(
    columns: Sequence[str], rows: Sequence[Sequence[Any]], output: str = "table"
) -> str:
    """Rows as an aligned ``table``, ``csv`` or a ``json`` array of row objects."""
    if output not in FORMATS:
        raise ArgumentError(f"unknown format {output!r}; accepted: {', '.join(FORMATS)}")
    if output == "json":
        return json.dumps(
            [
                {name: json_value(value) for name, value in zip(columns, row, strict=True)}
                for row in rows
            ],
            indent=1,
        )
    if output == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(rows)
        return buffer.getvalue().rstrip("\n")
    return tabulate(rows, headers=list(columns), tablefmt="simple", disable_numparse=True)


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"


def format_status(status: IngestStatus) -> str:
    """The ingestion status page as aligned text."""
    if status.last_batch_at is None:
        rows = [("ingest", "nothing ingested yet")]
    else:
        rate = f"{status.last_rate:.0f} alerts/s last batch"
        if status.rate_last_hour is not None:
            rate += f", {status.rate_last_hour:.0f} alerts/s over the last hour"
        rows = [
            ("last batch", f"{status.last_batch_at:%Y-%m-%d %H:%M:%S} UTC  ({status.last_source})"),
            ("minutes since", f"{status.minutes_since:.1f}"),
            (
                "alerts today",
                f"{status.received_today} received, {status.ingested_today} ingested "
                f"({status.new_today} new), {status.quarantined_today} quarantined",
            ),
            ("rate", rate),
            (
                "latency",
                f"alert to queryable: median {_seconds(status.last_latency_p50)}, "
                f"max {_seconds(status.last_latency_max)} last batch; "
                f"max today {_seconds(status.latency_max_today)}",
            ),
        ]
    if status.objects_waiting or status.objects_set_aside or status.objects_lag_max is not None:
        waiting = f"{status.objects_waiting} waiting"
        if status.objects_oldest_wait is not None:
            waiting += f" (the oldest {_seconds(status.objects_oldest_wait)})"
        if status.objects_set_aside:
            waiting += (
                f", {status.objects_set_aside} set aside after failing (objects_pending.last_error)"
            )
        rows.append(
            (
                "objects",
                f"{waiting}; alert queryable to object updated: median "
                f"{_seconds(status.objects_lag_p50)}, max {_seconds(status.objects_lag_max)}"
                " last batch"
                + (
                    f"; Kafka message to object updated: max {_seconds(status.objects_latency_max)}"
                    if status.objects_latency_max is not None
                    else ""
                ),
            )
        )
    rows.append(
        (
            "quarantined",
            f"{status.quarantined_total} packets in all"
            + ("; see `lasair-nb quarantine list`" if status.quarantined_total else ""),
        )
    )
    return "Lasair-NB ingestion status\n" + tabulate(rows, tablefmt="plain")
