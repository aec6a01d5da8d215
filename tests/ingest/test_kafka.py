"""Live ingest from a real Kafka-protocol broker (Tansu) into a real PostgreSQL.

Fixtures: ``broker`` (one Tansu for the module, on a free port), ``publish``
(produce packets to a fresh topic). Most consumers use a 6 s session timeout, so
a group join takes about 3 s (a Tansu quirk); the restart test uses the defaults
a user gets.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psycopg2
import pytest
import sqlalchemy as sa
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from ingest.connection import connect
from ingest.kafka.consumer import KafkaIngester, KafkaSettings, subscription
from ingest.kafka.publish import publish_simulation
from ingest.pipeline import Ingester
from ingest.simulator import AlertSimulator
from ingest.sources import Packet, read_packets
from lasair_nb.archive.engine import connect_raw
from lasair_nb.archive.migrate import upgrade
from lasair_nb.server.broker import Broker
from lasair_nb.server.embedded import EmbeddedServer

pytestmark = pytest.mark.slow  # a real broker and ingester processes

CONSUMER = {"session.timeout.ms": 6000, "heartbeat.interval.ms": 500}
COMPARED = {
    # Everything but ingest-time bookkeeping (ingested_at, batch log, received_at).
    "candidates": "candid, objectid, in_alert, schemavsn, hpx, dc_mag, dc_sigmag, magpsf, jd, rb",
    "noncandidates": "*",
    "forced_photometry": "*",
    "cutouts": "*",
    "objects": "*",
    "coverage": "*",
    "quarantine": "sha256, raw, reason",
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    broker = Broker(tmp_path_factory.mktemp("broker-home"))
    servers = broker.start(free_port())
    yield servers
    broker.stop()


@pytest.fixture
def publish(broker: str) -> Callable[..., str]:
    def publish(packets: list[bytes], partitions: int = 1, topic: str | None = None) -> str:
        topic = topic or f"ztf_test_{uuid.uuid4().hex[:8]}_programid1"
        admin = AdminClient({"bootstrap.servers": broker})
        for future in admin.create_topics([NewTopic(topic, partitions, 1)]).values():
            future.result()
        producer = Producer({"bootstrap.servers": broker})
        for number, packet in enumerate(packets):
            producer.produce(topic, packet, key=str(number))
        assert producer.flush(30) == 0
        return topic

    return publish


def file_ingest(url: str, packets: list[bytes]) -> None:
    connection = connect(url)
    Ingester(connection, batch_size=50).ingest(
        (Packet(p, "file") for p in packets), "file", progress=False
    )
    connection.close()


def consume(servers: str, topic: str, url: str, group: str | None = None, batch: int = 25):
    ingester = KafkaIngester(
        KafkaSettings(servers, topic, group or uuid.uuid4().hex, batch, 0.5, 4.0, CONSUMER),
        connect=lambda: connect(url),
    )
    return ingester.run(install_signal_handlers=False)


def cli_ingester(
    servers: str, topic: str, url: str, group: str, *extra: str, tuned: bool = True
) -> subprocess.Popen:
    """``lasair-nb ingest kafka`` as a subprocess; ``tuned``: with the short test session."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LASAIR_")}
    env["LASAIR_DB_URL"] = url
    command = [
        str(Path(sys.executable).with_name("lasair-nb")),
        "-v",
        "ingest",
        "kafka",
        "--servers",
        servers,
        "--topic",
        topic,
        "--group",
        group,
        "--max-wait",
        "0.5",
    ]
    if tuned:
        command += [f"-X{key}={value}" for key, value in CONSUMER.items()]
    return subprocess.Popen(
        [*command, *extra], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.2)


def alerts_in(url: str) -> int:
    try:
        connection = connect_raw(url)
    except psycopg2.OperationalError:
        return -1
    with connection, connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM candidates WHERE in_alert")
        count = cursor.fetchone()[0]
    connection.close()
    return count


@pytest.fixture(scope="module")
def packets(ztf_alert_files: list[Path]) -> list[bytes]:
    return [packet.data for packet in read_packets(ztf_alert_files)]


def test_subscription_patterns() -> None:
    assert subscription("ztf_20210901_programid1") == "ztf_20210901_programid1"
    assert subscription("ztf_.*_programid1") == "^ztf_.*_programid1"
    assert subscription("^ztf_2021") == "^ztf_2021"


