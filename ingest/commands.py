"""The ingester's ``lasair-nb`` commands, registered through the ``lasair_nb.commands`` entry point.

``lasair_nb`` never imports ``ingest``: this module adds ``ingest files``,
``ingest kafka``, ``simulate`` and ``quarantine retry`` to the command line that
:mod:`lasair_nb.cli.main` builds.
"""

from __future__ import annotations

import argparse
import signal
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from lasair_nb.archive import engine as database
from lasair_nb.errors import ArgumentError, NotFoundError

if TYPE_CHECKING:  # the command line is handed in; ingest never imports lasair_nb.cli
    from lasair_nb.cli.main import CommandLine


def resummarise(args: argparse.Namespace) -> int:
    """Recompute object summaries from the archived detections."""
    from ingest.connection import connect  # noqa: PLC0415 - loaded on use
    from ingest.writer import ArchiveWriter  # noqa: PLC0415

    connection = connect(database.database_url(args.settings))
    try:
        with connection.cursor() as cursor:
            if args.objectids:
                cursor.execute(
                    "SELECT objectid FROM objects WHERE objectid = ANY(%s) ORDER BY objectid",
                    (list(args.objectids),),
                )
            else:
                cursor.execute("SELECT objectid FROM objects ORDER BY objectid")
            objectids = [row[0] for row in cursor.fetchall()]
        connection.commit()
        missing = sorted(set(args.objectids) - set(objectids))
        if missing:
            raise NotFoundError(f"no object {', '.join(missing)} in the archive")
        done = ArchiveWriter(connection).resummarise(objectids, progress=not args.no_progress)
    finally:
        connection.close()
    print(f"recomputed {done} object summaries")
    return 0


def ingest_files(args: argparse.Namespace) -> int:
    """Ingest .avro files, directories and nightly tarballs."""
    from ingest.connection import connect  # noqa: PLC0415 - decode stack loaded on use
    from ingest.pipeline import Ingester  # noqa: PLC0415
    from ingest.sources import count_packets, expand_paths, read_packets  # noqa: PLC0415

    files = expand_paths(args.paths)
    connection = connect(database.database_url(args.settings))
    try:
        ingester = Ingester(connection, batch_size=args.batch)
        summary = ingester.ingest(
            read_packets(files),
            source="files: " + " ".join(str(path) for path in args.paths),
            total=count_packets(files),
            progress=not args.no_progress,
        )
    finally:
        connection.close()
    print(summary.line())
    return 0


def ingest_kafka(args: argparse.Namespace) -> int:
    """Consume a Kafka topic (or topic regex) into the archive until stopped."""
    from ingest.connection import connect  # noqa: PLC0415
    from ingest.kafka.consumer import KafkaIngester, KafkaSettings  # noqa: PLC0415

    config: dict[str, object] = {}
    for item in args.config:
        key, separator, value = item.partition("=")
        if not separator:
            raise ArgumentError(f"-X takes key=value (a librdkafka setting), got {item!r}")
        config[key] = value
    url = database.database_url(args.settings)
    ingester = KafkaIngester(
        KafkaSettings(
            servers=args.servers,
            topic=args.topic,
            group=args.group,
            batch_size=args.batch,
            max_wait=args.max_wait,
            stop_when_idle=args.stop_when_idle,
            session_timeout=args.settings.kafka_session_timeout,
            consumer_config=config,
        ),
        connect=lambda: connect(url),
    )
    summary = ingester.run()
    print(summary.line())
    return 0


def simulate(args: argparse.Namespace) -> int:
    """Write or publish a simulated ZTF 4.02 alert stream."""
    from ingest.simulator import AlertSimulator  # noqa: PLC0415

    simulator = AlertSimulator(objects=args.objects, nights=args.nights, seed=args.seed)
    if args.out is not None:
        count = simulator.write(args.out)
        print(f"wrote {count} packets and truth.csv to {args.out}")
        return 0
    from ingest.kafka.publish import publish_simulation  # noqa: PLC0415

    truth = args.truth or args.settings.home_dir / "simulation" / "truth.csv"
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    count = publish_simulation(
        simulator,
        args.kafka,
        args.topic,
        every=args.every,
        truth_path=truth,
        stop=stop,
        progress=not args.no_progress,
    )
    print(f"published {count} packets to {args.kafka}; truth in {truth}")
    return 0


