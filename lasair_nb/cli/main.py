"""The ``lasair-nb`` command. Subcommand names are a contract: scripts and tests call them.

::

    lasair-nb db start | stop | status | url | upgrade
    lasair-nb broker start [--port P] | stop | status
    lasair-nb sql "SELECT …" [--format table|csv|json] [--limit N] [--timeout S]
    lasair-nb status
    lasair-nb quarantine list | show ID | export ID FILE | retry [ID ...]
    lasair-nb users add NAME [--admin] | list | remove NAME
    lasair-nb reaper [--once]
    lasair-nb up | down     (the whole platform on this machine)

and, registered by the ``ingest`` package through the ``lasair_nb.commands``
entry point group (``lasair_nb`` never imports it)::

    lasair-nb ingest files PATH... | kafka --servers HOST:PORT --topic PATTERN ...
    lasair-nb simulate --objects N --nights M (--kafka HOST:PORT | --out DIR) ...
    lasair-nb quarantine retry [ID ...]
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import entry_points
from pathlib import Path

from lasair_nb.archive import engine as database
from lasair_nb.archive import migrate
from lasair_nb.cli import catalogs, widgets
from lasair_nb.errors import LasairError, NotFoundError
from lasair_nb.settings import Settings, get_settings

log = logging.getLogger("lasair_nb")

ENTRY_POINT_GROUP = "lasair_nb.commands"
"""Packages add subcommands here: each entry point is a function taking a :class:`CommandLine`."""


class CommandLine:
    """The parser being built, handed to each command plug-in.

    Parameters
    ----------
    commands
        The top-level subcommands (``parser.add_subparsers``).
    settings
        The deployment settings (defaults shown in ``--help``).
    """

    def __init__(self, commands: argparse._SubParsersAction, settings: Settings) -> None:
        self.commands = commands
        self.settings = settings
        self._groups: dict[str, argparse._SubParsersAction] = {}

    def group(self, name: str, help_text: str = "") -> argparse._SubParsersAction:
        """The actions of the command group ``name`` (``lasair-nb NAME ACTION``), made once."""
        if name not in self._groups:
            self._groups[name] = self.commands.add_parser(name, help=help_text).add_subparsers(
                dest="action", required=True, metavar="ACTION"
            )
        return self._groups[name]


# --- database ------------------------------------------------------------------------------


def db_start(args: argparse.Namespace) -> int:
    """Start the embedded server, create the archive database, apply migrations."""
    from lasair_nb.server.embedded import EmbeddedServer  # noqa: PLC0415 - operators only

    settings = args.settings
    if settings.db_url is not None:
        print(
            "LASAIR_DB_URL is set, so Lasair-NB uses that server and starts none; "
            "run `lasair-nb db upgrade` to apply migrations to it.",
            file=sys.stderr,
        )
        return 1
    embedded = EmbeddedServer(settings.pgdata, settings.db_port or None)
    status = embedded.start()
    migrate.ensure_database(settings)
    revision = migrate.upgrade(status.url(settings.db_name))
    embedded.ensure_reader_password(status.url(settings.db_name))
    print(f"PostgreSQL running (pid {status.pid}), data in {status.pgdata}")
    print(f"archive schema at revision {revision}")
    print(f"url: {status.url(settings.db_name)}")
    if settings.db_port:
        print(
            f"TCP: 127.0.0.1:{settings.db_port}, every login by password "
            f"(users: lasair-nb users add NAME; owner's in {embedded.owner_password_file})"
        )
    return 0


def db_stop(args: argparse.Namespace) -> int:
    """Stop the embedded server."""
    from lasair_nb.server.embedded import EmbeddedServer  # noqa: PLC0415

    if args.settings.db_url is not None:
        print("LASAIR_DB_URL is set: that server is not Lasair-NB's to stop.", file=sys.stderr)
        return 1
    stopped = EmbeddedServer(args.settings.pgdata).stop()
    print("stopped" if stopped else "not running")
    return 0


def db_status(args: argparse.Namespace) -> int:
    """Say whether the archive database is reachable; exit 1 if not."""
    from lasair_nb.archive import objects  # noqa: PLC0415

    settings = args.settings
    if settings.db_url is None:
        status = database.locate_embedded(settings.pgdata)
        if not status.running:
            print(f"not running (data directory {status.pgdata}); start: lasair-nb db start")
            return 1
        print(f"running (pid {status.pid}), data in {status.pgdata}")
    else:
        print("external server from LASAIR_DB_URL")
    engine = database.create_engine(database.database_url(settings))
    try:
        with engine.connect() as connection:
            revision = migrate.current_revision(connection)
            alerts = objects.alert_count(connection)
    finally:
        engine.dispose()
    print(f"schema revision {revision}; {alerts} alerts archived")
    return 0


def db_url(args: argparse.Namespace) -> int:
    """Print the SQLAlchemy URL of the archive."""
    print(database.database_url(args.settings))
    return 0


def db_upgrade(args: argparse.Namespace) -> int:
    """Apply pending migrations to the configured server."""
    print(f"archive schema at revision {migrate.upgrade(database.database_url(args.settings))}")
    return 0


def sql(args: argparse.Namespace) -> int:
    """Run one read-only query through the client (same checks, role and limits) and print it."""
    from lasair_nb.cli.output import format_rows  # noqa: PLC0415
    from lasair_nb.client.archive import connect  # noqa: PLC0415 - astropy, pandas: on use

    archive = connect()
    try:
        frame = archive.sql(args.query, limit=args.limit, timeout=args.timeout)
    finally:
        archive.close()
    print(
        format_rows(
            list(frame.columns), list(frame.itertuples(index=False, name=None)), args.format
        )
    )
    if frame.attrs["truncated"]:
        print(f"(first {args.limit} rows shown; use --limit for more)", file=sys.stderr)
    return 0


def _with_connection(settings: Settings, work: Callable, begin: bool = False) -> int:
    engine = database.create_engine(database.database_url(settings))
    try:
        with engine.begin() if begin else engine.connect() as connection:
            return work(connection)
    finally:
        engine.dispose()


def status(args: argparse.Namespace) -> int:
    """Print the ingestion status page."""
    from lasair_nb.archive.status import ingest_status  # noqa: PLC0415
    from lasair_nb.cli.output import format_status  # noqa: PLC0415

    def show(connection) -> int:
        print(format_status(ingest_status(connection)))
        return 0

    return _with_connection(args.settings, show)


# --- quarantine -----------------------------------------------------------------------------


def quarantine_list(args: argparse.Namespace) -> int:
    """List quarantined packets: id, when, source, size, reason."""
    from lasair_nb.archive import quarantine  # noqa: PLC0415
    from lasair_nb.cli.output import format_rows  # noqa: PLC0415

    def show(connection) -> int:
        rows = quarantine.listing(connection, limit=args.limit)
        columns = ["id", "quarantined_at", "source", "bytes", "reason"]
        print(format_rows(columns, [tuple(row) for row in rows], args.format))
        total = quarantine.count(connection)
        if total > len(rows):
            print(f"({len(rows)} of {total} shown; --limit for more)", file=sys.stderr)
        return 0

    return _with_connection(args.settings, show)


def quarantine_show(args: argparse.Namespace) -> int:
    """Show one quarantined packet's record (not its bytes)."""
    from lasair_nb.archive import quarantine  # noqa: PLC0415

    def show(connection) -> int:
        row = quarantine.get(connection, args.id)
        if row is None:
            raise NotFoundError(f"no quarantined packet {args.id}; `quarantine list` shows them")
        for key in ("id", "quarantined_at", "source", "sha256", "reason"):
            print(f"{key:<15} {row[key]}")
        print(f"{'bytes':<15} {len(row['packet'])}")
        return 0

    return _with_connection(args.settings, show)


