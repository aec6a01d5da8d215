"""annotator integrity: topics have owners, history keeps the annotator fields, bounded JSON

Revision ID: 0011
Revises: 0010

Found by attacking 0007's annotator fields as another user would:

* A Lasair annotator topic belongs to one user, as on Lasair-ZTF: the first user to
  annotate under a topic claims it (``annotators``), and only they may write annotations
  under it afterwards (a BEFORE trigger refuses others with insufficient_privilege).
  Without this, anyone could add fake classifications to ``annotator:TOPIC`` queries.
* ``annotation_history`` records the annotator fields too, so a changed public
  classification is in the history like a changed comment.
* ``classdict`` is a JSON object nested at most 8 levels: a public annotation nested
  thousands deep made every reader's query fail in the client's JSON decoder.
* ``lasair_separation_arcsec`` is executable by the archive's roles only, as the
  functions of 0009 are.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

READERS = "lasair_reader, lasair_user"
HISTORY_FIELDS = (
    ("topic", sa.Text(), "Lasair annotator topic after the change"),
    ("classification", sa.Text(), "Lasair annotator classification after the change"),
    ("version", sa.Text(), "Lasair annotator version after the change"),
    ("explanation", sa.Text(), "Lasair annotator explanation after the change"),
    ("classdict", JSONB(), "Lasair annotator class dictionary after the change"),
    ("url", sa.Text(), "Lasair annotator link after the change"),
)
CLASSDICT_CHECK = (
    "classdict IS NULL OR (jsonb_typeof(classdict) = 'object'"
    " AND NOT jsonb_path_exists(classdict, 'strict $.**{9 to last}'))"
)

HISTORY_FUNCTION = """
CREATE OR REPLACE FUNCTION lasair_annotation_history() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    row public.annotations;
BEGIN
    IF TG_OP = 'DELETE' THEN row := OLD; ELSE row := NEW; END IF;
    IF TG_OP = 'UPDATE' THEN NEW.updated_at := now(); row := NEW; END IF;
    INSERT INTO public.annotation_history
        (annotation_id, objectid, action, changed_by, author, tags, comment, public{extra})
    VALUES (row.id, row.objectid, lower(TG_OP), session_user, row.author, row.tags,
            row.comment, row.public{values});
    IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
    RETURN NEW;
END $$
"""

CLAIM_FUNCTION = """
CREATE FUNCTION lasair_claim_topic() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    holder text;
BEGIN
    IF NEW.topic IS NULL THEN RETURN NEW; END IF;
    INSERT INTO public.annotators (topic, owner) VALUES (lower(NEW.topic), session_user)
        ON CONFLICT (topic) DO NOTHING;
    SELECT owner INTO holder FROM public.annotators WHERE topic = lower(NEW.topic);
    IF holder <> session_user THEN
        RAISE EXCEPTION 'annotator topic "%" belongs to %; annotate under a topic of your own',
            NEW.topic, holder USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END $$
"""


def _history_function(with_fields: bool) -> str:
    names = [name for name, _, _ in HISTORY_FIELDS] if with_fields else []
    return HISTORY_FUNCTION.format(
        extra="".join(f", {name}" for name in names),
        values="".join(f", row.{name}" for name in names),
    )


def upgrade() -> None:
    op.create_table(
        "annotators",
        sa.Column("topic", sa.Text(), primary_key=True, comment="Annotator topic (lower case)"),
        sa.Column("owner", sa.Text(), nullable=False, comment="The user who writes under it"),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.func.now(),
            comment="When it was claimed",
        ),
        comment="Lasair annotator topics and their owners: the first to annotate under a topic",
    )
    op.execute(f"GRANT SELECT ON annotators TO {READERS}")
    op.execute(CLAIM_FUNCTION)
    op.execute("REVOKE ALL ON FUNCTION lasair_claim_topic() FROM PUBLIC")
    op.execute(
        "CREATE TRIGGER claim_topic BEFORE INSERT OR UPDATE OF topic ON annotations"
        " FOR EACH ROW EXECUTE FUNCTION lasair_claim_topic()"
    )
    # Topics already used: each goes to its earliest author.
    op.execute(
        "INSERT INTO annotators (topic, owner, created_at)"
        " SELECT DISTINCT ON (lower(topic)) lower(topic), author, created_at FROM annotations"
        " WHERE topic IS NOT NULL ORDER BY lower(topic), created_at, id"
    )
    for name, type_, comment in HISTORY_FIELDS:
        op.add_column("annotation_history", sa.Column(name, type_, comment=comment))
    op.execute(_history_function(with_fields=True))
    op.create_check_constraint("classdict_shape", "annotations", CLASSDICT_CHECK)
    op.execute(
        "REVOKE ALL ON FUNCTION lasair_separation_arcsec(double precision, double precision,"
        " double precision, double precision) FROM PUBLIC"
    )


def downgrade() -> None:
    op.execute(
        "GRANT EXECUTE ON FUNCTION lasair_separation_arcsec(double precision, double precision,"
        " double precision, double precision) TO PUBLIC"
    )
    op.drop_constraint("classdict_shape", "annotations")
    op.execute(_history_function(with_fields=False))
    for name, _, _ in HISTORY_FIELDS:
        op.drop_column("annotation_history", name)
    op.execute("DROP TRIGGER claim_topic ON annotations")
    op.execute("DROP FUNCTION lasair_claim_topic()")
    op.drop_table("annotators")