def test_session_timeout_sets_session_and_heartbeat() -> None:
    def ingester(**changes: Any) -> KafkaIngester:
        settings = KafkaSettings("127.0.0.1:1", "topic", **changes)
        return KafkaIngester(settings, connect=lambda: connect("unused"))

    def config(**changes: Any) -> dict[str, object]:
        return ingester(**changes).consumer_config()

    default = config()
    assert (default["session.timeout.ms"], default["heartbeat.interval.ms"]) == (20_000, 3_000)
    short = config(session_timeout=6)
    assert (short["session.timeout.ms"], short["heartbeat.interval.ms"]) == (6_000, 1_500)
    # -X values arrive as strings and win; the heartbeat follows them unless set too.
    given = config(consumer_config={"session.timeout.ms": "8000"})
    assert (given["session.timeout.ms"], given["heartbeat.interval.ms"]) == ("8000", 2_000)
    both = config(consumer_config={"session.timeout.ms": "8000", "heartbeat.interval.ms": "500"})
    assert both["heartbeat.interval.ms"] == "500"
    with pytest.raises(ValueError, match="session timeout"):
        config(session_timeout=0)
    # A restart takes about 1.8 session timeouts: --stop-when-idle waits that out.
    assert ingester()._assignment_wait == 60
    assert ingester(consumer_config={"session.timeout.ms": "45000"})._assignment_wait == 100


def test_kafka_ingest_equals_file_ingest(
    broker, publish, make_archive, packets: list[bytes], table_digest
) -> None:
    corrupt = b"Obj\x01 but nothing after"
    topic = publish([*packets[:60], corrupt, *packets[60:]], partitions=2)
    from_kafka, from_files = make_archive(), make_archive()

    summary = consume(broker, topic, from_kafka)
    file_ingest(from_files, [*packets, corrupt])

    assert (summary.new, summary.quarantined) == (len(packets), 1)
    assert table_digest(from_kafka, COMPARED) == table_digest(from_files, COMPARED)
    engine = sa.create_engine(from_kafka)
    with engine.connect() as connection:
        source, reason = connection.exec_driver_sql("SELECT source, reason FROM quarantine").one()
        latency = connection.exec_driver_sql(
            "SELECT max(latency_max_s) FROM ingest_batches"
        ).scalar()
    engine.dispose()
    assert source.startswith(f"{topic}[") and "@" in source and "truncated" in reason
    assert 0 < latency < 120


def test_kill_9_mid_stream_then_restart_loses_and_doubles_nothing(
    broker, publish, make_archive, packets: list[bytes], table_digest
) -> None:
    topic = publish(packets, partitions=2)
    clean, crashed = make_archive(), make_archive()
    file_ingest(clean, packets)

    process = cli_ingester(broker, topic, crashed, "crash-group", "--batch", "4")
    wait_for(lambda: alerts_in(crashed) >= 20, 60, "the first batches")
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=10)
    assert 0 < alerts_in(crashed) < len(packets), "kill -9 came too late to test anything"

    restarted = cli_ingester(
        broker, topic, crashed, "crash-group", "--batch", "4", "--stop-when-idle", "4"
    )
    output, _ = restarted.communicate(timeout=120)
    assert restarted.returncode == 0, output
    assert table_digest(crashed, COMPARED) == table_digest(clean, COMPARED)


def test_restart_after_kill_9_with_default_settings_is_back_within_60_s(
    broker, publish, make_archive, packets: list[bytes], table_digest
) -> None:
    """No -X and no LASAIR_KAFKA_SESSION_TIMEOUT: the consumer group settings a user gets.

    On Tansu a restarted ingester gets its partitions after about 1.8 session
    timeouts (see KafkaSettings): about 40 s with the 20 s default; with
    librdkafka's own 45 s, the old default, about 80 s, and this test fails.
    """
    topic = publish(packets, partitions=2)
    clean, crashed = make_archive(), make_archive()
    file_ingest(clean, packets)
    group = f"defaults-{uuid.uuid4().hex[:8]}"

    process = cli_ingester(broker, topic, crashed, group, "--batch", "4", tuned=False)
    wait_for(lambda: alerts_in(crashed) >= 20, 90, "the first batches")
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=10)
    before = alerts_in(crashed)
    assert 0 < before < len(packets), "kill -9 came too late to test anything"

    restarted = cli_ingester(broker, topic, crashed, group, "--batch", "4", tuned=False)
    started = time.monotonic()
    try:
        while alerts_in(crashed) == before and time.monotonic() - started < 75:
            time.sleep(0.2)
        back = time.monotonic() - started
        print(f"restarted ingester's first batch after {back:.1f} s")
        if back < 60:
            wait_for(lambda: alerts_in(crashed) == len(packets), 60, "the rest of the stream")
        restarted.send_signal(signal.SIGTERM)
        output, _ = restarted.communicate(timeout=30)
    finally:
        if restarted.poll() is None:
            restarted.kill()
            output, _ = restarted.communicate(timeout=10)
    assert back < 60, f"the restarted ingester's first batch came after {back:.0f} s\n{output}"
    assert restarted.returncode == 0, output
    assert table_digest(crashed, COMPARED) == table_digest(clean, COMPARED)


