"""``lasair-nb widgets fetch-assets``: the pinned Aladin Lite from the npm registry."""

from __future__ import annotations

from pathlib import Path

import pytest

from lasair_nb.cli.main import main
from lasair_nb.widgets import assets


def test_fetch_keeps_the_verified_module_and_licence(tmp_path: Path) -> None:
    kept = assets.fetch_aladin_lite(static=tmp_path)
    assert kept == tmp_path / f"aladin-lite-{assets.ALADIN_LITE_VERSION}.js"
    assert kept.read_bytes().rstrip().endswith(b"export{f as default};")
    assert (tmp_path / f"aladin-lite-{assets.ALADIN_LITE_VERSION}.COPYING").is_file()
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(
        [kept.name, f"aladin-lite-{assets.ALADIN_LITE_VERSION}.COPYING"]
    )  # no .partial left
    kept.write_bytes(b"kept")
    assert assets.fetch_aladin_lite(static=tmp_path).read_bytes() == b"kept"  # not again
    assert assets.fetch_aladin_lite(static=tmp_path, force=True).stat().st_size > 2_000_000


def test_pin_disagreeing_with_the_registry_is_refused(tmp_path: Path) -> None:
    with pytest.raises(assets.AssetError, match="not the pinned"):
        assets.fetch_aladin_lite(static=tmp_path, integrity="sha512-AAAA")
    assert not list(tmp_path.iterdir())


def test_only_the_npm_registry_is_asked(tmp_path: Path) -> None:
    with pytest.raises(assets.AssetError, match="refusing"):
        assets._download("https://example.org/aladin.tgz", timeout=1)


def test_command(aladin_lite: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["widgets", "fetch-assets"]) == 0
    assert str(aladin_lite) in capsys.readouterr().out
