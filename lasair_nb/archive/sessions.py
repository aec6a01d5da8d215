"""Users' server sessions: finding runaway ones in ``pg_stat_activity`` and ending them.

A user's session is a client backend whose login role is a member of the user
group (``lasair_user``; administrators, in ``lasair_admin``, are members too) and
is neither a superuser, nor the role running these functions, nor the owner of
the current database, nor ``lasair_reader``. Those are the only sessions these
functions ever signal.

A user session *overruns* when it is

* ``active`` and its statement started more than ``statement_seconds`` ago: it is
  cancelled (``pg_cancel_backend``: the statement fails, the session lives);
* running anything else (``active``, or a ``fastpath function call``) that started
  more than ``statement_seconds`` ago: it is cancelled too;
* ``idle in transaction`` (or ``(aborted)``) and has been so for more than
  ``idle_seconds``: it is terminated (``pg_terminate_backend``), which rolls its
  transaction back and releases its locks;
* in a transaction that began more than ``statement_seconds + idle_seconds`` ago,
  whatever it is doing now: it is terminated. A session that keeps a lock by
  running short statements now and then, never idle for long, is ended this way
  (the user's own transaction can last no longer than one statement at its
  ceiling and one idle pause at its ceiling together).

Seeing other roles' sessions needs superuser or ``pg_read_all_stats`` (without it
their state and start times read as NULL and nothing is ever found); signalling
them needs superuser or ``pg_signal_backend``. :func:`privileges` tells which the
current role has.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from lasair_nb.archive.roles import USER_GROUP

READER_ROLE = "lasair_reader"
QUERY_CHARS = 200
"""Characters of an overrunning statement kept for the log."""

CANCEL = "cancel"
TERMINATE = "terminate"

_OVERRUNS = """
WITH overruns AS (
    SELECT a.pid, a.usename AS "user", a.datname AS database, a.state,
           CASE WHEN a.xact_start < clock_timestamp() - make_interval(secs => :transaction_seconds)
                     OR a.state IN ('idle in transaction', 'idle in transaction (aborted)')
                THEN 'terminate' ELSE 'cancel' END AS action,
           CASE WHEN a.xact_start < clock_timestamp() - make_interval(secs => :transaction_seconds)
                THEN 'transaction'
                WHEN a.state IN ('idle in transaction', 'idle in transaction (aborted)')
                THEN 'idle'
                ELSE 'statement' END AS reason,
           extract(epoch FROM clock_timestamp()
                   - CASE WHEN a.xact_start
                               < clock_timestamp() - make_interval(secs => :transaction_seconds)
                          THEN a.xact_start
                          WHEN a.state IN ('idle in transaction', 'idle in transaction (aborted)')
                          THEN a.state_change
                          ELSE a.query_start END)
               AS seconds,
           left(a.query, :query_chars) AS query
    FROM pg_stat_activity a
    JOIN pg_roles r ON r.oid = a.usesysid
    WHERE a.backend_type = 'client backend'
      AND a.pid <> pg_backend_pid()
      AND NOT r.rolsuper
      AND r.rolname <> current_user
      AND r.rolname <> :reader
      AND r.oid <> (SELECT datdba FROM pg_database WHERE datname = current_database())
      AND pg_has_role(r.oid, :group, 'MEMBER')
      {database_filter}
      AND (
          (a.state NOT IN ('idle', 'idle in transaction', 'idle in transaction (aborted)',
                           'disabled')
           AND a.query_start < clock_timestamp() - make_interval(secs => :statement_seconds))
          OR (a.state IN ('idle in transaction', 'idle in transaction (aborted)')
              AND a.state_change < clock_timestamp() - make_interval(secs => :idle_seconds))
          OR a.xact_start < clock_timestamp() - make_interval(secs => :transaction_seconds)
      )
)
SELECT pid, "user", database, state, action, reason, seconds, query, {signal} AS signalled
FROM overruns
ORDER BY pid
"""

_SIGNAL = "CASE action WHEN 'cancel' THEN pg_cancel_backend(pid) ELSE pg_terminate_backend(pid) END"


@dataclass(frozen=True)
class Overrun:
    """A user session past its limit, and what was (or would be) done to it.

    Attributes
    ----------
    pid
        Server process id of the session.
    user
        Its login role.
    database
        The database it is connected to.
    state
        ``active``, ``idle in transaction`` or ``idle in transaction (aborted)``.
    action
        ``cancel`` (a statement) or ``terminate`` (the session).
    reason
        ``statement`` (ran too long), ``idle`` (sat idle in a transaction too long) or
        ``transaction`` (its transaction is older than both limits together).
    seconds
        How long the statement has run, or the transaction has sat idle.
    query
        The start of its (last) statement.
    signalled
        Whether the signal was sent; None when the session was only listed.
    """

    pid: int
    user: str
    database: str
    state: str
    action: str
    reason: str
    seconds: float
    query: str
    signalled: bool | None


def _overruns(
    connection: sa.Connection,
    statement_seconds: float,
    idle_seconds: float,
    database: str | None,
    signal: bool,
) -> list[Overrun]:
    sql = _OVERRUNS.format(
        database_filter="" if database is None else "AND a.datname = :database",
        signal=_SIGNAL if signal else "NULL::boolean",
    )
    parameters: dict[str, object] = {
        "query_chars": QUERY_CHARS,
        "reader": READER_ROLE,
        "group": USER_GROUP,
        "statement_seconds": float(statement_seconds),
        "idle_seconds": float(idle_seconds),
        "transaction_seconds": float(statement_seconds) + float(idle_seconds),
    }
    if database is not None:
        parameters["database"] = database
    rows = connection.execute(sa.text(sql), parameters).all()
    return [
        Overrun(
            pid=row.pid,
            user=row.user,
            database=row.database,
            state=row.state,
            action=row.action,
            reason=row.reason,
            seconds=float(row.seconds),
            query=row.query or "",
            signalled=row.signalled,
        )
        for row in rows
    ]


def overruns(
    connection: sa.Connection,
    statement_seconds: float,
    idle_seconds: float,
    database: str | None = None,
) -> list[Overrun]:
    """User sessions past their limits, without touching them.

    Parameters
    ----------
    connection
        A connection of a role that may read all sessions (see the module).
    statement_seconds
        A user statement running longer than this overruns.
    idle_seconds
        A user transaction idle longer than this overruns.
    database
        Only sessions connected to this database (default: every database of the
        server, as roles are server-wide).
    """
    return _overruns(connection, statement_seconds, idle_seconds, database, signal=False)


def end_overruns(
    connection: sa.Connection,
    statement_seconds: float,
    idle_seconds: float,
    database: str | None = None,
) -> list[Overrun]:
    """Cancel overrunning user statements and terminate overrunning idle transactions.

    Sessions are found and signalled by one statement, so a session that
    finished its statement in between is not hit in its next one. Parameters
    are those of :func:`overruns`.

    Returns
    -------
    list of Overrun
        The sessions signalled, with ``signalled`` False where the session was
        already gone.
    """
    return _overruns(connection, statement_seconds, idle_seconds, database, signal=True)


def privileges(connection: sa.Connection) -> tuple[str, bool, bool]:
    """The current role, whether it may see all sessions, and whether it may signal users'."""
    name, see, signal = connection.execute(
        sa.text(
            "SELECT current_user,"
            " r.rolsuper OR pg_has_role(current_user, 'pg_read_all_stats', 'USAGE'),"
            " r.rolsuper OR pg_has_role(current_user, 'pg_signal_backend', 'USAGE')"
            " FROM pg_roles r WHERE r.rolname = current_user"
        )
    ).one()
    return name, bool(see), bool(signal)
