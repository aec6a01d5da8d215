"""The ``lasair-nb`` command. Subcommand names are a contract: scripts and tests call them.

::

    lasair-nb db start | stop | status | url | upgrade
    lasair-nb ingest files PATH...
    lasair-nb sql "SELECT …" [--format table|csv|json]
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from lasair_nb import database
from lasair_nb.errors import LasairError
from lasair_nb.query import FORMATS, format_result, run_readonly
from lasair_nb.settings import get_settings

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


def sql(args: argparse.Namespace) -> int:
    """Run one read-only query and print the result."""
    settings = get_settings()
    engine = database.create_engine()
    try:
        result = run_readonly(
            engine, args.query, limit=args.limit, timeout=args.timeout or settings.sql_timeout
        )
    finally:
        engine.dispose()
    print(format_result(result, args.format))
    if result.truncated:
        print(f"(first {args.limit} rows shown; use --limit for more)", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``lasair-nb``."""
    parser = argparse.ArgumentParser(
        prog="lasair-nb", description="Lasair-NB: a notebook platform for transient alerts."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

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

    ingest = commands.add_parser("ingest", help="ingest alerts").add_subparsers(
        dest="source", required=True, metavar="SOURCE"
    )
    files = ingest.add_parser("files", help="Avro files, directories, .tar.gz/.tgz tarballs")
    files.add_argument("paths", nargs="+", metavar="PATH")
    files.add_argument(
        "--batch",
        type=int,
        default=get_settings().ingest_batch_size,
        help="alerts per transaction (default %(default)s)",
    )
    files.add_argument("--no-progress", action="store_true", help="no progress bar")
    files.set_defaults(handler=ingest_files)

    query = commands.add_parser("sql", help="run one read-only SELECT")
    query.add_argument("query", help='e.g. "SELECT count(*) FROM candidates"')
    query.add_argument("--format", choices=FORMATS, default="table")
    query.add_argument("--limit", type=int, default=1000, help="most rows (default %(default)s)")
    query.add_argument("--timeout", type=float, default=None, help="seconds (default 60)")
    query.set_defaults(handler=sql)
    return parser


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
