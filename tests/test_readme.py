"""The README's code runs: its Python examples against a seeded archive, its settings table.

Each ```python block of the README runs in order, in one namespace, with the archive
as ``LASAIR_DB_URL`` and the files the examples name beside it (the 3HSP catalogue and
the GW170817 sky map read in place through symbolic links; a small TNS CSV written
here).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from lasair_nb.settings import Settings

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)


def test_the_readme_has_python_examples() -> None:
    assert len(python_blocks()) >= 4


@pytest.mark.slow
def test_readme_python_examples_run(
    make_seeded_archive: Callable[[], str],
    shared_data: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = make_seeded_archive()
    monkeypatch.setenv("LASAIR_DB_URL", url)
    monkeypatch.delenv("LASAIR_USER", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "3hsp.csv").symlink_to(shared_data / "catalogs" / "3hsp.csv")
    (tmp_path / "bayestar.fits.gz").symlink_to(
        shared_data / "skymaps" / "GW170817" / "bayestar.fits.gz"
    )
    (tmp_path / "tns_public_objects.csv").write_text(
        '"2024-01-01 00:00:00"\n'
        "objid,name_prefix,name,ra,declination,type,redshift\n"
        "1,SN,2021abc,10.0,20.0,SN Ia,0.05\n"
    )
    namespace: dict[str, object] = {"__name__": "readme"}
    for number, block in enumerate(python_blocks(), start=1):
        try:
            exec(compile(block, f"README.md python block {number}", "exec"), namespace)
        except Exception as error:  # noqa: BLE001 - any failure of an example fails the test
            pytest.fail(f"README python block {number} failed: {type(error).__name__}: {error}")
    archive = namespace["archive"]
    assert len(archive.watchlists.list()) == 1
    assert namespace["area"] > 0
    archive.close()


def test_every_setting_is_in_the_readme() -> None:
    text = README.read_text()
    missing = [
        f"LASAIR_{name.upper()}"
        for name in Settings.model_fields
        if f"`LASAIR_{name.upper()}`" not in text
    ]
    assert not missing, f"settings missing from the README: {missing}"