def quarantine_export(args: argparse.Namespace) -> int:
    """Write one quarantined packet's bytes to a file, as received."""
    from lasair_nb.archive import quarantine  # noqa: PLC0415

    def export(connection) -> int:
        row = quarantine.get(connection, args.id)
        if row is None:
            raise NotFoundError(f"no quarantined packet {args.id}; `quarantine list` shows them")
        Path(args.file).write_bytes(bytes(row["packet"]))
        print(f"wrote {len(row['packet'])} bytes to {args.file}")
        return 0

    return _with_connection(args.settings, export)


# --- operators --------------------------------------------------------------------------------


def users(args: argparse.Namespace) -> int:
    """Add, list or remove users (PostgreSQL roles)."""
    from lasair_nb.admin.users import add_user, list_users, remove_user  # noqa: PLC0415

    def act(connection) -> int:
        if args.action == "add":
            password = add_user(connection, args.name, admin=args.admin, settings=args.settings)
            role = "administrator" if args.admin else "user"
            print(f"added {role} {args.name}; password (shown once): {password}")
        elif args.action == "remove":
            remove_user(connection, args.name)
            print(f"removed {args.name} and their private data")
        else:
            for user in list_users(connection):
                print(f"{user.name}{'  (admin)' if user.admin else ''}")
        return 0

    return _with_connection(args.settings, act, begin=True)


