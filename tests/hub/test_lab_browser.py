"""The hub in Chromium: a new user signs up on the page, is approved, logs in, and their
JupyterLab opens with the Lasair kernel; a notebook cell runs as them and a widget draws."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[2]

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
    _approve_and_log_in(hub, page, user)
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


def _approve_and_log_in(hub, page, user) -> None:
    """The administrator approves ``user`` (signed up already); they log in on the page."""
    approval = hub.admin.session.get(
        f"{hub.base}/hub/authorize/{user.name}", allow_redirects=False, timeout=30
    )
    assert approval.status_code == 302
    page.goto(f"{hub.base}/hub/login")
    page.fill("input[name=username]", user.name)
    page.fill("input[name=password]", user.password)
    page.click("input[type=submit], button[type=submit]")
    page.wait_for_url(f"**/user/{user.name}/lab**", timeout=180_000)


def test_getting_started_runs_in_the_lab_and_travels_to_system(
    hub, page, page_log, block_network, screenshot
):
    """Dave opens the getting-started example from ~/system, runs every cell (its widgets
    draw), saves a copy into ~/contributed; the administrator promotes it; Erin finds it,
    read-only, in her ~/system."""
    blocked = block_network(page)
    dave = hub.user("dave")
    assert "sent to the admin" in dave.sign_up()
    _approve_and_log_in(hub, page, dave)
    page.goto(f"{hub.base}/user/{dave.name}/lab/tree/system/examples/01_getting_started.ipynb")
    page.get_by_text("Lasair (Python 3) | Idle").wait_for(timeout=180_000)
    example = nbformat.read(REPO / "notebooks" / "examples" / "01_getting_started.ipynb", 4)
    code_cells = sum(cell.cell_type == "code" for cell in example.cells)
    # JupyterLab draws the cells of a long notebook a little after it opens
    page.wait_for_function(
        "n => document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt').length === n",
        arg=code_cells,
        timeout=60_000,
    )
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
    try:
        page.wait_for_function(
            """count => {
                const prompts = [...document.querySelectorAll(
                    '.jp-CodeCell .jp-InputArea-prompt')].map(p => p.textContent.trim());
                return prompts.length === count && prompts.every(p => /^\\[\\d+\\]:$/.test(p));
            }""",
            arg=code_cells,
            timeout=300_000,
        )
        page.locator(".lasair-light-curve").first.wait_for(state="visible", timeout=120_000)
        page.locator(".lasair-sql").first.wait_for(state="visible", timeout=60_000)
        page.wait_for_timeout(2000)  # the light curve's first frame
    finally:
        screenshot(page, "hub_getting_started")
    page.locator(".lasair-light-curve").first.scroll_into_view_if_needed()
    screenshot(page, "hub_getting_started_viewer")
    errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    assert errors.count() == 0, errors.all_inner_texts()
    assert page.locator(".lasair-light-curve .mark circle, .lasair-light-curve path.dot").count()
    tables = page.locator(".jp-OutputArea-output table.dataframe")
    assert tables.count() >= 2  # the counts and the brightest transients, as pandas draws them

    # publish: File > Save Notebook As… into ~/contributed/dave/
    page.keyboard.press("Control+Shift+s")
    name = page.locator(".jp-Dialog input").first
    name.fill(f"contributed/{dave.name}/my_getting_started.ipynb")
    name.press("Enter")
    published = hub.notebooks / "contributed" / dave.name / "my_getting_started.ipynb"
    for _ in range(60):
        if published.exists():
            break
        page.wait_for_timeout(500)
    assert published.exists(), "the notebook was not saved into contributed"
    assert published.stat().st_uid != 0  # written by Dave's own account

    admin = hub.admin.session
    service = f"{hub.base}/services/notebooks/"
    admin.get(service, timeout=60).raise_for_status()
    token = admin.cookies.get("_xsrf", path="/services/notebooks/")
    done = admin.post(
        service, data={"_xsrf": token, "path": f"{dave.name}/my_getting_started.ipynb"}, timeout=900
    )
    assert "promoted contributed/" in done.text, done.text[-1500:]

    erin = hub.user("erin")
    assert "sent to the admin" in erin.sign_up()
    hub.admin.session.get(f"{hub.base}/hub/authorize/{erin.name}", timeout=30)
    assert erin.log_in().status_code == 302
    erin.start_server()
    listing = erin.session.get(
        f"{hub.base}/user/{erin.name}/api/contents/system", timeout=60
    ).json()
    entries = {entry["name"]: entry for entry in listing["content"]}
    assert "my_getting_started.ipynb" in entries and "examples" in entries
    assert entries["my_getting_started.ipynb"]["writable"] is False
    assert not [url for url in blocked if "esm.sh" in url or "aladin" in url], blocked
    assert not page_log.unexpected_errors(), page_log.errors
