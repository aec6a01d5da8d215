"""The observing schedule: every exposure, its conditions and identifiers."""

from __future__ import annotations

from typing import Any

import numpy as np

from ingest.simulator.constants import (
    _FWHM_PER_SIGMA,
    EXPOSURE_SPACING,
    FIELDS_PER_BLOCK,
    NID_EPOCH_JD,
    NIGHT_END_HOURS,
    NIGHT_START_HOURS,
    PIXEL_SCALE,
    PRE_NIGHTS,
    PROGRAMPI,
    RBVERSION,
    SECOND_VISIT,
    SOURCES_PER_BLOCK,
    VISIT_PROBABILITY,
    WEATHER_LOSS,
)
from ingest.simulator.encoding import _FP_HEAD, _FP_TAIL
from ingest.simulator.grid import field_centres
from ingest.simulator.helpers import _date


class _Schedule:
    """Every exposure, from ``PRE_NIGHTS`` nights before the start to the last night."""

    def __init__(
        self,
        rng: np.random.Generator,
        night0_jd: float,
        nights: int,
        sources_per_field: dict[int, int],
    ) -> None:
        centres = field_centres()
        sky_fields = centres["field"].to_numpy()[centres["dec"].to_numpy() > -35.0]
        columns: dict[str, list[Any]] = {"night": [], "field": [], "fid": [], "jd": []}
        self.blocks: dict[int, list[tuple[int, int]]] = {}  # night -> [(first, end) exposure]
        for night in range(-PRE_NIGHTS, nights):
            self.blocks[night] = []
            if rng.random() < WEATHER_LOSS:
                continue
            visited = rng.permutation(sky_fields[rng.random(len(sky_fields)) < VISIT_PROBABILITY])
            groups = self._groups(visited.tolist(), sources_per_field)
            block_days = (NIGHT_END_HOURS - NIGHT_START_HOURS) / 24.0 / max(len(groups), 1)
            for block, group in enumerate(groups):
                fields = np.array(group)
                first = int(rng.integers(1, 3))
                passes = [
                    (first, fields),
                    (3 - first, fields),
                    (first, fields[rng.random(len(fields)) < SECOND_VISIT[0]]),
                    (3 - first, fields[rng.random(len(fields)) < SECOND_VISIT[1]]),
                ]
                total = sum(len(pass_fields) for _, pass_fields in passes)
                step = min(EXPOSURE_SPACING, block_days / total)
                start = night0_jd + night + NIGHT_START_HOURS / 24.0 + block * block_days
                begin = len(columns["jd"])
                columns["jd"].extend((start + step * np.arange(total)).tolist())
                for fid, pass_fields in passes:
                    columns["field"].extend(pass_fields.tolist())
                    columns["fid"].extend([fid] * len(pass_fields))
                columns["night"].extend([night] * total)
                self.blocks[night].append((begin, begin + total))
        self.night = np.array(columns["night"], dtype=np.int64)
        self.field = np.array(columns["field"], dtype=np.int64)
        self.fid = np.array(columns["fid"], dtype=np.int64)
        self.jd = np.array(columns["jd"], dtype=np.float64)
        self._conditions(rng, nights)
        self._index()
        self._forced_tails: dict[int, bytes] = {}

    @staticmethod
    def _groups(fields: list[int], sources_per_field: dict[int, int]) -> list[list[int]]:
        """Split a night's fields into blocks of at most ~100 fields and ~10⁴ sources."""
        groups: list[list[int]] = []
        sources = 0
        for field in fields:
            count = sources_per_field.get(field, 0)
            if (
                not groups
                or len(groups[-1]) >= FIELDS_PER_BLOCK
                or sources + count > SOURCES_PER_BLOCK
            ):
                groups.append([])
                sources = 0
            groups[-1].append(field)
            sources += count
        return groups

    def _conditions(self, rng: np.random.Generator, nights: int) -> None:
        """Seeing, depth, zero point and sky of every exposure."""
        count = len(self.jd)
        night_seeing = np.exp(rng.normal(np.log(2.0), 0.15, nights + PRE_NIGHTS))
        seeing = night_seeing[self.night + PRE_NIGHTS] * np.exp(rng.normal(0, 0.06, count))
        moon = 0.5 * (1 - np.cos(2 * np.pi * (self.jd - 2451550.26) / 29.530589))
        clouds = rng.exponential(0.04, count)
        g = self.fid == 1
        depth = np.where(g, 20.75 - 0.7 * moon, 20.45 - 0.35 * moon)
        depth += -1.6 * np.log10(seeing / 2.0) - clouds + rng.normal(0, 0.15, count)
        self.diffmaglim = np.clip(depth, 19.5, 21.0)
        self.magzpsci = np.where(g, 26.15, 26.25) - clouds + rng.normal(0, 0.04, count)
        self.fwhm = seeing / PIXEL_SCALE  # pixels
        self.sky = np.where(g, 110.0, 190.0) * (1 + moon * np.where(g, 2.0, 1.0))
        self.sky *= np.exp(rng.normal(0, 0.1, count))
        # The 5-sigma limit fixes the noise: 5 × PSF-flux error = flux at diffmaglim.
        self.flux_sigma = 10 ** (0.4 * (self.magzpsci - self.diffmaglim)) / 5.0
        self.pixel_sigma = self.flux_sigma / (np.sqrt(4 * np.pi) * self.fwhm / _FWHM_PER_SIGMA)
        self.magzpsciunc = rng.uniform(2e-6, 2e-5, count)
        self.magzpscirms = rng.uniform(0.012, 0.035, count)
        self.clrcoeff = np.where(g, -0.06, 0.09) + rng.normal(0, 0.015, count)
        self.clrcounc = rng.uniform(5e-6, 3e-5, count)
        self.zpclrcov = rng.normal(-5e-6, 2e-6, count)
        self.clrmed = np.where(g, 0.62, 0.55) + rng.normal(0, 0.05, count)
        self.clrrms = rng.uniform(0.1, 0.2, count)
        self.nmatches = rng.integers(400, 3000, count)
        self.adpctdif = rng.uniform(0.03, 0.08, (2, count))

    def _index(self) -> None:
        """Identifiers, file names and per-field lookups."""
        count = len(self.jd)
        self.nid = np.floor(self.jd - NID_EPOCH_JD).astype(np.int64)
        ut_fraction = (self.jd + 0.5) % 1.0
        self.pid_base = self.nid * 10**9 + np.floor(ut_fraction * 1e5).astype(np.int64) * 10**4 + 15
        self.file_stem = [
            f"{_date(jd)}{int(fraction * 1e6):06d}"
            for jd, fraction in zip(self.jd.tolist(), ut_fraction.tolist(), strict=True)
        ]
        field, fid = self.field, self.fid
        self.rfid_base = field * 10**6 + 120000 + fid * 100
        self.jdstartref = 2458200.623 + (field * 37 + fid * 11) % 200
        self.jdendref = self.jdstartref + 60 + (field * 13) % 120
        self.nframesref = 15 + (field * 7 + fid) % 25
        order = np.argsort(self.field, kind="stable")  # exposures are in time order already
        fields, starts = np.unique(self.field[order], return_index=True)
        self.field_exposures = dict(zip(fields.tolist(), np.split(order, starts[1:]), strict=True))
        self.field_rank = np.empty(count, dtype=np.int64)
        for exposures in self.field_exposures.values():
            self.field_rank[exposures] = np.arange(1, len(exposures) + 1)
        self.first_exposure: dict[tuple[int, int], int] = {}
        for index in range(count - 1, -1, -1):
            self.first_exposure[(int(self.night[index]), int(self.field[index]))] = index

    def diffim_name(self, exposure: int, ccd: int, quadrant: int) -> str:
        band = "g" if self.fid[exposure] == 1 else "r"
        return (
            f"ztf_{self.file_stem[exposure]}_{int(self.field[exposure]):06d}_z{band}"
            f"_c{ccd:02d}_o_q{quadrant}_scimrefdiffimg.fits"
        )

    def archive_name(self, exposure: int, ccd: int, quadrant: int) -> str:
        stem = self.file_stem[exposure]
        name = self.diffim_name(exposure, ccd, quadrant)
        return f"/ztf/archive/sci/{stem[:4]}/{stem[4:8]}/{stem[8:]}/{name}.fz"

    def nondetection(self, exposure: int, rcid: int) -> dict[str, Any]:
        """The prv_candidates entry of an upper limit."""
        ccd, quadrant = rcid // 4 + 1, rcid % 4 + 1
        return {
            "jd": float(self.jd[exposure]),
            "fid": int(self.fid[exposure]),
            "pid": int(self.pid_base[exposure]) + 100 * rcid,
            "diffmaglim": float(self.diffmaglim[exposure]),
            "pdiffimfilename": self.archive_name(exposure, ccd, quadrant),
            "programpi": PROGRAMPI,
            "programid": 1,
            "nid": int(self.nid[exposure]),
            "rcid": rcid,
            "field": int(self.field[exposure]),
            "magzpsci": float(self.magzpsci[exposure]),
            "magzpsciunc": float(self.magzpsciunc[exposure]),
            "magzpscirms": float(self.magzpscirms[exposure]),
            "clrcoeff": float(self.clrcoeff[exposure]),
            "clrcounc": float(self.clrcounc[exposure]),
            "rbversion": RBVERSION,
        }

    def forced_prefix(self, exposure: int, rcid: int) -> bytes:
        """The encoded exposure fields of an fp_hists entry (``field`` to ``jd``)."""
        tail = self._forced_tails.get(exposure)
        if tail is None:
            tail = _FP_TAIL.encode_record(self._forced_tail(exposure))
            self._forced_tails[exposure] = tail
        head = _FP_HEAD.encode(
            (
                int(self.field[exposure]),
                rcid,
                int(self.fid[exposure]),
                int(self.pid_base[exposure]) + 100 * rcid,
                int(self.rfid_base[exposure]) + rcid,
            )
        )
        return head + tail

    def _forced_tail(self, exposure: int) -> dict[str, Any]:
        return {
            "sciinpseeing": float(self.fwhm[exposure]),
            "scibckgnd": float(self.sky[exposure]),
            "scisigpix": float(self.pixel_sigma[exposure]),
            "magzpsci": float(self.magzpsci[exposure]),
            "magzpsciunc": float(self.magzpsciunc[exposure]),
            "magzpscirms": float(self.magzpscirms[exposure]),
            "clrcoeff": float(self.clrcoeff[exposure]),
            "clrcounc": float(self.clrcounc[exposure]),
            "exptime": 30.0,
            "adpctdif1": float(self.adpctdif[0, exposure]),
            "adpctdif2": float(self.adpctdif[1, exposure]),
            "diffmaglim": float(self.diffmaglim[exposure]),
            "programid": 1,
            "jd": float(self.jd[exposure]),
        }
