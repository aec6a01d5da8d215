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

from lasair_nb.archive import objects as object_storage
from lasair_nb.domain.features import FEATURES
from lasair_nb.domain.photometry import (
    BANDS,
    FORCED_SNR_DETECTION,
    dc_magnitude,
    difference_flux,
    flux_to_magnitude,
    forced_flux,
    is_coincident,
    magnitude_to_flux,
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
            f"ra={s['ra']:.5f} dec={s['dec']:.5f}>"
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
        return SkyCoord(self._summary["ra"] * u.deg, self._summary["dec"] * u.deg)

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

    def lightcurve(self, kind: str = "mag") -> Any:
        """Detections, non-detections and forced photometry in one table.

        Parameters
        ----------
        kind
            ``"mag"``: apparent magnitude (DC where the reference source is the
            object, else the difference ``magpsf``); ``"flux"``: the same in Jy;
            ``"diffmag"``: magnitude of the difference flux, asymmetric errors;
            ``"diffflux"``: signed difference flux in Jy (SNAD Viewer eqs. 1-7).

        Returns
        -------
        pandas.DataFrame
            One row per measurement: ``measurement`` ("detection", "nondetection",
            "forced"), ``jd``, ``mjd``, ``time`` (UTC), ``band``, ``fid``, ``candid``,
            the values of ``kind`` with errors, and ``upper_limit`` (True where the
            value is a 5-sigma limit).
        """
        return self.archive._deliver(self._lightcurve(kind))

    def _lightcurve(self, kind: str) -> pd.DataFrame:
        if kind not in KINDS:
            raise ArgumentError(f"unknown light-curve kind {kind!r}; accepted: {', '.join(KINDS)}")
        parts = [self._detections(kind), self._nondetections(kind), self._forced(kind)]
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
        diff, diff_err = difference_flux(rows["magpsf"], rows["sigmapsf"], rows["isdiffpos"])
        if kind in ("diffflux", "diffmag"):
            if kind == "diffflux":
                out["flux"], out["flux_err"] = diff, diff_err
            else:
                mag, fainter, brighter = flux_to_magnitude(diff, diff_err)
                out["mag"], out["mag_err_plus"], out["mag_err_minus"] = mag, fainter, brighter
            return out
        dc, dc_err = dc_magnitude(
            rows["magpsf"], rows["sigmapsf"], rows["magnr"], rows["sigmagnr"], rows["isdiffpos"]
        )
        use_dc = is_coincident(rows["distnr"]) & np.isfinite(dc)
        mag = np.where(use_dc, dc, rows["magpsf"])
        mag_err = np.where(use_dc, dc_err, rows["sigmapsf"])
        out["mag_type"] = np.where(use_dc, "dc", "psf")
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
        if kind in ("mag", "diffmag"):
            out["mag"] = rows["diffmaglim"].astype(float)
        else:
            out["flux"] = magnitude_to_flux(rows["diffmaglim"])[0]
        return out

    def _forced(self, kind: str) -> pd.DataFrame:
        rows = self._light_curve_table("forced_photometry")
        if not len(rows):
            return pd.DataFrame()
        flux, error = forced_flux(
            rows["forcediffimflux"], rows["forcediffimfluxunc"], rows["magzpsci"]
        )
        good = np.isfinite(flux)
        rows, flux, error = rows[good], flux[good], error[good]
        with np.errstate(divide="ignore", invalid="ignore"):
            limit = np.abs(flux) / error < FORCED_SNR_DETECTION
        out = pd.DataFrame(
            {
                "measurement": "forced",
                "jd": rows["jd"].to_numpy(),
                "fid": rows["fid"].to_numpy(),
                "candid": pd.array([pd.NA] * len(rows), dtype="Int64"),
                "upper_limit": limit,
            }
        )
        if kind in ("mag", "flux"):
            # Apparent = reference + difference, where the reference source is the object;
            # then the total flux is measured, never a limit, however small the change.
            reference, reference_err = magnitude_to_flux(rows["magnr"], rows["sigmagnr"])
            coincident = is_coincident(rows["distnr"]) & np.isfinite(reference)
            flux = np.where(coincident, reference + flux, flux)
            error = np.where(coincident, np.hypot(error, reference_err), error)
            limit = limit & ~coincident
            out["upper_limit"] = limit
        if kind in ("flux", "diffflux"):
            out["flux"], out["flux_err"] = flux, error
        else:
            # Limits: 5 sigma, as ZTF's diffmaglim.
            shown = np.where(limit, 5 * error, flux)
            mag, fainter, brighter = flux_to_magnitude(shown, np.where(limit, np.nan, error))
            out["mag"] = mag
            if kind == "mag":
                out["mag_err"] = np.where(limit, np.nan, (fainter + brighter) / 2)
            else:
                out["mag_err_plus"], out["mag_err_minus"] = fainter, brighter
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

    def to_json(self) -> str:
        """The object as Lasair's JSON object response.

        ``{"objectId", "objectData": summary, "candidates": detections and
        non-detections (non-detections without candid), "forcedphot": forced
        photometry, "annotations": [...]}``.
        """

        def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
            return [
                {key: json_value(value) for key, value in row.items()}
                for row in frame.replace({pd.NA: None}).to_dict("records")
            ]

        detections = self._table("candidates").drop(columns=["hpx", "ingested_at"])
        limits = self._table("noncandidates").assign(candid=None)
        document = {
            "objectId": self.object_id,
            "objectData": {key: json_value(value) for key, value in self._summary.items()},
            "candidates": records(
                pd.concat([detections, limits], ignore_index=True).sort_values("jd")
            ),
            "forcedphot": records(self._table("forced_photometry")),
            "annotations": records(self.archive._annotations_of(self.object_id)),
        }
        return json.dumps(document)
