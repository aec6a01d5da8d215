"""``LocalAladin``: ipyaladin's sky widget, loading Aladin Lite from this package, not a CDN.

ipyaladin's front end (an anywidget ES module) starts with
``import A from "https://esm.sh/aladin-lite@VERSION"``. anywidget loads that module from a
``blob:`` URL, so a relative URL to a file on the notebook server cannot resolve, and
serving one would differ between JupyterLab, Voila and JupyterHub's URL prefixes. Instead
:class:`LocalAladin` sends its own module: ipyaladin's, with that import replaced by a
loader carrying the kept Aladin Lite build (``lasair-nb widgets fetch-assets``) gzipped and
base64-encoded (about 1.1 MB instead of 2.6 MB). The browser unpacks it with
``DecompressionStream`` and imports it from a ``blob:`` URL once per page
(``globalThis`` caches the module promise), as the CDN URL would have been once. Without
network the HiPS sky images stay blank; catalogues, MOCs, shapes and markers are drawn by
the local code and still show.

Tables travel as BINARY VOTables (:func:`binary_votable`), not the TABLEDATA XML ipyaladin
writes: for 10⁵ rows astropy's writer takes 2 s and the browser's DOM parse of 10⁵ × 3
``<TD>`` elements 15–25 s; the binary form is written by numpy in tens of milliseconds
and parsed by Aladin Lite in one pass over a byte array.
"""

from __future__ import annotations

import base64
import functools
import gzip
import json
import re
from typing import Any, BinaryIO
from xml.sax.saxutils import quoteattr

import ipyaladin
import numpy as np
from astropy.table import Table

from lasair_nb.widgets.assets import (
    ALADIN_LITE_VERSION,
    FETCH_COMMAND,
    AssetError,
    aladin_lite_source,
)

CDN_IMPORT = re.compile(
    r'import\s*(?P<name>[A-Za-z_$][\w$]*)\s*from\s*"https://esm\.sh/aladin-lite@(?P<version>[^"]+)";?'
)
"""ipyaladin's import of Aladin Lite from esm.sh (its only import)."""

_LOADER = """\
const {name} = await (globalThis[{key}] ??= (async () => {{
  const packed = Uint8Array.from(atob({packed}), (c) => c.charCodeAt(0));
  const text = new Blob([packed]).stream().pipeThrough(new DecompressionStream("gzip"));
  const module = new Blob([await new Response(text).arrayBuffer()], {{ type: "text/javascript" }});
  const url = URL.createObjectURL(module);
  try {{ return (await import(url)).default; }} finally {{ URL.revokeObjectURL(url); }}
}})());
"""
"""What replaces the CDN import: unpack the build, import it once per page."""


def ipyaladin_esm() -> str:
    """The installed ipyaladin's front-end module, as it ships.

    Returns
    -------
    str
        The JavaScript of ``ipyaladin/static/widget.js``.
    """
    return str(ipyaladin.Aladin._esm)


def check_versions(esm: str) -> str:
    """Check that ipyaladin imports the Aladin Lite version this package pins.

    Parameters
    ----------
    esm
        ipyaladin's front-end module.

    Returns
    -------
    str
        The name ipyaladin's module binds Aladin Lite to.

    Raises
    ------
    AssetError
        When the module has no (or more than one) esm.sh import of Aladin Lite, or ipyaladin
        expects another version than ``ALADIN_LITE_VERSION``.
    """
    imports = list(CDN_IMPORT.finditer(esm))
    if len(imports) != 1:
        raise AssetError(
            f"ipyaladin {ipyaladin.__version__} does not import Aladin Lite from esm.sh once "
            f"(found {len(imports)} imports); LocalAladin supports ipyaladin 0.8"
        )
    wanted = {imports[0]["version"], ipyaladin.__aladin_lite_version__}
    if wanted != {ALADIN_LITE_VERSION}:
        raise AssetError(
            f"ipyaladin {ipyaladin.__version__} expects Aladin Lite {' / '.join(sorted(wanted))} "
            f"but lasair_nb pins {ALADIN_LITE_VERSION}: change ALADIN_LITE_VERSION and "
            f"ALADIN_LITE_INTEGRITY in lasair_nb.widgets.assets (npm view "
            f"aladin-lite@VERSION dist.integrity), then run `{FETCH_COMMAND}`"
        )
    return imports[0]["name"]


@functools.cache
def local_esm() -> str:
    """The ipyaladin module with Aladin Lite inlined instead of imported from a CDN.

    Returns
    -------
    str
        The module :class:`LocalAladin` sends to the browser (made once per process).

    Raises
    ------
    AssetError
        When the build has not been fetched, or its version is not the one ipyaladin imports.
    """
    esm = ipyaladin_esm()
    name = check_versions(esm)
    packed = base64.b64encode(
        gzip.compress(aladin_lite_source(), compresslevel=9, mtime=0)
    ).decode()
    loader = _LOADER.format(
        name=name,
        key=json.dumps(f"lasair_nb:aladin-lite@{ALADIN_LITE_VERSION}"),
        packed=json.dumps(packed),
    )
    return CDN_IMPORT.sub(lambda _: loader, esm, count=1)


