"""``lasair-nb catalogs``: context catalogues for Sherlock-like classification.

::

    lasair-nb catalogs load NAME FILE --kind galaxy|agn|qso|star|cv
                            [--ra COL --dec COL --id COL --z COL --distance COL
                             --radius COL [--radius-unit arcsec|arcmin|deg] --mag COL]
    lasair-nb catalogs list
    lasair-nb catalogs remove NAME
    lasair-nb catalogs classify        (re-classify every object, e.g. after a load)

A file is CSV, FITS (its first table) or Parquet. Columns are found by the usual names
(``ra``/``RAJ2000``/``R.A.``..., case and surrounding spaces ignored) unless named;
RA/Dec may be degrees or sexagesimal (``00 01 16.37``, ``00:01:16.37``, ``00h01m16.37s``:
RA in hours). The whole file is read and checked before the archive is touched.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from lasair_nb.errors import ArgumentError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    import sqlalchemy as sa

    from lasair_nb.cli.main import CommandLine
    from lasair_nb.settings import Settings

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}$")
"""Catalogue names: what Sherlock's ``catalogue_table_name`` shows."""

FIELD_NAMES: dict[str, tuple[str, ...]] = {
    "ra": ("ra", "raj2000", "ra_deg", "radeg", "r.a.", "ra_icrs", "ramean", "alpha"),
    "dec": ("dec", "dej2000", "decj2000", "dec_deg", "decdeg", "de_icrs", "decl", "decmean"),
    "id": ("name", "source_name", "objname", "designation", "source_id", "id", "objid"),
    "z": ("z", "redshift", "zspec", "z_spec"),
    "distance": ("distmpc", "distance_mpc", "dist_mpc"),
    "radius": ("radius_arcsec", "major_axis_arcsec"),
    "mag": ("mag",),
}
"""Column names tried, in order, for each field a catalogue gives (case-insensitive)."""
RADIUS_UNITS = {"arcsec": 1.0, "arcmin": 60.0, "deg": 3600.0}
KINDS = ("galaxy", "agn", "qso", "star", "cv")
"""``lasair_nb.domain.sherlock.CATALOG_KINDS``, here without importing numpy at start-up."""
FORMATS = "CSV (.csv, .txt), FITS (.fits, .fit, .fits.gz) or Parquet (.parquet, .pq)"


class CatalogFileError(ArgumentError):
    """A catalogue file or its columns could not be used; the message says what is accepted."""


# --- reading a file -------------------------------------------------------------------------


def _read_fits(path: Path) -> pd.DataFrame:
    from astropy.io import fits  # noqa: PLC0415 - astropy on use
    from astropy.table import Table  # noqa: PLC0415

    with fits.open(path) as hdus:
        index = next(
            (i for i, hdu in enumerate(hdus) if isinstance(hdu, (fits.BinTableHDU, fits.TableHDU))),
            None,
        )
    if index is None:
        raise CatalogFileError(f"{path} has no table HDU; a FITS catalogue is a binary table")
    table = Table.read(path, hdu=index)
    scalar = [name for name in table.colnames if len(table[name].shape) <= 1]
    frame = table[scalar].to_pandas()
    for column in frame.columns:
        if frame[column].dtype == object:
            frame[column] = [
                value.decode() if isinstance(value, bytes) else value for value in frame[column]
            ]
    return frame


def _read_parquet(path: Path) -> pd.DataFrame:
    import pandas as pd  # noqa: PLC0415

    try:
        return pd.read_parquet(path)
    except ImportError as error:
        raise CatalogFileError(
            f"reading Parquet ({path.name}) needs pyarrow, which is not installed here: "
            "pip install pyarrow, or give the catalogue as CSV or FITS"
        ) from error


def read_table(path: Path) -> pd.DataFrame:
    """A catalogue file as a DataFrame: names and text values stripped of spaces.

    Raises
    ------
    CatalogFileError
        For a missing or unreadable file or an unknown format.
    """
    import pandas as pd  # noqa: PLC0415

    if not path.is_file():
        raise CatalogFileError(f"no file {str(path)!r}; give a catalogue file: {FORMATS}")
    name = path.name.lower()
    try:
        if name.endswith((".fits", ".fit", ".fits.gz", ".fit.gz")):
            frame = _read_fits(path)
        elif name.endswith((".parquet", ".pq")):
            frame = _read_parquet(path)
        elif name.endswith((".csv", ".txt", ".csv.gz")):
            frame = pd.read_csv(path, skipinitialspace=True, dtype_backend="numpy_nullable")
        else:
            raise CatalogFileError(f"unknown catalogue format {path.name!r}; accepted: {FORMATS}")
    except (OSError, ValueError, UnicodeDecodeError, pd.errors.ParserError) as error:
        if isinstance(error, CatalogFileError):
            raise
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise CatalogFileError(f"cannot read {path.name} as a catalogue: {first}") from error
    frame.columns = [str(column).strip() for column in frame.columns]
    for column in frame.columns:
        if frame[column].dtype == object or str(frame[column].dtype) == "string":
            frame[column] = frame[column].astype("string").str.strip().replace("", pd.NA)
    if not len(frame):
        raise CatalogFileError(f"{path.name} has no rows")
    return frame


