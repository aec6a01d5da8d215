"""The packets of one observing block.

A field's non-moving sources over its last 30 days of exposures (:class:`_FieldWindow`),
and the builder of the block's alerts, stamps and packets (:class:`_BlockBuilder`).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from itertools import accumulate
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from ingest.simulator.constants import (
    _BOGUS,
    _FWHM_PER_SIGMA,
    _LOCAL_REFERENCE_LIGHT,
    GAIN,
    HISTORY_DAYS,
    PIXEL_SCALE,
    PRE_NIGHTS,
    STAMP_SIZE,
    TEMPLATE_FWHM,
)
from ingest.simulator.detections import _detection_columns, _record, _select
from ingest.simulator.encoding import (
    _CANDIDATE,
    _FP_MEASUREMENT,
    _FP_PROCSTATUS,
    _FP_REFERENCE,
    _PRV_CANDIDATE,
    _array,
    _packet_bytes,
)
from ingest.simulator.helpers import _offset, _ps1_objid
from ingest.simulator.stamps import _CENTRE, _fits_gz, _profile, _Scene
from ingest.simulator.types import SimulatedPacket

if TYPE_CHECKING:
    from ingest.simulator.simulator import AlertSimulator


class _FieldWindow:
    """A field's non-moving sources over its exposures of the last 30 days."""

    def __init__(
        self,
        simulator: AlertSimulator,
        field: int,
        jd_from: float,
        jd_to: float,
        state: dict[str, Any],
    ) -> None:
        s, sch = simulator._src, simulator._schedule
        self.sources = simulator._field_sources[field]
        all_exposures = sch.field_exposures[field]
        jd = sch.jd[all_exposures]
        self.exposures = all_exposures[(jd >= jd_from) & (jd <= jd_to)]
        self.jd = sch.jd[self.exposures]
        self.column = {exposure: j for j, exposure in enumerate(self.exposures.tolist())}
        n, w = len(self.sources), len(self.exposures)

        # The random numbers of a (source, exposure) come from a generator of the
        # field and night, so a detection has the same values in every later history.
        normal, uniform = np.empty((4, n, w)), np.empty((4, n, w))
        nights = sch.night[self.exposures]
        for night in np.unique(nights).tolist():
            columns = np.flatnonzero(nights == night)
            that_night = sch.night[all_exposures] == night
            rng = np.random.default_rng([simulator.seed, 1, night + PRE_NIGHTS, field])
            chosen = np.isin(all_exposures[that_night], self.exposures[columns])
            normal[:, :, columns] = rng.standard_normal((4, n, int(that_night.sum())))[:, :, chosen]
            uniform[:, :, columns] = rng.random((4, n, int(that_night.sum())))[:, :, chosen]
        self.normal, self.uniform = normal, uniform

        ref_flux, difference = simulator._fluxes(self.sources, self.exposures)
        flux_sigma = sch.flux_sigma[self.exposures][None, :]
        # Photon noise of the light at the position: the object itself for periodic
        # variables and AGN, part of the host for supernovae, none from a neighbour.
        local = _LOCAL_REFERENCE_LIGHT[s["cls"][self.sources]][:, None] * ref_flux
        error = np.sqrt(
            flux_sigma**2 + np.maximum(local + difference, 0) / GAIN + (0.01 * difference) ** 2
        )
        measured = difference + error * normal[0]
        fire = s["fire_exposure"][self.sources]
        for row in np.flatnonzero(fire >= 0).tolist():
            column = self.column.get(int(fire[row]))
            if column is not None:
                measured[row, column] = s["fire_flux"][self.sources[row]]
                error[row, column] = flux_sigma[0, column]
        self.ref_flux, self.measured, self.error = ref_flux, measured, error
        self.detected = np.abs(measured) >= 5 * flux_sigma  # brighter than diffmaglim
        self._count_history(s, state)
        # Set by _BlockBuilder._detections: the encoded prv_candidates entry of each
        # detection, the detection at each (row, column) or −1, and the candidate
        # fields of the detections in this block (its alerts), with their positions.
        self.prv_entries: list[bytes] | None = None
        self.detection_index = np.empty((0, 0), dtype=np.int64)
        self.alert_fields: dict[str, Any] = {}
        self.alert_position: dict[int, int] = {}
        self._histories: dict[int, tuple[bytes, list[int], bytes, list[int]]] = {}

    def _count_history(self, s: dict[str, Any], state: dict[str, Any]) -> None:
        """Count ``ndethist`` and ``jdstarthist``: detections no earlier window counted."""
        sources = self.sources
        counted_until = state["counted_until"][sources]
        new = self.detected & (self.jd[None, :] > counted_until[:, None])
        self.ndethist = state["ndet"][sources][:, None] + np.cumsum(new, axis=1)
        first_new = np.where(new.any(axis=1), self.jd[np.argmax(new, axis=1)], np.nan)
        first_jd = state["first_jd"][sources]
        first_jd = np.where(np.isnan(first_jd), first_new, first_jd)
        state["first_jd"][sources] = first_jd
        if len(self.jd):
            state["ndet"][sources] = self.ndethist[:, -1]
            state["counted_until"][sources] = np.maximum(counted_until, self.jd[-1])
        self.jdstarthist = np.where(
            np.isnan(s["jdstarthist"][sources]), first_jd, s["jdstarthist"][sources]
        )


