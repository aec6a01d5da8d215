"""The hub end to end, over HTTP as a browser drives it: sign-up, approval, login, a lab
with the Lasair kernel connected as the user, and what one user cannot see of another.

One real JupyterHub (the default configuration ``make up`` uses), real OS accounts, the
real archive over TCP with passwords; nothing is mocked.
"""

from __future__ import annotations

import pytest

pytestmark = [
    pytest.mark.slow,  # a hub, OS accounts and JupyterLab servers
    # The test client's keep-alive sockets to the hub (requests, tornado websockets) may be
    # closed by the garbage collector inside a test of this module: not the platform's.
    # (The hub fixture collects what is left when it stops, so none reaches later modules.)
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]


def _approved(hub, role: str):
    user = hub.user(role)
    assert "sent to the admin" in user.sign_up()  # waits for approval (the default)
    refused = user.log_in()
    assert refused.status_code != 302
    assert "has not been authorized" in refused.text
    approval = hub.admin.session.get(
        f"{hub.base}/hub/authorize/{user.name}", allow_redirects=False, timeout=30
    )
    assert approval.status_code == 302
    assert user.log_in().status_code == 302
    return user


@pytest.fixture(scope="module")
def alice(hub):
    user = _approved(hub, "alice")
    user.start_server()
    return user


@pytest.fixture(scope="module")
def bob(hub):
    user = _approved(hub, "bob")
    user.start_server()
    return user


def test_weak_passwords_and_taken_names_are_refused(hub) -> None:
    assert "at least 10 characters" in hub.user("weak", "short").sign_up()
    assert "at least 10 characters" in hub.user("common", "password123").sign_up()
    again = hub.user("admin")  # the administrator's own name
    again.name = hub.admin.name
    assert "already in use" in again.sign_up()


def test_the_lab_has_the_lasair_kernel_connected_as_the_user(hub, alice) -> None:
    specs = alice.session.get(f"{hub.base}/user/{alice.name}/api/kernelspecs", timeout=30).json()
    assert specs["kernelspecs"]["lasair"]["spec"]["display_name"] == "Lasair (Python 3)"
    printed, errors = alice.run(
        "import os, pwd\n"
        "print(archive.user)\n"
        "print(pwd.getpwuid(os.getuid()).pw_name, os.getuid())\n"
        "print(type(lasair.lasair_client('token')).__name__)\n"
        "print(archive.sql('SELECT current_user AS me')['me'][0])\n"
        "secret = os.environ['LASAIR_PASSWORD']\n"
        "shown = [repr(v) for k, v in list(globals().items()) if k not in ('secret', 'In', '_ih')]\n"
        "print(len(secret) > 16, any(secret in text for text in shown))\n"
    )
    assert errors == []
    user, account, client, current, secret = printed.splitlines()
    assert user == alice.name
    assert account.split()[0] == alice.name and int(account.split()[1]) >= 20000
    assert client == "lasair_client"
    assert current == alice.name  # the archive's own view of who runs the SQL
    assert secret == "True False"  # in the environment only: no name in the notebook shows it


def test_row_level_security_follows_the_hub_user(hub, alice, bob) -> None:
    printed, errors = alice.run(
        "import pandas as pd\n"
        "archive.watchlists.create('mine', pd.DataFrame({'name': ['x'], 'ra': [10.0], "
        "'dec': [20.0]}), public=False)\n"
        "print(sorted(archive.watchlists.list()['name']))\n"
    )
    assert errors == []
    assert "mine" in printed
    printed, errors = bob.run(
        f"print(len(archive.sql(\"SELECT * FROM watchlists WHERE owner = '{alice.name}'\")))\n"
        "print('mine' in set(archive.watchlists.list()['name']))\n"
    )
    assert errors == []
    assert printed.split() == ["0", "False"]