def broker_start(args: argparse.Namespace) -> int:
    """Start the embedded Kafka-protocol broker."""
    from lasair_nb.server.broker import Broker  # noqa: PLC0415

    servers = Broker(args.settings.home_dir).start(args.port or args.settings.broker_port)
    print(f"broker listening on {servers} (topics live in memory until it stops)")
    return 0


def broker_stop(args: argparse.Namespace) -> int:
    """Stop the embedded broker."""
    from lasair_nb.server.broker import Broker  # noqa: PLC0415

    print("stopped" if Broker(args.settings.home_dir).stop() else "not running")
    return 0


def broker_status(args: argparse.Namespace) -> int:
    """Say whether the broker runs; exit 1 if not."""
    from lasair_nb.server.broker import Broker  # noqa: PLC0415

    current = Broker(args.settings.home_dir).status()
    if not current.running:
        print("not running; start: lasair-nb broker start")
        return 1
    print(f"running (pid {current.pid}) on 127.0.0.1:{current.info['port']}; log {current.log}")
    return 0


def reaper(args: argparse.Namespace) -> int:
    """Cancel user statements past their ceiling and end idle transactions, every few seconds."""
    from lasair_nb.server.reaper import Reaper  # noqa: PLC0415

    engine = database.create_engine(database.database_url(args.settings))
    try:
        sweeper = Reaper(engine, args.settings)
        if args.once:
            for line in sweeper.sweep():
                print(line)
        else:
            sweeper.run_forever()
    finally:
        engine.dispose()
    return 0


def up(args: argparse.Namespace) -> int:
    """Start the archive, the broker, the reaper, the simulator and the ingester."""
    from lasair_nb.server.platform import Platform  # noqa: PLC0415

    for line in Platform(args.settings).up(simulate=not args.no_simulator, hub=not args.no_hub):
        print(line)
    return 0


def down(args: argparse.Namespace) -> int:
    """Stop everything ``up`` started."""
    from lasair_nb.server.platform import Platform  # noqa: PLC0415

    for line in Platform(args.settings).down():
        print(line)
    return 0


# --- the parser -----------------------------------------------------------------------------


