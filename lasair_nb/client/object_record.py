"""One object of the archive, as a notebook wants it: summary, light curve, cutouts, context."""

from __future__ import annotations

import gzip
import io
import json
import math
import warnings
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import pandas as pd
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.io.fits.verify import VerifyWarning
from astropy.time import Time

from lasair_nb.archive import objects as object_storage
from lasair_nb.archive import tns as tns_storage
from lasair_nb.domain.features import FEATURES
from lasair_nb.domain.photometry import (
    BANDS,
    FORCED_LIMIT_SIGMA,
    FORCED_SNR_DETECTION,
    apparent_magnitude,
    difference_flux,
    flux_to_magnitude,
    forced_flux,
    forced_magnitude,
    is_coincident,
    magnitude_to_flux,
    valid_magnitude,
)
from lasair_nb.domain.times import jd_to_datetime, jd_to_mjd
from lasair_nb.domain.values import json_value
from lasair_nb.errors import ArgumentError, NotFoundError

if TYPE_CHECKING:
    from lasair_nb.client.archive import Archive

KINDS = ("mag", "flux", "diffmag", "diffflux")


class Cutouts(NamedTuple):
    """The three stamps of one alert, each a FITS image HDU (``.data``, ``.header``)."""

    candid: int
    science: fits.ImageHDU
    template: fits.ImageHDU
    difference: fits.ImageHDU


def _stamp(data: bytes) -> fits.ImageHDU:
    raw = gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
    with warnings.catch_warnings():
        # Some ZTF stamps pad their SIMPLE card non-standardly; the data are fine.
        warnings.simplefilter("ignore", VerifyWarning)
        with fits.open(io.BytesIO(raw)) as hdus:
            return fits.ImageHDU(np.array(hdus[0].data, dtype=np.float32), hdus[0].header.copy())


