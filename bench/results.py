"""Where benchmarks report: print the section and append it to ``bench/RESULTS.md``."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

RESULTS = Path(__file__).with_name("RESULTS.md")


def report(lines: list[str], record: bool = True) -> None:
    """Print a results section; append it to RESULTS.md unless ``record`` is False."""
    text = "\n".join(lines)
    print(text)
    if record:
        with RESULTS.open("a") as handle:
            handle.write(text + "\n")


@contextmanager
def bench_archive() -> Iterator[str]:
    """A migrated, empty archive on a throw-away embedded server: its URL.

    The server and its data are removed on leaving.
    """
    # Imported here: the results helpers above need no database packages.
    import sqlalchemy as sa  # noqa: PLC0415

    from lasair_nb.archive.migrate import upgrade  # noqa: PLC0415
    from lasair_nb.server.embedded import EmbeddedServer  # noqa: PLC0415

    with tempfile.TemporaryDirectory(prefix="lasair-bench-") as home:
        server = EmbeddedServer(Path(home) / "pgdata")
        status = server.start()
        try:
            admin = sa.create_engine(status.url("postgres"), isolation_level="AUTOCOMMIT")
            with admin.connect() as connection:
                connection.exec_driver_sql("CREATE DATABASE bench")
            admin.dispose()
            url = status.url("bench")
            upgrade(url)
            yield url
        finally:
            server.stop()
