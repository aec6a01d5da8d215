"""The ingester: packets in batches through decode, rows and the archive writer."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import psycopg
from tqdm import tqdm

from ingest.decode import AlertDecoder, DecodeError
from ingest.objects_stage import ObjectStage
from ingest.rows import AlertRows, RowError, alert_rows
from ingest.sources import Packet
from ingest.writer import ArchiveWriter, BatchResult, QuarantinedPacket

log = logging.getLogger(__name__)

SMALL_INGEST_BATCHES = 4
"""For this many batches objects are summarised in the ingester's own process, then in one
of their own (small ingests do not pay the second or so a process takes to start)."""


@dataclass
class IngestSummary:
    """Totals of one ingest run."""

    packets: int = 0
    new: int = 0
    duplicates: int = 0
    quarantined: int = 0
    seconds: float = 0.0
    """Wall time until every alert was queryable and every object summarised."""
    queryable_seconds: float = 0.0
    """Wall time until the last batch of alerts was committed (queryable)."""
    batches: list[BatchResult] = field(default_factory=list)

    @property
    def rate(self) -> float:
        """Packets per second, end to end."""
        return self.packets / self.seconds if self.seconds > 0 else 0.0

    def add(self, batch: BatchResult) -> None:
        """Count one more batch."""
        self.batches.append(batch)
        self.packets += batch.packets
        self.new += batch.new
        self.duplicates += batch.duplicates
        self.quarantined += batch.quarantined

    def line(self) -> str:
        """The summary line the CLI prints."""
        return (
            f"ingested {self.new + self.duplicates} alerts ({self.new} new, "
            f"{self.duplicates} duplicates), quarantined {self.quarantined}, "
            f"{self.rate:.0f} alerts/s"
        )


def decode_packet(decoder: AlertDecoder, packet: Packet) -> list[AlertRows] | QuarantinedPacket:
    """Decode one packet into row sets, or say why it must be quarantined."""
    try:
        decoded = decoder.decode(packet.data)
        rows = [alert_rows(record, decoded.schema_version) for record in decoded.records]
        for alert in rows:
            alert.source, alert.raw = packet.source, packet.data
        return rows
    except (DecodeError, RowError) as error:
        return QuarantinedPacket(packet.source, packet.data, str(error))
    except Exception as error:  # a hostile packet's other failures are quarantined too
        log.warning("unexpected error decoding %s", packet.source, exc_info=True)
        return QuarantinedPacket(packet.source, packet.data, f"{type(error).__name__}: {error}")


class Ingester:
    """Ingest packets into the archive, one transaction per batch.

    Parameters
    ----------
    connection
        psycopg 3 connection with write rights on the archive
        (:func:`ingest.connection.connect`).
    batch_size
        Packets per batch (and per transaction).
    """

    def __init__(self, connection: psycopg.Connection, batch_size: int = 500) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.decoder = AlertDecoder()
        self.writer = ArchiveWriter(connection)
        self.batch_size = batch_size

    def ingest(
        self,
        packets: Iterable[Packet],
        source: str,
        total: int | None = None,
        progress: bool = True,
    ) -> IngestSummary:
        """Ingest every packet; bad ones are quarantined and the run goes on.

        Parameters
        ----------
        packets
            The packets, in order.
        source
            A label for ``ingest_batches`` (the paths, or the topic).
        total
            Number of packets, if known, for the progress bar.
        progress
            Show a tqdm progress bar.

        Returns
        -------
        IngestSummary
            Counts and the end-to-end rate.
        """
        summary = IngestSummary()
        started = time.monotonic()
        with (
            tqdm(total=total, unit="alert", disable=not progress, desc="ingest") as bar,
            # objects: in this process for the first batches, then in a process of its own
            ObjectStage(self.writer.connection, after=SMALL_INGEST_BATCHES) as objects,
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="archive-writer") as writer,
        ):
            # The writer thread commits batch n while this thread decodes batch n+1:
            # the database works on the other core meanwhile (psycopg waits without the GIL).
            pending: Future[BatchResult] | None = None

            def finish_pending() -> None:
                if pending is not None:
                    result = pending.result()
                    summary.add(result)
                    bar.update(result.packets)
                    objects.after_batch()

            for alerts, quarantined, batch_started in self._batches(packets):
                finish_pending()
                pending = writer.submit(
                    self.writer.write_batch, alerts, quarantined, source, batch_started
                )
            finish_pending()
            summary.queryable_seconds = time.monotonic() - started
        summary.seconds = time.monotonic() - started
        return summary

    def _batches(
        self, packets: Iterable[Packet]
    ) -> Iterator[tuple[list[AlertRows], list[QuarantinedPacket], float]]:
        alerts: list[AlertRows] = []
        quarantined: list[QuarantinedPacket] = []
        count = 0
        batch_started = time.monotonic()
        for packet in packets:
            result = decode_packet(self.decoder, packet)
            if isinstance(result, QuarantinedPacket):
                quarantined.append(result)
            else:
                alerts.extend(result)
            count += 1
            if count == self.batch_size:
                yield alerts, quarantined, batch_started
                alerts, quarantined, count = [], [], 0
                batch_started = time.monotonic()
        if count:
            yield alerts, quarantined, batch_started
