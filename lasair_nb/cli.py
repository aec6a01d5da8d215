"""The ``lasair-nb`` command. Subcommand names are a contract: scripts and tests call them.

::

    lasair-nb db start | stop | status | url | upgrade
    lasair-nb broker start [--port P] | stop | status
    lasair-nb ingest files PATH...
    lasair-nb ingest kafka --servers HOST:PORT --topic PATTERN [--group G] [--batch N]
                           [--max-wait S] [--stop-when-idle S] [-X key=value ...]
    lasair-nb simulate --objects N --nights M [--seed S]
                       (--kafka HOST:PORT --topic T [--every S] | --out DIR)
    lasair-nb sql "SELECT …" [--format table|csv|json]
    lasair-nb status
    lasair-nb users add NAME [--admin] | list | remove NAME
    lasair-nb up | down     (the whole platform on this machine)
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from lasair_nb import database
from lasair_nb.errors import LasairError
from lasair_nb.query import FORMATS, QueryResult, format_result
from lasair_nb.settings import Settings, get_settings

log = logging.getLogger("lasair_nb")


def _external_url_set() -> bool:
    return get_settings().db_url is not None


def db_start(args: argparse.Namespace) -> int:
    """Start the embedded server, create the archive database, apply migrations."""
    settings = get_settings()
    if settings.db_url is not None:
        print(
            "LASAIR_DB_URL is set, so Lasair-NB uses that server and starts none; "
            "run `lasair-nb db upgrade` to apply migrations to it.",
            file=sys.stderr,
        )
        return 1
    status = database.embedded_server(settings).start()
    database.ensure_database(settings)
    revision = database.upgrade(status.url(settings.db_name))
    print(f"PostgreSQL running (pid {status.pid}), data in {status.pgdata}")
    print(f"archive schema at revision {revision}")
    print(f"url: {status.url(settings.db_name)}")
    return 0


def db_stop(args: argparse.Namespace) -> int:
    """Stop the embedded server."""
    if _external_url_set():
        print("LASAIR_DB_URL is set: that server is not Lasair-NB's to stop.", file=sys.stderr)
        return 1
    stopped = database.embedded_server().stop()
    print("stopped" if stopped else "not running")
    return 0


def db_status(args: argparse.Namespace) -> int:
    """Say whether the archive database is reachable; exit 1 if not."""
    settings = get_settings()
    if settings.db_url is None:
        status = database.embedded_server(settings).status()
        if not status.running:
            print(f"not running (data directory {status.pgdata}); start: lasair-nb db start")
            return 1
        print(f"running (pid {status.pid}), data in {status.pgdata}")
    else:
        print("external server from LASAIR_DB_URL")
    engine = database.create_engine()
    try:
        with engine.connect() as connection:
            revision = connection.exec_driver_sql(
                "SELECT version_num FROM alembic_version"
            ).scalar()
            alerts = connection.exec_driver_sql(
                "SELECT count(*) FROM candidates WHERE in_alert"
            ).scalar()
    finally:
        engine.dispose()
    print(f"schema revision {revision}; {alerts} alerts archived")
    return 0


def db_url(args: argparse.Namespace) -> int:
    """Print the SQLAlchemy URL of the archive."""
    print(database.database_url())
    return 0


def db_upgrade(args: argparse.Namespace) -> int:
    """Apply pending migrations to the configured server."""
    print(f"archive schema at revision {database.upgrade()}")
    return 0


def ingest_files(args: argparse.Namespace) -> int:
    """Ingest .avro files, directories and nightly tarballs."""
    from ingest.pipeline import Ingester  # noqa: PLC0415 - the CLI composes both packages
    from ingest.sources import count_packets, expand_paths, read_packets  # noqa: PLC0415

    files = expand_paths(args.paths)
    engine = database.create_engine()
    connection = engine.raw_connection()
    try:
        ingester = Ingester(connection.driver_connection, batch_size=args.batch)
        summary = ingester.ingest(
            read_packets(files),
            source="files: " + " ".join(str(path) for path in args.paths),
            total=count_packets(files),
            progress=not args.no_progress,
        )
    finally:
        connection.close()
        engine.dispose()
    print(summary.line())
    return 0


def ingest_kafka(args: argparse.Namespace) -> int:
    """Consume a Kafka topic (or topic regex) into the archive until stopped."""
    from ingest.kafka import KafkaIngester, KafkaSettings  # noqa: PLC0415

    config: dict[str, object] = {}
    for item in args.config:
        key, separator, value = item.partition("=")
        if not separator:
            raise LasairError(f"-X takes key=value (a librdkafka setting), got {item!r}")
        config[key] = value
    url = database.database_url()
    ingester = KafkaIngester(
        KafkaSettings(
            servers=args.servers,
            topic=args.topic,
            group=args.group,
            batch_size=args.batch,
            max_wait=args.max_wait,
            stop_when_idle=args.stop_when_idle,
            consumer_config=config,
        ),
        connect=lambda: database.connect_raw(url),
    )
    summary = ingester.run()
    print(summary.line())
    return 0


def broker_start(args: argparse.Namespace) -> int:
    """Start the embedded Kafka-protocol broker."""
    from ingest.broker import Broker  # noqa: PLC0415

    servers = Broker(get_settings().home_dir).start(args.port)
    print(f"broker listening on {servers} (topics live in memory until it stops)")
    return 0


def broker_stop(args: argparse.Namespace) -> int:
    """Stop the embedded broker."""
    from ingest.broker import Broker  # noqa: PLC0415

    print("stopped" if Broker(get_settings().home_dir).stop() else "not running")
    return 0


def broker_status(args: argparse.Namespace) -> int:
    """Say whether the broker runs; exit 1 if not."""
    from ingest.broker import Broker  # noqa: PLC0415

    current = Broker(get_settings().home_dir).status()
    if not current.running:
        print("not running; start: lasair-nb broker start")
        return 1
    print(f"running (pid {current.pid}) on 127.0.0.1:{current.info['port']}; log {current.log}")
    return 0


def simulate(args: argparse.Namespace) -> int:
    """Write or publish a simulated ZTF 4.02 alert stream."""
    from ingest.simulator import AlertSimulator  # noqa: PLC0415

    simulator = AlertSimulator(objects=args.objects, nights=args.nights, seed=args.seed)
    if args.out is not None:
        count = simulator.write(args.out)
        print(f"wrote {count} packets and truth.csv to {args.out}")
        return 0
    from ingest.publish import publish_simulation  # noqa: PLC0415

    truth = args.truth or get_settings().home_dir / "simulation" / "truth.csv"
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


def up(args: argparse.Namespace) -> int:
    """Start the archive, the broker, the simulator and the ingester."""
    from lasair_nb.platform import Platform  # noqa: PLC0415

    platform = Platform(get_settings())
    for line in platform.up(simulate=not args.no_simulator):
        print(line)
    return 0


def down(args: argparse.Namespace) -> int:
    """Stop everything ``up`` started."""
    from lasair_nb.platform import Platform  # noqa: PLC0415

    for line in Platform(get_settings()).down():
        print(line)
    return 0


def users(args: argparse.Namespace) -> int:
    """Add, list or remove users (PostgreSQL roles)."""
    from lasair_nb.users import add_user, list_users, remove_user  # noqa: PLC0415

    engine = database.create_engine()
    try:
        with engine.begin() as connection:
            if args.action == "add":
                password = add_user(connection, args.name, admin=args.admin)
                role = "administrator" if args.admin else "user"
                print(f"added {role} {args.name}; password (shown once): {password}")
            elif args.action == "remove":
                remove_user(connection, args.name)
                print(f"removed {args.name} and their private data")
            else:
                for user in list_users(connection):
                    print(f"{user.name}{'  (admin)' if user.admin else ''}")
    finally:
        engine.dispose()
    return 0


def status(args: argparse.Namespace) -> int:
    """Print the ingestion status page."""
    from lasair_nb.status import format_status, ingest_status  # noqa: PLC0415

    engine = database.create_engine()
    try:
        with engine.connect() as connection:
            print(format_status(ingest_status(connection)))
    finally:
        engine.dispose()
    return 0


def sql(args: argparse.Namespace) -> int:
    """Run one read-only query through the client (same checks, role and limits) and print it."""
    from lasair_nb.client import connect  # noqa: PLC0415

    settings = get_settings()
    archive = connect()
    try:
        frame = archive.sql(
            args.query, limit=args.limit, timeout=args.timeout or settings.sql_timeout
        )
    finally:
        archive.close()
    result = QueryResult(
        list(frame.columns),
        list(frame.itertuples(index=False, name=None)),
        frame.attrs["truncated"],
    )
    print(format_result(result, args.format))
    if result.truncated:
        print(f"(first {args.limit} rows shown; use --limit for more)", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``lasair-nb``."""
    settings = get_settings()
    parser = argparse.ArgumentParser(
        prog="lasair-nb", description="Lasair-NB: a notebook platform for transient alerts."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_database_commands(commands)
    _add_ingest_commands(commands, settings)
    _add_platform_commands(commands)
    return parser


def _add_database_commands(commands: argparse._SubParsersAction) -> None:
    db = commands.add_parser("db", help="the archive database").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    for name, handler, text in (
        ("start", db_start, "start the embedded PostgreSQL and apply migrations"),
        ("stop", db_stop, "stop the embedded PostgreSQL"),
        ("status", db_status, "is the archive up, at which schema revision"),
        ("url", db_url, "print the archive's SQLAlchemy URL"),
        ("upgrade", db_upgrade, "apply pending migrations (also on LASAIR_DB_URL)"),
    ):
        db.add_parser(name, help=text).set_defaults(handler=handler)

    query = commands.add_parser("sql", help="run one read-only SELECT")
    query.add_argument("query", help='e.g. "SELECT count(*) FROM candidates"')
    query.add_argument("--format", choices=FORMATS, default="table")
    query.add_argument("--limit", type=int, default=1000, help="most rows (default %(default)s)")
    query.add_argument("--timeout", type=float, default=None, help="seconds (default 60)")
    query.set_defaults(handler=sql)


def _add_ingest_commands(commands: argparse._SubParsersAction, settings: Settings) -> None:
    ingest = commands.add_parser("ingest", help="ingest alerts").add_subparsers(
        dest="source", required=True, metavar="SOURCE"
    )
    files = ingest.add_parser("files", help="Avro files, directories, .tar.gz/.tgz tarballs")
    files.add_argument("paths", nargs="+", metavar="PATH")
    files.add_argument(
        "--batch",
        type=int,
        default=settings.ingest_batch_size,
        help="alerts per transaction (default %(default)s)",
    )
    files.add_argument("--no-progress", action="store_true", help="no progress bar")
    files.set_defaults(handler=ingest_files)

    kafka = ingest.add_parser("kafka", help="consume a Kafka topic or topic regex")
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
        "--max-wait",
        type=float,
        default=1.0,
        help="seconds to wait to fill a batch (default %(default)s)",
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
        help="a librdkafka consumer setting, e.g. -X session.timeout.ms=6000",
    )
    kafka.set_defaults(handler=ingest_kafka)


