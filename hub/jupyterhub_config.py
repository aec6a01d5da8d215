"""Lasair-NB's JupyterHub configuration: ``jupyterhub -f hub/jupyterhub_config.py``.

``lasair-nb up`` starts the hub with this file; every value a deployment changes comes from
a ``LASAIR_*`` setting (``lasair_nb.settings``). Each option below is a JupyterHub traitlet;
its comment says why it has this value (``jupyterhub --help-all`` gives every option's
own help).
"""
# ruff: noqa: F821 - `get_config` is defined by JupyterHub when it loads this file

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from hub.accounts import default_venv, ensure_service_account
from hub.authenticator import LasairAuthenticator
from hub.notebooks import RUNNER, SharedNotebooks
from hub.spawner import LasairSpawner
from lasair_nb.admin.users import reader_environment
from lasair_nb.errors import LasairError
from lasair_nb.settings import get_settings

settings = get_settings()
c = get_config()
state = settings.home_dir / "hub"
state.mkdir(parents=True, exist_ok=True)
venv = Path(sys.prefix)

# --- where the hub listens --------------------------------------------------------------
# The public address (the proxy): http://127.0.0.1:LASAIR_HUB_PORT/. Put a TLS proxy in
# front (nginx, Caddy) to serve it beyond this machine.
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = settings.hub_port
# The hub's own API, which the proxy, the servers and the services talk to.
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = settings.hub_port + 1
# The official configurable-http-proxy, installed from npm into the venv by `make up`.
proxy = venv / "node_modules" / ".bin" / "configurable-http-proxy"
c.ConfigurableHTTPProxy.command = [str(proxy) if proxy.exists() else "configurable-http-proxy"]
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{settings.hub_port + 2}"
c.ConfigurableHTTPProxy.pid_file = str(state / "jupyterhub-proxy.pid")
# Hub state (users, tokens; sign-ups and their hashed passwords) and the cookie secret
# live in LASAIR_HOME/hub, so a second `make up` finds everyone where they were.
c.JupyterHub.db_url = f"sqlite:///{state / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(state / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(state / "jupyterhub.pid")

# --- who may log in ---------------------------------------------------------------------
# Self-service sign-up at /hub/signup (NativeAuthenticator, mended for JupyterHub 6); any
# other authenticator (GitHub, LDAP, your institute's OAuth) can be swapped in here.
c.JupyterHub.authenticator_class = LasairAuthenticator
# Administrators sign up under these names (LASAIR_HUB_ADMINS); they approve new users at
# /hub/authorize and promote notebooks. Sign up as the first administrator right after
# the first `make up`: until then anyone could take the name.
c.Authenticator.admin_users = {n.strip() for n in settings.hub_admins.split(",") if n.strip()}
# JupyterHub 5+ refuses everyone without an allow rule; NativeAuthenticator itself lets in
# only approved users (or everyone who signed up, with open sign-up).
c.Authenticator.allow_all = True
# Hub names are also OS account and PostgreSQL role names.
c.Authenticator.username_pattern = r"^[a-z][a-z0-9_]{0,30}$"
# The services' own OS accounts are nobody's hub name.
c.Authenticator.blocked_users = {RUNNER, "dashboard_runner"}
c.NativeAuthenticator.enable_signup = True
# False: an administrator approves each new user first (LASAIR_HUB_OPEN_SIGNUP).
c.NativeAuthenticator.open_signup = settings.hub_open_signup
c.NativeAuthenticator.minimum_password_length = 10
c.NativeAuthenticator.check_common_password = True
# After 5 failed logins a name is locked for 10 minutes.
c.NativeAuthenticator.allowed_failed_logins = 5
c.NativeAuthenticator.seconds_before_next_try = 600

# --- users' servers ---------------------------------------------------------------------
# One OS account per user, their archive role and its session password in the server's
# environment (hub/spawner.py). On a cluster: KubeSpawner, see hub/z2jh-values.yaml.
c.JupyterHub.spawner_class = LasairSpawner
c.LasairSpawner.venv = str(default_venv(settings))
c.Spawner.default_url = "/lab"
c.Spawner.notebook_dir = "~"
# A loaded machine can take a while to start JupyterLab.
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120