_VOTABLE = """<?xml version="1.0" encoding="utf-8"?>
<VOTABLE version="1.4" xmlns="http://www.ivoa.net/xml/VOTable/v1.3">
<RESOURCE type="results"><TABLE>
{fields}
<DATA><BINARY><STREAM encoding="base64">{stream}</STREAM></BINARY></DATA>
</TABLE></RESOURCE></VOTABLE>
"""


def _column_layout(name: str, column: Any) -> tuple[np.ndarray, str]:
    """A column's values as big-endian numpy records, and its VOTable FIELD."""
    values = np.ma.getdata(column)
    masked = np.ma.getmaskarray(column)
    unit = getattr(column, "unit", None)
    attributes = f"name={quoteattr(name)}"
    if unit is not None:
        attributes += f" unit={quoteattr(str(unit))}"
    if values.dtype.kind in "US" or values.dtype == object:
        if values.dtype == object:
            masked = masked | np.array([value is None for value in values], dtype=bool)
        text = np.char.encode(values.astype(str), "utf-8") if values.dtype.kind != "S" else values
        text = np.where(masked, b"", text)
        width = max(int(np.char.str_len(text).max()) if len(text) else 0, 1)
        # one length for every row (shorter values padded with spaces): numpy writes the
        # records in one go; Aladin Lite reads each length, so the padding stays in the value
        padded = np.char.ljust(text.astype(f"S{width}"), width)
        record = np.empty(len(values), dtype=[("n", ">u4"), ("s", f"S{width}")])
        record["n"], record["s"] = width, padded
        return record, f'<FIELD {attributes} datatype="char" arraysize="*"/>'
    if values.dtype.kind == "b":
        return values.astype(">u1"), f'<FIELD {attributes} datatype="unsignedByte"/>'
    if (
        values.dtype.kind in "iu"
        and not masked.any()
        and (not len(values) or (values.min() >= -(2**31) and values.max() < 2**31))
    ):
        return values.astype(">i4"), f'<FIELD {attributes} datatype="int"/>'
    if values.dtype.kind in "iuf":  # wide integers as doubles: Aladin Lite shows longs as BigInt
        floats = values.astype(">f8")
        floats[masked] = np.nan
        return floats, f'<FIELD {attributes} datatype="double"/>'
    raise ValueError(f"column {name!r} of type {values.dtype} cannot go into a VOTable here")


def binary_votable(table: Table) -> bytes:
    """A table as a VOTable 1.4 with a BINARY (base64) stream, written by numpy.

    Strings become ``char`` with ``arraysize="*"`` (Aladin Lite 3 reads no fixed-size
    char arrays and no ``unicodeChar``), padded with spaces to the longest value; booleans
    ``unsignedByte``; integers that fit ``int``, other numbers ``double`` (masked → NaN).
    Units are kept. The result is a valid VOTable (astropy reads it back).

    Parameters
    ----------
    table
        The rows to send.

    Returns
    -------
    bytes
        The VOTable document.
    """
    fields, parts = [], []
    for name in table.colnames:
        values, field = _column_layout(str(name), table[name])
        fields.append(field)
        parts.append(values)
    record = np.empty(len(table), dtype=[(f"c{i}", part.dtype) for i, part in enumerate(parts)])
    for i, part in enumerate(parts):
        record[f"c{i}"] = part
    stream = base64.encodebytes(record.tobytes()).decode("ascii")
    return _VOTABLE.format(fields="\n".join(fields), stream=stream).encode("utf-8")


class _BinaryVOTableTable(Table):
    """A table that ipyaladin's ``add_table`` writes as :func:`binary_votable`."""

    def write(self, target: BinaryIO, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        if kwargs.get("format") != "votable":
            super().write(target, *args, **kwargs)
            return
        target.write(binary_votable(self))


class LocalAladin(ipyaladin.Aladin):
    """An ``ipyaladin.Aladin`` that needs no CDN: Aladin Lite comes with ``lasair_nb``.

    It takes the same arguments and has the same traits and methods as
    ``ipyaladin.Aladin`` (``add_table``, ``add_moc``, ``add_graphic_overlay_from_region``,
    ``add_markers``, …).

    Raises
    ------
    AssetError
        On creation, when Aladin Lite has not been fetched (``lasair-nb widgets
        fetch-assets``) or does not match the installed ipyaladin.

    Examples
    --------
    >>> from lasair_nb.widgets.aladin import LocalAladin
    >>> sky = LocalAladin(target="M 31", fov=2)  # doctest: +SKIP
    """

    @property
    def _esm(self) -> str:  # type: ignore[override]  # anywidget reads it once, on creation
        return local_esm()

    def add_table(self, table: Table, **options: Any) -> Any:
        """As ``ipyaladin.Aladin.add_table``, sending the table as a BINARY VOTable.

        See :func:`binary_votable`; a 10⁵-row table goes in well under a second.
        """
        return super().add_table(_BinaryVOTableTable(table, copy=False), **options)