def _add_platform_commands(commands: argparse._SubParsersAction) -> None:
    broker = commands.add_parser("broker", help="the embedded Kafka-protocol broker")
    broker_actions = broker.add_subparsers(dest="action", required=True, metavar="ACTION")
    start = broker_actions.add_parser("start", help="start Tansu on 127.0.0.1")
    start.add_argument("--port", type=int, default=9092, help="default %(default)s")
    start.set_defaults(handler=broker_start)
    broker_actions.add_parser("stop", help="stop it").set_defaults(handler=broker_stop)
    broker_actions.add_parser("status", help="is it running").set_defaults(handler=broker_status)

    commands.add_parser("status", help="the ingestion status page").set_defaults(handler=status)

    people = commands.add_parser("users", help="users: PostgreSQL roles").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    add = people.add_parser("add", help="create a user and print their password")
    add.add_argument("name")
    add.add_argument("--admin", action="store_true", help="may promote queries to system")
    add.set_defaults(handler=users)
    people.add_parser("list", help="every user").set_defaults(handler=users)
    remove = people.add_parser("remove", help="remove a user and their private data")
    remove.add_argument("name")
    remove.set_defaults(handler=users)

    sim = commands.add_parser("simulate", help="a simulated ZTF alert stream with known truth")
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

    start_all = commands.add_parser("up", help="start the whole platform on this machine")
    start_all.add_argument(
        "--no-simulator", action="store_true", help="start the archive, broker and ingester only"
    )
    start_all.set_defaults(handler=up)
    commands.add_parser("down", help="stop what `up` started").set_defaults(handler=down)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``lasair-nb``; returns the exit status."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return args.handler(args)
    except LasairError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
