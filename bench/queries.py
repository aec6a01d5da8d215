"""Benchmark: queries on an archive of 10⁷ detections and 10⁶ objects.

The archive is built from the simulator: a simulated stream is ingested through
the real path, and ten-point pieces of its light curves are then replicated to
random positions over the ZTF sky (dec > -30°) with binary COPY until there are
``--detections`` detections (default 10⁷ of 10⁶ objects). The build time is
reported. Then, in the same run:

* primary-key lookup of an object (the baseline), p50/p99;
* cone search (5″ around an object), p50/p99, ratio to the primary key;
* an object with its light curve (``archive.object(id).lightcurve()``), p99 ratio;
* the 90% region of a sky map against the objects (GW170817, 187 deg²);
* a 100,000-source watchlist: creation and crossmatch.

Run: ``python -m bench.queries [--detections 10000000]``; appends to ``bench/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import struct
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa
from astropy import units as u
from healpix_alchemy.constants import HPX
from tqdm import tqdm

import lasair_nb as ln
from bench.results import bench_archive, report
from ingest.connection import connect
from ingest.pipeline import Ingester
from ingest.simulator import AlertSimulator
from ingest.sources import Packet

SKYMAP = (
    Path(__file__).resolve().parents[2]
    / "shared"
    / "data"
    / "skymaps"
    / "GW170817"
    / "bayestar.fits.gz"
)
CANDIDATE_COLUMNS = (
    "candid",
    "objectid",
    "jd",
    "fid",
    "ra",
    "dec",
    "magpsf",
    "sigmapsf",
    "isdiffpos",
    "hpx",
    "in_alert",
    "schemavsn",
    "programid",
    "diffmaglim",
)
LETTERS = np.frombuffer(b"abcdefghijklmnopqrstuvwxyz", dtype="S1")


def object_ids(numbers: np.ndarray) -> np.ndarray:
    """'ZTF30' + seven letters, unique per number (fixed 12 bytes)."""
    digits = np.empty((len(numbers), 7), dtype="S1")
    value = numbers.astype(np.int64)
    for place in range(6, -1, -1):
        digits[:, place] = LETTERS[value % 26]
        value //= 26
    return np.char.add(b"ZTF30", digits.view("S7").ravel())


def binary_copy(fields: list[tuple[str, np.ndarray, str]]) -> bytes:
    """PostgreSQL binary COPY data for fixed-width, non-null columns."""
    count = len(fields[0][1])
    layout = [("fields", ">i2")]
    for name, _, kind in fields:
        layout += [(f"{name}_size", ">i4"), (name, kind)]
    rows = np.empty(count, dtype=layout)
    rows["fields"] = len(fields)
    for name, values, kind in fields:
        rows[f"{name}_size"] = np.dtype(kind).itemsize
        rows[name] = values
    return (
        b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0) + rows.tobytes() + struct.pack("!h", -1)
    )


def build(url: str, detections: int) -> tuple[float, int, int]:
    """Simulate and ingest a stream, then replicate its objects over the sky."""
    started = time.perf_counter()
    simulator = AlertSimulator(objects=200, nights=30, seed=11)
    connection = connect(url)
    Ingester(connection, batch_size=500).ingest(
        (Packet(p.data, "bench") for p in simulator.packets()), "bench", progress=False
    )
    engine = sa.create_engine(url)
    templates = pd.read_sql(
        "SELECT objectid, jd, fid, ra, dec, magpsf, sigmapsf, diffmaglim FROM candidates"
        " ORDER BY objectid, jd",
        engine,
    )
    engine.dispose()
    rng = np.random.default_rng(1)
    # Ten detections per object, drawn from a simulated light curve, as ZTF objects
    # have a median of about ten.
    per_object = 10
    groups = [
        g.iloc[np.sort(rng.choice(len(g), per_object, replace=False))]
        for _, g in templates.groupby("objectid")
        if len(g) >= per_object
    ]
    copies = detections // per_object
    cursor = connection.cursor()
    candid0, made, objects_made = 4_000_000_000_000_000_000, 0, 0
    chunk = 100_000
    with tqdm(total=copies, desc="replicating objects", unit="object") as bar:
        for first in range(0, copies, chunk):
            n = min(chunk, copies - first)
            numbers = np.arange(first, first + n)
            z = rng.uniform(np.sin(np.radians(-30)), 1, n)
            ra, dec = rng.uniform(0, 360, n), np.degrees(np.arcsin(z))
            template = rng.integers(0, len(groups), n)
            sizes = np.array([len(groups[t]) for t in template])
            rows = np.repeat(np.arange(n), sizes)
            parts = [groups[t] for t in template]
            light = pd.concat(parts, ignore_index=True)
            jitter = rng.normal(0, 0.1 / 3600, (2, len(rows)))
            cra = (ra[rows] + jitter[0] / np.cos(np.radians(dec[rows]))) % 360
            cdec = np.clip(dec[rows] + jitter[1], -90, 90)
            ids = object_ids(numbers)
            candids = candid0 + made + np.arange(len(rows))
            hpx = HPX.lonlat_to_healpix(cra * u.deg, cdec * u.deg)
            data = binary_copy(
                [
                    ("candid", candids, ">i8"),
                    ("objectid", ids[rows], "S12"),
                    ("jd", light["jd"].to_numpy(), ">f8"),
                    ("fid", light["fid"].to_numpy(), ">i4"),
                    ("ra", cra, ">f8"),
                    ("dec", cdec, ">f8"),
                    ("magpsf", light["magpsf"].to_numpy(), ">f4"),
                    ("sigmapsf", light["sigmapsf"].to_numpy(), ">f4"),
                    ("isdiffpos", np.full(len(rows), b"t"), "S1"),
                    ("hpx", hpx, ">i8"),
                    ("in_alert", np.ones(len(rows), bool), "?"),
                    ("schemavsn", np.full(len(rows), b"4.02"), "S4"),
                    ("programid", np.ones(len(rows)), ">i4"),
                    ("diffmaglim", light["diffmaglim"].fillna(20.5).to_numpy(), ">f4"),
                ]
            )
            cursor.copy_expert(
                f"COPY candidates ({', '.join(CANDIDATE_COLUMNS)}) FROM STDIN WITH (FORMAT binary)",
                io.BytesIO(data),
            )
            jd = light["jd"].to_numpy()
            last = np.cumsum(sizes) - 1
            firsts = last - sizes + 1
            fid = light["fid"].to_numpy()
            objects = binary_copy(
                [
                    ("objectid", ids, "S12"),
                    ("ramean", ra, ">f8"),
                    ("decmean", dec, ">f8"),
                    ("hpx", HPX.lonlat_to_healpix(ra * u.deg, dec * u.deg), ">i8"),
                    ("ncand", sizes, ">i4"),
                    ("nalerts", sizes, ">i4"),
                    ("jdmin", jd[firsts], ">f8"),
                    ("jdmax", jd[last], ">f8"),
                    ("latest_candid", candids[last], ">i8"),
                    ("context", np.full(n, b"orphan"), "S6"),
                    ("ncand_g", np.bincount(rows, fid == 1).astype(int), ">i4"),
                    ("ncand_r", np.bincount(rows, fid == 2).astype(int), ">i4"),
                    ("ncand_i", np.zeros(n, int), ">i4"),
                ]
            )
            cursor.copy_expert(
                "COPY objects (objectid, ramean, decmean, hpx, ncand, nalerts, jdmin, jdmax,"
                " latest_candid, context, ncand_g, ncand_r, ncand_i)"
                " FROM STDIN WITH (FORMAT binary)",
                io.BytesIO(objects),
            )
            connection.commit()
            made += len(rows)
            objects_made += n
            bar.update(n)
    cursor.execute("ANALYZE")
    connection.commit()
    connection.close()
    return time.perf_counter() - started, made, objects_made


def timings(function, arguments) -> np.ndarray:
    result = []
    for argument in arguments:
        started = time.perf_counter()
        function(argument)
        result.append(time.perf_counter() - started)
    return np.array(result) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--detections", type=int, default=10_000_000)
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    with bench_archive() as url:
        seconds, detections, objects = build(url, args.detections)
        print(f"built {detections} detections of {objects} objects in {seconds:.0f} s")
        archive = ln.connect(url)
        rng = np.random.default_rng(2)
        sample = archive.sql(
            "SELECT objectid, ramean AS ra, decmean AS dec FROM objects TABLESAMPLE SYSTEM (1)",
            limit=100_000,
        ).sample(args.samples, random_state=3)
        ids = sample["objectid"].tolist()
        positions = list(zip(sample["ra"], sample["dec"], strict=True))
        for warm in ids[:20]:
            archive._objects_by_id([warm])
        key = timings(lambda i: archive._objects_by_id([i]), ids)
        cone = timings(lambda p: archive.cone(p, radius=5.0), positions)
        curve = timings(lambda i: archive.object(i).lightcurve(), ids[: args.samples // 3])
        name = archive.skymaps.ingest(SKYMAP, name="GW170817")
        archive.skymaps.credible_region(name, 0.9)  # warm the tile index
        started = time.perf_counter()
        found = archive.skymaps.candidates(name, 0.9)
        skymap_s = time.perf_counter() - started
        watch = pd.DataFrame(
            {
                "name": [f"s{n}" for n in range(100_000)],
                "ra": rng.uniform(0, 360, 100_000),
                "dec": np.degrees(np.arcsin(rng.uniform(np.sin(np.radians(-30)), 1, 100_000))),
            }
        )
        started = time.perf_counter()
        archive.watchlists.create("big", watch, radius=5.0)
        create_s = time.perf_counter() - started
        started = time.perf_counter()
        matches = archive.watchlists.crossmatch("big")
        match_s = time.perf_counter() - started

    def p(values: np.ndarray, q: int) -> float:
        return float(np.percentile(values, q))

    lines = [
        f"## Queries — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"Machine: {platform.node()}, {os.cpu_count()} cores, Python {platform.python_version()};"
        f" embedded PostgreSQL. Archive: {detections:,} detections of {objects:,} objects, "
        f"built in {seconds:.0f} s (a simulated stream ingested, its light curves replicated over"
        f" the sky by binary COPY). {args.samples} random objects; times through the client API.",
        "",
        "| measure | p50 ms | p99 ms | ratio to primary key (p50 / p99) | aim |",
        "|---|---:|---:|---:|---|",
        f"| primary-key lookup (baseline) | {p(key, 50):.1f} | {p(key, 99):.1f} | 1 / 1 | |",
        f"| cone search, 5″ | {p(cone, 50):.1f} | {p(cone, 99):.1f} | "
        f"{p(cone, 50) / p(key, 50):.1f} / {p(cone, 99) / p(key, 99):.1f} | ≤ 3 / ≤ 10 |",
        f"| object with light curve | {p(curve, 50):.1f} | {p(curve, 99):.1f} | "
        f"– / {p(curve, 99) / p(key, 99):.1f} | p99 ≤ 5 |",
        "",
        f"- 90% region of GW170817 (187 deg²) against {objects:,} objects: {skymap_s:.2f} s, "
        f"{len(found)} objects with probability and credible level (aim ≤ 0.3 s).",
        f"- 100,000-source watchlist (5″): created in {create_s:.1f} s, crossmatched in "
        f"{match_s:.1f} s ({len(matches)} matches).",
        "",
    ]
    report(lines, record=not args.no_record)


if __name__ == "__main__":
    main()
