"""Operators see the quarantine and replay it: list, show, export, retry; the status page counts it."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from ingest.commands import retry_quarantined
from lasair_nb.archive.schema import candidates, quarantine


def lasair_nb(*args: str, url: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LASAIR_")}
    env["LASAIR_DB_URL"] = url
    return subprocess.run(
        [sys.executable, "-m", "lasair_nb.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def quarantined(archive_url: str, ztf_alert_files: list[Path]) -> tuple[str, dict[str, int]]:
    """One good alert quarantined by an earlier (buggy) version, and one truncated packet."""
    good = ztf_alert_files[0].read_bytes()
    bad = good[: len(good) // 3]
    engine = sa.create_engine(archive_url)
    ids = {}
    with engine.begin() as connection:
        for label, raw, reason in (
            ("good", good, "RowError: a bug since fixed"),
            ("bad", bad, "DecodeError: truncated"),
        ):
            ids[label] = connection.execute(
                sa.insert(quarantine)
                .values(
                    source=f"test/{label}.avro",
                    sha256=hashlib.sha256(raw).hexdigest(),
                    raw=raw,
                    reason=reason,
                )
                .returning(quarantine.c.id)
            ).scalar_one()
    engine.dispose()
    return archive_url, ids


@pytest.mark.slow
def test_list_show_export_and_the_status_page(
    quarantined: tuple[str, dict[str, int]], tmp_path: Path, ztf_alert_files: list[Path]
) -> None:
    url, ids = quarantined
    listed = lasair_nb("quarantine", "list", url=url)
    assert listed.returncode == 0, listed.stderr
    assert "test/good.avro" in listed.stdout and "DecodeError: truncated" in listed.stdout
    shown = lasair_nb("quarantine", "show", str(ids["bad"]), url=url)
    assert shown.returncode == 0 and "DecodeError: truncated" in shown.stdout
    size = len(ztf_alert_files[0].read_bytes()) // 3
    assert f"bytes           {size}" in shown.stdout
    out = tmp_path / "bad.avro"
    exported = lasair_nb("quarantine", "export", str(ids["bad"]), str(out), url=url)
    assert exported.returncode == 0, exported.stderr
    assert out.read_bytes() == ztf_alert_files[0].read_bytes()[:size]
    status = lasair_nb("status", url=url)
    assert "2 packets in all" in status.stdout
    missing = lasair_nb("quarantine", "show", "999999", url=url)
    assert missing.returncode == 2 and "no quarantined packet 999999" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_retry_ingests_what_now_ingests_and_keeps_the_rest(
    quarantined: tuple[str, dict[str, int]],
) -> None:
    url, ids = quarantined
    assert retry_quarantined(url) == (2, 1)
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        left = connection.execute(sa.select(quarantine.c.id, quarantine.c.reason)).all()
        alerts = connection.execute(
            sa.select(sa.func.count()).select_from(candidates).where(candidates.c.in_alert)
        ).scalar_one()
    engine.dispose()
    assert [row.id for row in left] == [ids["bad"]]
    assert left[0].reason == "DecodeError: truncated"  # its first reason stays
    assert alerts == 1
    again = lasair_nb("quarantine", "retry", url=url)
    assert again.returncode == 0, again.stderr
    assert "retried 1 packets: 0 ingested and removed, 1 still quarantined" in again.stdout


@pytest.mark.slow
def test_retry_of_an_unknown_id_changes_nothing(quarantined: tuple[str, dict[str, int]]) -> None:
    url, _ = quarantined
    refused = lasair_nb("quarantine", "retry", "424242", url=url)
    assert refused.returncode == 2 and "no quarantined packets [424242]" in refused.stderr
    assert "2 packets in all" in lasair_nb("status", url=url).stdout
