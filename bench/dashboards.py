"""Benchmark: a dashboard's time to widgets in Chromium, with and without pre-started kernels.

The object dashboard (``/services/dashboards/object?objectId=…``) is served by
``python -m dashboards.serve`` over a throw-away archive holding a simulated sky (300
sources, 12 nights), once with ``LASAIR_DASHBOARD_POOL=0`` (cold: every visit starts a
kernel, which imports the client and connects) and once with the default pool of 1 (warm:
the visit takes a kernel that did that already; the next visit comes after the pool has
refilled). Time to widgets: from ``page.goto`` until the light curve's points are drawn.
Warm visits are timed twice: as first visits (nothing in the browser's cache) and as a
returning visitor's (one browser context). Aim: ≤ 2 s warm.
Run: ``python -m bench.dashboards [--visits 7] [--no-record]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime

import numpy as np
import requests

from bench.results import bench_archive, report
from ingest.connection import connect
from ingest.pipeline import Ingester
from ingest.simulator import AlertSimulator
from ingest.sources import Packet
from lasair_nb.server.processes import free_ports

CHROMIUM = "/usr/lib/chromium/chromium"


def visits(
    url: str, object_ids: list[str], count: int, pause: float, returning: bool = False
) -> list[float]:
    """Seconds from opening each object page until its light curve's points are drawn.

    Each visit is a first visit (a browser context of its own: nothing cached), or with
    ``returning`` a returning visitor's (one context: Voila's front end is in its cache).
    """
    from playwright.sync_api import sync_playwright  # noqa: PLC0415 - a test dependency

    times = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--no-sandbox"],
        )
        try:
            shared = browser.new_context() if returning else None
            for visit in range(count + 1):  # the first is a warm-up
                page = shared.new_page() if shared else browser.new_page()
                page.route("**/*", _local_only)
                started = time.monotonic()
                page.goto(f"{url}object?objectId={object_ids[visit % len(object_ids)]}")
                page.wait_for_function(
                    "() => document.querySelectorAll('.lasair-light-curve path.dot').length > 0",
                    timeout=120_000,
                )
                if visit:
                    times.append(time.monotonic() - started)
                page.close()
                time.sleep(pause)  # a pool refills between two visitors
        finally:
            browser.close()
    return times


def _local_only(route: object) -> None:
    host = route.request.url.split("/")[2]
    if host.startswith(("127.0.0.1", "localhost")):
        route.continue_()
    else:
        route.abort()


def serve(url: str, pool: int, port: int) -> subprocess.Popen:
    """``dashboards.serve`` on ``port``, its kernels on the archive ``url``."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("LASAIR_")}
    env |= {
        "LASAIR_DB_URL": url,
        "LASAIR_DASHBOARD_POOL": str(pool),
        "JUPYTERHUB_SERVICE_URL": f"http://127.0.0.1:{port}",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "dashboards.serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            requests.get(f"http://127.0.0.1:{port}/services/dashboards/status", timeout=5)
            break
        except requests.ConnectionError:
            time.sleep(0.5)
    time.sleep(20 if pool else 1)  # the pools fill
    return process


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visits", type=int, default=7)
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    with bench_archive() as url:
        connection = connect(url)
        try:
            packets = AlertSimulator(objects=300, nights=12, seed=3).packets()
            Ingester(connection, batch_size=400).ingest(
                (Packet(p.data, "simulated") for p in packets), "bench", progress=False
            )
            with connection.cursor() as cursor:
                cursor.execute("SELECT objectid FROM objects WHERE ncand >= 20 LIMIT 8")
                object_ids = [row[0] for row in cursor.fetchall()]
        finally:
            connection.close()
        results = {}
        for label, pool in (("cold", 0), ("warm", 1)):
            port = free_ports()
            process = serve(url, pool, port)
            try:
                base = f"http://127.0.0.1:{port}/services/dashboards/"
                results[label] = visits(base, object_ids, args.visits, pause=8.0)
                if pool:
                    results["returning"] = visits(
                        base, object_ids, args.visits, pause=8.0, returning=True
                    )
            finally:
                process.send_signal(2)
                process.wait(60)

    def p(label: str, q: int) -> float:
        return float(np.percentile(results[label], q))

    lines = [
        f"## Dashboards — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"Machine: {platform.node()}, {os.cpu_count()} cores, Python {platform.python_version()};"
        f" {args.visits} visits of the object dashboard in headless Chromium after a warm-up,"
        " simulated sky (300 sources, 12 nights).",
        "",
        "| time to widgets | p50 s | p95 s | ratio to cold (p50) | aim |",
        "|---|---:|---:|---:|---|",
        f"| cold: a kernel started per visit (pool 0) | {p('cold', 50):.2f} | "
        f"{p('cold', 95):.2f} | 1.00 | |",
        f"| warm: pre-started kernels (pool 1, the default) | {p('warm', 50):.2f} | "
        f"{p('warm', 95):.2f} | {p('warm', 50) / p('cold', 50):.2f} | ≤ 2 s |",
        f"| warm, a returning visitor (the front end in the browser's cache) | "
        f"{p('returning', 50):.2f} | {p('returning', 95):.2f} | "
        f"{p('returning', 50) / p('cold', 50):.2f} | ≤ 2 s |",
        "",
    ]
    report(lines, record=not args.no_record)


if __name__ == "__main__":
    main()
