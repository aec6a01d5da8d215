"""The hub in Chromium: a new user signs up on the page, is approved, logs in, and their
JupyterLab opens with the Lasair kernel; a notebook cell runs as them and a widget draws."""

from __future__ import annotations

import pytest

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]


def test_sign_up_log_in_and_work_in_the_lab(hub, page, page_log, block_network, screenshot):
    blocked = block_network(page)
    user = hub.user("carol")
    page.goto(f"{hub.base}/hub/signup")
    page.fill("input[name=username]", user.name)
    page.fill("input[name=signup_password]", user.password)
    page.fill("input[name=signup_password_confirmation]", user.password)
    page.click("input[type=submit], button[type=submit]")
    assert "sent to the admin" in page.locator(".alert").first.inner_text()
    approval = hub.admin.session.get(
        f"{hub.base}/hub/authorize/{user.name}", allow_redirects=False, timeout=30
    )
    assert approval.status_code == 302
    page.goto(f"{hub.base}/hub/login")
    page.fill("input[name=username]", user.name)
    page.fill("input[name=password]", user.password)
    page.click("input[type=submit], button[type=submit]")
    page.wait_for_url(f"**/user/{user.name}/lab**", timeout=180_000)
    launcher = page.locator(".jp-LauncherCard", has_text="Lasair (Python 3)").first
    launcher.wait_for(timeout=180_000)
    assert page.locator(".jp-DirListing-item", has_text="contributed").count() == 1
    assert page.locator(".jp-DirListing-item", has_text="system").count() == 1
    launcher.click()
    page.locator(".jp-Notebook").wait_for(timeout=60_000)
    # the kernel is connected and idle (the status bar says so): a cell run earlier is lost
    page.get_by_text("Lasair (Python 3) | Idle").wait_for(timeout=120_000)
    page.locator(".jp-Cell .cm-content").first.click()
    page.keyboard.type(
        "print(archive.user)\nviewer = ln.ObjectViewer(archive, 'ZTF21abiuvdk')\nviewer"
    )
    page.keyboard.press("Shift+Enter")
    output = page.locator(".jp-OutputArea-output").first
    try:
        output.wait_for(timeout=120_000)
        page.locator(".lasair-light-curve").first.wait_for(state="visible", timeout=120_000)
    finally:
        screenshot(page, "hub_lab_object_viewer")
    page.wait_for_timeout(2000)  # the marks' first frame
    screenshot(page, "hub_lab_object_viewer")
    assert output.inner_text().strip() == user.name
    assert (
        page.locator(".lasair-light-curve .mark circle, .lasair-light-curve path.dot").count() > 0
    )
    assert not [url for url in blocked if "esm.sh" in url or "aladin" in url], blocked
    assert not page_log.unexpected_errors(), page_log.errors
