"""What the hub's own services share: where to listen, and how to stop."""

from __future__ import annotations

import os
from urllib.parse import urlparse

from tornado import ioloop, web


def serve(app: web.Application) -> None:
    """Serve ``app`` where the hub routes the service (``JUPYTERHUB_SERVICE_URL``).

    Until the hub stops it: SIGINT ends it quietly, without a traceback.
    """
    address = urlparse(os.environ["JUPYTERHUB_SERVICE_URL"])
    app.listen(address.port or 80, address.hostname or "127.0.0.1")
    try:
        ioloop.IOLoop.current().start()
    except KeyboardInterrupt:
        pass
