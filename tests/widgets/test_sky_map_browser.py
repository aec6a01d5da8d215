"""SkyMap in Voila with every non-local request blocked: the overlays a person sees.

The seeded archive with GW170817's sky map, in an all-sky view: the time window's objects
(yellow circles), ZTF coverage squares (g green, r red), the credible-level contours (white
to blue MOC perimeters). Aladin Lite comes from LocalAladin's module, so the HiPS sky stays
blank and every coloured pixel is an overlay. The interaction: widening the time window in
its text box reaches the kernel, and the objects overlay is redrawn with more objects; then
the coverage layer's checkbox hides the squares. (A click on an object is tested by traits
in ``test_sky_map.py``: in headless Chromium, Aladin Lite did not pick a source under the
pointer, so a real click is not yet tested here.) A second test times 10⁵ objects drawn.
"""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

pytest.importorskip("ipyaladin")
pytest.importorskip("playwright")

import lasair_nb as ln

pytestmark = pytest.mark.slow


CANVAS_COLOURS = """() => {
    const canvas = document.querySelector(".aladin-widget canvas.aladin-catalogCanvas");
    if (!canvas || !canvas.width) return null;
    const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
    const counts = {red: 0, green: 0, yellow: 0};
    for (let i = 0; i < pixels.length; i += 4) {
        if (pixels[i + 3] < 128) continue;
        const [r, g, b] = [pixels[i], pixels[i + 1], pixels[i + 2]];
        if (r > 180 && g < 90 && b < 90) counts.red++;
        if (g > 180 && r < 90 && b < 90) counts.green++;
        if (r > 180 && g > 180 && b < 90) counts.yellow++;
    }
    return counts;
}"""
"""Pixels of each overlay colour on Aladin Lite's 2D canvas (catalogues and shapes)."""


def _screenshot_yellow(png: bytes) -> int:
    """Pixels of the objects' yellow (blended over the dark sky) in a screenshot."""
    import numpy as np  # noqa: PLC0415
    from PIL import Image  # noqa: PLC0415

    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    red, green, blue = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    return int(((red > 150) & (green > 150) & (red - blue > 80) & (abs(red - green) < 40)).sum())


def _frame_times(page: Any) -> list[float]:
    """performance.now() at 11 successive animation frames (responsiveness, reported)."""
    return page.evaluate(
        """() => new Promise((done) => {
             const times = [performance.now()];
             const step = () => { times.push(performance.now());
               if (times.length < 11) requestAnimationFrame(step); else done(times); };
             requestAnimationFrame(step); })"""
    )


def _screenshot_blue(png: bytes) -> int:
    import numpy as np  # noqa: PLC0415
    from PIL import Image  # noqa: PLC0415

    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    red, green, blue = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    return int(((blue > 180) & (red < 120) & (green < 120)).sum())


@pytest.fixture(scope="module")
def archive_url(make_seeded_archive, shared_data: Path) -> str:
    url = make_seeded_archive()
    archive = ln.connect(url)
    archive.skymaps.ingest(
        shared_data / "skymaps" / "GW170817" / "bayestar.fits.gz", name="GW170817"
    )
    archive.close()
    return url


def _window(archive_url: str) -> tuple[float, float]:
    engine = sa.create_engine(archive_url)
    with engine.connect() as connection:
        middle = connection.execute(
            sa.text("SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY jdmax) FROM objects")
        ).scalar_one()
    engine.dispose()
    return middle - 1.5, middle + 1.5


