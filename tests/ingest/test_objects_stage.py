"""The objects stage: alerts are queryable first, their objects follow, nothing is missed.

Real PostgreSQL, the real sample alerts and the simulator; the stage runs in its own
process as it does beside a large ingest.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa

from ingest.connection import connect, dsn_of
from ingest.decode import AlertDecoder
from ingest.objects_stage import ObjectStage, ObjectUpdater
from ingest.pipeline import Ingester, decode_packet
from ingest.simulator import AlertSimulator
from ingest.sources import Packet, read_packets
from ingest.writer import ArchiveWriter, update_objects
from lasair_nb.archive.status import ingest_status

SUMMARY_TABLES = {
    "objects": "*",
    "sherlock_classifications": "objectid, classification, description, annotator",
    "sherlock_crossmatches": "*",
    "tns_matches": "*",
}
"""What the objects stage writes (the columns that do not say when)."""


def scalar(url: str, sql: str):
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        value = connection.exec_driver_sql(sql).scalar()
    engine.dispose()
    return value


def rows_of(packets: list[Packet]) -> list:
    decoder = AlertDecoder()
    return [row for packet in packets for row in decode_packet(decoder, packet)]


@pytest.fixture(scope="module")
def simulated() -> list[Packet]:
    return [Packet(p.data, "sim") for p in AlertSimulator(objects=40, nights=6, seed=11).packets()]


def test_alerts_are_queryable_before_their_objects_are_summarised(
    make_archive, ztf_alert_files: list[Path]
) -> None:
    url = make_archive()
    packets = list(read_packets(ztf_alert_files[:20]))
    connection = connect(url)
    try:
        writer = ArchiveWriter(connection)
        writer.write_batch(rows_of(packets), source="test")
        objects = {row.objectid for row in rows_of(packets)}
        # committed: the alerts are there, their objects wait in the queue
        assert scalar(url, "SELECT count(*) FROM candidates WHERE in_alert") == len(packets)
        assert scalar(url, "SELECT count(*) FROM objects_pending") == len(objects)
        assert scalar(url, "SELECT count(*) FROM objects") == 0
        status = ingest_status_of(url)
        assert status.objects_waiting == len(objects) and status.objects_oldest_wait >= 0

        assert ObjectUpdater(connection).drain() == len(objects)
    finally:
        connection.close()
    assert scalar(url, "SELECT count(*) FROM objects_pending") == 0
    assert scalar(url, "SELECT count(*) FROM objects") == len(objects)
    status = ingest_status_of(url)
    assert status.objects_waiting == 0
    assert 0 <= status.objects_lag_p50 <= status.objects_lag_max < 60
    assert status.objects_latency_max is None  # from files: no Kafka timestamps


def ingest_status_of(url: str):
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        status = ingest_status(connection)
    engine.dispose()
    return status


@pytest.mark.slow  # three archives, one with the stage in its own process
def test_the_stage_writes_what_summarising_in_the_alerts_transaction_wrote(
    make_archive, ztf_alert_files: list[Path], simulated: list[Packet], table_digest
) -> None:
    """In process, in a process of its own, and all at once afterwards: the same rows."""
    packets = [*read_packets(ztf_alert_files), *simulated]
    in_process, own_process, afterwards = make_archive(), make_archive(), make_archive()
    for url, batch in ((in_process, len(packets)), (own_process, 25)):
        connection = connect(url)
        try:
            Ingester(connection, batch_size=batch).ingest(packets, "test", progress=False)
        finally:
            connection.close()
    # the old way, by hand: every object summarised once all alerts are in
    connection = connect(afterwards)
    try:
        ArchiveWriter(connection).write_batch(rows_of(packets), source="test")
        with connection.cursor() as cursor:
            cursor.execute("SELECT objectid FROM candidates GROUP BY objectid ORDER BY objectid")
            update_objects(cursor, [row[0] for row in cursor.fetchall()])
            cursor.execute("DELETE FROM objects_pending")
        connection.commit()
    finally:
        connection.close()

    expected = table_digest(afterwards, SUMMARY_TABLES)
    assert expected["objects"][0] == len({row.objectid for row in rows_of(packets)})
    assert table_digest(in_process, SUMMARY_TABLES) == expected
    assert table_digest(own_process, SUMMARY_TABLES) == expected
    for url in (in_process, own_process):
        assert scalar(url, "SELECT count(*) FROM objects_pending") == 0
    # the separate process logged its batches; the small ingest summarised in process
    assert (
        scalar(own_process, "SELECT sum(n_objects) FROM object_batches") >= expected["objects"][0]
    )


def test_an_alert_arriving_while_its_object_is_summarised_queues_it_again(
    make_archive, simulated: list[Packet]
) -> None:
    url = make_archive()
    by_object: dict[str, list[Packet]] = {}
    for packet in simulated:
        by_object.setdefault(rows_of([packet])[0].objectid, []).append(packet)
    objectid, packets = max(by_object.items(), key=lambda item: len(item[1]))
    first, last = packets[:-1], packets[-1:]
    stage, ingester = connect(url), connect(url)
    try:
        ArchiveWriter(ingester).write_batch(rows_of(first), source="test")
        updater = ObjectUpdater(stage)  # the stage's connection, as it sets it up
        # The stage takes the object (its queue row locked) and reads its detections ...
        with stage.cursor() as cursor:
            cursor.execute(
                "SELECT objectid FROM objects_pending WHERE objectid = %s FOR UPDATE", (objectid,)
            )
            update_objects(cursor, [objectid])
            # ... while the object's next alert is written: its queueing waits for the lock.
            done = threading.Event()

            def write_last() -> None:
                ArchiveWriter(ingester).write_batch(rows_of(last), source="t")
                done.set()

            writing = threading.Thread(target=write_last)
            writing.start()
            time.sleep(1.0)
            assert not done.is_set(), "the alert's transaction should wait for the stage"
            cursor.execute("DELETE FROM objects_pending WHERE objectid = %s", (objectid,))
        stage.commit()
        writing.join(30)
        assert done.is_set()
        # the summary written without the last alert is stale, and the object is queued again
        assert scalar(url, f"SELECT ncand FROM objects WHERE objectid = '{objectid}'") < scalar(
            url, f"SELECT count(*) FROM candidates WHERE objectid = '{objectid}'"
        )
        assert scalar(url, "SELECT array_agg(objectid) FROM objects_pending") == [objectid]
        updater.drain()
    finally:
        stage.close()
        ingester.close()
    # ncand: every detection of the object (Lasair-ZTF's definition)
    assert scalar(url, f"SELECT ncand FROM objects WHERE objectid = '{objectid}'") == scalar(
        url, f"SELECT count(*) FROM candidates WHERE objectid = '{objectid}'"
    )


@pytest.mark.slow  # a crashed ingest, then a whole ingest that takes up its queue
def test_a_queue_left_by_a_crash_is_taken_up_by_the_next_run(
    make_archive, simulated: list[Packet]
) -> None:
    url = make_archive()
    connection = connect(url)
    try:
        # an ingester died after committing alerts, before their objects were summarised
        ArchiveWriter(connection).write_batch(rows_of(simulated), source="t")
        waiting = scalar(url, "SELECT count(*) FROM objects_pending")
        assert waiting > 0 and scalar(url, "SELECT count(*) FROM objects") == 0
        # the next run (here: ingesting the same packets again, all duplicates) drains it
        summary = Ingester(connection, batch_size=10).ingest(simulated, "again", progress=False)
    finally:
        connection.close()
    assert summary.new == 0
    assert scalar(url, "SELECT count(*) FROM objects_pending") == 0
    assert scalar(url, "SELECT count(*) FROM objects") == waiting


@pytest.mark.slow  # starts, kills and restarts the stage's process
def test_a_dead_stage_process_is_started_again_and_a_stopped_one_keeps_the_queue(
    make_archive, simulated: list[Packet]
) -> None:
    url = make_archive()
    connection = connect(url)
    try:
        # its connection string is a working one, password included
        psycopg.connect(dsn_of(connection)).close()
        stage = ObjectStage(connection, in_process=False)
        stage.start()
        first = stage._process
        assert first is not None and first.is_alive()
        first.kill()  # SIGKILL: as if the out-of-memory killer took it
        first.join(30)
        ArchiveWriter(connection).write_batch(rows_of(simulated), source="t")
        stage.after_batch()  # what the ingester calls after each commit
        second = stage._process
        assert second is not None and second is not first and second.is_alive()
        deadline = time.monotonic() + 60
        while scalar(url, "SELECT count(*) FROM objects_pending") and time.monotonic() < deadline:
            time.sleep(0.2)
        assert scalar(url, "SELECT count(*) FROM objects_pending") == 0  # summarised by it
        assert scalar(url, "SELECT count(*) FROM objects") > 0

        # interrupted, it ends (after its batch, if it is in one) and is not waited for long
        stopping = time.monotonic()
        stage.finish(drain=False)
        assert not second.is_alive() and time.monotonic() - stopping < 10
    finally:
        connection.close()


@pytest.mark.slow  # a failed stage batch, retried object by object
def test_an_object_that_cannot_be_summarised_is_set_aside_and_the_rest_go_on(
    make_archive, simulated: list[Packet]
) -> None:
    url = make_archive()
    rows = rows_of(simulated)
    objects = sorted({row.objectid for row in rows})
    poison = objects[len(objects) // 2]
    connection = connect(url)
    try:
        with connection.cursor() as cursor:  # the database refuses one object's summary
            cursor.execute(
                "CREATE FUNCTION refuse_one() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
                f" IF NEW.objectid = '{poison}' THEN RAISE EXCEPTION 'refused for the test';"
                " END IF; RETURN NEW; END $$"
            )
            cursor.execute(
                "CREATE TRIGGER refuse_one BEFORE INSERT OR UPDATE ON objects"
                " FOR EACH ROW EXECUTE FUNCTION refuse_one()"
            )
        connection.commit()
        ArchiveWriter(connection).write_batch(rows, source="test")
        ObjectUpdater(connection).drain()
    finally:
        connection.close()
    assert scalar(url, "SELECT count(*) FROM objects") == len(objects) - 1
    assert scalar(url, "SELECT array_agg(objectid) FROM objects_pending") == [poison]
    assert scalar(url, "SELECT attempts FROM objects_pending") == 3
    assert "refused for the test" in scalar(url, "SELECT last_error FROM objects_pending")
    status = ingest_status_of(url)
    assert (status.objects_waiting, status.objects_set_aside) == (0, 1)


def test_draining_takes_what_was_queued_not_what_keeps_coming(
    make_archive, ztf_alert_files: list[Path], simulated: list[Packet]
) -> None:
    url = make_archive()
    connection = connect(url)
    try:
        writer = ArchiveWriter(connection)
        updater = ObjectUpdater(connection, chunk=7)
        writer.write_batch(rows_of(simulated), source="before")
        cutoff = updater.now()
        writer.write_batch(rows_of(list(read_packets(ztf_alert_files[:10]))), source="after")
        queued = scalar(url, "SELECT count(*) FROM objects_pending")
        done = 0
        while count := updater.update_pending(until=cutoff):
            done += count
    finally:
        connection.close()
    assert done == len({row.objectid for row in rows_of(simulated)})
    left = scalar(url, "SELECT count(*) FROM objects_pending")
    assert 0 < left == queued - done  # those queued after the cutoff wait for the next drain
