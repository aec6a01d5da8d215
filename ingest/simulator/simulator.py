"""The :class:`AlertSimulator`: the population, its truth and its nights of packets."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from ingest.simulator.blocks import _BlockBuilder
from ingest.simulator.constants import (
    _AGN,
    _ASTEROID_G_V,
    _ASTEROID_R_V,
    _BOGUS,
    _CLASSES,
    _PERIODIC,
    _SUPERNOVA,
    DEFAULT_START_JD,
    GAIN,
    MAX_TABLE_INDEX,
    PRE_NIGHTS,
    UPPER_LIMIT_CACHE_SIZE,
    ZTF_START_JD,
)
from ingest.simulator.encoding import _LRUCache
from ingest.simulator.grid import locate
from ingest.simulator.helpers import (
    _bazin,
    _date,
    _datetime64,
    _object_id,
    _offset,
    _ps1_objid,
    _split_counts,
)
from ingest.simulator.schedule import _Schedule
from ingest.simulator.types import SimulatedNight, SimulatedPacket


class AlertSimulator:
    """A reproducible ZTF alert stream of a known population.

    Parameters
    ----------
    objects
        Number of simulated sources (asteroids included), split between the
        classes by :data:`CLASS_FRACTIONS`.
    nights
        Number of nights, from the night of ``start_jd``.
    seed
        Seed of everything: the same arguments give the same packets, byte for byte.
    start_jd
        A Julian date in the first night; nights start at 00:00 UT of its date.

    Attributes
    ----------
    class_counts : dict
        Number of simulated sources of each class.
    night0_jd : float
        Julian date of 00:00 UT of the first night.

    Raises
    ------
    ValueError
        If a count is below 1, the seed negative or ``start_jd`` before ZTF.

    Examples
    --------
    >>> simulator = AlertSimulator(objects=1000, nights=20, seed=1)
    >>> for night in simulator.nights():
    ...     for packet in night.packets:
    ...         producer.produce("ztf", key=packet.object_id, value=packet.data)
    >>> simulator.write(Path("alerts"))  # or files, with truth.csv
    """

    def __init__(
        self, objects: int, nights: int, seed: int = 0, start_jd: float = DEFAULT_START_JD
    ) -> None:
        if objects < 1:
            raise ValueError(f"objects must be at least 1, got {objects}")
        if nights < 1:
            raise ValueError(f"nights must be at least 1, got {nights}")
        if seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed}")
        if not start_jd >= ZTF_START_JD + PRE_NIGHTS:
            raise ValueError(
                f"start_jd must be a Julian date after {ZTF_START_JD + PRE_NIGHTS} "
                f"(ZTF's first alerts plus a month of history), got {start_jd}"
            )
        self.objects = objects
        self.night_count = nights
        self.seed = seed
        self.night0_jd = math.floor(start_jd - 0.5) + 0.5
        self.class_counts = _split_counts(objects)
        rng = np.random.default_rng([seed, 0])
        self._src: dict[str, Any] = {}
        self._place_sources(rng)
        fields, counts = np.unique(self._src["field"], return_counts=True)
        sources_per_field = dict(zip(fields.tolist(), counts.tolist(), strict=True))
        self._schedule = _Schedule(rng, self.night0_jd, nights, sources_per_field)
        self._describe_references(rng)
        self._draw_light_curves(rng)
        self._draw_bogus(rng)
        self._draw_asteroids(rng)
        self._name_objects(rng)
        self._truth: pd.DataFrame | None = None
        # Encoded upper limits, shared by the sources of a readout channel; pure
        # functions of their key, so the cache never changes the output.
        self._upper_limits = _LRUCache(UPPER_LIMIT_CACHE_SIZE)

    # ---------------------------------------------------------------- population

    def _place_sources(self, rng: np.random.Generator) -> None:
        """Class and position of every non-moving source, and its index in its field."""
        counts = self.class_counts
        codes = [_PERIODIC, _SUPERNOVA, _AGN, _BOGUS]
        cls = rng.permutation(np.repeat(codes, [counts[_CLASSES[code]] for code in codes]))
        n = len(cls)
        s = self._src
        s["cls"] = cls
        s["ra"] = rng.uniform(0, 360, n)
        s["dec"] = np.degrees(np.arcsin(rng.uniform(np.sin(np.radians(-30.0)), 1.0, n)))
        s.update(locate(s["ra"], s["dec"]))
        order = np.lexsort((np.arange(n), s["field"]))
        fields, starts = np.unique(s["field"][order], return_index=True)
        self._field_sources = dict(zip(fields.tolist(), np.split(order, starts[1:]), strict=True))
        s["slot"] = np.empty(n, dtype=np.int64)  # table index of its detections
        for members in self._field_sources.values():
            s["slot"][members] = np.arange(len(members))
        self._max_slot = max((len(members) for members in self._field_sources.values()), default=0)

    def _describe_references(self, rng: np.random.Generator) -> None:
        """The reference-image source, Pan-STARRS1 and Gaia neighbours of each source.

        The reference source is the object itself for periodic variables and AGN,
        the host galaxy for supernovae and a neighbouring star for bogus detections.
        """
        s = self._src
        n = len(s["cls"])
        periodic, supernova, agn, bogus = (
            s["cls"] == code for code in (_PERIODIC, _SUPERNOVA, _AGN, _BOGUS)
        )
        starlike = periodic | bogus
        galaxy = supernova | agn
        mag_r = np.select(
            [periodic, supernova, agn],
            [rng.uniform(13.5, 17.5, n), rng.uniform(16.5, 20.5, n), rng.uniform(16.5, 19.0, n)],
            rng.uniform(12.0, 19.0, n),
        )
        colour = np.select(
            [periodic, supernova, agn],
            [rng.uniform(0.2, 0.9, n), rng.uniform(0.5, 0.9, n), rng.uniform(0.2, 0.6, n)],
            rng.uniform(0.3, 1.2, n),
        )
        s["mag_r"], s["mag_g"] = mag_r, mag_r + colour
        s["sigmagnr_r"] = 0.008 + 0.03 * 10 ** (0.4 * (mag_r - 19.0))
        s["sigmagnr_g"] = 0.008 + 0.03 * 10 ** (0.4 * (s["mag_g"] - 19.0))
        s["ref_distance"] = np.select(  # arcsec
            [periodic, supernova, agn],
            [
                np.minimum(np.abs(rng.normal(0, 0.12, n)), 0.3),
                rng.uniform(1, 5, n),
                rng.uniform(0, 0.3, n),
            ],
            rng.uniform(1.0, 5.0, n),
        )
        s["ref_angle"] = rng.uniform(0, 2 * np.pi, n)
        s["ref_extent"] = np.select(
            [supernova, agn], [rng.uniform(1.5, 3.0, n), rng.uniform(0.6, 1.5, n)], 0.0
        )
        s["ranr"], s["decnr"] = _offset(
            s["ra"],
            s["dec"],
            s["ref_distance"] * np.cos(s["ref_angle"]),
            s["ref_distance"] * np.sin(s["ref_angle"]),
        )
        s["chinr"] = np.where(galaxy, rng.uniform(1.0, 4.0, n), rng.uniform(0.4, 1.5, n))
        s["sharpnr"] = np.where(galaxy, rng.uniform(0.05, 0.4, n), rng.normal(0, 0.04, n))
        s["classtar"] = np.select(
            [starlike, agn],
            [rng.uniform(0.95, 1.0, n), rng.uniform(0.6, 0.9, n)],
            rng.uniform(0.2, 0.7, n),
        )

        # Pan-STARRS1: the object (or host, or the bogus' star) first, then two neighbours.
        score = np.select(
            [starlike, agn],
            [rng.uniform(0.95, 1.0, n), rng.uniform(0.02, 0.3, n)],
            rng.uniform(0.0, 0.15, n),
        )
        first = np.where(
            supernova,
            np.clip(s["ref_distance"] + rng.normal(0, 0.1, n), 1.0, 5.0),
            np.where(
                bogus,
                s["ref_distance"],
                np.minimum(s["ref_distance"] + np.abs(rng.normal(0, 0.05, n)), 0.45),
            ),
        )
        second = rng.uniform(5.0, 15.0, n)
        distances = np.stack([first, second, second + rng.uniform(0.5, 8.0, n)])
        scores = np.stack([score, rng.uniform(0, 1, n), rng.uniform(0, 1, n)])
        neighbour = rng.uniform(18.5, 22.5, (2, n))
        colours = np.array([1.0, 0.0, -0.4, -0.6])[
            :, None
        ]  # g, r, i, z relative to r, per unit g−r
        mags = np.stack(
            [
                mag_r + colours * colour + rng.normal(0, 0.03, (4, n)),
                neighbour[0] + colours * 0.7,
                neighbour[1] + colours * 0.9,
            ]
        )  # (3 sources, 4 bands, n)
        angles = rng.uniform(0, 2 * np.pi, (3, n))
        ps1_ra, ps1_dec = _offset(
            s["ra"], s["dec"], distances * np.cos(angles), distances * np.sin(angles)
        )
        s["ps1_ids"] = _ps1_objid(ps1_ra, ps1_dec)
        s["ps1_distance"], s["ps1_score"], s["ps1_mags"] = distances, scores, mags
        s["nmtchps"] = rng.integers(3, 30, n)
        # Gaia: the star itself, or an unrelated star further away.
        s["neargaia"] = np.where(
            starlike, s["ref_distance"] + np.abs(rng.normal(0, 0.05, n)), rng.uniform(5, 60, n)
        )
        s["maggaia"] = np.where(starlike, mag_r + 0.3 * colour - 0.2, rng.uniform(14, 20.5, n))
        bright = s["maggaia"] < 14
        s["neargaiabright"] = np.where(bright, s["neargaia"], rng.uniform(20, 60, n))
        s["maggaiabright"] = np.where(bright, s["maggaia"], rng.uniform(11, 14, n))

        # Persistent sources were found years before the simulation starts.
        start = self.night0_jd
        persistent = periodic | agn
        latest = max(ZTF_START_JD + 10, start - PRE_NIGHTS - 30)
        s["jdstarthist"] = np.where(persistent, rng.uniform(ZTF_START_JD + 10, latest, n), np.nan)
        years = np.nan_to_num((start - s["jdstarthist"]) / 365.25)
        s["ndet_base"] = np.where(persistent, np.round(years * rng.uniform(30, 150, n)), 0).astype(
            np.int64
        )
        s["ncov_base"] = np.round(
            (start - ZTF_START_JD) / 365.25 * rng.uniform(100, 250, n)
        ).astype(np.int64)

    def _draw_light_curves(self, rng: np.random.Generator) -> None:
        """Periodic, supernova and AGN light-curve parameters (NaN for other classes)."""
        s = self._src
        n = len(s["cls"])
        start = self.night0_jd
        periodic, supernova, agn = (s["cls"] == code for code in (_PERIODIC, _SUPERNOVA, _AGN))

        period = np.exp(rng.uniform(np.log(0.3), np.log(20.0), n))
        s["period"] = np.where(periodic, period, np.nan)
        s["amplitude"] = np.where(periodic, rng.uniform(0.3, 1.0, n), np.nan)
        s["sawtooth"] = periodic & (rng.random(n) < 0.5)
        s["epoch_jd"] = np.where(periodic, start + rng.uniform(0, 1, n) * period, np.nan)

        tau_rise, tau_fall = rng.uniform(2.0, 6.0, n), rng.uniform(15.0, 40.0, n)
        peak_jd = start + rng.uniform(-20.0, self.night_count, n)
        s["peak_jd"] = np.where(supernova, peak_jd, np.nan)
        s["peak_mag"] = np.where(supernova, rng.uniform(17.0, 19.5, n), np.nan)
        s["tau_rise"] = np.where(supernova, tau_rise, np.nan)
        s["tau_fall"] = np.where(supernova, tau_fall, np.nan)
        s["t0"] = peak_jd - tau_rise * np.log(tau_fall / tau_rise - 1)  # Bazin's t0 for that peak
        s["sn_colour"] = rng.uniform(-0.2, 0.1, n)  # g − r at peak

        # AGN: a damped random walk (Ornstein–Uhlenbeck) on a half-day grid, interpolated.
        s["drw_tau"] = np.where(agn, np.exp(rng.uniform(np.log(50.0), np.log(400.0), n)), np.nan)
        s["drw_sf"] = np.where(agn, rng.uniform(0.2, 0.5, n), np.nan)
        members = np.flatnonzero(agn)
        s["agn_row"] = np.full(n, -1)
        s["agn_row"][members] = np.arange(len(members))
        self._drw_t0 = start - PRE_NIGHTS - 1
        steps = 2 * (self.night_count + PRE_NIGHTS + 2)
        decay = np.exp(-0.5 / s["drw_tau"][members])
        sigma = s["drw_sf"][members] / np.sqrt(2)  # long-term rms [mag]
        kicks = rng.normal(0, 1, (steps, len(members))) * sigma * np.sqrt(1 - decay**2)
        walk = np.empty((steps, len(members)))
        walk[0] = rng.normal(0, 1, len(members)) * sigma
        for step in range(1, steps):
            walk[step] = walk[step - 1] * decay + kicks[step]
        self._drw = walk.T.copy()

    def _draw_bogus(self, rng: np.random.Generator) -> None:
        """One artefact per bogus source.

        It appears in the first exposure of its field on or after a random night,
        0.05–1.5 mag above that exposure's limit, positive 70 % of the time.
        """
        s, sch = self._src, self._schedule
        n = len(s["cls"])
        night = rng.integers(0, self.night_count, n)
        above_limit = rng.uniform(0.05, 1.5, n)
        sign = np.where(rng.random(n) < 0.7, 1.0, -1.0)
        s["fire_exposure"] = np.full(n, -1)
        for index in np.flatnonzero(s["cls"] == _BOGUS).tolist():
            exposures = sch.field_exposures.get(int(s["field"][index]), np.empty(0, np.int64))
            later = exposures[sch.night[exposures] >= night[index]]
            if len(later):
                s["fire_exposure"][index] = later[0]
        fired = s["fire_exposure"] >= 0
        exposure = np.where(fired, s["fire_exposure"], 0)
        mag = sch.diffmaglim[exposure] - above_limit
        s["fire_flux"] = np.where(fired, sign * 10 ** (0.4 * (sch.magzpsci[exposure] - mag)), 0.0)
        s["fire_mag"] = np.where(fired, mag, np.nan)
        s["fire_jd"] = np.where(fired, sch.jd[exposure], np.nan)

    def _draw_asteroids(self, rng: np.random.Generator) -> None:
        """Asteroid tracks near the ecliptic, and their detections.

        An asteroid is seen at most once a night: in the first exposure of the
        field it is in, when its measured flux is above the limit.
        """
        count = self.class_counts["asteroid"]
        sch = self._schedule
        self._tracks = {
            "ra0": rng.uniform(0, 360, count),
            "dec0": rng.uniform(-20, 30, count),
            "rate_ra": rng.choice([-1.0, 1.0], count, p=[0.7, 0.3]) * rng.uniform(0.1, 0.5, count),
            "rate_dec": rng.uniform(-0.15, 0.15, count),  # deg/day
        }
        mag_v0 = rng.uniform(17.5, 20.5, count)
        mag_slope = rng.uniform(-0.02, 0.02, count)
        self._asteroid_names = [
            str(number) for number in rng.choice(np.arange(1000, 700000), count, replace=False)
        ]
        detections: list[dict[str, Any]] = []
        everyone = np.arange(count)
        for night in range(self.night_count if count else 0):
            fields = locate(*self._asteroid_position(self.night0_jd + night + 0.3, everyone))
            first = [
                sch.first_exposure.get((night, field), -1) for field in fields["field"].tolist()
            ]
            index = np.flatnonzero(np.array(first) >= 0)
            exposure = np.array(first, dtype=np.int64)[index]
            ra, dec = self._asteroid_position(sch.jd[exposure], index)
            place = locate(ra, dec)
            mag_v = mag_v0[index] + mag_slope[index] * night
            mag = mag_v + np.where(sch.fid[exposure] == 1, _ASTEROID_G_V, _ASTEROID_R_V)
            true_flux = 10 ** (0.4 * (sch.magzpsci[exposure] - mag))
            error = np.sqrt(sch.flux_sigma[exposure] ** 2 + true_flux / GAIN)
            flux = true_flux + error * rng.standard_normal(len(index))
            draws = rng.random((len(index), 8))
            coverage = rng.integers(50, 1500, len(index))
            # Seen if bright enough, and still in the field it was in at mid-night.
            seen = (flux >= 5 * sch.flux_sigma[exposure]) & (
                place["field"] == fields["field"][index]
            )
            for k in np.flatnonzero(seen).tolist():
                detections.append(
                    {
                        "asteroid": int(index[k]),
                        "exposure": int(exposure[k]),
                        "jd": float(sch.jd[exposure[k]]),
                        "place": {
                            "ra": float(ra[k]),
                            "dec": float(dec[k]),
                            **{key: value[k].item() for key, value in place.items()},
                        },
                        "mag": float(mag[k]),
                        "mag_v": float(mag_v[k]),
                        "flux": float(flux[k]),
                        "error": float(error[k]),
                        "draws": draws[k].tolist(),
                        "ncov_base": int(coverage[k]),
                    }
                )
        self._asteroid_detections = detections
        self._asteroids_at: dict[int, list[int]] = {}
        for index, detection in enumerate(detections):
            self._asteroids_at.setdefault(detection["exposure"], []).append(index)

    def _asteroid_position(
        self, jd: npt.ArrayLike, index: npt.NDArray[np.int64]
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Positions of the asteroids ``index`` at times ``jd`` (one, or one each)."""
        tracks = self._tracks
        days = np.asarray(jd) - self.night0_jd
        dec = tracks["dec0"][index] + tracks["rate_dec"][index] * days
        ra = tracks["ra0"][index] + tracks["rate_ra"][index] * days / np.cos(np.radians(dec))
        return ra % 360.0, dec

    def _name_objects(self, rng: np.random.Generator) -> None:
        """ZTF-style objectIds, numbered within each year in order of first detection."""
        s = self._src
        first_jd = np.select(
            [np.isfinite(s["jdstarthist"]), s["cls"] == _SUPERNOVA, s["cls"] == _BOGUS],
            [
                s["jdstarthist"],
                np.maximum(s["t0"] - 2 * s["tau_rise"], self.night0_jd - PRE_NIGHTS),
                np.nan_to_num(s["fire_jd"], nan=self.night0_jd + self.night_count),
            ],
        )
        first_jd = np.concatenate([first_jd, [d["jd"] for d in self._asteroid_detections]])
        years = _datetime64(first_jd).astype("datetime64[Y]").astype(np.int64) + 1970
        names = np.empty(len(first_jd), dtype=object)
        for year in np.unique(years).tolist():
            members = np.flatnonzero(years == year)
            members = members[np.argsort(first_jd[members], kind="stable")]
            offset = int(rng.integers(0, 3 * 26**5))  # ZTF's names reach 'ac…' by year end
            names[members] = [_object_id(year, offset + rank) for rank in range(len(members))]
        n = len(s["cls"])
        s["object_id"] = names[:n]
        for detection, name in zip(self._asteroid_detections, names[n:].tolist(), strict=True):
            detection["object_id"] = name
        if self._max_slot + len(self._asteroid_detections) >= MAX_TABLE_INDEX:
            raise ValueError(
                f"{self.objects} objects over {self.night_count} nights need more than "
                f"{MAX_TABLE_INDEX} candids per exposure; use fewer objects or nights"
            )

    # --------------------------------------------------------------------- truth

    @property
    def truth(self) -> pd.DataFrame:
        """Class and parameters of every objectId (columns in the module docstring)."""
        if self._truth is None:
            self._truth = self._make_truth()
        return self._truth.copy()

    def _make_truth(self) -> pd.DataFrame:
        s = self._src
        n = len(s["cls"])
        bogus = s["cls"] == _BOGUS
        periodic = s["cls"] == _PERIODIC
        static = pd.DataFrame(
            {
                "object_id": s["object_id"].astype(str),
                "source": np.arange(n),
                "class": np.array(_CLASSES)[s["cls"]],
                "ra": s["ra"],
                "dec": s["dec"],
                "field": s["field"],
                "rcid": s["rcid"],
                "mag_g": np.where(bogus, np.nan, s["mag_g"]),
                "mag_r": np.where(bogus, s["fire_mag"], s["mag_r"]),
                "period": s["period"],
                "amplitude": s["amplitude"],
                "shape": np.where(periodic, np.where(s["sawtooth"], "sawtooth", "sinusoid"), ""),
                "epoch_jd": s["epoch_jd"],
                "peak_mag": s["peak_mag"],
                "peak_jd": s["peak_jd"],
                "tau_rise": s["tau_rise"],
                "tau_fall": s["tau_fall"],
                "host_offset": np.where(s["cls"] == _SUPERNOVA, s["ref_distance"], np.nan),
                "drw_tau": s["drw_tau"],
                "drw_sf": s["drw_sf"],
                "ssnamenr": "",
                "jd": s["fire_jd"],
            }
        )
        moving = pd.DataFrame(
            [
                {
                    "object_id": d["object_id"],
                    "source": n + d["asteroid"],
                    "class": "asteroid",
                    "ra": d["place"]["ra"],
                    "dec": d["place"]["dec"],
                    "field": d["place"]["field"],
                    "rcid": d["place"]["rcid"],
                    "mag_g": d["mag_v"] + _ASTEROID_G_V,
                    "mag_r": d["mag_v"] + _ASTEROID_R_V,
                    "ssnamenr": self._asteroid_names[d["asteroid"]],
                    "jd": d["jd"],
                }
                for d in self._asteroid_detections
            ],
            columns=static.columns,
        )
        if moving.empty:
            return static
        truth = pd.concat([static, moving.astype(static.dtypes.to_dict())], ignore_index=True)
        return truth

    # -------------------------------------------------------------------- nights

    def nights(self) -> Iterator[SimulatedNight]:
        """The simulated nights, in order, each with its packets in time order.

        Yields
        ------
        SimulatedNight
            Consume each night's ``packets`` before taking the next night.
        """
        n = len(self._src["cls"])
        state = {  # what earlier nights saw: ndethist and jdstarthist of new objects
            "ndet": self._src["ndet_base"].copy(),
            "counted_until": np.full(n, -np.inf),
            "first_jd": np.full(n, np.nan),
        }
        for night in range(self.night_count):
            jd = self.night0_jd + night
            yield SimulatedNight(night, _date(jd), jd, self._night_packets(night, state))

    def packets(self) -> Iterator[SimulatedPacket]:
        """Every packet of every night, in time order."""
        for night in self.nights():
            yield from night.packets

    def write(self, out_dir: Path) -> int:
        """Write the packets in ZTF's nightly layout, and the truth beside them.

        Parameters
        ----------
        out_dir
            Created if missing; gets ``ztf_YYYYMMDD_programid1/<objectId>_<candid>.avro``
            for each night and ``truth.csv``.

        Returns
        -------
        int
            Number of packets written.
        """
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        written = 0
        for night in self.nights():
            folder = out_dir / f"ztf_{night.date}_programid1"
            folder.mkdir(exist_ok=True)
            for packet in night.packets:
                (folder / f"{packet.object_id}_{packet.candid}.avro").write_bytes(packet.data)
                written += 1
        self.truth.to_csv(out_dir / "truth.csv", index=False)
        return written

    # -------------------------------------------------------------- light curves

    def _fluxes(
        self, sources: npt.NDArray[np.int64], exposures: npt.NDArray[np.int64]
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Reference flux and true difference flux [DN], sources × exposures."""
        s, sch = self._src, self._schedule
        t = sch.jd[exposures][None, :]
        zp = sch.magzpsci[exposures][None, :]
        g = (sch.fid[exposures] == 1)[None, :]
        cls = s["cls"][sources]
        ref_mag = np.where(g, s["mag_g"][sources][:, None], s["mag_r"][sources][:, None])
        ref_flux = 10 ** (0.4 * (zp - ref_mag))
        difference = np.zeros((len(sources), len(exposures)))

        rows = np.flatnonzero(cls == _PERIODIC)
        if len(rows):
            p = sources[rows][:, None]
            phase = ((t - s["epoch_jd"][p]) / s["period"][p]) % 1.0
            sawtooth = np.where(phase < 0.85, 2 * phase / 0.85 - 1, 1 - 2 * (phase - 0.85) / 0.15)
            sinusoid = -np.cos(2 * np.pi * phase)
            shape = np.where(s["sawtooth"][p], sawtooth, sinusoid)  # −1 at maximum light
            mag = ref_mag[rows] + 0.5 * s["amplitude"][p] * np.where(g, 1.2, 1.0) * shape
            difference[rows] = 10 ** (0.4 * (zp - mag)) - ref_flux[rows]
        rows = np.flatnonzero(cls == _AGN)
        if len(rows):
            walk = self._drw[s["agn_row"][sources[rows]]]
            position = (sch.jd[exposures] - self._drw_t0) / 0.5
            below = np.clip(np.floor(position).astype(np.int64), 0, walk.shape[1] - 2)
            weight = position - below
            offset = walk[:, below] * (1 - weight) + walk[:, below + 1] * weight
            mag = ref_mag[rows] + offset * np.where(g, 1.25, 1.0)
            difference[rows] = 10 ** (0.4 * (zp - mag)) - ref_flux[rows]
        rows = np.flatnonzero(cls == _SUPERNOVA)
        if len(rows):
            p = sources[rows][:, None]
            t0, rise, fall, peak = s["t0"][p], s["tau_rise"][p], s["tau_fall"][p], s["peak_jd"][p]
            shape = _bazin(t, t0, rise, fall) / _bazin(peak, t0, rise, fall)
            colour = s["sn_colour"][p] + np.clip(0.025 * (t - peak), 0, 1.3)
            peak_flux = 10 ** (0.4 * (zp - s["peak_mag"][p]))
            difference[rows] = peak_flux * shape * np.where(g, 10 ** (-0.4 * colour), 1.0)
        return ref_flux, difference

    def _night_packets(self, night: int, state: dict[str, Any]) -> Iterator[SimulatedPacket]:
        sch = self._schedule
        for block, (first, end) in enumerate(sch.blocks[night]):
            builder = _BlockBuilder(self, night, block, state)
            for exposure in range(first, end):
                field = int(sch.field[exposure])
                if field in self._field_sources:
                    yield from builder.static_alerts(field, exposure, first, end)
                for index in self._asteroids_at.get(exposure, ()):
                    yield builder.asteroid_alert(self._asteroid_detections[index])
