"""Self-service sign-up and login: NativeAuthenticator, mended for JupyterHub 6.

nativeauthenticator 1.3.0 (the latest release) still times logins with ``self.statsd``,
which JupyterHub 6 removed: every login answered HTTP 500. Its login page renderer also
refuses the ``sync`` argument JupyterHub's error pages pass. :class:`LasairAuthenticator`
serves a login handler without either fault; everything else is NativeAuthenticator's
(sign-up, admin approval at ``/hub/authorize``, password rules, lock-out after failed
logins, ``/hub/change-password``).
"""

from __future__ import annotations

from typing import Any

from nativeauthenticator import NativeAuthenticator
from nativeauthenticator import handlers as native_handlers


class _NoTimer:
    def start(self) -> _NoTimer:
        return self

    def stop(self, send: bool = True) -> None:
        return None


class _NoStatsd:
    """What the login handler's ``self.statsd`` calls expect, doing nothing."""

    def timer(self, *args: Any, **kwargs: Any) -> _NoTimer:
        return _NoTimer()

    def incr(self, *args: Any, **kwargs: Any) -> None:
        return None


class LoginHandler(native_handlers.LoginHandler):
    """NativeAuthenticator's login page and form, without statsd."""

    statsd = _NoStatsd()

    def _render(
        self, login_error: str | None = None, username: str | None = None, **kwargs: Any
    ) -> Any:
        return self.render_template(
            "native-login.html",
            next=native_handlers.url_escape(self.get_argument("next", default="")),
            username=username,
            login_error=login_error,
            custom_html=self.authenticator.custom_html,
            login_url=self.settings["login_url"],
            enable_signup=self.authenticator.enable_signup,
            two_factor_auth=self.authenticator.allow_2fa,
            authenticator_login_url=native_handlers.url_concat(
                self.authenticator.login_url(self.hub.base_url),
                {"next": self.get_argument("next", "")},
            ),
            **kwargs,  # e.g. sync=True when JupyterHub renders an error page
        )


class LasairAuthenticator(NativeAuthenticator):
    """NativeAuthenticator with a login handler that works on JupyterHub 6."""

    def get_handlers(self, app: Any) -> list[tuple[str, Any]]:
        """NativeAuthenticator's pages, with :class:`LoginHandler` for ``/login``."""
        return [
            (path, LoginHandler if path == r"/login" else handler)
            for path, handler in super().get_handlers(app)
        ]
