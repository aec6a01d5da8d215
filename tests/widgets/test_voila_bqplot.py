"""bqplot renders in Voila, offline: a scatter of 5 points, and a button that adds one."""

from __future__ import annotations

import pytest

pytest.importorskip("bqplot")
pytest.importorskip("playwright")

pytestmark = pytest.mark.slow

SCATTER_NOTEBOOK = [
    """\
import bqplot as bq
import ipywidgets as widgets
import numpy as np

x_scale, y_scale = bq.LinearScale(), bq.LinearScale()
scatter = bq.Scatter(
    x=[1, 2, 3, 4, 5], y=[2, 4, 1, 5, 3], scales={"x": x_scale, "y": y_scale}, colors=["#d62728"]
)
figure = bq.Figure(
    marks=[scatter],
    axes=[bq.Axis(scale=x_scale, label="x"), bq.Axis(scale=y_scale, orientation="vertical")],
    title="five points",
)
button = widgets.Button(description="add a point")
button.add_class("lasair-add")


def add_point(_):
    with scatter.hold_sync():
        scatter.x = np.append(scatter.x, 6)
        scatter.y = np.append(scatter.y, 2)


button.on_click(add_point)
widgets.VBox([figure, button])
""",
]


def test_scatter_renders_and_updates(  # noqa: PLR0917 - fixtures
    tmp_path, start_voila, page, page_log, block_network, write_notebook, screenshot
) -> None:
    write_notebook(tmp_path, "scatter", SCATTER_NOTEBOOK)
    voila = start_voila(tmp_path)
    block_network(page)
    page.goto(voila.render_url("scatter"), timeout=120_000)

    dots = page.locator(".bqplot path.dot")
    page.locator(".bqplot").first.wait_for(state="visible", timeout=90_000)
    page.wait_for_function(
        "() => document.querySelectorAll('.bqplot path.dot').length === 5", timeout=30_000
    )
    assert dots.count() == 5
    assert page.locator(".bqplot .mainheading").text_content() == "five points"
    screenshot(page.locator(".bqplot").first, "voila_bqplot_scatter")

    page.locator(".lasair-add").click()
    page.wait_for_function(
        "() => document.querySelectorAll('.bqplot path.dot').length === 6", timeout=30_000
    )
    assert dots.count() == 6
    screenshot(page, "voila_bqplot_page")
    assert not page_log.errors, page_log.errors
