"""Benchmark: producer → Tansu broker → ``lasair-nb ingest kafka`` → PostgreSQL.

Three figures, measured in one run on the same packets: the real ZTF sample alerts
re-keyed as in :mod:`bench.ingest` (``--source real``, the default when ``../shared`` is
there), or the simulator's (``--source simulated``; its histories are about three times
as long as the sample's, so each alert writes about three times the rows):

1. file ingest of the packets (the baseline rate);
2. Kafka ingest at full speed: every packet published first, then consumed
   (alerts/s and its ratio to 1);
3. sustained streams at ``--rates`` alerts/s (default 500 and 1,000; 500 is twice
   the Rubin average of ~10 million alerts over a ~10 h night, ZTF peaks near
   1,330): does the ingester keep up, what is the alert-to-queryable latency, p50
   and p99, and the alert-to-object-updated latency (the objects stage's, from the
   Kafka timestamps it logs)? One ingester at each rate, and two in one consumer
   group (two partitions) at the first.

Run: ``python -m bench.ingest_kafka [--alerts 10000] [--rates 500 1000] [--source …]``;
appends to ``bench/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import sqlalchemy as sa
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from bench.ingest import SAMPLES, rekeyed_packets
from bench.results import report
from ingest.connection import connect
from ingest.decode import AlertDecoder
from ingest.pipeline import Ingester
from ingest.simulator import AlertSimulator
from ingest.sources import Packet
from lasair_nb.archive.engine import connect_raw
from lasair_nb.archive.migrate import upgrade
from lasair_nb.server.broker import Broker
from lasair_nb.server.embedded import EmbeddedServer

CONSUMER = ["-Xsession.timeout.ms=6000", "-Xheartbeat.interval.ms=500"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def new_database(status, name: str) -> str:
    admin = sa.create_engine(status.url("postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f"CREATE DATABASE {name}")
    admin.dispose()
    url = status.url(name)
    upgrade(url)
    return url


def start_ingester(servers: str, topic: str, url: str, batch: int) -> subprocess.Popen:
    """A ``lasair-nb ingest kafka`` process in the group named after the topic."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LASAIR_")}
    env["LASAIR_DB_URL"] = url
    command = [
        sys.executable,
        "-m",
        "lasair_nb.cli",
        "ingest",
        "kafka",
        "--servers",
        servers,
        "--topic",
        topic,
        "--group",
        f"bench_{topic}",
        "--batch",
        str(batch),
        "--max-wait",
        "0.2",
        *CONSUMER,
    ]
    return subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def create_topic(servers: str, topic: str) -> None:
    admin = AdminClient({"bootstrap.servers": servers})  # keep it alive until the futures end
    for future in admin.create_topics([NewTopic(topic, 1, 1)]).values():
        future.result()


def count_alerts(url: str) -> int:
    connection = connect_raw(url)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM candidates WHERE in_alert")
        count = cursor.fetchone()[0]
    connection.close()
    return count


