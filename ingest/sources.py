"""Where alert packets come from: files, directories and nightly tarballs.

Each packet is the bytes of one Avro container file, labelled with where it was
read (a path, or ``tarball.tar.gz:member``) so a quarantined packet can be traced.
"""

from __future__ import annotations

import tarfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from lasair_nb.errors import IngestError

TARBALL_SUFFIXES = (".tar.gz", ".tgz", ".tar")


@dataclass(frozen=True)
class Packet:
    """The raw bytes of one alert packet and where they came from."""

    data: bytes
    source: str


def is_tarball(path: Path) -> bool:
    """True for ``.tar.gz``, ``.tgz`` and ``.tar`` files."""
    return path.name.endswith(TARBALL_SUFFIXES)


def expand_paths(paths: Sequence[str | Path]) -> list[Path]:
    """List the files to read: files as given, directories' ``.avro`` files and tarballs.

    Directories are searched recursively, in sorted order.

    Raises
    ------
    IngestError
        If a path does not exist.
    """
    files: list[Path] = []
    for given in paths:
        path = Path(given).expanduser()
        if path.is_dir():
            files.extend(
                sorted(
                    p
                    for p in path.rglob("*")
                    if p.is_file() and (p.suffix == ".avro" or is_tarball(p))
                )
            )
        elif path.is_file():
            files.append(path)
        else:
            raise IngestError(
                f"{given}: no such file or directory; give .avro files, directories of "
                "them, or .tar.gz/.tgz nightly tarballs"
            )
    return files


def count_packets(files: Sequence[Path]) -> int | None:
    """Number of packets in ``files`` if known without reading tarballs, else None."""
    return None if any(is_tarball(path) for path in files) else len(files)


def read_packets(files: Sequence[Path]) -> Iterator[Packet]:
    """Yield every packet of ``files``: one per plain file, one per tarball member."""
    for path in files:
        if not is_tarball(path):
            yield Packet(path.read_bytes(), str(path))
            continue
        try:
            with tarfile.open(path, "r:*") as tar:
                for member in tar:
                    if not member.isfile():
                        continue
                    handle = tar.extractfile(member)
                    if handle is not None:
                        yield Packet(handle.read(), f"{path}:{member.name}")
        except (tarfile.TarError, EOFError, OSError) as error:
            raise IngestError(f"{path}: cannot read tarball: {error}") from error