# --- shared notebooks -------------------------------------------------------------------
# Every lab shows ~/system (read-only) and ~/contributed (LASAIR_NOTEBOOKS_DIR). The tested
# example notebooks go into system/examples now: new and changed ones, recorded in
# system/PROMOTIONS.jsonl.
SharedNotebooks(settings).install_examples()

# The account the dashboards run as: an ordinary user, never root.
DASHBOARDS_ACCOUNT = ensure_service_account("dashboard_runner")

# --- services ---------------------------------------------------------------------------
# The idle culler stops servers idle for an hour (their kernels with them).
c.JupyterHub.load_roles = [
    # Every user may call the JSON API with their own tokens (made at /hub/token): a
    # token with the default scopes has this one; a narrower token does not.
    # The same for "Open in my notebook" (on the Notebooks service, whose promotion page
    # still checks for an administrator), and, below, the dashboards' logged-in pages.
    {
        "name": "user",
        "scopes": [
            "self",
            "access:services!service=api",
            "access:services!service=notebooks",
        ],
    },
    {
        "name": "idle-culler",
        "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
        "services": ["idle-culler"],
    },
]
c.JupyterHub.services = [
    {
        "name": "idle-culler",
        "command": [sys.executable, "-m", "jupyterhub_idle_culler", "--timeout=3600"],
    },
    # The Notebooks page, /services/notebooks/: administrators promote contributed
    # notebooks there (ordinary users have no access to services).
    {
        "name": "notebooks",
        "url": f"http://127.0.0.1:{settings.hub_port + 3}",
        "command": [sys.executable, "-m", "hub.promote_service"],
        # JupyterHub starts services with a bare environment: the page needs the settings
        "environment": {k: v for k, v in os.environ.items() if k.startswith("LASAIR_")},
        "oauth_no_confirm": True,
        "display": True,
    },
    # The JSON API, /services/api/: Lasair's REST API for the `lasair` client, each call
    # run as the token's user (hub/api_service.py).
    {
        "name": "api",
        "url": f"http://127.0.0.1:{settings.hub_port + 4}",
        "command": [sys.executable, "-m", "hub.api_service"],
        "environment": {k: v for k, v in os.environ.items() if k.startswith("LASAIR_")},
        "display": False,
    },
]

# The dashboards, /services/dashboards/: Voila, run as the unprivileged account
# dashboard_runner and connected as the read-only role lasair_reader; public pages need no
# login, the others send visitors to the hub's (dashboards/serve.py). Without the reader's
# password (LASAIR_READER_PASSWORD, which `lasair-nb up` sets) there are no dashboards.
try:
    READER = reader_environment(settings)
except LasairError as error:
    print(f"Lasair-NB: no dashboards: {error}", file=sys.stderr)
else:
    c.JupyterHub.load_roles[0]["scopes"].append("access:services!service=dashboards")
    c.JupyterHub.services.append(
        {
            "name": "dashboards",
            "url": f"http://127.0.0.1:{settings.hub_port + 5}",
            # setpriv drops to the account and becomes Voila (runuser would stay the parent
            # and keep the hub's stop signal from it)
            "command": [
                shutil.which("setpriv") or "/usr/bin/setpriv",
                f"--reuid={DASHBOARDS_ACCOUNT.pw_uid}",
                f"--regid={DASHBOARDS_ACCOUNT.pw_gid}",
                "--init-groups",
                "--",
                str(default_venv(settings) / "bin" / "python"),
                "-m",
                "dashboards.serve",
            ],
            "environment": {
                **READER,
                "HOME": DASHBOARDS_ACCOUNT.pw_dir,
                "LASAIR_DASHBOARDS_DIR": str(settings.dashboards_dir or ""),
                "LASAIR_DASHBOARD_POOL": str(settings.dashboard_pool),
            },
            "oauth_no_confirm": True,
            "display": True,
        }
    )
