"""LocalAladin draws its overlays in Voila with every non-local request blocked.

The page may reach only 127.0.0.1 (Voila), so Aladin Lite can come only from the module
LocalAladin sends, and the HiPS sky stays blank. Overlays have pure colours so a screenshot
shows which are drawn: a catalogue of 10 sources (red), a MOC (green, filled), an STC-S
circle (blue). The interaction: a mouse wheel zooms, the new field of view reaches the
kernel and comes back in a Label. The same notebook runs in JupyterLab.
"""

from __future__ import annotations

import io
import time
from pathlib import Path

import pytest

pytest.importorskip("ipyaladin")
pytest.importorskip("playwright")

from lasair_nb.widgets import assets
from lasair_nb.widgets.aladin import check_versions, ipyaladin_esm, local_esm

pytestmark = pytest.mark.slow


SKY_NOTEBOOK = [
    """\
import ipywidgets as widgets
import numpy as np
from astropy.table import Table
from astropy.coordinates import Angle, SkyCoord, Longitude, Latitude
from mocpy import MOC
from lasair_nb.widgets.aladin import LocalAladin

sky = LocalAladin(target="150 20", fov=3, height=500)
fov = widgets.Label(value=f"fov={sky.fov.deg:.4f}")
fov.add_class("lasair-fov")
sky.observe(lambda change: setattr(fov, "value", f"fov={change['new']:.4f}"), names="_fov")
widgets.VBox([sky, fov])
""",
    """\
angles = np.linspace(0, 2 * np.pi, 10, endpoint=False)
sources = Table(
    {"name": [f"src{i}" for i in range(10)],
     "ra": 150 + 0.4 * np.cos(angles) / np.cos(np.radians(20)),
     "dec": 20 + 0.4 * np.sin(angles)}
)
sky.add_table(sources, name="ten sources", color="#ff0000", shape="square", source_size=18)
moc = MOC.from_cone(
    lon=Longitude(150, "deg"), lat=Latitude(20, "deg"), radius=Angle(0.2, "deg"), max_depth=10
)
sky.add_moc(moc, color="#00ff00", fill=True, opacity=0.8, edge=True, name="cone MOC")
_ = sky.add_graphic_overlay_from_stcs("CIRCLE ICRS 150 20 0.55", color="#0000ff", line_width=4)
""",
]


def test_pinned_aladin_lite_is_the_one_ipyaladin_imports() -> None:
    import ipyaladin  # noqa: PLC0415

    assert ipyaladin.__aladin_lite_version__ == assets.ALADIN_LITE_VERSION
    assert check_versions(ipyaladin_esm()) == "C"


def test_local_module_has_no_cdn_import(aladin_lite: Path) -> None:
    esm = local_esm()
    assert "esm.sh" not in esm
    assert "DecompressionStream" in esm
    assert len(esm) < 1_500_000  # gzipped: not the 2.6 MB build as text


def test_missing_build_names_the_command(tmp_path: Path) -> None:
    with pytest.raises(assets.AssetError, match="lasair-nb widgets fetch-assets"):
        assets.aladin_lite_source(static=tmp_path)


def test_integrity_mismatch_is_refused() -> None:
    with pytest.raises(assets.AssetError, match="corrupt or altered"):
        assets.verify_integrity(b"not the tarball", assets.ALADIN_LITE_INTEGRITY)


def _colour_counts(png: bytes) -> dict[str, int]:
    import numpy as np  # noqa: PLC0415
    from PIL import Image  # noqa: PLC0415

    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    red, green, blue = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    return {
        "red": int(((red > 180) & (green < 90) & (blue < 90)).sum()),
        "green": int(((green > 150) & (red < 90) & (blue < 90)).sum()),
        "blue": int(((blue > 180) & (red < 90) & (green < 90)).sum()),
    }


def _assert_overlays_drawn(page, page_log, blocked, screenshot, name: str) -> None:
    widget = page.locator(".aladin-widget")
    widget.wait_for(state="visible", timeout=90_000)
    assert page.locator(".aladin-widget canvas.aladin-imageCanvas").count() == 1
    assert page.locator(".aladin-widget canvas.aladin-catalogCanvas").count() == 1

    # Catalogue and shapes are drawn on the 2D catalogue canvas: wait for its ink.
    page.wait_for_function(
        """() => {
            const canvas = document.querySelector(".aladin-widget canvas.aladin-catalogCanvas");
            if (!canvas || !canvas.width) return false;
            const context = canvas.getContext("2d");
            const pixels = context.getImageData(0, 0, canvas.width, canvas.height).data;
            let red = 0, blue = 0;
            for (let i = 0; i < pixels.length; i += 4) {
                if (pixels[i + 3] < 128) continue;
                if (pixels[i] > 180 && pixels[i + 1] < 90 && pixels[i + 2] < 90) red++;
                if (pixels[i + 2] > 180 && pixels[i] < 90 && pixels[i + 1] < 90) blue++;
            }
            return red > 100 && blue > 100;
        }""",
        timeout=60_000,
        polling=500,
    )
    page.wait_for_timeout(1000)  # the MOC is drawn by the WebGL core on the next frames
    counts = _colour_counts(screenshot(widget, name).read_bytes())
    print(f"pixels {counts}; {len(blocked)} requests blocked:")
    print(*sorted({url.split("?")[0] for url in blocked}), sep="\n  ")
    assert counts["red"] > 200, counts  # 10 squares of 18 px
    assert counts["blue"] > 200, counts  # the circle
    assert counts["green"] > 2000, counts  # the filled MOC
    assert counts["red"] < counts["blue"] < counts["green"], counts
    assert blocked, "the page asked for no HiPS tile: the network block was not tested"
    assert not [url for url in blocked if "aladin-lite" in url or "esm.sh" in url], blocked
    unexpected = page_log.unexpected_errors()
    assert not unexpected, unexpected  # only the HiPS sky failed, as it must offline