def _column(frame: pd.DataFrame, field: str, given: str | None, required: bool) -> str | None:
    """The column of ``frame`` giving ``field``: the one named, else a usual name."""
    lowered = {column.lower(): column for column in frame.columns}
    if given is not None:
        found = lowered.get(given.strip().lower())
        if found is None:
            raise CatalogFileError(
                f"no column {given!r} for --{field}; the file's columns: "
                + ", ".join(map(repr, frame.columns))
            )
        return found
    for candidate in FIELD_NAMES[field]:
        if candidate in lowered:
            return lowered[candidate]
    if required:
        raise CatalogFileError(
            f"no {field} column found (tried {', '.join(FIELD_NAMES[field])}); name it with "
            f"--{field} COLUMN; the file's columns: " + ", ".join(map(repr, frame.columns))
        )
    return None


def parse_coordinates(ra: pd.Series, dec: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """RA and Dec in degrees from numbers (degrees) or sexagesimal text (RA in hours).

    Raises
    ------
    CatalogFileError
        Naming the first row (1-based, after the header) that cannot be read or is out
        of range.
    """
    import numpy as np  # noqa: PLC0415 - numpy, pandas on use
    import pandas as pd  # noqa: PLC0415
    from astropy import units as u  # noqa: PLC0415
    from astropy.coordinates import SkyCoord  # noqa: PLC0415

    ra_deg = pd.to_numeric(ra, errors="coerce").to_numpy(float, na_value=np.nan)
    dec_deg = pd.to_numeric(dec, errors="coerce").to_numpy(float, na_value=np.nan)
    text = ~(np.isfinite(ra_deg) & np.isfinite(dec_deg))
    present = ra.notna().to_numpy() & dec.notna().to_numpy()
    sexagesimal = text & present
    if sexagesimal.any():
        ra_text = ra[sexagesimal].astype(str).to_numpy()
        dec_text = dec[sexagesimal].astype(str).to_numpy()
        try:
            coords = SkyCoord(ra_text, dec_text, unit=(u.hourangle, u.deg))
        except (ValueError, TypeError):
            for offset, (one_ra, one_dec) in enumerate(zip(ra_text, dec_text, strict=True)):
                try:
                    SkyCoord(one_ra, one_dec, unit=(u.hourangle, u.deg))
                except (ValueError, TypeError) as error:
                    row = int(np.flatnonzero(sexagesimal)[offset]) + 1
                    raise CatalogFileError(
                        f"row {row}: cannot read RA {one_ra!r}, Dec {one_dec!r} as coordinates "
                        "(accepted: degrees, or sexagesimal like '00 01 16.37' / '+29 35 34.0' "
                        "with RA in hours)"
                    ) from error
            raise
        ra_deg[sexagesimal] = coords.ra.deg
        dec_deg[sexagesimal] = coords.dec.deg
    bad = ~present | ~np.isfinite(ra_deg) | ~np.isfinite(dec_deg)
    bad |= (ra_deg < 0) | (ra_deg >= 360) | (dec_deg < -90) | (dec_deg > 90)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise CatalogFileError(
            f"row {row + 1}: RA {ra.iloc[row]!r}, Dec {dec.iloc[row]!r} is not a sky position "
            f"({int(bad.sum())} such rows; accepted: RA 0-360 deg or hours, Dec -90 to +90)"
        )
    return ra_deg, dec_deg


def _numbers(frame: pd.DataFrame, column: str | None, scale: float = 1.0) -> np.ndarray:
    import numpy as np  # noqa: PLC0415 - numpy, pandas on use
    import pandas as pd  # noqa: PLC0415

    if column is None:
        return np.full(len(frame), np.nan)
    values = pd.to_numeric(frame[column], errors="coerce").to_numpy(float, na_value=np.nan)
    return np.where(np.isfinite(values), values * scale, np.nan)


def read_catalog(
    path: Path, columns: dict[str, str | None], radius_unit: str = "arcsec"
) -> tuple[pd.DataFrame, dict[str, str | None]]:
    """Read a catalogue file into the sources :func:`lasair_nb.archive.catalogs.load` takes.

    Parameters
    ----------
    path
        The file.
    columns
        Column named for each field (``ra, dec, id, z, distance, radius, mag``), None to
        look for the usual names.
    radius_unit
        Unit of the radius column: ``arcsec``, ``arcmin`` or ``deg``.

    Returns
    -------
    sources, column_map
        ``source_id, ra, dec, redshift, distance_mpc, radius_arcsec, mag``; and which
        file column gave each field.
    """
    import numpy as np  # noqa: PLC0415 - numpy, pandas on use
    import pandas as pd  # noqa: PLC0415

    if radius_unit not in RADIUS_UNITS:
        raise CatalogFileError(
            f"unknown radius unit {radius_unit!r}; accepted: {', '.join(RADIUS_UNITS)}"
        )
    frame = read_table(path)
    found = {
        field: _column(frame, field, columns.get(field), required=field in ("ra", "dec"))
        for field in FIELD_NAMES
    }
    ra, dec = parse_coordinates(frame[found["ra"]], frame[found["dec"]])
    if found["id"] is None:
        ids = pd.Series(np.arange(1, len(frame) + 1)).astype(str)
    else:
        ids = frame[found["id"]].astype("string").fillna("").reset_index(drop=True)
        ids = ids.where(ids != "", pd.Series(np.arange(1, len(frame) + 1)).astype(str))
        control = ids.str.contains(r"[\x00-\x1f\x7f]", regex=True).fillna(False)
        if control.any():
            row = int(np.flatnonzero(control.to_numpy())[0]) + 1
            raise ArgumentError(
                f"row {row}: the {found['id']!r} value holds a control character (NUL, newline,"
                " carriage return...); source ids are accepted as printable text only"
            )
    sources = pd.DataFrame(
        {
            "source_id": ids.astype(str).to_numpy(),
            "ra": ra,
            "dec": dec,
            "redshift": _numbers(frame, found["z"]),
            "distance_mpc": _numbers(frame, found["distance"]),
            "radius_arcsec": _numbers(frame, found["radius"], RADIUS_UNITS[radius_unit]),
            "mag": _numbers(frame, found["mag"]),
        }
    )
    return sources, found


# --- commands -------------------------------------------------------------------------------


def _with_engine(settings: Settings, work: Callable[[sa.Engine], int]) -> int:
    """Run ``work`` on an engine of the archive; database failures as one-line errors."""
    import sqlalchemy as sa  # noqa: PLC0415 - SQLAlchemy on use

    from lasair_nb.archive import engine as database  # noqa: PLC0415
    from lasair_nb.errors import DatabaseError  # noqa: PLC0415

    url = database.database_url(settings)
    engine = database.create_engine(url)
    try:
        try:
            with engine.connect():
                pass
        except sa.exc.DBAPIError as error:
            raise database.unreachable(error, url) from error
        try:
            return work(engine)
        except sa.exc.DBAPIError as error:
            reason = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
            raise DatabaseError(f"the archive refused: {reason}") from error
        except engine.dialect.loaded_dbapi.Error as error:  # raw COPY: not wrapped by SQLAlchemy
            reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
            raise DatabaseError(f"the archive refused: {reason}") from error
    finally:
        engine.dispose()


def _check_name(name: str) -> str:
    if not NAME.fullmatch(name):
        raise ArgumentError(
            f"invalid catalogue name {name!r}: 1-64 letters, digits and . _ + -, "
            "starting with a letter or digit"
        )
    return name


def catalogs_load(args: argparse.Namespace) -> int:
    """Load (or reload) a context catalogue from a file."""
    from lasair_nb.archive import catalogs  # noqa: PLC0415

    name = _check_name(args.name)
    kind = str(args.kind).strip().lower()
    if kind not in KINDS:
        raise ArgumentError(f"unknown kind {args.kind!r}; accepted: {', '.join(KINDS)}")
    path = Path(args.file)
    columns = {field: getattr(args, field) for field in FIELD_NAMES}
    sources, found = read_catalog(path, columns, args.radius_unit)

    def load(engine: sa.Engine) -> int:
        with engine.begin() as connection:
            count = catalogs.load(
                connection,
                name,
                kind=kind,
                file=str(path.resolve()),
                sources=sources,
                column_map={**found, "radius_unit": args.radius_unit},
                progress=not args.quiet,
            )
        print(f"loaded {count} {kind} sources as catalogue {name}")
        print("objects already archived keep their classes until `lasair-nb catalogs classify`")
        return 0

    return _with_engine(args.settings, load)


def catalogs_list(args: argparse.Namespace) -> int:
    """List the loaded catalogues."""
    from lasair_nb.archive import catalogs  # noqa: PLC0415
    from lasair_nb.cli.output import format_rows  # noqa: PLC0415

    def show(engine: sa.Engine) -> int:
        with engine.connect() as connection:
            frame = catalogs.listing(connection)
        if not len(frame) and args.format == "table":
            print("no catalogues loaded; load one: lasair-nb catalogs load NAME FILE --kind KIND")
            return 0
        print(
            format_rows(
                list(frame.columns), list(frame.itertuples(index=False, name=None)), args.format
            )
        )
        return 0

    return _with_engine(args.settings, show)


def catalogs_remove(args: argparse.Namespace) -> int:
    """Remove a catalogue (classifications change at the next `catalogs classify`)."""
    from lasair_nb.archive import catalogs  # noqa: PLC0415
    from lasair_nb.errors import NotFoundError  # noqa: PLC0415

    name = _check_name(args.name)

    def remove(engine: sa.Engine) -> int:
        with engine.begin() as connection:
            if not catalogs.exists(connection, name):
                raise NotFoundError(f"no catalogue {name!r}; `lasair-nb catalogs list` shows them")
            count = catalogs.remove(connection, name)
        print(f"removed catalogue {name} ({count} sources)")
        return 0

    return _with_engine(args.settings, remove)


def catalogs_classify(args: argparse.Namespace) -> int:
    """Classify every archived object again, in chunks (one transaction each)."""
    from tqdm.auto import tqdm  # noqa: PLC0415

    from lasair_nb.archive import sherlock  # noqa: PLC0415

    def classify(engine: sa.Engine) -> int:
        with engine.connect() as connection:
            ids = sherlock.all_objectids(connection)
        done = 0
        with tqdm(total=len(ids), desc="classify", unit="object", disable=args.quiet) as bar:
            for start in range(0, len(ids), args.chunk):
                part = ids[start : start + args.chunk]
                with engine.begin() as connection:
                    done += sherlock.classify(connection, part)
                bar.update(len(part))
        with engine.connect() as connection:
            counts = sherlock.class_counts(connection)
        summary = ", ".join(f"{name} {count}" for name, count in counts.items())
        print(f"classified {done} objects" + (f": {summary}" if summary else ""))
        return 0

    return _with_engine(args.settings, classify)


def _chunk(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 100_000:
        raise argparse.ArgumentTypeError(f"must be a whole number from 1 to 100000, not {text!r}")
    return value


def register(cli: CommandLine) -> None:
    """Add ``lasair-nb catalogs load | list | remove | classify``."""
    group = cli.group("catalogs", "context catalogues for Sherlock-like classification")
    load = group.add_parser("load", help="load or reload a catalogue (CSV, FITS or Parquet)")
    load.add_argument("name", help="catalogue name, e.g. CLU, 4LAC")
    load.add_argument("file", help="the catalogue file")
    load.add_argument("--kind", required=True, help=f"what it lists: {', '.join(KINDS)}")
    for field, text in (
        ("ra", "right ascension (degrees, or sexagesimal hours)"),
        ("dec", "declination (degrees or sexagesimal)"),
        ("id", "source id or name"),
        ("z", "redshift"),
        ("distance", "distance [Mpc]"),
        ("radius", "galaxy semi-major axis (unit: --radius-unit)"),
        ("mag", "magnitude (stars brighter than 13 mark bright-star artefacts)"),
    ):
        load.add_argument(
            f"--{field}", default=None, metavar="COLUMN", help=f"column of the {text}"
        )
    load.add_argument("--radius-unit", default="arcsec", help="arcsec (default), arcmin or deg")
    load.add_argument("--quiet", action="store_true", help="no progress bar")
    load.set_defaults(handler=catalogs_load)
    listing = group.add_parser("list", help="the loaded catalogues")
    listing.add_argument("--format", choices=("table", "csv", "json"), default="table")
    listing.set_defaults(handler=catalogs_list)
    remove = group.add_parser("remove", help="remove a catalogue and its sources")
    remove.add_argument("name")
    remove.set_defaults(handler=catalogs_remove)
    classify = group.add_parser("classify", help="classify every archived object again")
    classify.add_argument(
        "--chunk", type=_chunk, default=2000, help="objects per transaction (default %(default)s)"
    )
    classify.add_argument("--quiet", action="store_true", help="no progress bar")
    classify.set_defaults(handler=catalogs_classify)
