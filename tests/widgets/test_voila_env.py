"""A Voila kernel gets the test's environment: here the URL of a seeded archive."""

from __future__ import annotations

import pytest

pytest.importorskip("voila")
pytest.importorskip("playwright")

pytestmark = pytest.mark.slow

COUNT_NOTEBOOK = [
    """\
import ipywidgets as widgets
import lasair_nb as ln

archive = ln.connect()  # LASAIR_DB_URL, from the test through Voila
count = archive.sql("SELECT count(*) AS n FROM objects")["n"].iloc[0]
label = widgets.Label(value=f"objects={count}")
label.add_class("lasair-count")
label
""",
]


def test_kernel_reads_the_seeded_archive(  # noqa: PLR0917 - fixtures
    make_seeded_archive, tmp_path, start_voila, page, block_network, write_notebook
) -> None:
    url = make_seeded_archive()
    write_notebook(tmp_path, "count", COUNT_NOTEBOOK)
    voila = start_voila(tmp_path, env={"LASAIR_DB_URL": url})
    block_network(page)
    page.goto(voila.render_url("count"), timeout=120_000)
    label = page.locator(".lasair-count")
    label.or_(page.get_by_text("Traceback")).first.wait_for(state="visible", timeout=90_000)
    if not label.count():
        pytest.fail(f"page:\n{page.inner_text('body')[-3000:]}\nVoila:\n{voila.log()[-3000:]}")
    count = int(label.inner_text().removeprefix("objects="))
    assert count > 100, voila.log()[-3000:]