def _positive(text: str) -> int:
    """A whole number of at least 1 (argparse type)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, not {text!r}")
    return value


def build_parser(settings: Settings) -> argparse.ArgumentParser:
    """The argument parser of ``lasair-nb``, with the commands other packages register."""
    parser = argparse.ArgumentParser(
        prog="lasair-nb", description="Lasair-NB: a notebook platform for transient alerts."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    cli = CommandLine(
        parser.add_subparsers(dest="command", required=True, metavar="COMMAND"), settings
    )
    _add_database_commands(cli)
    _add_operator_commands(cli)
    catalogs.register(cli)
    widgets.register(cli)
    for entry_point in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        entry_point.load()(cli)
    return parser


def _add_database_commands(cli: CommandLine) -> None:
    db = cli.group("db", "the archive database")
    for name, handler, text in (
        ("start", db_start, "start the embedded PostgreSQL and apply migrations"),
        ("stop", db_stop, "stop the embedded PostgreSQL"),
        ("status", db_status, "is the archive up, at which schema revision"),
        ("url", db_url, "print the archive's SQLAlchemy URL"),
        ("upgrade", db_upgrade, "apply pending migrations (also on LASAIR_DB_URL)"),
    ):
        db.add_parser(name, help=text).set_defaults(handler=handler)

    query = cli.commands.add_parser("sql", help="run one read-only SELECT")
    query.add_argument("query", help='e.g. "SELECT count(*) FROM candidates"')
    query.add_argument("--format", choices=("table", "csv", "json"), default="table")
    query.add_argument("--limit", type=int, default=1000, help="most rows (default %(default)s)")
    query.add_argument(
        "--timeout",
        type=float,
        default=None,
        help=f"seconds (default LASAIR_SQL_TIMEOUT, now {cli.settings.sql_timeout:g})",
    )
    query.set_defaults(handler=sql)

    cli.commands.add_parser("status", help="the ingestion status page").set_defaults(handler=status)

    quarantine = cli.group("quarantine", "packets that failed to ingest")
    listing = quarantine.add_parser("list", help="id, time, source, size and reason of each")
    listing.add_argument(
        "--limit", type=_positive, default=100, help="most rows (default %(default)s)"
    )
    listing.add_argument("--format", choices=("table", "csv", "json"), default="table")
    listing.set_defaults(handler=quarantine_list)
    show = quarantine.add_parser("show", help="one packet's record")
    show.add_argument("id", type=int)
    show.set_defaults(handler=quarantine_show)
    export = quarantine.add_parser("export", help="write one packet's bytes to a file")
    export.add_argument("id", type=int)
    export.add_argument("file", type=Path)
    export.set_defaults(handler=quarantine_export)


def _add_operator_commands(cli: CommandLine) -> None:
    broker = cli.group("broker", "the embedded Kafka-protocol broker")
    start = broker.add_parser("start", help="start Tansu on 127.0.0.1")
    start.add_argument(
        "--port",
        type=int,
        default=None,
        help=f"default LASAIR_BROKER_PORT ({cli.settings.broker_port})",
    )
    start.set_defaults(handler=broker_start)
    broker.add_parser("stop", help="stop it").set_defaults(handler=broker_stop)
    broker.add_parser("status", help="is it running").set_defaults(handler=broker_status)

    people = cli.group("users", "users: PostgreSQL roles")
    add = people.add_parser("add", help="create a user and print their password")
    add.add_argument("name")
    add.add_argument("--admin", action="store_true", help="may promote queries to system")
    add.set_defaults(handler=users)
    people.add_parser("list", help="every user").set_defaults(handler=users)
    remove = people.add_parser("remove", help="remove a user and their private data")
    remove.add_argument("name")
    remove.set_defaults(handler=users)

    sweeper = cli.commands.add_parser(
        "reaper", help="cancel runaway user statements and idle transactions (up starts it)"
    )
    sweeper.add_argument("--once", action="store_true", help="sweep once and exit")
    sweeper.set_defaults(handler=reaper)

    start_all = cli.commands.add_parser("up", help="start the whole platform on this machine")
    start_all.add_argument(
        "--no-simulator", action="store_true", help="publish no simulated stream"
    )
    start_all.add_argument("--no-hub", action="store_true", help="start no JupyterHub")
    start_all.set_defaults(handler=up)
    cli.commands.add_parser("down", help="stop what `up` started").set_defaults(handler=down)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``lasair-nb``; returns the exit status."""
    try:
        settings = get_settings()
        args = build_parser(settings).parse_args(argv)
        args.settings = settings
        logging.basicConfig(
            level=logging.INFO if args.verbose else logging.WARNING,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )
        return args.handler(args)
    except LasairError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