def test_a_users_server_cannot_read_another_users_credentials(hub, alice, bob) -> None:
    """Bob's kernel looks through /proc at Alice's processes: their environment (her
    archive password, her hub token) is closed to him."""
    printed, errors = bob.run(
        "import os, pwd\n"
        f"uid = pwd.getpwnam('{alice.name}').pw_uid\n"
        "tried = refused = leaked = 0\n"
        "for pid in filter(str.isdigit, os.listdir('/proc')):\n"
        "    try:\n"
        "        if os.stat(f'/proc/{pid}').st_uid != uid:\n"
        "            continue\n"
        "        tried += 1\n"
        "        text = open(f'/proc/{pid}/environ', 'rb').read()\n"
        "        leaked += b'LASAIR_PASSWORD' in text or b'JUPYTERHUB_API_TOKEN' in text\n"
        "    except PermissionError:\n"
        "        refused += 1\n"
        "    except FileNotFoundError:\n"
        "        pass\n"
        "home = pwd.getpwnam(" + repr(alice.name) + ").pw_dir\n"
        "try:\n"
        "    os.listdir(home); print(tried, refused, leaked, 'home open')\n"
        "except PermissionError:\n"
        "    print(tried, refused, leaked, 'home closed')\n"
    )
    assert errors == []
    tried, refused, leaked, _, home = printed.split()
    assert int(tried) >= 1  # her server runs
    assert int(refused) == int(tried) and int(leaked) == 0
    assert home == "closed"


def test_published_notebooks_are_read_only_to_others(hub, alice, bob) -> None:
    """Alice publishes by saving into ~/contributed/ALICE; Bob reads it, cannot change it,
    and nobody writes into ~/system."""
    printed, errors = alice.run(
        "import os\n"
        f"os.chdir(os.path.expanduser('~/contributed/{alice.name}'))\n"
        "open('shared.ipynb', 'w').write('{}')\n"
        "try:\n"
        "    open(os.path.expanduser('~/system/mine.ipynb'), 'w')\n"
        "    print('system writable')\n"
        "except PermissionError:\n"
        "    print('system read-only')\n"
    )
    assert errors == [] and printed.strip() == "system read-only"
    printed, errors = bob.run(
        "import os\n"
        f"theirs = os.path.expanduser('~/contributed/{alice.name}/shared.ipynb')\n"
        "print(open(theirs).read())\n"
        "try:\n"
        "    open(theirs, 'a').write('changed')\n"
        "    print('writable')\n"
        "except PermissionError:\n"
        "    print('read-only')\n"
    )
    assert errors == []
    assert printed.split() == ["{}", "read-only"]
    assert (hub.notebooks / "contributed" / alice.name / "shared.ipynb").read_text() == "{}"


def test_an_administrator_promotes_from_the_notebooks_page(hub, alice, bob) -> None:
    """Alice publishes a notebook; the admin promotes it on /services/notebooks/ (it runs
    first, as notebook_runner); Bob then finds it read-only in ~/system. Alice may not
    open the page."""
    printed, errors = alice.run(
        "import nbformat, os\n"
        "nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("
        "\"n = archive.sql('SELECT count(*) AS n FROM objects')['n'][0]\\nassert n > 0\")])\n"
        "nb.metadata['kernelspec'] = {'name': 'lasair', 'display_name': 'Lasair (Python 3)'}\n"
        f"nbformat.write(nb, os.path.expanduser('~/contributed/{alice.name}/count.ipynb'))\n"
        "print('saved')\n"
    )
    assert errors == [] and printed.strip() == "saved"
    page = f"{hub.base}/services/notebooks/"
    assert alice.session.get(page, timeout=60).status_code == 403
    admin = hub.admin.session
    listing = admin.get(page, timeout=60)
    assert listing.status_code == 200
    assert f"{alice.name}/count.ipynb" in listing.text
    token = admin.cookies.get("_xsrf", path="/services/notebooks/")
    done = admin.post(page, data={"_xsrf": token, "path": f"{alice.name}/count.ipynb"}, timeout=600)
    assert done.status_code == 200
    assert "promoted contributed/" in done.text, done.text[-1500:]
    promoted = hub.notebooks / "system" / "count.ipynb"
    assert promoted.exists()
    printed, errors = bob.run(
        "import os\n"
        "path = os.path.expanduser('~/system/count.ipynb')\n"
        "print(os.path.exists(path), os.access(path, os.W_OK))\n"
    )
    assert errors == [] and printed.split() == ["True", "False"]
    records = [
        line for line in (hub.notebooks / "system" / "PROMOTIONS.jsonl").read_text().splitlines()
    ]
    assert hub.admin.name in records[-1] and "count.ipynb" in records[-1]