class ObjectRecord:
    """An object: its summary and everything measured of it. Get one with ``archive.object(id)``."""

    def __init__(self, archive: Archive, summary: dict[str, Any]) -> None:
        self.archive = archive
        self.object_id: str = summary["objectid"]
        self._summary = summary
        self._tables: dict[tuple[str, bool], pd.DataFrame] = {}

    def __repr__(self) -> str:
        s = self._summary
        return (
            f"<ObjectRecord {self.object_id}: {s['ncand']} detections, {s['context']}, "
            f"ramean={s['ramean']:.5f} decmean={s['decmean']:.5f}>"
        )

    # --- what is stored ----------------------------------------------------------------

    def _table(self, table: str, full: bool = True) -> pd.DataFrame:
        """A measurement table of this object: every column, or what a light curve needs."""
        if (table, full) not in self._tables:
            # Every measurement table at once: one connection, no per-table checkout.
            with self.archive.engine.connect() as connection:
                tables = object_storage.measurements(connection, self.object_id, full=full)
            for name, frame in tables.items():
                self._tables[(name, full)] = frame
        return self._tables[(table, full)]

    def _light_curve_table(self, table: str) -> pd.DataFrame:
        return self._table(table, full=False)

    @property
    def summary(self) -> pd.Series:
        """The ``objects`` row: position, counts, per-band magnitudes and rates."""
        return pd.Series(self._summary, name=self.object_id)

    @property
    def position(self) -> SkyCoord:
        """Mean position of the detections."""
        return SkyCoord(self._summary["ramean"] * u.deg, self._summary["decmean"] * u.deg)

    @property
    def features(self) -> Any:
        """Light-curve features per band (rows: g, r, i; columns: the feature names)."""
        return self.archive._deliver(self._features())

    def _features(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                name: [self._summary.get(f"{name}_{band}") for band in BANDS.values()]
                for name in FEATURES
            },
            index=pd.Index(list(BANDS.values()), name="band"),
        ).astype(float)

    @property
    def context(self) -> dict[str, Any]:
        """Context class and the PS1/Gaia facts it rests on."""
        keys = ("context", "sgscore1", "distpsnr1", "neargaia", "maggaia", "ssnamenr")
        return {key: self._summary.get(key) for key in keys}

    @property
    def annotations(self) -> Any:
        """Annotations of this object visible to you (tags, comments, who, when)."""
        return self.archive._deliver(self.archive._annotations_of(self.object_id))

    # --- light curve ----------------------------------------------------------------------

    def lightcurve(self, kind: str = "mag", forced_snr: float = FORCED_SNR_DETECTION) -> Any:
        """Detections, non-detections and forced photometry in one table.

        Parameters
        ----------
        kind
            ``"mag"``: the object's apparent magnitude, ``mag_err`` its 1-sigma error;
            ``"flux"``: the same in Jy; ``"diffmag"``: magnitude of the difference
            flux, asymmetric errors (SNAD Viewer eqs. 5-7); ``"diffflux"``: signed
            difference flux in Jy (SNAD eqs. 1-4).

            For ``"mag"``/``"flux"`` the column ``mag_type`` says how the apparent
            value was found (:func:`lasair_nb.domain.photometry.apparent_magnitude`):
            ``"dc"``, reference + difference where the reference-image source is the
            object (``distnr`` ≤ 1.5 pixels ≈ 1.5″); ``"psf"``, a positive difference
            with no usable reference, the brightness of what appeared since the
            reference image (the object's own if it was absent from the reference,
            as for a supernova on its host; else a faint bound, the object is at
            least this bright); ``"unknown"``, NaN, a negative difference with no
            usable reference (it faded by a known amount from an unknown brightness).
            The difference kinds show every detection as measured.
        forced_snr
            Forced-photometry points whose shown flux (difference flux, or for
            ``"dc"`` points the total flux) is below ``forced_snr`` times its
            error are upper limits, shown at 5 sigma as ZTF's ``diffmaglim``.
            Default :data:`~lasair_nb.domain.photometry.FORCED_SNR_DETECTION` (3);
            0 shows every forced point as measured. Measured forced magnitudes
            carry the symmetric error σ_m = 1.0857 σ_f / f (SNAD eq. 9) under
            ``"mag"`` and the asymmetric bounds under ``"diffmag"``.

        Returns
        -------
        pandas.DataFrame
            One row per measurement: ``measurement`` ("detection", "nondetection",
            "forced"), ``jd``, ``mjd``, ``time`` (UTC), ``band``, ``fid``, ``candid``,
            the values of ``kind`` with errors, and ``upper_limit`` (True where the
            value is a 5-sigma limit; its errors are NaN). ZTF's missing-value
            sentinels (e.g. a ``diffmaglim`` of −1006.94) are NaN.
        """
        return self.archive._deliver(self._lightcurve(kind, forced_snr))

    def _lightcurve(self, kind: str, forced_snr: float = FORCED_SNR_DETECTION) -> pd.DataFrame:
        if kind not in KINDS:
            raise ArgumentError(f"unknown light-curve kind {kind!r}; accepted: {', '.join(KINDS)}")
        if (
            isinstance(forced_snr, bool)
            or not isinstance(forced_snr, (int, float, np.integer, np.floating))
            or not math.isfinite(forced_snr)
            or forced_snr < 0
        ):
            raise ArgumentError(f"forced_snr must be a number >= 0, got {forced_snr!r}")
        parts = [
            self._detections(kind),
            self._nondetections(kind),
            self._forced(kind, float(forced_snr)),
        ]
        curve = pd.concat([part for part in parts if len(part)], ignore_index=True)
        if not len(curve):
            return curve
        curve["mjd"] = jd_to_mjd(curve["jd"])
        curve["time"] = jd_to_datetime(curve["jd"])
        curve["band"] = curve["fid"].map(BANDS)
        first = ["measurement", "jd", "mjd", "time", "band", "fid", "candid"]
        rest = [c for c in curve.columns if c not in first]
        return curve[first + rest].sort_values(["jd", "fid"], kind="stable").reset_index(drop=True)

    def _detections(self, kind: str) -> pd.DataFrame:
        rows = self._light_curve_table("candidates")
        if not len(rows):
            return pd.DataFrame()
        out = pd.DataFrame(
            {
                "measurement": "detection",
                "jd": rows["jd"],
                "fid": rows["fid"],
                "candid": rows["candid"].astype("Int64"),
                "isdiffpos": rows["isdiffpos"],
                "upper_limit": False,
            }
        )
        if kind in ("diffflux", "diffmag"):
            diff, diff_err = difference_flux(rows["magpsf"], rows["sigmapsf"], rows["isdiffpos"])
            if kind == "diffflux":
                out["flux"], out["flux_err"] = diff, diff_err
            else:
                mag, fainter, brighter = flux_to_magnitude(diff, diff_err)
                out["mag"], out["mag_err_plus"], out["mag_err_minus"] = mag, fainter, brighter
            return out
        mag, mag_err, mag_type = apparent_magnitude(
            rows["magpsf"],
            rows["sigmapsf"],
            rows["magnr"],
            rows["sigmagnr"],
            rows["isdiffpos"],
            distnr=rows["distnr"],
        )
        out["mag_type"] = mag_type
        if kind == "mag":
            out["mag"], out["mag_err"] = mag, mag_err
        else:
            out["flux"], out["flux_err"] = magnitude_to_flux(mag, mag_err)
        return out

    def _nondetections(self, kind: str) -> pd.DataFrame:
        rows = self._light_curve_table("noncandidates")
        if not len(rows):
            return pd.DataFrame()
        out = pd.DataFrame(
            {
                "measurement": "nondetection",
                "jd": rows["jd"],
                "fid": rows["fid"],
                "candid": pd.array([pd.NA] * len(rows), dtype="Int64"),
                "upper_limit": True,
            }
        )
        limit = valid_magnitude(rows["diffmaglim"])  # ZTF's -1006.94 is no limit at all
        if kind in ("mag", "diffmag"):
            out["mag"] = limit
        else:
            out["flux"] = magnitude_to_flux(limit)[0]
        return out

    def _forced(self, kind: str, forced_snr: float = FORCED_SNR_DETECTION) -> pd.DataFrame:
        rows = self._light_curve_table("forced_photometry")
        if not len(rows):
            return pd.DataFrame()
        flux, error = forced_flux(
            rows["forcediffimflux"], rows["forcediffimfluxunc"], rows["magzpsci"]
        )
        good = np.isfinite(flux) & np.isfinite(error)
        rows, flux, error = rows[good], flux[good], error[good]
        out = pd.DataFrame(
            {
                "measurement": "forced",
                "jd": rows["jd"].to_numpy(),
                "fid": rows["fid"].to_numpy(),
                "candid": pd.array([pd.NA] * len(rows), dtype="Int64"),
            }
        )
        with np.errstate(divide="ignore", invalid="ignore"):
            difference_limit = np.abs(flux) / error < forced_snr
        if kind in ("mag", "flux"):
            # Apparent = reference + difference where the reference source is the object.
            # Elsewhere the difference stands for the object when it could be the light of
            # something new (positive, or consistent with nothing); a significant negative
            # difference without a reference leaves the brightness unknown.
            reference, reference_err = magnitude_to_flux(rows["magnr"], rows["sigmagnr"])
            coincident = is_coincident(rows["distnr"]) & np.isfinite(reference)
            total_err = np.hypot(error, np.where(np.isfinite(reference_err), reference_err, 0.0))
            total = reference + flux
            with np.errstate(divide="ignore", invalid="ignore"):
                total_limit = np.abs(total) / total_err < forced_snr
            unknown = ~coincident & ~difference_limit & (flux < 0)
            flux = np.where(coincident, total, np.where(unknown, np.nan, flux))
            error = np.where(coincident, total_err, np.where(unknown, np.nan, error))
            limit = np.where(coincident, total_limit, difference_limit & ~unknown)
            out["mag_type"] = np.where(coincident, "dc", np.where(unknown, "unknown", "psf"))
        else:
            limit = difference_limit
        out["upper_limit"] = limit
        # Limits: 5 sigma, as ZTF's diffmaglim.
        shown = np.where(limit, FORCED_LIMIT_SIGMA * error, flux)
        shown_err = np.where(limit, np.nan, error)
        if kind in ("flux", "diffflux"):
            out["flux"], out["flux_err"] = shown, shown_err
        elif kind == "mag":
            out["mag"], out["mag_err"] = forced_magnitude(shown, shown_err)
        else:
            mag, fainter, brighter = flux_to_magnitude(shown, shown_err)
            out["mag"], out["mag_err_plus"], out["mag_err_minus"] = mag, fainter, brighter
        return out

    # --- period ------------------------------------------------------------------------------

    def fold(self, period: float | u.Quantity | None = None, kind: str = "mag") -> Any:
        """The light curve folded on a period.

        Parameters
        ----------
        period
            Days (or an astropy time Quantity). Default: the Lomb–Scargle period
            of the band with the most significant one.
        kind
            As for :meth:`lightcurve`.

        Returns
        -------
        pandas.DataFrame
            The detections and forced points with ``phase`` in [0, 1);
            ``.attrs["period"]`` holds the period used.
        """
        if period is None:
            features = self._features().dropna(subset=["period", "period_snr"])
            if not len(features):
                raise ArgumentError(
                    f"{self.object_id} has no Lomb-Scargle period (too few detections); "
                    "give one: fold(period=...)"
                )
            period = float(features.sort_values("period_snr").iloc[-1]["period"])
        try:
            days = period.to_value(u.day) if isinstance(period, u.Quantity) else float(period)
        except (TypeError, ValueError, u.UnitConversionError) as error:
            raise ArgumentError(
                f"period must be days or a time Quantity, got {period!r}"
            ) from error
        if not math.isfinite(days) or days <= 0:
            raise ArgumentError(f"period must be a positive number of days, got {period!r}")
        curve = self._lightcurve(kind)
        curve = curve[curve["measurement"] != "nondetection"].copy()
        curve["phase"] = np.mod(curve["jd"] - curve["jd"].min(), days) / days
        curve.attrs["period"] = days
        return self.archive._deliver(curve.sort_values("phase").reset_index(drop=True))

    # --- images and neighbours --------------------------------------------------------------

    def cutouts(self, candid: int | None = None) -> Cutouts:
        """Science, template and difference stamps of one alert (default: the latest)."""
        if candid is None:
            candid = self._summary["latest_candid"]
        if isinstance(candid, bool) or not isinstance(candid, (int, np.integer)):
            raise ArgumentError(f"candid must be a whole number (an alert id), got {candid!r}")
        candid = int(candid)
        with self.archive.engine.connect() as connection:
            row = object_storage.stamps(connection, self.object_id, candid)
        if row is None:
            raise NotFoundError(f"no cutouts for candid {candid} of {self.object_id}")
        if row.stamp_format == "jpeg":
            raise NotFoundError(
                f"candid {candid} has JPEG stamps (ZTF schema 1.5), not FITS cutouts"
            )
        stamps = [_stamp(bytes(data)) for data in (row.science, row.template, row.difference)]
        return Cutouts(candid, *stamps)

    def neighbours(self, radius: float | u.Quantity = 30.0) -> Any:
        """Other objects within ``radius`` (arcsec, default 30), nearest first."""
        found = self.archive._cone(self.position, radius=radius)
        return self.archive._deliver(
            found[found["objectid"] != self.object_id].reset_index(drop=True)
        )

    # --- JSON ------------------------------------------------------------------------------------

    @property
    def tns(self) -> Any:
        """TNS objects within 1.5″ (Lasair's ``crossmatch_tns`` rows), nearest first."""
        with self.archive.engine.connect() as connection:
            return self.archive._deliver(tns_storage.matches_of(connection, self.object_id))

    def to_json(self) -> str:
        """The object as Lasair-ZTF's object API gives it (``lasair_added``, not lite).

        ``objectId``; ``objectData``: the ``objects`` row under Lasair's names
        (``objectId``, ``ramean``…) plus Lasair's page extras (``rasex``, ``decsex``,
        ``ec_lon``, ``ec_lat``, ``now_mjd``, ``mjdmin_ago``, ``mjdmax_ago``);
        ``candidates``: detections and non-detections by time, each with ``mjd``
        (non-detections carry only their own keys: no ``candid``, no nulls);
        ``count_isdiffpos``, ``count_all_candidates``, ``count_noncandidate``;
        ``sherlock``: the Sherlock classification (``{}`` if none); ``TNS``: the
        nearest TNS match (``{}`` if none); ``forcedphot``; ``annotations``.
        """

        def records(frame: pd.DataFrame, drop_nulls: bool = False) -> list[dict[str, Any]]:
            rows = [
                {key: json_value(value) for key, value in row.items()}
                for row in frame.replace({pd.NA: None}).to_dict("records")
            ]
            if drop_nulls:
                rows = [{k: v for k, v in row.items() if v is not None} for row in rows]
            return rows

        detections = self._table("candidates").drop(columns=["hpx", "ingested_at"])
        limits = self._table("noncandidates")
        candidates = sorted(
            records(detections) + records(limits, drop_nulls=True), key=lambda row: row["jd"]
        )
        for row in candidates:
            row["mjd"] = float(jd_to_mjd(row["jd"]))
        tns = self.tns
        if not hasattr(tns, "to_dict"):
            tns = tns.to_pandas()
        document = {
            "objectId": self.object_id,
            "objectData": self._lasair_object_data(),
            "candidates": candidates,
            "count_isdiffpos": int(
                sum(str(row.get("isdiffpos")) in ("t", "1") for row in candidates)
            ),
            "count_all_candidates": len(detections),
            "count_noncandidate": len(limits),
            "sherlock": self.archive.sherlock(self.object_id),
            "TNS": records(tns.drop(columns=["objectid"]))[0] if len(tns) else {},
            "forcedphot": records(self._table("forced_photometry")),
            "annotations": records(self.archive._annotations_of(self.object_id)),
        }
        return json.dumps(document)

    def _lasair_object_data(self) -> dict[str, Any]:
        data = {key: json_value(value) for key, value in self._summary.items() if key != "hpx"}
        data = {"objectId": data.pop("objectid"), **data}
        position = self.position
        ecliptic = position.transform_to("geocentricmeanecliptic")
        now = float(jd_to_mjd(Time.now().jd))
        data.update(
            rasex=position.ra.to_string(unit=u.hourangle, sep=":", precision=3, pad=True),
            decsex=position.dec.to_string(sep=":", precision=2, alwayssign=True, pad=True),
            ec_lon=float(ecliptic.lon.deg),
            ec_lat=float(ecliptic.lat.deg),
            now_mjd=f"{now:.2f}",
            mjdmin_ago=now - float(jd_to_mjd(self._summary["jdmin"])),
            mjdmax_ago=now - float(jd_to_mjd(self._summary["jdmax"])),
        )
        return data
