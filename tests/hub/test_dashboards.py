"""The dashboards (/services/dashboards/): public pages without a login, friendly errors,
access from each dashboard's metadata, and "Open in my notebook"."""

from __future__ import annotations

import os
import pwd
from pathlib import Path

import nbformat
import pytest
import requests
import sqlalchemy as sa

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]

DASHBOARD_POOL = None  # the default pool of pre-started kernels
SUPERNOVA = "ZTF21abiuvdk"


def _points(db_url: str, object_id: str) -> int:
    """Detections and upper limits of an object, counted here in the archive's tables."""
    engine = sa.create_engine(sa.make_url(db_url).set(drivername="postgresql+psycopg2"))
    with engine.connect() as connection:
        counted = sum(
            connection.execute(
                sa.text(f"SELECT count(*) FROM {table} WHERE objectid = :id"),
                {"id": object_id},
            ).scalar_one()
            for table in ("candidates", "noncandidates")
        )
    engine.dispose()
    return counted


def _logged_in(hub, role: str):
    user = hub.user(role)
    assert "sent to the admin" in user.sign_up()
    hub.admin.session.get(f"{hub.base}/hub/authorize/{user.name}", timeout=30)
    assert user.log_in().status_code == 302
    return user


def test_the_public_object_page_needs_no_login(hub, page, page_log, block_network, screenshot):
    blocked = block_network(page)
    page.goto(f"{hub.base}/services/dashboards/object?objectId={SUPERNOVA}", timeout=120_000)
    assert "/hub/login" not in page.url
    page.locator(".lasair-light-curve").first.wait_for(state="visible", timeout=120_000)
    expected = _points(hub.db_url, SUPERNOVA)
    try:
        page.wait_for_function(
            "n => document.querySelectorAll('.lasair-light-curve path.dot').length === n",
            arg=expected,
            timeout=60_000,
        )
    finally:
        screenshot(page, "dashboard_object")
    assert page.locator("a.lasair-open-notebook").count() == 1
    content = page.content()
    assert "archive = ln.connect()" not in content  # sources stripped
    assert not [url for url in blocked if "esm.sh" in url or "aladin" in url], blocked
    assert not page_log.unexpected_errors(), page_log.errors


def test_the_view_is_in_the_address(hub, page, page_log, block_network, screenshot):
    """Fluxes, folded on half a day: set by the address, and carried by its link."""
    block_network(page)
    view = "kind=flux&fold=1&period=0.5"
    page.goto(f"{hub.base}/services/dashboards/object?objectId={SUPERNOVA}&{view}")
    page.locator(".lasair-light-curve").first.wait_for(state="visible", timeout=120_000)
    axis_labels = page.locator(".lasair-light-curve text.axislabel")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.lasair-light-curve text.axislabel')]"
        ".some(label => label.textContent.includes('flux'))",
        timeout=60_000,
    )
    screenshot(page, "dashboard_object_folded_flux")
    shown = axis_labels.all_text_contents()
    assert "flux (µJy)" in shown and "phase (period 0.5 d, shift 0.00)" in shown, shown
    shared = page.locator("a.lasair-view-link").get_attribute("href")
    assert shared == f"/services/dashboards/object?objectId={SUPERNOVA}&{view}", shared
    assert not page_log.unexpected_errors(), page_log.errors


def test_a_bad_object_id_gets_a_friendly_page(hub, page, screenshot):
    page.goto(f"{hub.base}/services/dashboards/object?objectId=ZTF'; DROP TABLE", timeout=120_000)
    problem = page.locator(".lasair-page-problem")
    problem.wait_for(state="visible", timeout=120_000)
    screenshot(page, "dashboard_bad_object")
    text = problem.inner_text()
    assert "is not a ZTF objectId" in text and "ZTF21abiuvdk" in text
    assert "Traceback" not in page.content()
    page.goto(f"{hub.base}/services/dashboards/object?objectId=ZTF99zzzzzzz", timeout=120_000)
    page.locator(".lasair-page-problem").wait_for(state="visible", timeout=120_000)
    assert "ZTF99zzzzzzz' in the archive" in page.locator(".lasair-page-problem").inner_text()


def test_unknown_dashboards_list_the_real_ones(hub) -> None:
    answer = requests.get(f"{hub.base}/services/dashboards/nothing_here", timeout=60)
    assert answer.status_code == 404
    assert "object" in answer.text and "cone" in answer.text


