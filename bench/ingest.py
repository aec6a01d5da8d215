"""Benchmark: file ingest end to end against the raw fastavro decode rate of the same packets.

The real sample alerts in ``../shared/data/ztf/alerts`` are re-keyed (new
objectIds and candids, history included) into about 20,000 distinct packets,
re-encoded with their own writer schemas, and then

1. decoded with plain ``fastavro.reader`` (the baseline; before and after every ingest,
   because this machine's speed drifts: each ratio is to the mean of the two around it),
2. decoded with :class:`ingest.decode.AlertDecoder` (what schema caching gains),
3. ingested through the whole path (decode, rows, COPY/upsert; object summaries in
   the objects stage, its own process) into a fresh database on the embedded server:
   alerts/s until the last alert is queryable, and until every object is updated (each
   of ``--runs`` ingests, 2 by default, into a database of its own), with
   the latencies alert → queryable (a batch's first packet read → its commit) and
   alert → object updated (that, plus the objects stage's lag), and
4. ingested the same way with plain ``fastavro.reader`` in place of the hand-written
   container parser, into another fresh database: whether that parser pays end to end.

Run: ``python -m bench.ingest [--alerts 20000] [--batch 500] [--runs 2]`` (as a module: a
script named ingest.py would shadow the ``ingest`` package); appends the
figures to ``bench/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import copy
import io
import itertools
import json
import os
import platform
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import fastavro
import sqlalchemy as sa

from bench.results import report
from ingest.connection import connect
from ingest.decode import AlertDecoder, DecodedPacket
from ingest.pipeline import Ingester
from ingest.sources import Packet
from lasair_nb.archive.migrate import upgrade
from lasair_nb.server.embedded import EmbeddedServer

SAMPLES = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ztf" / "alerts"
LETTERS = "abcdefghijklmnopqrstuvwxyz"


def _object_name(original: str, replica: int) -> str:
    suffix = ""
    value = replica
    for _ in range(3):
        suffix = LETTERS[value % 26] + suffix
        value //= 26
    return original[:-3] + suffix if replica else original


def rekeyed_packets(count: int) -> list[bytes]:
    """``count`` distinct packets made from the sample alerts by re-keying them."""
    originals = []
    for path in sorted(SAMPLES.glob("*.avro")):
        with path.open("rb") as handle:
            reader = fastavro.reader(handle)
            originals.append((reader.writer_schema, next(reader)))
    candids = sorted(
        {record["candid"] for _, record in originals}
        | {
            previous["candid"]
            for _, record in originals
            for previous in record.get("prv_candidates") or ()
            if previous.get("candid") is not None
        }
    )
    index = {candid: number for number, candid in enumerate(candids)}
    base = 3_000_000_000_000_000_000

    packets: list[bytes] = []
    replica = 0
    while len(packets) < count:
        for schema, record in originals:
            if len(packets) == count:
                break
            alert = copy.deepcopy(record)

            def rekey(candid: int, replica: int = replica) -> int:
                return base + replica * len(candids) + index[candid]

            alert["objectId"] = _object_name(record["objectId"], replica)
            alert["candid"] = alert["candidate"]["candid"] = rekey(record["candid"])
            for previous in alert.get("prv_candidates") or ():
                if previous.get("candid") is not None:
                    previous["candid"] = rekey(previous["candid"])
            buffer = io.BytesIO()
            fastavro.writer(buffer, schema, [alert])
            packets.append(buffer.getvalue())
        replica += 1
    return packets


class PlainFastavroDecoder(AlertDecoder):
    """``fastavro.reader`` on every packet: its writer schema parsed each time."""

    def decode(self, data: bytes) -> DecodedPacket:
        reader = fastavro.reader(io.BytesIO(data))
        records = list(reader)
        schema = json.loads(reader.metadata["avro.schema"])
        return DecodedPacket(records=records, schema_version=schema.get("version"))


def latencies(url: str) -> dict[str, float]:
    """Alert → queryable and alert → object updated, from the batches the run logged."""
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        queryable = connection.exec_driver_sql(
            "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_s),"
            " percentile_cont(0.99) WITHIN GROUP (ORDER BY duration_s) FROM ingest_batches"
        ).one()
        lag = connection.exec_driver_sql(
            "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY lag_p50_s), max(lag_max_s)"
            " FROM object_batches"
        ).one()
    engine.dispose()
    return {
        "queryable_p50": queryable[0],
        "queryable_p99": queryable[1],
        # an alert's object is updated its batch's time plus the stage's lag after it
        "object_p50": queryable[0] + (lag[0] or 0.0),
        "object_max": queryable[1] + (lag[1] or 0.0),
    }


def ingest_into_fresh_database(
    status, name: str, packets: list[bytes], batch: int, decoder: AlertDecoder | None = None
):
    """Ingest ``packets`` into a new database ``name``; returns the summary and latencies."""
    admin = sa.create_engine(status.url("postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f"CREATE DATABASE {name}"))
    admin.dispose()
    url = status.url(name)
    upgrade(url)
    connection = connect(url)
    try:
        ingester = Ingester(connection, batch_size=batch)
        if decoder is not None:
            ingester.decoder = decoder
        summary = ingester.ingest(
            (Packet(data, f"bench:{n}") for n, data in enumerate(packets)),
            source="bench",
            total=len(packets),
        )
        return summary, latencies(url)
    finally:
        connection.close()


def rate(function, packets: list[bytes]) -> float:
    started = time.perf_counter()
    for packet in packets:
        function(packet)
    return len(packets) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--runs", type=int, default=2, help="ingests of the packets to time")
    parser.add_argument("--no-record", action="store_true", help="do not append to RESULTS.md")
    args = parser.parse_args()

    print(f"building {args.alerts} re-keyed packets from {SAMPLES} …")
    packets = rekeyed_packets(args.alerts)
    megabytes = sum(map(len, packets)) / 1e6

    def reader(data: bytes) -> list:
        return list(fastavro.reader(io.BytesIO(data)))

    # This machine's speed drifts by ±15 % within minutes: the baseline is measured before
    # and after each ingest, and each run's ratio is to the mean of the two around it.
    reader_rates = [rate(reader, packets)]
    decoder = AlertDecoder()
    cached_rate = rate(decoder.decode, packets)

    runs = []
    with tempfile.TemporaryDirectory(prefix="lasair-bench-") as home:
        server = EmbeddedServer(Path(home) / "pgdata")
        status = server.start()
        try:
            for run in range(args.runs):
                runs.append(ingest_into_fresh_database(status, f"bench{run}", packets, args.batch))
                reader_rates.append(rate(reader, packets))
            plain, _ = ingest_into_fresh_database(
                status, "bench_plain", packets, args.batch, PlainFastavroDecoder()
            )
            reader_rates.append(rate(reader, packets))
        finally:
            server.stop()
    around = [(before + after) / 2 for before, after in itertools.pairwise(reader_rates)]
    reader_rate = around[0]  # for the decoder, measured just before
    summary, latency = min(runs, key=lambda run: run[0].packets / run[0].queryable_seconds)
    queryable = [run.packets / run.queryable_seconds for run, _ in runs]
    updated = [run.rate for run, _ in runs]

    def each(rates: list[float]) -> str:
        return " / ".join(f"{value:.0f}" for value in rates)

    def ratios(rates: list[float]) -> str:
        return " / ".join(f"{value / base:.2f}" for value, base in zip(rates, around, strict=False))

    lines = [
        f"## File ingest — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"Machine: {platform.node()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"fastavro {fastavro.__version__}; {len(packets)} re-keyed sample alerts "
        f"({megabytes:.0f} MB), batches of {args.batch}, embedded PostgreSQL.",
        "",
        f"| measure | alerts/s (runs: {args.runs}) | ratio to fastavro.reader |",
        "|---|---:|---:|",
        f"| fastavro.reader decode (baseline: before, between and after) | "
        f"{each(reader_rates)} | 1.00 |",
        f"| AlertDecoder (cached schemas) decode | {cached_rate:.0f} | "
        f"{cached_rate / reader_rate:.2f} |",
        f"| ingest end to end: every alert queryable | {each(queryable)} | "
        f"**{ratios(queryable)}** |",
        f"| ingest end to end: every object updated too | {each(updated)} | {ratios(updated)} |",
        f"| the same, plain fastavro.reader decoding | {plain.rate:.0f} | "
        f"{plain.rate / around[-1]:.2f} |",
        "",
        "Latencies of the slower run:",
        "",
        "| latency | p50 s | p99 / max s | aim |",
        "|---|---:|---:|---|",
        f"| alert → queryable (batch read → commit) | {latency['queryable_p50']:.2f} | "
        f"{latency['queryable_p99']:.2f} | |",
        f"| alert → object updated (+ objects stage lag) | {latency['object_p50']:.2f} | "
        f"{latency['object_max']:.2f} | ≤ 10 s |",
        "",
        f"{summary.line()}",
        "",
    ]
    report(lines, record=not args.no_record)


if __name__ == "__main__":
    main()