def wait_for_group(url: str, process: subprocess.Popen, seconds: float) -> None:
    """Give the consumer time to join its group before the clock starts."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.1)


def full_speed(servers: str, url: str, packets: list[bytes], batch: int) -> float:
    topic = "bench_full"
    create_topic(servers, topic)
    producer = Producer({"bootstrap.servers": servers, "linger.ms": 20})
    for packet in packets:
        producer.produce(topic, packet)
        producer.poll(0)
    producer.flush(120)
    process = start_ingester(servers, topic, url, batch)
    wait_for_group(url, process, 0)
    started = None
    while count_alerts(url) < len(packets):
        if started is None and count_alerts(url) > 0:
            started = time.monotonic()
        if process.poll() is not None:
            raise RuntimeError(process.stdout.read())
        time.sleep(0.05)
    elapsed = time.monotonic() - (started or time.monotonic())
    process.terminate()
    process.communicate(timeout=60)
    # The first batch's own time is not in `elapsed`; count its packets out too.
    return (len(packets) - batch) / elapsed if elapsed > 0 else float("nan")


def sustained(
    servers: str,
    url: str,
    packets: list[tuple[int, bytes]],
    *,
    rate: float,
    batch: int,
    ingesters: int,
):
    """Offer ``rate`` alerts/s to ``ingesters`` consumers of a topic with as many partitions.

    Alert k goes to partition ``candid % ingesters``; within a partition order is
    kept, so the k-th alert of a partition is queryable when the archive first
    holds k alerts with that residue.
    """
    topic = f"bench_sustained_{rate:.0f}_{ingesters}"
    admin = AdminClient({"bootstrap.servers": servers})
    for future in admin.create_topics([NewTopic(topic, ingesters, 1)]).values():
        future.result()
    processes = [start_ingester(servers, topic, url, batch) for _ in range(ingesters)]
    time.sleep(10)  # group join and rebalance (about half the 6 s session timeout) first
    produced_at = np.zeros(len(packets))
    residues = np.array([candid % ingesters for candid, _ in packets])
    samples: list[tuple[float, list[int]]] = []
    done = threading.Event()
    count_sql = (
        "SELECT "
        + ", ".join(f"count(*) FILTER (WHERE candid % {ingesters} = {r})" for r in range(ingesters))
        + " FROM candidates WHERE in_alert"
    )

    def poll() -> None:
        connection = connect_raw(url)
        connection.autocommit = True
        with connection.cursor() as cursor:
            while not done.is_set():
                cursor.execute(count_sql)
                samples.append((time.time(), list(cursor.fetchone())))
                time.sleep(0.05)
        connection.close()

    poller = threading.Thread(target=poll)
    poller.start()
    producer = Producer({"bootstrap.servers": servers, "linger.ms": 5})
    started = time.time()
    for number, (candid, packet) in enumerate(packets):
        pause = started + number / rate - time.time()
        if pause > 0:
            time.sleep(pause)
        produced_at[number] = time.time()
        producer.produce(
            topic,
            packet,
            partition=int(candid % ingesters),
            timestamp=int(produced_at[number] * 1000),
        )
        producer.poll(0)
    producer.flush(60)
    deadline = time.time() + 600
    while (sum(samples[-1][1]) if samples else 0) < len(packets) and time.time() < deadline:
        time.sleep(0.1)
    done.set()
    poller.join()
    for process in processes:
        process.terminate()
        process.communicate(timeout=60)

    times = np.array([t for t, _ in samples])
    latency = np.empty(len(packets))
    for residue in range(ingesters):
        mine = np.flatnonzero(residues == residue)
        counts = np.array([c[residue] for _, c in samples])
        ready = np.searchsorted(counts, np.arange(1, len(mine) + 1), side="left")
        latency[mine] = times[np.minimum(ready, len(times) - 1)] - produced_at[mine]
    finished = (produced_at + latency).max()
    engine = sa.create_engine(url)
    with engine.connect() as connection:  # Kafka timestamp → object updated, per stage batch
        objects = connection.exec_driver_sql(
            "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_max_s),"
            " max(latency_max_s) FROM object_batches"
        ).one()
    engine.dispose()
    return (
        len(packets) / (finished - started),
        *np.percentile(latency, [50, 99]).tolist(),
        *(float("nan") if value is None else value for value in objects),
    )


def bench_packets(count: int, source: str | None) -> tuple[list[tuple[int, bytes]], str]:
    """``(candid, packet)`` pairs to publish, and what they are, for the report."""
    if (source or ("real" if SAMPLES.is_dir() else "simulated")) == "real":
        print(f"re-keying {count} real ZTF alerts from {SAMPLES} …")
        packets = rekeyed_packets(count)
        decoder = AlertDecoder()
        keyed = [(decoder.decode(data).records[0]["candid"], data) for data in packets]
        return keyed, f"re-keyed real ZTF packets ({decoder.cached_schemas} writer schemas)"
    print(f"simulating {count} alerts …")
    simulator = AlertSimulator(objects=max(200, count // 8), nights=60, seed=7)
    keyed = []
    for packet in simulator.packets():
        keyed.append((packet.candid, packet.data))
        if len(keyed) == count:
            break
    return keyed, "simulated 4.02 packets"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=10_000)
    parser.add_argument("--rates", type=float, nargs="+", default=[500.0, 1000.0])
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument(
        "--source",
        choices=["real", "simulated"],
        help="packets: the real ZTF alerts re-keyed (the default when ../shared is there),"
        " or the simulator's (whose histories are about three times as long)",
    )
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()

    started = time.perf_counter()
    keyed, described = bench_packets(args.alerts, args.source)
    packets = [data for _, data in keyed]
    generate_rate = len(packets) / (time.perf_counter() - started)

    with tempfile.TemporaryDirectory(prefix="lasair-bench-") as home:
        server = EmbeddedServer(Path(home) / "pgdata")
        status = server.start()
        broker = Broker(Path(home))
        servers = broker.start(free_port())
        try:
            file_url = new_database(status, "bench_files")
            connection = connect(file_url)
            summary = Ingester(connection, batch_size=args.batch).ingest(
                (Packet(p, "bench") for p in packets), "bench", progress=False
            )
            connection.close()
            file_rate = summary.packets / summary.queryable_seconds
            print(f"file ingest: {file_rate:.0f} alerts/s")
            kafka_rate = full_speed(
                servers, new_database(status, "bench_full"), packets, args.batch
            )
            print(f"kafka ingest, full speed: {kafka_rate:.0f} alerts/s")
            streams = {}
            runs = [(rate, 1) for rate in args.rates] + [(args.rates[0], 2)]
            for number, (rate, ingesters) in enumerate(runs):
                url = new_database(status, f"bench_rate_{number}")
                streams[rate, ingesters] = sustained(
                    servers, url, keyed, rate=rate, batch=args.batch, ingesters=ingesters
                )
                achieved, p50, p99, objects_p50, objects_max = streams[rate, ingesters]
                print(
                    f"{rate:.0f}/s offered, {ingesters} ingester(s): {achieved:.0f} alerts/s, "
                    f"queryable p50 {p50:.2f} s, p99 {p99:.2f} s; object updated "
                    f"p50 {objects_p50:.2f} s, max {objects_max:.2f} s"
                )
        finally:
            broker.stop()
            server.stop()

    lines = [
        f"## Kafka ingest — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"Machine: {platform.node()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"{len(packets)} {described} ({sum(map(len, packets)) / 1e6:.0f} MB, "
        f"made at {generate_rate:.0f}/s beforehand), batches of {args.batch}; the producer, "
        "Tansu broker, ingesters and embedded PostgreSQL all on this machine.",
        "",
        "| measure | value | ratio to file ingest |",
        "|---|---:|---:|",
        f"| file ingest of the same packets (baseline) | {file_rate:.0f} alerts/s | 1.00 |",
        f"| Kafka ingest, backlog consumed at full speed | {kafka_rate:.0f} alerts/s | "
        f"**{kafka_rate / file_rate:.2f}** |",
    ]
    for (rate, ingesters), (achieved, p50, p99, objects_p50, objects_max) in streams.items():
        lines += [
            f"| {rate:.0f} alerts/s offered, {ingesters} ingester(s) in one group: ingested "
            f"| {achieved:.0f} alerts/s | {achieved / file_rate:.2f} |",
            f"| … alert-to-queryable latency p50 / p99 | {p50:.2f} s / {p99:.2f} s | |",
            f"| … alert-to-object-updated latency p50 / max | {objects_p50:.2f} s / "
            f"{objects_max:.2f} s | |",
        ]
    lines += [
        "",
        "Alert-to-queryable latency runs from the producer's timestamp to the moment a poller",
        "(every 50 ms) sees the alert in the archive; while the offered rate exceeds what is",
        "ingested it grows with the length of the run. Alert-to-object-updated latency is the",
        "objects stage's own record: per stage batch, the oldest Kafka timestamp among its",
        "objects' alerts to the batch's commit (p50 over batches, and the max).",
        "",
    ]
    report(lines, record=not args.no_record)


if __name__ == "__main__":
    main()
