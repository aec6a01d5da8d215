"""One OS account per hub user, and their archive role, when their server starts.

:class:`LasairSpawner` is JupyterHub's ``LocalProcessSpawner`` (servers run as the user's
own OS account) plus what Lasair-NB needs before each start:

* the OS account ``NAME`` (``useradd``: uid ≥ ``min_uid``, group ``os_group``, a home of
  mode 0700), made the first time; an existing account outside that group or below that
  uid (``root``, ``postgres``…) is refused, so no hub user runs as a system account;
* the PostgreSQL role ``NAME`` (``lasair_nb.admin.users.server_environment``), made the
  first time, with a new password at every start: ``LASAIR_USER``, ``LASAIR_PASSWORD``
  and ``LASAIR_DB_URL`` go into the server's environment only, which other OS accounts
  cannot read (``/proc/PID/environ`` is private to its uid). Nothing is written to a
  file or a notebook;
* the user environment (``venv``: a virtualenv with ``jupyterhub-singleuser``,
  JupyterLab, ``lasair_nb`` and the Lasair kernel) must be readable by every account;
  one made from a Python under ``/root`` is refused with the reason.

Scaling out is KubeSpawner's job (``hub/z2jh-values.yaml``): the same hook, containers
instead of OS accounts.
"""

from __future__ import annotations

import asyncio
import itertools
import pwd
import time
from pathlib import Path
from typing import Any

from jupyterhub.spawner import LocalProcessSpawner
from traitlets import Integer, Unicode

from hub.accounts import SpawnRefusedError, ensure_account, unreadable_parts
from hub.notebooks import SharedNotebooks
from lasair_nb.admin.users import server_environment

LISTEN_POLL = 0.05
"""Seconds between two looks at whether a starting server accepts connections yet."""


class LasairSpawner(LocalProcessSpawner):
    """``LocalProcessSpawner`` with an OS account and an archive role per hub user."""

    os_group = Unicode("lasairnb", config=True, help="OS group of every hub user's account.")
    min_uid = Integer(20000, config=True, help="Smallest uid given to a hub user's account.")
    venv = Unicode(
        config=True,
        help="Virtualenv the users' servers run from (readable by every account): it has "
        "jupyterhub-singleuser, JupyterLab, lasair_nb and the Lasair kernel.",
    )

    def _ensure_account(self) -> None:
        ensure_account(self.user.name, self.os_group, self.min_uid)

    def _check_user_env(self) -> Path:
        env = Path(self.venv)
        command = env / "bin" / "jupyterhub-singleuser"
        if not command.exists():
            raise SpawnRefusedError(
                f"no {command}: make the user environment with `make up` "
                "(LASAIR_USER_ENV says where it is)"
            )
        closed = unreadable_parts(env / "bin" / "python")
        if closed:
            raise SpawnRefusedError(
                f"the user environment {env} is not readable by users' accounts: "
                f"{', '.join(map(str, closed))} is closed to others (make it from a Python "
                "outside /root, as `make up` does)"
            )
        return command

    async def start(self) -> Any:
        """Make the account and the role, put the credentials in the environment, start."""
        steps = [time.monotonic()]
        command = self._check_user_env()
        await asyncio.to_thread(self._ensure_account)
        steps.append(time.monotonic())
        credentials = await asyncio.to_thread(server_environment, self.user.name, self.user.admin)
        self.environment = {**self.environment, **credentials}
        self.cmd = [str(command)]
        steps.append(time.monotonic())
        await asyncio.to_thread(SharedNotebooks().prepare_home, pwd.getpwnam(self.user.name))
        steps.append(time.monotonic())
        ip, port = await super().start()
        await self._until_listening(ip, port)
        steps.append(time.monotonic())
        self.log.info(
            "Spawn of %s: account %.2f s, archive role %.2f s, home %.2f s, server "
            "listening after %.2f s",
            self.user.name, *(later - earlier for earlier, later in itertools.pairwise(steps)),
        )  # fmt: skip
        return ip, port

    async def _until_listening(self, ip: str, port: int) -> None:
        """Return once the server accepts connections (or its process ended).

        The hub then checks the server over HTTP, and finds it at the first try. Left to
        itself, the hub checks with a backoff (0.2 s, doubling, with jitter) that
        overshoots a server ready after ~2 s by about a second on average.
        """
        deadline = asyncio.get_running_loop().time() + self.start_timeout
        while asyncio.get_running_loop().time() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                return  # the hub reports the dead server, with its exit status
            try:
                _, writer = await asyncio.open_connection(ip or "127.0.0.1", port)
            except OSError:
                await asyncio.sleep(LISTEN_POLL)
                continue
            writer.close()
            await writer.wait_closed()
            return