def retry_quarantined(url: str, ids: Sequence[int] | None = None) -> tuple[int, int]:
    """Ingest quarantined packets again; remove those that now ingest.

    A packet counts as ingested when every alert it holds is in the archive
    afterwards; the others stay in quarantine with their first reason.

    Returns
    -------
    tuple of int
        Packets retried, packets now ingested (and removed from quarantine).
    """
    from ingest.connection import connect  # noqa: PLC0415
    from ingest.pipeline import Ingester, decode_packet  # noqa: PLC0415
    from ingest.sources import Packet  # noqa: PLC0415
    from lasair_nb.archive import quarantine  # noqa: PLC0415 - the schema: slow to import

    engine = database.create_engine(url)
    try:
        with engine.connect() as connection:
            rows = quarantine.entries(connection, ids)
        missing = sorted(set(ids or ()) - {row.id for row in rows})
        if missing:
            raise NotFoundError(f"no quarantined packets {missing}; `quarantine list` shows them")
        packets = [Packet(bytes(row.raw), row.source) for row in rows]
        raw = connect(url)
        try:
            ingester = Ingester(raw)
            ingester.ingest(packets, source="quarantine retry", progress=False)
            decoded = [decode_packet(ingester.decoder, packet) for packet in packets]
        finally:
            raw.close()
        with engine.begin() as connection:
            alert_ids = {
                row.id: [alert.candid for alert in result]
                for row, result in zip(rows, decoded, strict=True)
                if isinstance(result, list) and result
            }
            archived = quarantine.archived_candids(
                connection, [candid for candids in alert_ids.values() for candid in candids]
            )
            done = [key for key, candids in alert_ids.items() if set(candids) <= archived]
            quarantine.remove(connection, done)
        return len(rows), len(done)
    finally:
        engine.dispose()


def quarantine_retry(args: argparse.Namespace) -> int:
    """Re-ingest quarantined packets (all, or these ids) after a fix."""
    retried, done = retry_quarantined(database.database_url(args.settings), args.ids or None)
    print(
        f"retried {retried} packets: {done} ingested and removed, "
        f"{retried - done} still quarantined"
    )
    return 0


def register(cli: CommandLine) -> None:
    """Add the ingester's commands to ``lasair-nb``."""
    settings = cli.settings
    sources = cli.group("ingest", "ingest alerts")
    files = sources.add_parser("files", help="Avro files, directories, .tar.gz/.tgz tarballs")
    files.add_argument("paths", nargs="+", metavar="PATH")
    files.add_argument(
        "--batch",
        type=int,
        default=settings.ingest_batch_size,
        help="alerts per transaction (default LASAIR_INGEST_BATCH_SIZE, %(default)s)",
    )
    files.add_argument("--no-progress", action="store_true", help="no progress bar")
    files.set_defaults(handler=ingest_files)

    again = sources.add_parser(
        "resummarise",
        help="recompute every object's summary from its detections (after an upgrade)",
    )
    again.add_argument("objectids", nargs="*", help="only these objects (default: all)")
    again.add_argument("--no-progress", action="store_true", help="no progress bar")
    again.set_defaults(handler=resummarise)
    kafka = sources.add_parser("kafka", help="consume a Kafka topic or topic regex")
    kafka.add_argument("--servers", required=True, help="bootstrap servers, HOST:PORT[,…]")
    kafka.add_argument(
        "--topic", required=True, help="topic name or regex, e.g. 'ztf_.*_programid1'"
    )
    kafka.add_argument("--group", default="lasair-nb", help="consumer group (default %(default)s)")
    kafka.add_argument(
        "--batch",
        type=int,
        default=settings.ingest_batch_size,
        help="most messages per transaction (default %(default)s)",
    )
    kafka.add_argument(
        "--max-wait", type=float, default=1.0, help="seconds to fill a batch (default %(default)s)"
    )
    kafka.add_argument(
        "--stop-when-idle",
        type=float,
        default=None,
        metavar="S",
        help="exit after S seconds without a message",
    )
    kafka.add_argument(
        "-X",
        dest="config",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a librdkafka consumer setting, e.g. -X fetch.min.bytes=1",
    )
    kafka.set_defaults(handler=ingest_kafka)

    retry = cli.group("quarantine").add_parser(
        "retry", help="ingest quarantined packets again (all, or these ids); remove what ingests"
    )
    retry.add_argument("ids", type=int, nargs="*", metavar="ID")
    retry.set_defaults(handler=quarantine_retry)

    sim = cli.commands.add_parser("simulate", help="a simulated ZTF alert stream with known truth")
    sim.add_argument("--objects", type=int, required=True, help="number of simulated sources")
    sim.add_argument("--nights", type=int, required=True, help="number of nights")
    sim.add_argument("--seed", type=int, default=0, help="same seed, same packets (default 0)")
    target = sim.add_mutually_exclusive_group(required=True)
    target.add_argument("--kafka", metavar="HOST:PORT", help="publish to this broker")
    target.add_argument("--out", type=Path, metavar="DIR", help="write .avro files and truth.csv")
    sim.add_argument(
        "--topic",
        default="ztf_{date}_programid1",
        help="topic; {date} becomes the night's YYYYMMDD (default %(default)s)",
    )
    sim.add_argument(
        "--every",
        type=float,
        default=None,
        metavar="S",
        help="publish a night every S seconds (default: all at once)",
    )
    sim.add_argument(
        "--truth",
        type=Path,
        default=None,
        help="truth CSV path with --kafka (default $LASAIR_HOME/simulation/truth.csv)",
    )
    sim.add_argument("--no-progress", action="store_true", help="no progress bar")
    sim.set_defaults(handler=simulate)


__all__ = ["register", "retry_quarantined"]
