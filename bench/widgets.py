"""Benchmark: how long the widgets take to build, as ratios to the client calls they wrap.

In the same run, on an embedded archive of a simulated stream (``--nights`` nights of a
few simulated sources, so the periodic ones have about a thousand detections):

* ``ln.ObjectViewer(archive, id)`` for the object with the most detections, against
  ``archive.object(id).lightcurve()`` (aim: ≤ 1.5×). Built as in a kernel cell (under a
  running event loop), the constructor returns once the light curve is drawn and the
  rest loads when the cell returns: both times are reported, "shown" and "complete";
* ``ln.QueryBuilder`` running a 10⁵-row query and filling its first page, against
  ``archive.sql`` of the same query;
* ``ln.SkyMap`` overlaying 10⁵ objects (aim: under a second to build): the kernel's side,
  the overlay's table serialised (VOTable) and sent as to a drawn view; drawing them in
  a browser is timed by the widget's browser test, not here.

Times are medians of ``--repeat`` runs (after one warm-up each). Run:
``python -m bench.widgets [--nights 900] [--no-record]``; appends to ``bench/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import time
import warnings
from collections.abc import Callable
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import sqlalchemy as sa

import lasair_nb as ln
from bench.results import bench_archive, report
from ingest.connection import connect
from ingest.pipeline import Ingester
from ingest.simulator import AlertSimulator
from ingest.sources import Packet

ROWS = 100_000
BIG_QUERY = (
    f"SELECT g AS n, g * 0.001 AS x, md5(g::text) AS label FROM generate_series(1, {ROWS}) g"
)


def median_seconds(work: Callable[[], object], repeat: int) -> float:
    """Median wall time of ``work`` over ``repeat`` runs, after one warm-up."""
    work()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def viewer_seconds(archive: ln.Archive, objectid: str, repeat: int) -> tuple[float, float, float]:
    """Medians of (the light curve, ObjectViewer shown, ObjectViewer complete).

    The viewer is built as in a kernel cell, under a running event loop: "shown" is when
    the constructor returns (the light curve drawn), "complete" when what the kernel's
    loop runs next has loaded the rest. Baseline and viewer alternate, so a busy moment
    of the machine falls on both.
    """

    async def cell() -> tuple[float, float, float]:
        curve, shown, complete = [], [], []
        for run in range(repeat + 1):  # the first is a warm-up
            started = time.perf_counter()
            archive.object(objectid).lightcurve()
            curve_done = time.perf_counter()
            viewer = ln.ObjectViewer(archive, objectid, defer_details=True)  # as in a kernel
            returned = time.perf_counter()
            viewer.finish_loading()  # what the kernel's loop runs once the cell returns
            finished = time.perf_counter()
            if run:
                curve.append(curve_done - started)
                shown.append(returned - curve_done)
                complete.append(finished - curve_done)
        return tuple(statistics.median(times) for times in (curve, shown, complete))

    return asyncio.run(cell())


def build_archive(url: str, nights: int) -> tuple[str, int, float]:
    """Ingest a simulated stream; the objectId with the most detections, their count, seconds."""
    started = time.perf_counter()
    simulator = AlertSimulator(objects=4, nights=nights, seed=1)
    connection = connect(url)
    try:
        packets = (Packet(p.data, "simulated") for p in simulator.packets())
        Ingester(connection, batch_size=500).ingest(packets, "bench", progress=True)
    finally:
        connection.close()
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        objectid, ncand = connection.execute(
            sa.text("SELECT objectid, ncand FROM objects ORDER BY ncand DESC LIMIT 1")
        ).one()
    engine.dispose()
    return objectid, int(ncand), time.perf_counter() - started


def sky_map_seconds(archive: ln.Archive, repeat: int) -> tuple[float, float, float] | None:
    """(SkyMap with 10⁵ objects as a density, as markers, the same rows as a Table)."""
    try:
        from lasair_nb.widgets.sky_map import SkyMap  # noqa: PLC0415 - optional here
    except ImportError:
        return None
    rng = np.random.default_rng(4)
    frame = pd.DataFrame(
        {
            "objectid": [f"ZTF00bench{n:06d}" for n in range(ROWS)],
            "ramean": rng.uniform(0, 360, ROWS),
            "decmean": np.degrees(np.arcsin(rng.uniform(-0.5, 1, ROWS))),
        }
    )
    baseline = median_seconds(lambda: ln.to_table(frame), repeat)

    def overlay(max_markers: int) -> None:
        sky = SkyMap(archive, layers=["objects"], max_markers=max_markers)
        sky.sky._is_loaded = True  # as the browser reports once the view is drawn: overlays go
        sky.show_objects(frame)
        if len(sky.objects) != ROWS:
            raise RuntimeError(f"the SkyMap shows {len(sky.objects)} objects, not {ROWS}")
        if (sky.density is None) != (max_markers >= ROWS):
            raise RuntimeError("the SkyMap did not draw what max_markers asks")

    density = median_seconds(lambda: overlay(5000), repeat)  # the default a user gets
    markers = median_seconds(lambda: overlay(ROWS), repeat)
    return density, markers, baseline


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nights", type=int, default=900)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    warnings.simplefilter("ignore", DeprecationWarning)  # bqplot's, at import
    with bench_archive() as url:
        objectid, ncand, build_s = build_archive(url, args.nights)
        os.environ["LASAIR_SQL_MAX_ROWS"] = str(max(ROWS, 100_000))
        archive = ln.connect(url)
        curve_s, shown_s, complete_s = viewer_seconds(archive, objectid, 3 * args.repeat)
        sql_s = median_seconds(lambda: archive.sql(BIG_QUERY, limit=ROWS), args.repeat)

        def fill_page() -> None:
            builder = ln.QueryBuilder(archive, sql=BIG_QUERY, mode="sql", limit=ROWS)
            builder.run()
            builder.wait()
            if builder.result is None or len(builder.result) != ROWS:
                raise RuntimeError(f"the QueryBuilder did not fill: {builder.error}")

        builder_s = median_seconds(fill_page, args.repeat)
        sky = sky_map_seconds(archive, args.repeat)

    lines = [
        f"## Widgets — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"Machine: {platform.node()}, {os.cpu_count()} cores, Python {platform.python_version()};"
        f" embedded PostgreSQL. A simulated stream of {args.nights} nights ingested in "
        f"{build_s:.0f} s; medians of {args.repeat} runs after a warm-up, in one process.",
        "",
        "| widget | seconds | baseline (same run) | seconds | ratio | aim |",
        "|---|---:|---|---:|---:|---|",
        f"| ObjectViewer, {ncand} detections: light curve shown | {shown_s:.3f} | "
        f"`archive.object(id).lightcurve()` | {curve_s:.3f} | {shown_s / curve_s:.2f} | ≤ 1.5 |",
        f"| ObjectViewer, {ncand} detections: summary, cutouts, sky loaded too | "
        f"{complete_s:.3f} | `archive.object(id).lightcurve()` | {curve_s:.3f} | "
        f"{complete_s / curve_s:.2f} | |",
        f"| QueryBuilder, {ROWS:,}-row result, first page | {builder_s:.3f} | `archive.sql` of "
        f"the same query | {sql_s:.3f} | {builder_s / sql_s:.1f} | |",
    ]
    if sky is not None:
        lines.append(
            f"| SkyMap, {ROWS:,} objects overlaid (default: drawn as a density) | {sky[0]:.3f} "
            f"| `ln.to_table` of the same rows | {sky[2]:.3f} | {sky[0] / sky[2]:.1f} "
            "| build < 1 s |"
        )
        lines.append(
            f"| SkyMap, {ROWS:,} objects overlaid as markers (`max_markers={ROWS}`) | "
            f"{sky[1]:.3f} | `ln.to_table` of the same rows | {sky[2]:.3f} | "
            f"{sky[1] / sky[2]:.1f} | build < 1 s |"
        )
    else:
        lines.append("| SkyMap | – | not installed in this run | | | |")
    lines.append("")
    report(lines, record=not args.no_record)


if __name__ == "__main__":
    main()
