"""Benchmark: the JSON API's requests/s under 20 concurrent clients, against the same calls
made in-process (``lasair_nb.lasair``) by 20 threads in the same run.

A hub of ``hub/jupyterhub_config.py`` (its defaults) over a throw-away archive holding a
simulated sky (300 sources, 12 nights); 20 clients on loopback, each with its own hub token
(the default limit is 600 calls a minute per token), call ``object`` and ``cone`` (60″
around a known object) over HTTP with ``requests``. The baseline is
``lasair_client(archive=ln.connect(url, act_as=user))`` called by 20 threads. Run (as root:
the hub makes an OS account): ``python -m bench.api [--calls 600] [--no-record]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import requests

import lasair_nb as ln
from bench.hub import running_hub, sign_up_and_log_in
from bench.results import report
from ingest.connection import connect
from ingest.pipeline import Ingester
from ingest.simulator import AlertSimulator
from ingest.sources import Packet
from lasair_nb.lasair import lasair_client

CLIENTS = 20


def throughput(calls: list[Callable[[], object]]) -> float:
    """Calls a second when ``CLIENTS`` threads share the list of calls."""
    started = time.monotonic()
    with ThreadPoolExecutor(CLIENTS) as pool:
        for result in pool.map(lambda call: call(), calls):
            assert result is not None
    return len(calls) / (time.monotonic() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=600, help="calls of each method")
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    name = f"bench{uuid.uuid4().hex[:6]}"
    with running_hub(name) as hub:
        connection = connect(hub.url)
        try:
            packets = AlertSimulator(objects=300, nights=12, seed=3).packets()
            Ingester(connection, batch_size=400).ingest(
                (Packet(p.data, "simulated") for p in packets), "bench", progress=False
            )
        finally:
            connection.close()
        session = sign_up_and_log_in(hub.base, name, f"Bench-{uuid.uuid4().hex}")
        tokens = [
            session.post(f"{hub.base}/hub/api/users/{name}/tokens", json={}, timeout=30).json()[
                "token"
            ]
            for _ in range(CLIENTS)
        ]
        endpoint = f"{hub.base}/services/api"
        clients = []
        for token in tokens:
            http = requests.Session()
            http.headers["Authorization"] = f"Token {token}"
            clients.append(http)
        clients[0].post(f"{endpoint}/cone/", data={"ra": 0, "dec": 0, "radius": 0}, timeout=60)

        local = lasair_client(archive=ln.connect(hub.url, act_as=name))
        objects = local.query("objectId, ramean, decmean", "objects", "ncand >= 5", limit=50)
        ids = [row["objectId"] for row in objects]
        places = [(row["ramean"], row["decmean"]) for row in objects]

        def over_http(method: str, index: int) -> Callable[[], object]:
            http = clients[index % CLIENTS]
            if method == "object":
                data = {"objectId": ids[index % len(ids)]}
            else:
                ra, dec = places[index % len(places)]
                data = {"ra": ra, "dec": dec, "radius": 60}

            def call() -> object:
                answer = http.post(f"{endpoint}/{method}/", data=data, timeout=60)
                answer.raise_for_status()
                return answer.json()

            return call

        def in_process(method: str, index: int) -> Callable[[], object]:
            if method == "object":
                return lambda: local.object(ids[index % len(ids)])
            ra, dec = places[index % len(places)]
            return lambda: local.cone(ra, dec, 60)

        rates = {}
        for method in ("object", "cone"):
            throughput([in_process(method, i) for i in range(20)])  # warm-up
            throughput([over_http(method, i) for i in range(20)])
            rates[method] = (
                throughput([over_http(method, i) for i in range(args.calls)]),
                throughput([in_process(method, i) for i in range(args.calls)]),
            )
        for http in clients:
            http.close()
        session.close()

    lines = [
        f"## JSON API — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"Machine: {platform.node()}, {os.cpu_count()} cores, Python {platform.python_version()};"
        f" {args.calls} calls of each method by {CLIENTS} concurrent clients (own tokens), over"
        " the simulated sky (300 sources, 12 nights).",
        "",
        "| method | API over HTTP (calls/s) | in-process, 20 threads (calls/s) | ratio |",
        "|---|---:|---:|---:|",
        *(
            f"| `{method}` | {http:.0f} | {local_rate:.0f} | {http / local_rate:.2f} |"
            for method, (http, local_rate) in rates.items()
        ),
        "",
    ]
    report(lines, record=not args.no_record)


if __name__ == "__main__":
    main()