def test_a_logged_in_only_dashboard_sends_visitors_to_log_in(hub) -> None:
    anonymous = requests.get(f"{hub.base}/services/dashboards/members", timeout=60)
    assert anonymous.url.startswith(f"{hub.base}/hub/login"), anonymous.url
    assert "only for users" not in anonymous.text
    user = _logged_in(hub, "viewer")
    seen = user.session.get(f"{hub.base}/services/dashboards/members", timeout=120)
    assert seen.status_code == 200 and "/hub/login" not in seen.url


def test_a_private_dashboard_shows_the_login_page_in_the_browser(hub, page) -> None:
    page.goto(f"{hub.base}/services/dashboards/members", timeout=120_000)
    page.wait_for_url("**/hub/login**", timeout=60_000)
    assert page.locator("input[name=password]").count() == 1
    assert "only for users" not in page.content()


def test_a_group_dashboard_is_for_its_group_only(hub) -> None:
    user = _logged_in(hub, "outsider")
    refused = user.session.get(f"{hub.base}/services/dashboards/team", timeout=120)
    assert refused.status_code == 403 and "team" in refused.text, (
        refused.url,
        [(r.status_code, r.url, r.headers.get("Location")) for r in refused.history],
    )
    admin = hub.admin
    admin.api("POST", "/groups/team")
    added = admin.api("POST", "/groups/team/users", json={"users": [user.name]})
    assert added.status_code == 200, added.text
    # a new visit logs in to the dashboards again, so they see the new group
    for cookie in list(user.session.cookies):
        if cookie.path.startswith("/services/dashboards"):
            user.session.cookies.clear(cookie.domain, cookie.path, cookie.name)
    allowed = user.session.get(f"{hub.base}/services/dashboards/team", timeout=120)
    assert allowed.status_code == 200, allowed.text[-500:]


def test_open_in_my_notebook_recreates_the_view(hub) -> None:
    user = _logged_in(hub, "opener")
    answer = user.session.get(
        f"{hub.base}/services/notebooks/open/object?objectId={SUPERNOVA}&kind=flux&forced=1",
        allow_redirects=True,
        timeout=300,
    )
    assert f"/user/{user.name}/" in answer.url, answer.url
    account = pwd.getpwnam(user.name)
    made = (
        Path(account.pw_dir)
        / "dashboards"
        / f"object-objectId_{SUPERNOVA}_kind_flux_forced_1.ipynb"
    )
    assert made.is_file() and made.stat().st_uid == account.pw_uid
    book = nbformat.read(made, as_version=4)
    assert book.metadata.kernelspec.name == "lasair"
    assert f"page.QUERY = 'objectId={SUPERNOVA}&kind=flux&forced=1'" in "\n".join(
        c.source for c in book.cells
    )

    # run it as the user would: every cell, and the viewer shows the same object
    from nbclient import NotebookClient  # noqa: PLC0415

    env = {key: value for key, value in os.environ.items() if not key.startswith("LASAIR_")}
    book.metadata.kernelspec = {"name": "python3", "display_name": "Python 3"}
    previous = dict(os.environ)
    os.environ.clear()
    os.environ.update(env | {"LASAIR_DB_URL": hub.db_url})
    try:
        NotebookClient(book, timeout=300, kernel_name="python3").execute()
    finally:
        os.environ.clear()
        os.environ.update(previous)
    errors = [o for c in book.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
    state = book.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    titles = [m["state"].get("value", "") for m in state.values() if m["model_name"] == "HTMLModel"]
    assert any(f"{SUPERNOVA} <small>(1 of 1)</small>" in title for title in titles), titles
    # ... in the same view: its link carries it, and the plot's axis says flux
    view = f"object?objectId={SUPERNOVA}&amp;kind=flux&amp;forced=1"
    assert any(f'lasair-view-link" href="/services/dashboards/{view}"' in t for t in titles)
    labels = [m["state"].get("label") for m in state.values() if m["model_name"] == "AxisModel"]
    assert "flux (µJy)" in labels, labels


def test_open_in_my_notebook_follows_no_planted_link(hub, tmp_path: Path) -> None:
    user = _logged_in(hub, "planter")
    # the user's account exists once their server has started
    user.start_server()
    account = pwd.getpwnam(user.name)
    target = Path("/tmp") / f"planted-{user.name}"
    target.mkdir(mode=0o777, exist_ok=True)
    link = Path(account.pw_dir) / "dashboards"
    link.symlink_to(target)
    os.lchown(link, account.pw_uid, account.pw_gid)
    answer = user.session.get(
        f"{hub.base}/services/notebooks/open/object?objectId={SUPERNOVA}&kind=flux&forced=1",
        timeout=120,
    )  # (through the notebooks service's own login first)
    assert answer.status_code == 400 and "dashboards" in answer.text, answer.url
    assert list(target.iterdir()) == []  # nothing was written through the link
    target.rmdir()
