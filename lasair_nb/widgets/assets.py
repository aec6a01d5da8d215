"""The JavaScript the sky widgets load locally: the npm ``aladin-lite`` build.

ipyaladin imports Aladin Lite from a CDN when its widget is shown; a notebook server
without internet would show nothing. :func:`fetch_aladin_lite` (``lasair-nb widgets
fetch-assets``) downloads the pinned ``aladin-lite`` tarball from the npm registry once,
checks its sha512 integrity against both the pin below and the registry's metadata, and
keeps its single ES module (the WebAssembly core is inlined in it) and its licence in
``lasair_nb/widgets/static/``. :func:`aladin_lite_source` reads it back for
:class:`lasair_nb.widgets.aladin.LocalAladin`.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import tarfile
import urllib.request
from pathlib import Path

from lasair_nb.errors import LasairError

ALADIN_LITE_VERSION = "3.9.2-beta"
"""The ``aladin-lite`` npm version ipyaladin 0.8 imports (``ipyaladin.__aladin_lite_version__``)."""
ALADIN_LITE_INTEGRITY = (
    "sha512-jhz96qFhGz5Yvyyp/yZtcpv4gOVoBbKJoTZz0mEVn+hgiDVOrfEL1yAaBa"
    "ASngjmCaoyG//tSe4noPwD3cSywA=="
)
"""The npm ``dist.integrity`` of that version's tarball (Subresource Integrity format)."""
NPM_REGISTRY = "https://registry.npmjs.org"
STATIC = Path(__file__).resolve().parent / "static"
"""Where fetched assets are kept (not in git: ``lasair-nb widgets fetch-assets`` fills it)."""
FETCH_COMMAND = "lasair-nb widgets fetch-assets"

_MEMBERS = {
    "package/COPYING": "aladin-lite-{version}.COPYING",
    "package/dist/aladin.js": "aladin-lite-{version}.js",
}
"""Tarball members kept, and their names; the module last, so its presence means all are kept."""


class AssetError(LasairError):
    """A widget asset is missing, or could not be fetched or verified."""


def aladin_lite_path(version: str = ALADIN_LITE_VERSION, static: Path = STATIC) -> Path:
    """Path of the kept Aladin Lite ES module of ``version``.

    Parameters
    ----------
    version
        The ``aladin-lite`` npm version.
    static
        The assets folder.

    Returns
    -------
    Path
        ``static/aladin-lite-VERSION.js`` (it may not exist yet).
    """
    return static / f"aladin-lite-{version}.js"


def aladin_lite_source(version: str = ALADIN_LITE_VERSION, static: Path = STATIC) -> bytes:
    """The kept Aladin Lite ES module.

    Parameters
    ----------
    version
        The ``aladin-lite`` npm version.
    static
        The assets folder.

    Returns
    -------
    bytes
        The module's text, UTF-8.

    Raises
    ------
    AssetError
        When it has not been fetched; the message names the command that fetches it.
    """
    path = aladin_lite_path(version, static)
    if not path.is_file():
        raise AssetError(
            f"Aladin Lite {version} is not installed at {path}; the sky widgets load it "
            f"from there instead of a CDN. Fetch it once from the npm registry with "
            f"`{FETCH_COMMAND}` (or lasair_nb.widgets.assets.fetch_aladin_lite())"
        )
    return path.read_bytes()


def verify_integrity(data: bytes, integrity: str) -> None:
    """Check bytes against an npm ``dist.integrity`` value.

    Parameters
    ----------
    data
        The downloaded tarball.
    integrity
        ``sha512-BASE64``, as the registry gives it.

    Raises
    ------
    AssetError
        When the value is not a sha512 integrity, or the digest differs.
    """
    algorithm, _, expected = integrity.partition("-")
    if algorithm != "sha512" or not expected:
        raise AssetError(f"expected a sha512-… integrity value, got {integrity!r}")
    actual = base64.b64encode(hashlib.sha512(data).digest()).decode()
    if actual != expected:
        raise AssetError(
            f"the tarball's sha512 is {actual}, not the expected {expected}: "
            "a corrupt or altered download; nothing was kept"
        )


def _download(url: str, timeout: float) -> bytes:
    if not url.startswith(NPM_REGISTRY + "/"):
        raise AssetError(f"refusing to download {url}: assets come from {NPM_REGISTRY} only")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.read()
    except OSError as error:
        raise AssetError(
            f"cannot download {url} ({error}); {FETCH_COMMAND} needs the npm registry"
        ) from error


def fetch_aladin_lite(
    version: str = ALADIN_LITE_VERSION,
    integrity: str = ALADIN_LITE_INTEGRITY,
    static: Path = STATIC,
    *,
    force: bool = False,
    timeout: float = 60.0,
) -> Path:
    """Download the pinned ``aladin-lite`` tarball from the npm registry and keep its module.

    The registry's metadata for ``version`` must give the pinned ``integrity``, and the
    tarball must match it; only then are its ES module and licence written (atomically).

    Parameters
    ----------
    version
        The ``aladin-lite`` npm version.
    integrity
        Its expected npm ``dist.integrity`` (``sha512-…``).
    static
        The assets folder, made if missing.
    force
        Download again even when the module is already kept.
    timeout
        Seconds allowed for each HTTP request.

    Returns
    -------
    Path
        The kept module (see :func:`aladin_lite_path`).

    Raises
    ------
    AssetError
        When the registry cannot be reached, disagrees with the pin, or the tarball does not
        verify or lacks the module.
    """
    target = aladin_lite_path(version, static)
    if target.is_file() and not force:
        return target
    metadata = json.loads(_download(f"{NPM_REGISTRY}/aladin-lite/{version}", timeout))
    dist = metadata.get("dist", {})
    if dist.get("integrity") != integrity:
        raise AssetError(
            f"the npm registry gives aladin-lite {version} the integrity "
            f"{dist.get('integrity')!r}, not the pinned {integrity!r}"
        )
    tarball = _download(dist.get("tarball", ""), timeout)
    verify_integrity(tarball, integrity)
    static.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
        for member, name in _MEMBERS.items():
            try:
                extracted = archive.extractfile(member)
            except KeyError as error:
                raise AssetError(f"the aladin-lite {version} tarball has no {member}") from error
            if extracted is None:
                raise AssetError(f"{member} in the aladin-lite {version} tarball is not a file")
            path = static / name.format(version=version)
            partial = path.with_name(path.name + ".partial")
            partial.write_bytes(extracted.read())
            partial.replace(path)
    return target
