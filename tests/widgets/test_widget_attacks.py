"""What one user writes and another user's widget shows is text, never markup.

A public annotation, a saved query's result or an object name can carry HTML; the
widgets render them in the reader's JupyterLab or Voila page, so they must arrive
escaped (no script, no event handler, no link the author chose).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import lasair_nb as ln

pytest.importorskip("ipywidgets")

SUPERNOVA = "ZTF21abiuvdk"
PAYLOAD = '<img src=x onerror="alert(1)"><script>alert(2)</script>'


@pytest.fixture(scope="module")
def archive(make_seeded_archive) -> Iterator[ln.Archive]:
    archive = ln.connect(make_seeded_archive())
    yield archive
    archive.close()


def _html_of(widget) -> str:
    """Every HTML value inside a widget tree."""
    parts = []
    stack = [widget]
    while stack:
        item = stack.pop()
        value = getattr(item, "value", None)
        if isinstance(value, str) and type(item).__name__ == "HTML":
            parts.append(value)
        stack.extend(getattr(item, "children", ()))
    return "\n".join(parts)


def test_query_results_are_escaped(archive: ln.Archive) -> None:
    builder = ln.QueryBuilder(
        archive, sql=f"SELECT '{PAYLOAD}' AS label, objectid FROM objects LIMIT 3", mode="sql"
    )
    builder.run()
    assert builder.wait(60)
    assert builder.result["label"].tolist() == [PAYLOAD] * 3
    shown = _html_of(builder)
    assert "&lt;script&gt;" in shown
    assert "<script>" not in shown and "<img" not in shown


def test_annotations_in_the_viewer_are_escaped(archive: ln.Archive) -> None:
    archive.annotate(SUPERNOVA, comment=PAYLOAD)
    viewer = ln.ObjectViewer(archive, SUPERNOVA)
    shown = _html_of(viewer)
    assert "&lt;script&gt;" in shown
    assert "<script>" not in shown and "<img src=x" not in shown


def test_an_error_naming_hostile_text_is_escaped(archive: ln.Archive) -> None:
    viewer = ln.ObjectViewer(archive, PAYLOAD)
    shown = _html_of(viewer)
    assert "<script>" not in shown and "<img src=x" not in shown
