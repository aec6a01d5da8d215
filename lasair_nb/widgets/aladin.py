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
"""

from __future__ import annotations

import base64
import functools
import gzip
import json
import re

import ipyaladin

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