def test_sigterm_finishes_the_batch_commits_and_exits_0(
    broker, publish, archive_url: str, packets: list[bytes]
) -> None:
    topic = publish(packets)
    process = cli_ingester(broker, topic, archive_url, "term-group", "--batch", "10")
    wait_for(lambda: alerts_in(archive_url) >= 10, 60, "ingest to begin")
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    assert "received SIGTERM" in output
    done = alerts_in(archive_url)
    assert done % 10 == 0 or done == len(packets)  # whole batches only

    # The offsets were committed: the same group carries on where it stopped.
    rest = cli_ingester(broker, topic, archive_url, "term-group", "--stop-when-idle", "4")
    output, _ = rest.communicate(timeout=120)
    assert rest.returncode == 0, output
    assert f"({len(packets) - done} new, 0 duplicates)" in output
    assert alerts_in(archive_url) == len(packets)


def test_two_ingesters_in_one_group_share_four_partitions(
    broker, publish, archive_url: str, packets: list[bytes]
) -> None:
    topic = f"ztf_shared_{uuid.uuid4().hex[:8]}_programid1"
    publish([], partitions=4, topic=topic)
    first = cli_ingester(
        broker, topic, archive_url, "pair", "--batch", "5", "--stop-when-idle", "8"
    )
    second = cli_ingester(
        broker, topic, archive_url, "pair", "--batch", "5", "--stop-when-idle", "8"
    )
    time.sleep(8)  # both join (and the group rebalances) before anything is there to read
    producer = Producer({"bootstrap.servers": broker})
    for number, packet in enumerate(packets):
        producer.produce(topic, packet, key=str(number), partition=number % 4)
    producer.flush(30)
    outputs = [process.communicate(timeout=120)[0] for process in (first, second)]
    assert [process.returncode for process in (first, second)] == [0, 0], outputs

    new = [
        int(line.split("(")[1].split(" new")[0])
        for out in outputs
        for line in out.splitlines()
        if line.startswith("ingested")
    ]
    assert all(count > 0 for count in new), outputs  # both did part of the work
    assert sum(new) == len(packets)  # and together every alert exactly once
    assert alerts_in(archive_url) == len(packets)


def test_database_outage_is_waited_out(
    broker, publish, tmp_path: Path, packets: list[bytes]
) -> None:
    server = EmbeddedServer(tmp_path / "pgdata")
    status = server.start()
    admin = sa.create_engine(status.url("postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql("CREATE DATABASE outage")
    admin.dispose()
    url = status.url("outage")
    upgrade(url)
    topic = publish(packets)
    process = cli_ingester(
        broker, topic, url, "outage-group", "--batch", "4", "--stop-when-idle", "6"
    )
    try:
        wait_for(lambda: alerts_in(url) >= 8, 60, "ingest to begin")
        server.stop()
        time.sleep(5)
        server.start()
        output, _ = process.communicate(timeout=180)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=10)
        server.stop()
    assert process.returncode == 0, output
    assert "database unavailable" in output and "retrying the batch" in output
    server.start()
    try:
        assert alerts_in(url) == len(packets)
    finally:
        server.stop()


def test_simulated_stream_archives_like_files_and_recovers_periods(
    broker, make_archive, tmp_path: Path, table_digest
) -> None:
    """The simulator published night by night, consumed from ``ztf_.*_programid1``.

    Stored Lomb-Scargle periods (the band with the more significant peak) match the
    truth for about 80% of the periodic variables of this seed; the rest are daily
    aliases (1/P ± 1 cycle/day) or long periods covered by too few cycles.
    """
    simulator = AlertSimulator(objects=150, nights=24, seed=7)
    tag = uuid.uuid4().hex[:6]
    count = publish_simulation(
        simulator, broker, f"ztf_{{date}}_{tag}", truth_path=tmp_path / "truth.csv", progress=False
    )
    from_kafka, from_files = make_archive(), make_archive()
    summary = consume(broker, f"ztf_.*_{tag}", from_kafka, batch=200)
    assert summary.new == count
    file_ingest(from_files, [packet.data for packet in AlertSimulator(150, 24, seed=7).packets()])
    assert table_digest(from_kafka, COMPARED) == table_digest(from_files, COMPARED)

    truth = pd.read_csv(tmp_path / "truth.csv")
    periodic = truth[truth["class"] == "periodic"].set_index("object_id")
    engine = sa.create_engine(from_kafka)
    with engine.connect() as connection:
        stored = pd.read_sql(
            sa.text(
                "SELECT objectid, jdmax - jdmin AS span, CASE WHEN coalesce(period_snr_g, -1)"
                " >= coalesce(period_snr_r, -1) THEN period_g ELSE period_r END AS period"
                " FROM objects WHERE objectid = ANY(:ids)"
            ),
            connection,
            params={"ids": list(periodic.index)},
        ).set_index("objectid")
    engine.dispose()
    true = periodic.loc[stored.index, "period"]
    hit = (np.abs(1 / stored["period"] - 1 / true) * stored["span"] < 0.5).fillna(False)
    assert len(stored) >= 55
    assert hit.mean() >= 0.7, f"periods recovered for {hit.mean():.0%}"
