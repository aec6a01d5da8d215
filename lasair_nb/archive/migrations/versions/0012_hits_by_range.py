"""watchlist_hits and area_hits look objects up range by range

Revision ID: 0012
Revises: 0011

The views of 0007 joined objects to the HEALPix ranges with a plain join. With stale
statistics on the tiles (a list just written) the planner may loop over every object per
range; the benchmark's 100,000-source crossmatch took minutes instead of a second. Each
range's objects are now found by the index on ``hpx`` in a lateral subquery behind an
``OFFSET 0`` fence, as the client's watchmap and sky-map queries do. Same columns, same
rows, same security (``security_invoker``).
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

OBJECTS_OF_RANGE = (
    "CROSS JOIN LATERAL (SELECT o.objectid, o.ramean, o.decmean FROM objects o"
    " WHERE o.hpx >= lower(t.tile) AND o.hpx < upper(t.tile) OFFSET 0) o"
)
WATCHLIST_HITS = (
    "SELECT t.watchlist_id AS wl_id, t.number AS cone_id, o.objectid, s.name,"
    " lasair_separation_arcsec(s.ra, s.dec, o.ramean, o.decmean) AS arcsec"
    f" FROM watchlist_tiles t {OBJECTS_OF_RANGE}"
    " JOIN watchlist_sources s ON s.watchlist_id = t.watchlist_id AND s.number = t.number"
    " WHERE lasair_separation_arcsec(s.ra, s.dec, o.ramean, o.decmean) <= s.radius_arcsec"
)
AREA_HITS = f"SELECT t.watchmap_id AS ar_id, o.objectid FROM watchmap_tiles t {OBJECTS_OF_RANGE}"
OLD_WATCHLIST_HITS = (
    "SELECT t.watchlist_id AS wl_id, t.number AS cone_id, o.objectid, s.name,"
    " lasair_separation_arcsec(s.ra, s.dec, o.ramean, o.decmean) AS arcsec"
    " FROM watchlist_tiles t"
    " JOIN objects o ON o.hpx >= lower(t.tile) AND o.hpx < upper(t.tile)"
    " JOIN watchlist_sources s ON s.watchlist_id = t.watchlist_id AND s.number = t.number"
    " WHERE lasair_separation_arcsec(s.ra, s.dec, o.ramean, o.decmean) <= s.radius_arcsec"
)
OLD_AREA_HITS = (
    "SELECT t.watchmap_id AS ar_id, o.objectid FROM watchmap_tiles t"
    " JOIN objects o ON o.hpx >= lower(t.tile) AND o.hpx < upper(t.tile)"
)


def _replace(watchlist_hits: str, area_hits: str) -> None:
    # Same output columns: CREATE OR REPLACE keeps grants and column comments.
    op.execute(
        f"CREATE OR REPLACE VIEW watchlist_hits WITH (security_invoker = true) AS {watchlist_hits}"
    )
    op.execute(f"CREATE OR REPLACE VIEW area_hits WITH (security_invoker = true) AS {area_hits}")


def upgrade() -> None:
    _replace(WATCHLIST_HITS, AREA_HITS)


def downgrade() -> None:
    _replace(OLD_WATCHLIST_HITS, OLD_AREA_HITS)
