"""One settings class: every variable typed and described; a bad one is one line, not a traceback."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from lasair_nb.errors import SettingsError
from lasair_nb.settings import Settings, get_settings


def test_every_setting_has_a_description() -> None:
    for name, field in Settings.model_fields.items():
        assert field.description and len(field.description) > 20, name


def test_secrets_are_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LASAIR_PASSWORD", "hunter2")
    monkeypatch.setenv("LASAIR_READER_PASSWORD", "swordfish")
    monkeypatch.setenv("LASAIR_DB_URL", "postgresql://owner:sesame@host/lasair")
    settings = get_settings()
    shown = repr(settings) + str(settings.model_dump())
    for secret in ("hunter2", "swordfish", "sesame"):
        assert secret not in shown
    assert settings.password.get_secret_value() == "hunter2"


def test_defaults_a_user_gets(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("LASAIR_"):
            monkeypatch.delenv(name)
    settings = get_settings()
    assert settings.sql_timeout == 60
    assert settings.broker_port == 9092
    assert settings.db_url is None


@pytest.mark.parametrize(
    ("variable", "value"),
    [("LASAIR_SQL_TIMEOUT", "abc"), ("LASAIR_SQL_TIMEOUT", "0"), ("LASAIR_BROKER_PORT", "99999")],
)
def test_a_malformed_variable_names_itself(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError, match=variable) as raised:
        get_settings()
    assert "\n" not in str(raised.value)


def test_the_command_says_which_variable_is_wrong_even_for_help() -> None:
    env = {**os.environ, "LASAIR_SQL_MAX_ROWS": "many"}
    done = subprocess.run(
        [sys.executable, "-m", "lasair_nb.cli", "--help"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "LASAIR_SQL_MAX_ROWS='many'" in lines[0], done.stderr
