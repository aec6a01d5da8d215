"""The reaper: ends user statements and idle transactions past their limits, server-side.

Each user's role carries a statement timeout and an idle-in-transaction timeout,
but a user who connects to PostgreSQL directly (psycopg2 in a notebook) may
``SET statement_timeout = 0`` or lower their own
``idle_in_transaction_session_timeout``: then one statement could run for ever,
or one open transaction hold locks on the user tables (``LOCK TABLE watchlists``)
and hang everyone else. ``lasair-nb up`` therefore starts the reaper
(``lasair-nb reaper``) as the archive's owner. Every ``LASAIR_REAPER_INTERVAL``
seconds it

* cancels each user statement that has been running longer than
  ``LASAIR_SQL_TIMEOUT`` plus a grace (the statement fails; the session lives);
* terminates each user session idle inside a transaction for longer than
  ``LASAIR_IDLE_TRANSACTION_TIMEOUT`` plus a grace (its transaction is rolled
  back and its locks released).

The grace (1 s) lets the server's own timeouts act first for users who kept them.
A user is a login role in ``lasair_user`` (administrators included); superusers,
the reaper's own role, the database owner, ``lasair_reader`` and the reaper's
own session are never touched. Sessions of user roles on every database of the
server are swept, since roles are server-wide. Each action is logged (WARNING)
with the user, the pid, the database, how long, and what was done. SIGTERM or
SIGINT stop it between two sweeps.

Privileges: the embedded server runs the owner as the superuser ``postgres``,
which may do all this. On an external server where the owner is not a
superuser, a superuser must grant it the two predefined roles that seeing and
signalling other roles' sessions need::

    GRANT pg_read_all_stats, pg_signal_backend TO owner;

Without them the reaper refuses to start (:meth:`Reaper.check`), rather than
silently finding nothing.
"""

from __future__ import annotations

import logging
import signal
import threading

import sqlalchemy as sa

from lasair_nb.archive import sessions
from lasair_nb.errors import DatabaseError
from lasair_nb.settings import Settings

log = logging.getLogger(__name__)

GRACE = 1.0
"""Seconds past a limit before the reaper acts, so the server's own timeouts go first."""


class Reaper:
    """Cancel runaway user statements and end idle user transactions, every few seconds.

    Parameters
    ----------
    engine
        An engine on the archive, as its owner (see the module for the privileges).
    settings
        Supplies ``sql_timeout`` (the statement limit), ``idle_transaction_timeout``
        (the idle-transaction limit) and ``reaper_interval`` (seconds between sweeps).
    grace
        Seconds past a limit before acting.
    database
        Sweep only the sessions connected to this database (default: every
        database of the server).

    Attributes
    ----------
    statement_limit, idle_limit
        The limits, in seconds, from ``settings``.
    statement_ceiling, idle_ceiling
        The limits plus the grace: the reaper acts past these.
    interval
        Seconds between two sweeps of :meth:`run_forever`.
    """

    def __init__(
        self,
        engine: sa.Engine,
        settings: Settings,
        grace: float = GRACE,
        database: str | None = None,
    ) -> None:
        if grace < 0:
            raise ValueError(f"grace must be >= 0 seconds, not {grace}")
        self.engine = engine
        self.statement_limit = float(settings.sql_timeout)
        self.idle_limit = float(settings.idle_transaction_timeout)
        self.grace = float(grace)
        self.interval = float(settings.reaper_interval)
        self.database = database
        self._stop = threading.Event()
        self._role: str | None = None

    @property
    def statement_ceiling(self) -> float:
        """Seconds a user statement may run before it is cancelled."""
        return self.statement_limit + self.grace

    @property
    def idle_ceiling(self) -> float:
        """Seconds a user transaction may sit idle before its session is terminated."""
        return self.idle_limit + self.grace

    def check(self) -> str:
        """Make sure the engine's role may see and signal user sessions; returns the role.

        Raises
        ------
        DatabaseError
            If it lacks ``pg_read_all_stats`` or ``pg_signal_backend`` (the message
            says what to grant).
        """
        with self.engine.connect() as connection:
            role, see, signal_ = sessions.privileges(connection)
        missing = [
            name
            for name, granted in (("pg_read_all_stats", see), ("pg_signal_backend", signal_))
            if not granted
        ]
        if missing:
            raise DatabaseError(
                f"the reaper's role {role} may not see or signal users' sessions; as a "
                f"superuser, GRANT {', '.join(missing)} TO {role}"
            )
        self._role = role
        return role

    def overruns(self) -> list[sessions.Overrun]:
        """The user sessions past their ceilings now, without touching them."""
        with self.engine.connect() as connection:
            return sessions.overruns(
                connection, self.statement_ceiling, self.idle_ceiling, self.database
            )

    def sweep(self) -> list[str]:
        """Cancel and terminate the user sessions past their ceilings; a line per action.

        Each line is also logged at WARNING. The first sweep runs :meth:`check`.
        """
        if self._role is None:
            self.check()
        with self.engine.begin() as connection:
            ended = sessions.end_overruns(
                connection, self.statement_ceiling, self.idle_ceiling, self.database
            )
        lines = [self.describe(overrun) for overrun in ended]
        for line in lines:
            log.warning("%s", line)
        return lines

    def describe(self, overrun: sessions.Overrun) -> str:
        """One line saying whose session, how long, and what was done."""
        if overrun.action == sessions.CANCEL:
            done = "cancelled the statement of"
            why = f"running {overrun.seconds:.1f} s > {self.statement_limit:g} s limit"
        elif overrun.reason == "idle":
            done = "terminated the session of"
            why = f"idle in transaction {overrun.seconds:.1f} s > {self.idle_limit:g} s limit"
        else:
            done = "terminated the session of"
            limit = self.statement_limit + self.idle_limit
            why = f"transaction open {overrun.seconds:.1f} s > {limit:g} s limit"
        if overrun.signalled is False:
            done = f"could not {overrun.action} (already gone?)"
        query = " ".join(overrun.query.split())
        return f"{done} user {overrun.user} pid {overrun.pid} on {overrun.database}: {why}: {query}"

    def stop(self, *_: object) -> None:
        """Ask :meth:`run_forever` to return after the current sweep (a signal handler too)."""
        self._stop.set()

    def run_forever(self, install_signal_handlers: bool = True) -> None:
        """Sweep every ``interval`` seconds until :meth:`stop`, SIGTERM or SIGINT.

        A sweep that fails on a database error is logged and retried at the next
        interval (the archive may be restarting).

        Raises
        ------
        DatabaseError
            At start, if the role may not see or signal user sessions.
        """
        if install_signal_handlers and threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGTERM, signal.SIGINT):
                signal.signal(signum, self.stop)
        role = self.check()
        log.info(
            "reaper started as %s: statements > %g s cancelled, idle transactions > %g s "
            "terminated (limits + %g s grace), every %g s",
            role,
            self.statement_limit,
            self.idle_limit,
            self.grace,
            self.interval,
        )
        while not self._stop.is_set():
            try:
                self.sweep()
            except sa.exc.DBAPIError as error:
                first = (str(error.orig or error).strip().splitlines() or ["?"])[0]
                log.error("sweep failed, retrying in %g s: %s", self.interval, first)
            self._stop.wait(self.interval)
        log.info("reaper stopped")
