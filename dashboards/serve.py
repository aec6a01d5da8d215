"""The dashboards' server: Voila, with pretty addresses and access set in each notebook.

``python -m dashboards.serve`` is run by the hub (a service at ``/services/dashboards/``,
as the unprivileged OS account ``dashboard_runner``, connected to the archive as the
read-only role ``lasair_reader``). On top of Voila it adds:

- ``/services/dashboards/NAME?…`` renders ``NAME.ipynb`` (``/services/dashboards/`` is
  ``home``); ``/services/dashboards/voila/render/NAME.ipynb`` is checked the same way;
- who may see a dashboard, from its metadata ``{"lasair": {"access": …}}``: ``public``
  (anyone), ``users`` (logged-in hub users) or ``group:NAME`` (members of a hub group);
  a notebook without it counts as ``users``. Anyone else is sent to the hub's login page
  (HubOAuth), and a logged-in user outside the group gets a 403 page;
- Voila's own settings: sources stripped, tracebacks off, a pool of pre-started kernels
  (``LASAIR_DASHBOARD_POOL`` per dashboard) that have imported the client and connected
  before the first visitor arrives.
"""

from __future__ import annotations

import html
import json
import os
import re
import secrets
import signal
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from jupyterhub.services.auth import HubOAuth, HubOAuthCallbackHandler
from tornado import web
from tornado.httputil import url_concat
from voila.app import Voila
from voila.tornado.handler import TornadoVoilaHandler

PREFIX = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/services/dashboards/")
DASHBOARD = re.compile(r"[a-z][a-z0-9_]{0,40}")
ACCESS = re.compile(r"public|users|group:[A-Za-z0-9_.-]{1,64}")


def access_of(path: Path) -> str:
    """Who may see the dashboard at ``path`` (its ``lasair.access`` metadata; default users)."""
    try:
        metadata = json.loads(path.read_text()).get("metadata", {})
    except (OSError, json.JSONDecodeError):
        return "users"
    access = str(metadata.get("lasair", {}).get("access", "users"))
    return access if ACCESS.fullmatch(access) else "users"


def _page(title: str, message: str) -> str:
    return (
        f"<!doctype html><html><head><title>{html.escape(title)}</title></head><body "
        'style="font-family:sans-serif;max-width:50em;margin:2em auto">'
        f"<h2>{html.escape(title)}</h2><p>{message}</p>"
        f'<p><a href="{PREFIX}">All dashboards</a></p></body></html>'
    )


class _Gate:
    """The access check shared by both ways of asking for a dashboard."""

    hub_auth: HubOAuth | None = None

    async def _allowed(self: Any, path: Path) -> bool:
        """True to go on; else the answer (login redirect, 403 or 404) is already sent."""
        if not path.is_file():
            names = sorted(p.stem for p in path.parent.glob("*.ipynb"))
            self.set_status(404)
            self.finish(
                _page(
                    "No such dashboard",
                    f"There is no dashboard {html.escape(path.stem)!r}. The dashboards: "
                    + ", ".join(f'<a href="{PREFIX}{n}">{html.escape(n)}</a>' for n in names),
                )
            )
            return False
        access = access_of(path)
        if access == "public":
            return True
        auth = _Gate.hub_auth
        user = await auth.get_user(self, sync=False) if auth is not None else None
        if not user:
            if auth is None or not auth.login_url:
                raise web.HTTPError(403, "this dashboard needs a hub login")
            state = auth.set_state_cookie(self, next_url=self.request.uri)
            self.redirect(url_concat(auth.login_url, {"state": state}))
            return False
        if access.startswith("group:") and access[6:] not in user.get("groups", []):
            self.set_status(403)
            self.finish(
                _page(
                    "Not for you, sorry",
                    f"This dashboard is for the group {html.escape(access[6:])!r}; ask an "
                    "administrator to add you to it.",
                )
            )
            return False
        return True


class DashboardHandler(_Gate, TornadoVoilaHandler):
    """``PREFIX/NAME``: the dashboard ``NAME.ipynb``, if the visitor may see it."""

    async def get(self, name: str = "home") -> None:  # type: ignore[override]
        """Render the dashboard (its parameters are the query string)."""
        name = name or "home"
        root = Path(self.settings.get("lasair_root", "."))
        if not DASHBOARD.fullmatch(name):
            self.set_status(404)
            self.finish(_page("No such dashboard", f"{html.escape(name)!r} is not a name."))
            return
        if await self._allowed(root / f"{name}.ipynb"):
            await super().get(f"{name}.ipynb")


class RenderHandler(_Gate, TornadoVoilaHandler):
    """Voila's own ``voila/render/PATH``, with the same check."""

    async def get(self, path: str | None = None) -> None:
        """Render ``path`` if the visitor may see it."""
        root = Path(self.settings.get("lasair_root", "."))
        target = (root / (path or "")).resolve()
        if not target.is_relative_to(root.resolve()) or target.suffix != ".ipynb":
            raise web.HTTPError(404)
        if await self._allowed(target):
            await super().get(path)


class Dashboards(Voila):
    """Voila with :class:`DashboardHandler` in front of its own routes."""

    def init_handlers(self) -> list:
        """Voila's handlers, with the dashboards' addresses first and render checked."""
        handlers = super().init_handlers()
        render = None
        for index, handler in enumerate(handlers):
            if len(handler) == 3 and handler[1] is TornadoVoilaHandler:
                render = handler[2]
                handlers[index] = (handler[0], RenderHandler, handler[2])
        assert render is not None, "Voila serves a directory: its render route is expected"
        base = self.server_url.rstrip("/")
        ours = [
            (base + "/oauth_callback", HubOAuthCallbackHandler),
            (base + "/?", DashboardHandler, render),
            (base + r"/([a-z][a-z0-9_]{0,40})/?", DashboardHandler, render),
        ]
        return ours + handlers

    def init_settings(self) -> dict:
        """Voila's tornado settings, and where the dashboards are."""
        settings = super().init_settings()
        settings["lasair_root"] = self.root_dir
        return settings


def main(argv: list[str] | None = None) -> None:
    """Serve ``LASAIR_DASHBOARDS_DIR`` (default: this folder) where the hub routes it."""
    address = urlparse(os.environ.get("JUPYTERHUB_SERVICE_URL", "http://127.0.0.1:8866"))
    root = os.environ.get("LASAIR_DASHBOARDS_DIR") or str(Path(__file__).resolve().parent)
    pool = int(os.environ.get("LASAIR_DASHBOARD_POOL", "1"))
    # the hub stops its services with SIGINT: Voila then shuts its kernels down and exits
    signal.signal(signal.SIGINT, signal.default_int_handler)
    if "JUPYTERHUB_API_TOKEN" in os.environ:
        # the one instance: the OAuth callback handler finds the login states it keeps
        _Gate.hub_auth = HubOAuth.instance(cache_max_age=60)
    Dashboards.launch_instance(
        argv=[
            root,
            "--no-browser",
            f"--port={address.port or 8866}",
            f"--Voila.ip={address.hostname or '127.0.0.1'}",
            f"--Voila.base_url={PREFIX}",
            "--strip_sources=True",
            "--show_tracebacks=False",
            f"--preheat_kernel={pool > 0}",
            f"--pool_size={max(pool, 0)}",
            f"--Voila.tornado_settings={json.dumps({'cookie_secret': secrets.token_hex(32)})}",
            *(argv if argv is not None else sys.argv[1:]),
        ]
    )


if __name__ == "__main__":
    main()
