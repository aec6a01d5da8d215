"""The schema is defined once: the migrations build exactly it, and every column explains itself."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from lasair_nb.archive.schema import metadata

CONTRACT_TABLES = {
    "candidates",
    "noncandidates",
    "forced_photometry",
    "cutouts",
    "objects",
    "quarantine",
    "ingest_batches",
}


def test_migrations_build_the_declared_schema(archive_url: str) -> None:
    engine = sa.create_engine(archive_url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, metadata)
        tables = set(sa.inspect(connection).get_table_names())
    engine.dispose()
    assert differences == []
    assert CONTRACT_TABLES <= tables


def test_every_column_has_a_comment_in_the_database(archive_url: str) -> None:
    engine = sa.create_engine(archive_url)
    inspector = sa.inspect(engine)
    missing = [
        f"{table}.{column['name']}"
        for table in CONTRACT_TABLES
        for column in inspector.get_columns(table)
        if not column.get("comment")
    ]
    engine.dispose()
    assert missing == []


def test_column_names_are_lower_case() -> None:
    for table in metadata.tables.values():
        assert all(column.name == column.name.lower() for column in table.c), table.name
