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
import pwd
import re
import secrets
from pathlib import Path
from typing import Any

import nbformat
from jupyterhub.services.auth import HubOAuthCallbackHandler, HubOAuthenticated
from tornado import web

from dashboards import page
from hub.accounts import ensure_account
from hub.notebooks import SharedNotebooks
from hub.services import serve
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


class OpenInNotebook(HubOAuthenticated, web.RequestHandler):
    """``open/DASHBOARD?…``: the dashboard, with these parameters, as a notebook in your lab.

    Any logged-in user (the hub sends others to its login page first). The notebook is
    the dashboard's own, with one cell added before its parameters cell that sets them
    (checked by :func:`dashboards.page.parameters`); it is written into
    ``~/dashboards/`` as the user's file (never through a link the user could plant)
    and opened in their lab, which the hub starts if needed.
    """

    @web.authenticated
    def get(self, dashboard: str) -> None:
        """Write the notebook and send the user to it."""
        user = self.get_current_user()
        root = Path(os.environ.get("LASAIR_DASHBOARDS_DIR") or Path(page.__file__).parent)
        source = root / f"{dashboard}.ipynb"
        if not source.is_file():
            raise web.HTTPError(404, f"no dashboard {dashboard!r}")
        try:
            params = page.parameters(optional=dict.fromkeys(page.KINDS), query=self.request.query)
        except page.PageError as error:
            self.set_status(400)
            self.finish(f"<p>Cannot open this page as a notebook: {html.escape(str(error))}</p>")
            return
        query = page.query_string(params)
        book = nbformat.read(source, as_version=4)
        first = next(
            (i for i, c in enumerate(book.cells) if "parameters" in c.metadata.get("tags", [])),
            len(book.cells),
        )
        book.cells.insert(
            first,
            nbformat.v4.new_code_cell(f"page.QUERY = {query!r}  # the page's parameters"),
        )
        book.metadata["kernelspec"] = {
            "name": "lasair", "display_name": "Lasair (Python 3)", "language": "python",
        }  # fmt: skip
        slug = re.sub(r"[^A-Za-z0-9_.+-]+", "_", query).strip("_")[:60] or "page"
        name = f"{dashboard}-{slug}.ipynb"
        account = ensure_account(user["name"])
        try:
            _write_as(account, "dashboards", name, nbformat.writes(book).encode())
        except OSError as error:  # a link, or a file, where ~/dashboards should be
            self.set_status(400)
            self.finish(
                "<p>Cannot write into ~/dashboards: it is not a plain folder of yours "
                f"({html.escape(error.strerror or str(error))}). Remove it and try again.</p>"
            )
            return
        self.redirect(f"/user/{account.pw_name}/lab/tree/dashboards/{name}")


def _write_as(account: pwd.struct_passwd, folder: str, name: str, data: bytes) -> None:
    """Write ``~/folder/name`` of ``account``, owned by it, following no symbolic link."""
    home = os.open(account.pw_dir, os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        try:
            os.mkdir(folder, 0o755, dir_fd=home)
        except FileExistsError:
            pass
        where = os.open(folder, os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=home)
        try:
            os.fchown(where, account.pw_uid, account.pw_gid)
            try:
                os.unlink(name, dir_fd=where)  # the same page again: a fresh copy
            except FileNotFoundError:
                pass
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
            handle = os.open(name, flags, 0o644, dir_fd=where)
            try:
                os.fchown(handle, account.pw_uid, account.pw_gid)
                os.write(handle, data)
            finally:
                os.close(handle)
        finally:
            os.close(where)
    finally:
        os.close(home)


def main() -> None:
    """Serve the page where the hub routes ``/services/notebooks/``."""
    app = web.Application(
        [
            (PREFIX, NotebooksPage),
            (PREFIX + r"open/([a-z][a-z0-9_]{0,40})/?", OpenInNotebook),
            (PREFIX + "oauth_callback", HubOAuthCallbackHandler),
        ],
        cookie_secret=secrets.token_bytes(32),
        xsrf_cookies=True,
    )
    serve(app)


if __name__ == "__main__":
    main()
