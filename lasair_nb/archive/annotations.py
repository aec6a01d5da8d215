"""Tags (a shared vocabulary) and annotations of objects, with the history of every change."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import sqlalchemy as sa

from lasair_nb.archive import named
from lasair_nb.archive.schema import annotation_history, annotations, tags


def _frame(result: sa.CursorResult) -> pd.DataFrame:
    return pd.DataFrame(result.all(), columns=list(result.keys()))


def all_tags(connection: sa.Connection) -> pd.DataFrame:
    """Every tag with its description."""
    return _frame(connection.execute(sa.select(tags).order_by(tags.c.name)))


def tag_names(connection: sa.Connection) -> set[str]:
    """The names of every tag."""
    return set(connection.execute(sa.select(tags.c.name)).scalars())


def add_tag(connection: sa.Connection, name: str, description: str) -> None:
    """Add a tag."""
    try:
        connection.execute(sa.insert(tags).values(name=name, description=description))
    except sa.exc.DBAPIError as error:
        raise named.database_error(error, f"tag {name!r}") from error


def describe_tag(connection: sa.Connection, name: str, description: str) -> bool:
    """Change a tag's description; False if there is no such tag."""
    return bool(
        connection.execute(
            sa.update(tags).where(tags.c.name == name).values(description=description)
        ).rowcount
    )


ANNOTATOR_FIELDS = ("topic", "classification", "version", "explanation", "classdict", "url")
"""Lasair annotator fields an annotation may carry (columns of ``annotations``)."""


def add(
    connection: sa.Connection,
    object_id: str,
    tag_list: Sequence[str],
    comment: str,
    public: bool,
    *,
    annotator: Mapping[str, Any] | None = None,
) -> int:
    """Annotate an object; returns the annotation id.

    ``annotator`` holds Lasair annotator fields (:data:`ANNOTATOR_FIELDS`), if any.
    """
    extra = dict(annotator or {})
    try:
        return int(
            connection.execute(
                sa.insert(annotations)
                .values(
                    objectid=object_id, tags=list(tag_list), comment=comment, public=public, **extra
                )
                .returning(annotations.c.id)
            ).scalar_one()
        )
    except sa.exc.DBAPIError as error:
        raise named.database_error(error, f"annotation of {object_id!r}") from error


def update(
    connection: sa.Connection,
    annotation_id: int,
    tag_list: Sequence[str] | None,
    comment: str | None,
    public: bool | None,
) -> bool:
    """Change an annotation; False if it is not the caller's (or does not exist)."""
    values = {
        "tags": None if tag_list is None else list(tag_list),
        "comment": comment,
        "public": public,
    }
    values = {key: value for key, value in values.items() if value is not None}
    if not values:
        values = {"comment": annotations.c.comment}
    return named.update(connection, annotations, annotation_id, **values)


def delete(connection: sa.Connection, annotation_id: int) -> bool:
    """Delete an annotation; False if it is not the caller's (or does not exist)."""
    return named.delete(connection, annotations, annotation_id)


def search(
    connection: sa.Connection,
    tag: str | None = None,
    author: str | None = None,
    text: str | None = None,
    object_id: str | None = None,
) -> pd.DataFrame:
    """Annotations visible to the role with this tag / author / text / object."""
    a = annotations.c
    query = sa.select(
        a.id, a.objectid, a.author, a.tags, a.comment, a.public, a.created_at, a.updated_at
    ).order_by(a.created_at, a.id)
    if tag is not None:
        query = query.where(sa.literal(tag) == sa.any_(a.tags))
    if author is not None:
        query = query.where(a.author == author)
    if text is not None:
        query = query.where(a.comment.icontains(text, autoescape=True))
    if object_id is not None:
        query = query.where(a.objectid == object_id)
    return _frame(connection.execute(query))


def history(connection: sa.Connection, object_id: str) -> pd.DataFrame:
    """Every change to the annotations of an object: who, when, what."""
    h = annotation_history.c
    return _frame(
        connection.execute(
            sa.select(
                h.annotation_id, h.action, h.changed_by, h.changed_at, h.author, h.tags, h.comment,
                h.public,
            )
            .where(h.objectid == object_id)
            .order_by(h.id)
        )
    )  # fmt: skip