def test_sky_map_draws_its_layers_offline_in_voila(  # noqa: PLR0917 - fixtures
    aladin_lite,
    archive_url,
    tmp_path,
    start_voila,
    page,
    page_log,
    block_network,
    write_notebook,
    screenshot,
) -> None:
    since, until = _window(archive_url)
    write_notebook(
        tmp_path,
        "sky_map",
        [
            f"""\
import lasair_nb as ln
from lasair_nb.widgets.sky_map import SkyMap
from ingest.simulator.grid import field_centres  # the simulated nights' own field grid

archive = ln.connect({archive_url!r})
sky = SkyMap(
    archive, fields=field_centres(), since="{since}", until="{until}", target="197.45 -23.38",
    skymap_name="GW170817", height=560,
)
sky
"""
        ],
    )
    voila = start_voila(tmp_path)
    blocked = block_network(page)
    started = time.monotonic()
    page.goto(voila.render_url("sky_map"), timeout=120_000)
    widget = page.locator(".aladin-widget")
    widget.wait_for(state="visible", timeout=90_000)
    assert page.locator(".aladin-widget canvas.aladin-imageCanvas").count() == 1

    try:
        page.wait_for_function(
            f"() => {{ const c = ({CANVAS_COLOURS})(); "
            "return c && c.red > 300 && c.green > 300 && c.yellow > 30; }",
            timeout=90_000,
            polling=500,
        )
    except Exception:
        screenshot(page, "sky_map_voila_failed")
        print("canvas:", page.evaluate(CANVAS_COLOURS), "errors:", page_log.errors[-3:])
        print("console:", *page_log.console[-20:], sep="\n  ")
        print(voila.log()[-3000:])
        raise
    page.wait_for_timeout(1500)  # the MOC contours are drawn by the WebGL core
    drawn_in = time.monotonic() - started
    before = page.evaluate(CANVAS_COLOURS)
    summary = page.locator(".lasair-sky-summary")
    first_summary = summary.inner_text()
    screenshot(page, "sky_map_voila")
    blue = _screenshot_blue(screenshot(widget, "sky_map_voila_sky").read_bytes())
    print(f"drawn in {drawn_in:.1f} s; canvas {before}; blue screenshot pixels {blue}")
    print(f"summary: {first_summary}")
    assert blue > 100, blue  # the 90 % contour (pure blue) and its inner levels

    # The interaction: widen the window by ten days; the objects overlay is redrawn.
    count_before = int(first_summary.split(" objects")[0])
    since_box = page.locator(".lasair-sky-since input")
    since_box.fill(str(since - 10))
    since_box.press("Enter")
    page.wait_for_function(
        "(before) => document.querySelector('.lasair-sky-summary').innerText.trim() !== before",
        arg=first_summary.strip(),
        timeout=60_000,
    )
    count_after = int(summary.inner_text().split(" objects")[0])
    page.wait_for_function(
        f"(before) => {{ const c = ({CANVAS_COLOURS})(); return c && c.yellow > before; }}",
        arg=before["yellow"],
        timeout=60_000,
        polling=500,
    )
    after = page.evaluate(CANVAS_COLOURS)
    screenshot(page, "sky_map_voila_wider_window")
    print(f"objects {count_before} -> {count_after}; canvas {before} -> {after}")
    assert count_after > count_before

    # A layer's checkbox hides it: the coverage squares go, the objects stay.
    page.locator(".widget-checkbox", has_text="coverage").locator("input").uncheck()
    page.wait_for_function(
        f"() => {{ const c = ({CANVAS_COLOURS})(); return c && c.red + c.green < 100; }}",
        timeout=60_000,
        polling=500,
    )
    screenshot(page, "sky_map_voila_no_coverage")
    assert page.evaluate(CANVAS_COLOURS)["yellow"] > 100  # the objects stay

    assert blocked, "the page asked for no HiPS tile: the network block was not tested"
    assert not [url for url in blocked if "aladin-lite" in url or "esm.sh" in url], blocked
    unexpected = page_log.unexpected_errors()
    assert not unexpected, unexpected
    assert "Traceback" not in voila.log(), voila.log()[-3000:]


def test_a_hundred_thousand_objects_are_drawn(  # noqa: PLR0917 - fixtures
    aladin_lite, archive_url, tmp_path, start_voila, page, block_network, write_notebook, screenshot
) -> None:
    write_notebook(
        tmp_path,
        "sky_map_big",
        [
            f"""\
import time
import numpy as np
import pandas as pd
import lasair_nb as ln
from lasair_nb.widgets.sky_map import SkyMap

rng = np.random.default_rng(1)
count = 100_000
rows = pd.DataFrame({{
    "objectid": [f"ZTF24{{index:07d}}" for index in range(count)],
    "ramean": rng.uniform(0, 360, count),
    "decmean": np.degrees(np.arcsin(rng.uniform(-1, 1, count))),
}})
started = time.perf_counter()
sky = SkyMap(ln.connect({archive_url!r}), layers=["objects"], height=560)
sky.show_objects(rows)
print(f"kernel: {{time.perf_counter() - started:.2f}} s")
sky
"""
        ],
    )
    voila = start_voila(tmp_path)
    block_network(page)
    started = time.monotonic()
    page.goto(voila.render_url("sky_map_big"), timeout=180_000)
    page_served = time.monotonic() - started
    summary = page.locator(".lasair-sky-summary")
    summary.filter(has_text="drawn as their density").wait_for(timeout=180_000)
    sky = page.locator(".aladin-widget").first
    # the density cells are drawn by Aladin Lite's WebGL layer: look at the screen
    for _ in range(60):
        if _screenshot_yellow(sky.screenshot()) > 20_000:
            break
        page.wait_for_timeout(1000)
    drawn = time.monotonic() - started
    screenshot(page, "sky_map_voila_100k")
    assert _screenshot_yellow(sky.screenshot()) > 20_000
    assert summary.inner_text().startswith("100000 objects")
    frames = _frame_times(page)
    print(
        f"10^5 objects: page served in {page_served:.1f} s, density drawn in {drawn:.1f} s; "
        f"then 10 frames in {frames[-1] - frames[0]:.0f} ms"
    )
    # The user zooms in with the mouse wheel: the kernel follows the view and, with
    # fewer than max_markers objects in it, draws each one (on the catalogue canvas).
    sky.hover()
    for _ in range(80):
        page.mouse.wheel(0, -240)
        page.wait_for_timeout(150)
        if "drawn as their density" not in summary.inner_text():
            break
    page.wait_for_function(
        f"() => {{ const c = ({CANVAS_COLOURS})(); return c && c.yellow > 200; }}",
        timeout=120_000,
        polling=500,
    )
    screenshot(page, "sky_map_voila_100k_zoomed")
    assert "drawn as their density" not in summary.inner_text()
    frames = _frame_times(page)
    print(f"zoomed in, markers drawn: 10 frames in {frames[-1] - frames[0]:.0f} ms")
