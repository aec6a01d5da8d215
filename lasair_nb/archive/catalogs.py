"""Context catalogues: load, list and remove them (the sources of Sherlock-like context).

A catalogue is loaded whole, in the caller's transaction: its old sources go and the new
ones come in by ``COPY`` with their HEALPix index, so loading the same file twice leaves
the same rows, and a failed load leaves the previous version.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping

import astropy.units as u
import numpy as np
import pandas as pd
import sqlalchemy as sa
from healpix_alchemy.constants import HPX
from tqdm.auto import tqdm

from lasair_nb.archive.schema import catalog_sources, catalogs

SOURCE_COLUMNS = [
    "catalogue", "number", "source_id", "kind", "ra", "dec", "hpx", "redshift",
    "distance_mpc", "radius_arcsec", "mag",
]  # fmt: skip
"""Columns of ``catalog_sources``, in COPY order."""
CHUNK = 100_000
"""Sources sent per COPY (a progress bar counts them)."""


def exists(connection: sa.Connection, name: str) -> bool:
    """Whether a catalogue of this name is loaded."""
    return (
        connection.execute(sa.select(catalogs.c.name).where(catalogs.c.name == name)).first()
        is not None
    )


def load(
    connection: sa.Connection,
    name: str,
    *,
    kind: str,
    file: str,
    sources: pd.DataFrame,
    column_map: Mapping[str, str | None],
    progress: bool = False,
) -> int:
    """Replace catalogue ``name`` by ``sources``; returns the number of sources stored.

    Parameters
    ----------
    connection
        The archive, as its owner, in a transaction.
    name, kind, file
        Catalogue name, what it lists (``galaxy``, ``agn``...) and the file it came from.
    sources
        ``source_id, ra, dec`` [deg] and optional ``redshift, distance_mpc,
        radius_arcsec, mag`` (NaN where unknown), checked by the caller.
    column_map
        Which file column gave each field (stored as the catalogue's ``column_map``).
    progress
        Show a progress bar.
    """
    connection.execute(sa.delete(catalogs).where(catalogs.c.name == name))
    connection.execute(
        sa.insert(catalogs).values(
            name=name, kind=kind, file=file, rows=len(sources), column_map=dict(column_map)
        )
    )
    rows = pd.DataFrame(
        {
            "catalogue": name,
            "number": np.arange(1, len(sources) + 1),
            "source_id": sources["source_id"].astype(str).to_numpy(),
            "kind": kind,
            "ra": sources["ra"].to_numpy(float),
            "dec": sources["dec"].to_numpy(float),
        }
    )
    rows["hpx"] = np.asarray(
        HPX.lonlat_to_healpix(rows["ra"].to_numpy() * u.deg, rows["dec"].to_numpy() * u.deg),
        dtype=np.int64,
    )
    for column in ("redshift", "distance_mpc", "radius_arcsec", "mag"):
        values = sources[column] if column in sources else np.nan
        rows[column] = pd.to_numeric(
            pd.Series(values, index=sources.index), errors="coerce"
        ).to_numpy()
    cursor = connection.connection.cursor()
    with tqdm(total=len(rows), desc=name, unit="source", disable=not progress) as bar:
        for start in range(0, len(rows), CHUNK):
            chunk = rows.iloc[start : start + CHUNK]
            buffer = io.StringIO()
            chunk[SOURCE_COLUMNS].to_csv(buffer, index=False, header=False, float_format="%.17g")
            buffer.seek(0)
            cursor.copy_expert(
                f"COPY catalog_sources ({', '.join(SOURCE_COLUMNS)}) FROM STDIN WITH (FORMAT csv)",
                buffer,
            )
            bar.update(len(chunk))
    return len(rows)


def listing(connection: sa.Connection) -> pd.DataFrame:
    """Every loaded catalogue: name, kind, rows, file, loaded_at and its column map (JSON)."""
    c = catalogs.c
    result = connection.execute(
        sa.select(c.name, c.kind, c.rows, c.file, c.loaded_at, c.column_map).order_by(c.name)
    )
    frame = pd.DataFrame(result.all(), columns=list(result.keys()))
    frame["column_map"] = [json.dumps(value, sort_keys=True) for value in frame["column_map"]]
    return frame


def remove(connection: sa.Connection, name: str) -> int:
    """Remove a catalogue and its sources; returns how many sources went (0: no such one)."""
    count = connection.execute(
        sa.select(sa.func.count()).where(catalog_sources.c.catalogue == name)
    ).scalar_one()
    deleted = connection.execute(sa.delete(catalogs).where(catalogs.c.name == name)).rowcount
    return int(count) if deleted else 0