class _BlockBuilder:
    """Builds the packets of one observing block."""

    def __init__(
        self, simulator: AlertSimulator, night: int, block: int, state: dict[str, Any]
    ) -> None:
        self.sim = simulator
        self.sch = simulator._schedule
        self.src = simulator._src
        self.state = state
        self.rng = np.random.default_rng([simulator.seed, 2, night + PRE_NIGHTS, block])
        self.windows: dict[int, _FieldWindow] = {}
        self.upper_limits = simulator._upper_limits

    # ------------------------------------------------------------- static sources

    def _window(self, field: int, first: int, end: int) -> _FieldWindow:
        window = self.windows.get(field)
        if window is None:
            in_block = self.sch.jd[first:end][self.sch.field[first:end] == field]
            window = _FieldWindow(
                self.sim, field, in_block[0] - HISTORY_DAYS, in_block[-1], self.state
            )
            self.windows[field] = window
        return window

    def _detections(self, window: _FieldWindow, first: int) -> None:
        """Encode the prv_candidates entry of every detection in the window.

        Also keeps the candidate fields of the detections made in this block (in
        exposures from ``first`` on): they are its alerts.
        """
        if window.prv_entries is not None:
            return
        s, sch = self.src, self.sch
        rows, columns = np.nonzero(window.detected)
        sources = window.sources[rows]
        exposure = window.exposures[columns]
        flux, error = window.measured[rows, columns], window.error[rows, columns]
        z_ra, z_dec = window.normal[1, rows, columns], window.normal[2, rows, columns]
        sigma = np.hypot(0.07, 0.6 * sch.fwhm[exposure] * PIXEL_SCALE / (np.abs(flux) / error))
        ra, dec = _offset(s["ra"][sources], s["dec"][sources], z_ra * sigma, z_dec * sigma)
        place = {key: s[key][sources] for key in ("rcid", "ccd", "quadrant")}
        place.update(
            ra=ra,
            dec=dec,
            xpos=s["xpos"][sources] + z_ra * sigma / PIXEL_SCALE,
            ypos=s["ypos"][sources] + z_dec * sigma / PIXEL_SCALE,
        )
        draws = np.concatenate(
            [window.normal[3:4, rows, columns], window.uniform[:, rows, columns]]
        )
        fields = _detection_columns(
            sch,
            exposure=exposure,
            place=place,
            tblid=s["slot"][sources],
            flux=flux,
            error=error,
            draws=draws,
            bogus=s["cls"][sources] == _BOGUS,
        )
        g = sch.fid[exposure] == 1
        east = (ra - s["ranr"][sources] + 180) % 360 - 180
        distance = np.hypot(east * np.cos(np.radians(dec)), dec - s["decnr"][sources]) * 3600
        fields.update(
            distnr=distance / PIXEL_SCALE,
            magnr=np.where(g, s["mag_g"][sources], s["mag_r"][sources]),
            sigmagnr=np.where(g, s["sigmagnr_g"][sources], s["sigmagnr_r"][sources]),
            chinr=s["chinr"][sources],
            sharpnr=s["sharpnr"][sources],
            classtar=s["classtar"][sources],
            ranr=s["ranr"][sources],
            decnr=s["decnr"][sources],
            ssdistnr=-999.0,
            ssmagnr=-999.0,
            ssnamenr="null",
            ndethist=window.ndethist[rows, columns],
            ncovhist=s["ncov_base"][sources] + sch.field_rank[exposure],
            jdstarthist=window.jdstarthist[rows],
            jdendhist=sch.jd[exposure],
        )
        fields["pdiffimfilename"] = [
            sch.archive_name(e, c, q)
            for e, c, q in zip(
                exposure.tolist(), place["ccd"].tolist(), place["quadrant"].tolist(), strict=True
            )
        ]
        window.prv_entries = _PRV_CANDIDATE.encode_many(fields, len(rows))
        window.detection_index = np.full(window.detected.shape, -1)
        window.detection_index[rows, columns] = np.arange(len(rows))
        alerts = np.flatnonzero(exposure >= first)
        window.alert_fields = _select(fields, alerts)
        window.alert_position = {detection: k for k, detection in enumerate(alerts.tolist())}

    def _history(self, window: _FieldWindow, row: int) -> tuple[bytes, list[int], bytes, list[int]]:
        """A source's history entries at every exposure of the window, encoded once.

        Returns the concatenated ``prv_candidates`` entries and their offsets, then
        the same for ``fp_hists``; an alert's history is a slice of each.
        """
        cached = window._histories.get(row)
        if cached is not None:
            return cached
        s = self.src
        source = int(window.sources[row])
        rcid = int(s["rcid"][source])
        detections = window.prv_entries or []
        entries = [
            detections[i] if i >= 0 else self._nondetection(exposure, rcid)
            for i, exposure in zip(
                window.detection_index[row].tolist(), window.exposures.tolist(), strict=True
            )
        ]
        reference = {
            fid: _FP_REFERENCE.encode_record(
                {
                    "distnr": float(s["ref_distance"][source]) / PIXEL_SCALE,
                    "ranr": float(s["ranr"][source]),
                    "decnr": float(s["decnr"][source]),
                    "magnr": float(s[f"mag_{band}"][source]),
                    "sigmagnr": float(s[f"sigmagnr_{band}"][source]),
                    "chinr": float(s["chinr"][source]),
                    "sharpnr": float(s["sharpnr"][source]),
                }
            )
            for fid, band in ((1, "g"), (2, "r"))
        }
        forced_entries = self._forced(
            window.exposures,
            rcid,
            window.measured[row],
            window.error[row],
            [reference[fid] for fid in self.sch.fid[window.exposures].tolist()],
        )
        history = (
            b"".join(entries),
            [0, *accumulate(len(entry) for entry in entries)],
            b"".join(forced_entries),
            [0, *accumulate(len(entry) for entry in forced_entries)],
        )
        window._histories[row] = history
        return history

    def _nondetection(self, exposure: int, rcid: int) -> bytes:
        key = (exposure, rcid)
        entry = self.upper_limits.get(key)
        if entry is None:
            entry = _PRV_CANDIDATE.encode_record(self.sch.nondetection(exposure, rcid))
            self.upper_limits.put(key, entry)
        return entry

    def _forced(
        self,
        exposures: npt.NDArray[np.int64],
        rcid: int,
        flux: npt.NDArray[np.float64],
        error: npt.NDArray[np.float64],
        references: list[bytes],
    ) -> list[bytes]:
        """Encoded fp_hists entries of one position at the given exposures."""
        entries = []
        for exposure, value, sigma, reference in zip(
            exposures.tolist(), flux.tolist(), error.tolist(), references, strict=True
        ):
            prefix = self.sch.forced_prefix(exposure, rcid)
            measurement = _FP_MEASUREMENT.pack(2, value, 2, sigma)
            entries.append(b"".join((prefix, measurement, _FP_PROCSTATUS, reference)))
        return entries

    def static_alerts(
        self, field: int, exposure: int, first: int, end: int
    ) -> Iterator[SimulatedPacket]:
        """The alerts of the field's sources detected in this exposure."""
        window = self._window(field, first, end)
        column = window.column[exposure]
        rows = np.flatnonzero(window.detected[:, column])
        if not len(rows):
            return
        s = self.src
        self._detections(window, first)
        start = int(np.searchsorted(window.jd, window.jd[column] - HISTORY_DAYS, side="right"))
        for row in rows.tolist():
            source = int(window.sources[row])
            detection = int(window.detection_index[row, column])
            candidate = _record(window.alert_fields, window.alert_position[detection])
            candidate["pdiffimfilename"] = self.sch.diffim_name(
                exposure, int(s["ccd"][source]), int(s["quadrant"][source])
            )
            candidate.update(self._source_fields(source))
            prv, prv_offsets, fp, fp_offsets = self._history(window, row)
            flux = float(window.measured[row, column])
            scene = _Scene(
                float(window.ref_flux[row, column]),
                float(s["ref_distance"][source]),
                float(s["ref_angle"][source]),
                float(s["ref_extent"][source]),
            )
            yield self._packet(
                str(s["object_id"][source]),
                candidate,
                history=_array(column - start, prv[prv_offsets[start] : prv_offsets[column]]),
                forced=_array(column - start, fp[fp_offsets[start] : fp_offsets[column]]),
                exposure=exposure,
                flux=flux,
                scene=scene,
                artefact=bool(s["cls"][source] == _BOGUS),
                subpixel=(
                    float(window.uniform[2, row, column]) - 0.5,
                    float(window.uniform[3, row, column]) - 0.5,
                ),
            )

    def _source_fields(self, source: int) -> dict[str, Any]:
        """Candidate fields fixed for a non-moving source: Pan-STARRS1 and Gaia."""
        s = self.src
        fields: dict[str, Any] = {
            "nmtchps": int(s["nmtchps"][source]),
            "neargaia": float(s["neargaia"][source]),
            "neargaiabright": float(s["neargaiabright"][source]),
            "maggaia": float(s["maggaia"][source]),
            "maggaiabright": float(s["maggaiabright"][source]),
        }
        ids = s["ps1_ids"][:, source].tolist()
        distances = s["ps1_distance"][:, source].tolist()
        scores = s["ps1_score"][:, source].tolist()
        mags = s["ps1_mags"][:, :, source].tolist()
        for k in range(3):
            fields[f"objectidps{k + 1}"] = ids[k]
            fields[f"distpsnr{k + 1}"] = distances[k]
            fields[f"sgscore{k + 1}"] = scores[k]
            for band, mag in zip("griz", mags[k], strict=True):
                fields[f"s{band}mag{k + 1}"] = mag
        return fields

    # ------------------------------------------------------------------- asteroids

    def asteroid_alert(self, detection: dict[str, Any]) -> SimulatedPacket:
        """The alert of one nightly asteroid detection.

        A new object each night: its history has no detections, only upper limits
        and forced photometry of empty sky at its position.
        """
        sch = self.sch
        exposure = detection["exposure"]
        place = detection["place"]
        draws = detection["draws"]
        columns = _detection_columns(
            sch,
            exposure=np.array([exposure]),
            place={key: np.array([value]) for key, value in place.items()},
            tblid=np.array([self.sim._max_slot + detection["asteroid"]]),
            flux=np.array([detection["flux"]]),
            error=np.array([detection["error"]]),
            draws=np.array([[2 * draws[0] - 1], *([value] for value in draws[1:5])]),
            bogus=np.array([False]),
        )
        candidate = _record(_select(columns, np.array([0])), 0)
        candidate["pdiffimfilename"] = sch.diffim_name(exposure, place["ccd"], place["quadrant"])
        # The nearest reference and Pan-STARRS1 sources are unrelated field stars.
        distance = 2.0 + 18.0 * draws[5]  # arcsec
        angle = 2 * math.pi * draws[6]
        ranr, decnr = (
            float(v)
            for v in _offset(
                place["ra"], place["dec"], distance * math.cos(angle), distance * math.sin(angle)
            )
        )
        magnr_by_band = {2: 19.0 + 3.5 * draws[7], 1: 19.5 + 3.5 * draws[7]}
        magnr = magnr_by_band[candidate["fid"]]
        reference = {
            "distnr": distance / PIXEL_SCALE,
            "magnr": magnr,
            "sigmagnr": 0.05 + 0.05 * draws[6],
            "chinr": 0.5 + draws[7],
            "sharpnr": 0.1 * draws[5] - 0.05,
            "ranr": ranr,
            "decnr": decnr,
        }
        candidate.update(reference)
        candidate.update(
            classtar=0.9 + 0.1 * draws[7],
            ssdistnr=1.5 * draws[5],
            ssmagnr=detection["mag_v"],
            ssnamenr=self.sim._asteroid_names[detection["asteroid"]],
            ndethist=1,
            ncovhist=detection["ncov_base"] + int(sch.field_rank[exposure]),
            jdstarthist=detection["jd"],
            jdendhist=detection["jd"],
            nmtchps=int(3 + 20 * draws[5]),
            neargaia=20 + 30 * draws[6],
            neargaiabright=40 + 20 * draws[7],
            maggaia=19.0 + draws[5],
            maggaiabright=12.0 + draws[6],
            objectidps1=int(_ps1_objid(ranr, decnr)),
            sgscore1=draws[6],
            distpsnr1=distance,
            sgmag1=magnr + 0.5,
            srmag1=magnr,
            simag1=magnr - 0.2,
            szmag1=magnr - 0.3,
        )
        exposures = sch.field_exposures[place["field"]]
        jd = sch.jd[exposures]
        earlier = exposures[(jd > detection["jd"] - HISTORY_DAYS) & (jd < detection["jd"])]
        rcid = place["rcid"]
        history = b"".join(self._nondetection(e, rcid) for e in earlier.tolist())
        noise = sch.flux_sigma[earlier]
        suffix = {
            fid: _FP_REFERENCE.encode_record({**reference, "magnr": magnr_by_band[fid]})
            for fid in (1, 2)
        }
        forced_bytes = b"".join(
            self._forced(
                earlier,
                rcid,
                noise * self.rng.standard_normal(len(earlier)),
                noise,
                [suffix[fid] for fid in sch.fid[earlier].tolist()],
            )
        )
        scene = _Scene(10 ** (0.4 * (candidate["magzpsci"] - magnr)), distance, angle, 0.0)
        return self._packet(
            detection["object_id"],
            candidate,
            history=_array(len(earlier), history),
            forced=_array(len(earlier), forced_bytes),
            exposure=exposure,
            flux=detection["flux"],
            scene=scene,
            artefact=False,
            subpixel=(draws[3] - 0.5, draws[4] - 0.5),
        )

    # --------------------------------------------------------------------- packets

    def _packet(
        self,
        object_id: str,
        candidate: dict[str, Any],
        *,
        history: bytes,
        forced: bytes,
        exposure: int,
        flux: float,
        scene: _Scene,
        artefact: bool,
        subpixel: tuple[float, float],
    ) -> SimulatedPacket:
        candid, pid = candidate["candid"], candidate["pid"]
        science, template, difference = self._stamps(
            exposure, flux, scene, artefact=artefact, subpixel=subpixel
        )
        sign = "scimref" if flux > 0 else "refmsci"
        cutouts = (
            (f"candid{candid}_pid{pid}_targ_sci.fits.gz", science),
            (f"candid{candid}_ref.fits.gz", template),
            (f"candid{candid}_pid{pid}_targ_{sign}.fits.gz", difference),
        )
        # ZTF's sync markers are random; these are reproducible and differ per packet.
        sync = candid.to_bytes(8, "big") + self.sim.seed.to_bytes(8, "big")
        data = _packet_bytes(
            object_id,
            candidate=_CANDIDATE.encode_record(candidate),
            candid=candid,
            history=history,
            forced=forced,
            cutouts=cutouts,
            sync=sync,
        )
        return SimulatedPacket(candidate["jd"], object_id, candid, data)

    def _stamps(
        self,
        exposure: int,
        flux: float,
        scene: _Scene,
        *,
        artefact: bool,
        subpixel: tuple[float, float],
    ) -> tuple[bytes, bytes, bytes]:
        """Science, template and difference stamps: Gaussian sources on sky and noise.

        The template holds the reference scene (the object itself, its host or a
        neighbour) at the reference image's resolution and low noise; the science
        image adds the measured flux change at the centre in this exposure's
        seeing; the difference image is that change alone, on noise. An artefact
        is much sharper than the PSF.
        """
        sch = self.sch
        psf_sigma = float(sch.fwhm[exposure]) / _FWHM_PER_SIGMA
        pixel_sigma = float(sch.pixel_sigma[exposure])
        x0, y0 = _CENTRE + subpixel[0], _CENTRE + subpixel[1]
        offset = scene.distance / PIXEL_SCALE
        rx, ry = x0 + offset * math.cos(scene.angle), y0 + offset * math.sin(scene.angle)
        change = flux * _profile(x0, y0, 0.35 if artefact else psf_sigma)
        template_sigma = math.hypot(TEMPLATE_FWHM / _FWHM_PER_SIGMA, scene.extent)
        template = scene.ref_flux * _profile(rx, ry, template_sigma)
        science = scene.ref_flux * _profile(rx, ry, math.hypot(psf_sigma, scene.extent)) + change
        noise = self.rng.standard_normal((3, STAMP_SIZE, STAMP_SIZE), dtype=np.float32)
        sky = float(sch.sky[exposure])
        return (
            _fits_gz(sky + science + pixel_sigma * noise[0]),
            _fits_gz(sky + template + 0.25 * pixel_sigma * noise[1]),
            _fits_gz(change + 1.03 * pixel_sigma * noise[2]),
        )
