"""OS accounts of hub users, and the environment their servers run from.

Each hub user gets an OS account of the same name (uid ≥ 20000, group ``lasairnb``, a home
of mode 0700): their server and kernels run as it, so what is theirs (their environment
with its archive password, their home) is closed to the others.
"""

from __future__ import annotations

import grp
import os
import pwd
import re
import stat
import subprocess
from pathlib import Path

import lasair_nb
from lasair_nb.admin.users import check_name
from lasair_nb.settings import Settings

OS_NAME = re.compile(r"^[a-z][a-z0-9_]{0,30}$")
"""Hub user names that are also OS account and PostgreSQL role names."""


class SpawnRefusedError(RuntimeError):
    """A server that must not start (a system account, an unreadable environment)."""


def default_venv(settings: Settings) -> Path:
    """The users' environment: ``LASAIR_USER_ENV``, else ``.venv-user`` beside lasair_nb."""
    return Path(settings.user_env or Path(lasair_nb.__file__).resolve().parents[1] / ".venv-user")


def unreadable_parts(path: Path) -> list[Path]:
    """The directories on the way to ``path`` (after symlinks) that others cannot enter."""
    real = Path(os.path.realpath(path))
    closed = []
    for part in [*reversed(real.parents), real]:
        mode = part.stat().st_mode
        if part.is_dir() and not mode & stat.S_IXOTH:
            closed.append(part)
        elif part == real and not mode & (stat.S_IROTH | stat.S_IXOTH):
            closed.append(part)
    return closed


def ensure_account(
    name: str, group_name: str = "lasairnb", min_uid: int = 20000
) -> pwd.struct_passwd:
    """The OS account ``name`` in ``group_name`` (made the first time, home mode 0700).

    Raises
    ------
    SpawnRefusedError
        For a name that cannot be an account and a role, or an existing account outside
        the group or below ``min_uid`` (a system account).
    """
    if not OS_NAME.fullmatch(name):
        raise SpawnRefusedError(
            f"hub user {name!r} cannot be an OS account: use 1-31 lower-case letters, "
            "digits and _, starting with a letter"
        )
    check_name(name)  # also a PostgreSQL role name, not reserved
    try:
        group = grp.getgrnam(group_name)
    except KeyError:
        subprocess.run(["groupadd", "--system", group_name], check=True)
        group = grp.getgrnam(group_name)
    try:
        account = pwd.getpwnam(name)
    except KeyError:
        subprocess.run(
            [
                "useradd", "--create-home", "--shell", "/bin/bash", "--gid", group_name,
                "-K", f"UID_MIN={min_uid}", "-K", "HOME_MODE=0700", name,
            ],
            check=True,
            capture_output=True,
        )  # fmt: skip
        account = pwd.getpwnam(name)
    if account.pw_gid != group.gr_gid or account.pw_uid < min_uid:
        raise SpawnRefusedError(
            f"{name!r} is an existing OS account outside the {group_name} group "
            f"(uid {account.pw_uid}): no hub user runs as it"
        )
    return account


SERVICE_GROUP = "lasairsvc"
"""OS group of the service accounts (``notebook_runner``, ``dashboard_runner``): not the
users' group, so the spawner refuses a hub user who signs up under one of their names."""


def ensure_service_account(name: str) -> pwd.struct_passwd:
    """The OS account a service runs as: an ordinary account in :data:`SERVICE_GROUP`.

    An account of that name made by an earlier version in the users' group is moved.
    """
    try:
        account = pwd.getpwnam(name)
        users = grp.getgrnam("lasairnb").gr_gid
    except KeyError:
        pass
    else:
        if account.pw_gid == users:
            ensure_account(name)  # makes sure of the name and the uid before moving it
            try:
                grp.getgrnam(SERVICE_GROUP)
            except KeyError:
                subprocess.run(["groupadd", "--system", SERVICE_GROUP], check=True)
            subprocess.run(["usermod", "-g", SERVICE_GROUP, name], check=True)
    return ensure_account(name, SERVICE_GROUP)