def test_overlays_drawn_offline_in_voila(  # noqa: PLR0917 - fixtures
    aladin_lite, tmp_path, start_voila, page, page_log, block_network, write_notebook, screenshot
) -> None:
    write_notebook(tmp_path, "sky", SKY_NOTEBOOK)
    voila = start_voila(tmp_path)
    blocked = block_network(page)
    started = time.monotonic()
    page.goto(voila.render_url("sky"), timeout=120_000)
    _assert_overlays_drawn(page, page_log, blocked, screenshot, "offline_aladin_voila")
    print(f"Voila page drawn in {time.monotonic() - started:.1f} s")

    # One interaction: zoom in with the wheel; the kernel hears of the new field of view.
    label = page.locator(".lasair-fov")
    before = label.inner_text()
    assert before.startswith("fov=")  # the front end has already set it (about 2.93)
    page.locator(".aladin-widget").hover()
    page.mouse.wheel(0, -400)
    page.wait_for_function(
        "(before) => document.querySelector('.lasair-fov').innerText.trim() !== before",
        arg=before,
        timeout=30_000,
    )
    after = float(label.inner_text().removeprefix("fov="))
    assert after < float(before.removeprefix("fov=")) * 0.9
    screenshot(page, "offline_aladin_voila_page")


def test_overlays_drawn_offline_in_jupyterlab(  # noqa: PLR0917 - fixtures
    aladin_lite,
    tmp_path,
    start_jupyterlab,
    run_in_jupyterlab,
    page,
    page_log,
    block_network,
    write_notebook,
    screenshot,
) -> None:
    write_notebook(tmp_path, "sky", SKY_NOTEBOOK)
    lab = start_jupyterlab(tmp_path)
    blocked = block_network(page)
    started = time.monotonic()
    run_in_jupyterlab(page, lab, "sky")
    _assert_overlays_drawn(page, page_log, blocked, screenshot, "offline_aladin_jupyterlab")
    print(f"JupyterLab notebook drawn in {time.monotonic() - started:.1f} s")
    screenshot(page, "offline_aladin_jupyterlab_page")


def test_tables_travel_as_binary_votables_astropy_reads_back() -> None:
    """LocalAladin sends tables as BINARY VOTables written by numpy: astropy's own parser
    reads back every value, unit and missing value."""
    import io  # noqa: PLC0415

    import numpy as np  # noqa: PLC0415
    from astropy import units as u  # noqa: PLC0415
    from astropy.io.votable import parse_single_table  # noqa: PLC0415
    from astropy.table import MaskedColumn, Table  # noqa: PLC0415

    from lasair_nb.widgets.aladin import binary_votable  # noqa: PLC0415

    rng = np.random.default_rng(3)
    table = Table(
        {
            "objectid": ["ZTF21abiuvdk", "ZTF22acfcycj", "a<&>\"'b"],
            "ra": rng.uniform(0, 360, 3) * u.deg,
            "dec": rng.uniform(-90, 90, 3) * u.deg,
            "ncand": [1, 2**40, 3],  # too wide for int: sent as double
            "nights": [4, 5, 6],
            "public": [True, False, True],
            "mag": MaskedColumn([18.5, 0.0, 19.25], mask=[False, True, False]),
        }
    )
    back = parse_single_table(io.BytesIO(binary_votable(table))).to_table()
    assert list(back.colnames) == list(table.colnames)
    assert [str(value).rstrip() for value in back["objectid"]] == list(table["objectid"])
    np.testing.assert_array_equal(back["ra"], table["ra"].value)
    assert back["ra"].unit == u.deg
    np.testing.assert_array_equal(back["ncand"], [1.0, 2.0**40, 3.0])
    np.testing.assert_array_equal(back["nights"], [4, 5, 6])
    np.testing.assert_array_equal(back["public"], [1, 0, 1])
    assert np.isnan(back["mag"][1]) or np.ma.is_masked(back["mag"][1])
    assert back["mag"][2] == 19.25
