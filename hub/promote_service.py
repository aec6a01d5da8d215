"""The hub's "Notebooks" page (``/services/notebooks/``): administrators promote from it.

A JupyterHub service (HubOAuth): it lists the contributed notebooks, the system ones and
the promotions, and promotes a contributed notebook on a button (the same
:meth:`hub.notebooks.SharedNotebooks.promote` as ``lasair-nb notebooks promote``: only if
every cell passes, run as ``notebook_runner``). Only administrators see it: JupyterHub
gives ordinary users no access to services, and the page checks ``admin`` itself too.
Run by the hub: ``python -m hub.promote_service``.
"""

from __future__ import annotations

import html
import os
import secrets
from typing import Any
from urllib.parse import urlparse

from jupyterhub.services.auth import HubOAuthCallbackHandler, HubOAuthenticated
from tornado import ioloop, web

from hub.notebooks import SharedNotebooks
from lasair_nb.errors import LasairError

PREFIX = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/services/notebooks/")


class NotebooksPage(HubOAuthenticated, web.RequestHandler):
    """GET: the page; POST ``path``: promote that contributed notebook."""

    def _admin(self) -> dict[str, Any]:
        user = self.get_current_user()
        if not user or not user.get("admin"):
            raise web.HTTPError(403, "administrators only")
        return user

    @web.authenticated
    def get(self) -> None:
        """The contributed and system notebooks, and the promotions."""
        self._admin()
        self.finish(self._page())

    @web.authenticated
    def post(self) -> None:
        """Promote the contributed notebook ``path`` (relative to contributed/)."""
        user = self._admin()
        shared = SharedNotebooks()
        relative = self.get_body_argument("path")
        try:
            record = shared.promote(shared.contributed / relative, by=user["name"])
        except (LasairError, ValueError) as error:
            message = f"<p class='refused'>{html.escape(str(error))}</p>"
        else:
            message = (
                f"<p class='promoted'>promoted {html.escape(record['from'])} to "
                f"system/{html.escape(record['notebook'])}</p>"
            )
        self.finish(self._page(message))

    def _page(self, message: str = "") -> str:
        shared = SharedNotebooks()
        shared.ensure()
        token = self.xsrf_form_html()
        rows = []
        for path in sorted(shared.contributed.glob("*/*.ipynb")):
            relative = str(path.relative_to(shared.contributed))
            rows.append(
                f"<tr><td>{html.escape(relative)}</td><td><form method='post'>{token}"
                f"<input type='hidden' name='path' value='{html.escape(relative, quote=True)}'>"
                "<button type='submit'>promote</button></form></td></tr>"
            )
        system = "".join(
            f"<li>{html.escape(str(path.relative_to(shared.system)))}</li>"
            for path in sorted(shared.system.rglob("*.ipynb"))
            if ".ipynb_checkpoints" not in path.parts
        )
        history = "".join(
            "<li>{} from {} by {} at {}</li>".format(
                *(html.escape(str(r[key])) for key in ("notebook", "from", "by", "at"))
            )
            for r in shared.promotions()
        )
        return (
            "<!doctype html><title>Lasair-NB notebooks</title><h1>Notebooks</h1>"
            f"{message}<h2>Contributed</h2><p>Promoting runs every cell against the archive "
            "as it is now; only a notebook that passes is copied to system.</p>"
            f"<table>{''.join(rows) or '<tr><td>none</td></tr>'}</table>"
            f"<h2>System</h2><ul>{system or '<li>none</li>'}</ul>"
            f"<h2>Promotions</h2><ul>{history or '<li>none</li>'}</ul>"
        )


def main() -> None:
    """Serve the page where the hub routes ``/services/notebooks/``."""
    address = urlparse(os.environ["JUPYTERHUB_SERVICE_URL"])
    app = web.Application(
        [
            (PREFIX, NotebooksPage),
            (PREFIX + "oauth_callback", HubOAuthCallbackHandler),
        ],
        cookie_secret=secrets.token_bytes(32),
        xsrf_cookies=True,
    )
    app.listen(address.port or 80, address.hostname or "127.0.0.1")
    ioloop.IOLoop.current().start()


if __name__ == "__main__":
    main()
