"""initial archive: candidates, noncandidates, forced photometry, cutouts, objects,
quarantine and ingest batches

Revision ID: 0001
Revises:
Create Date: 2026-11-21 14:47:49.632256
"""

from __future__ import annotations

import healpix_alchemy
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "candidates",
        sa.Column(
            "candid", sa.BigInteger(), nullable=False, comment="Candidate ID from operations DB"
        ),
        sa.Column("objectid", sa.Text(), nullable=False, comment="ZTF object identifier"),
        sa.Column(
            "jd",
            sa.DOUBLE_PRECISION(),
            nullable=True,
            comment="Observation Julian date at start of exposure [days]",
        ),
        sa.Column("fid", sa.Integer(), nullable=True, comment="Filter ID (1=g; 2=R; 3=i)"),
        sa.Column(
            "pid",
            sa.BigInteger(),
            nullable=True,
            comment="Processing ID for science image to facilitate archive retrieval",
        ),
        sa.Column(
            "diffmaglim",
            sa.REAL(),
            nullable=True,
            comment="Expected 5-sigma mag limit in difference image based on global noise estimate [mag]",
        ),
        sa.Column(
            "pdiffimfilename",
            sa.Text(),
            nullable=True,
            comment="filename of positive (sci minus ref) difference image",
        ),
        sa.Column(
            "programpi",
            sa.Text(),
            nullable=True,
            comment="Principal investigator attached to program ID",
        ),
        sa.Column(
            "programid",
            sa.Integer(),
            nullable=True,
            comment="Program ID: encodes either public, collab, or caltech mode",
        ),
        sa.Column(
            "isdiffpos",
            sa.Text(),
            nullable=True,
            comment="t or 1 => candidate is from positive (sci minus ref) subtraction; f or 0 => candidate is from negative (ref minus sci) subtraction",
        ),
        sa.Column(
            "tblid", sa.BigInteger(), nullable=True, comment="Internal pipeline table extraction ID"
        ),
        sa.Column("nid", sa.Integer(), nullable=True, comment="Night ID"),
        sa.Column("rcid", sa.Integer(), nullable=True, comment="Readout channel ID [00 .. 63]"),
        sa.Column("field", sa.Integer(), nullable=True, comment="ZTF field ID"),
        sa.Column(
            "xpos", sa.REAL(), nullable=True, comment="x-image position of candidate [pixels]"
        ),
        sa.Column(
            "ypos", sa.REAL(), nullable=True, comment="y-image position of candidate [pixels]"
        ),
        sa.Column(
            "ra",
            sa.DOUBLE_PRECISION(),
            nullable=True,
            comment="Right Ascension of candidate; J2000 [deg]",
        ),
        sa.Column(
            "dec",
            sa.DOUBLE_PRECISION(),
            nullable=True,
            comment="Declination of candidate; J2000 [deg]",
        ),
        sa.Column(
            "magpsf", sa.REAL(), nullable=True, comment="Magnitude from PSF-fit photometry [mag]"
        ),
        sa.Column(
            "sigmapsf", sa.REAL(), nullable=True, comment="1-sigma uncertainty in magpsf [mag]"
        ),
        sa.Column("chipsf", sa.REAL(), nullable=True, comment="Reduced chi-square for PSF-fit"),
        sa.Column(
            "magap",
            sa.REAL(),
            nullable=True,
            comment="Aperture mag using 14 pixel diameter aperture [mag]",
        ),
        sa.Column(
            "sigmagap", sa.REAL(), nullable=True, comment="1-sigma uncertainty in magap [mag]"
        ),
        sa.Column(
            "distnr",
            sa.REAL(),
            nullable=True,
            comment="distance to nearest source in reference image PSF-catalog [pixels]",
        ),
        sa.Column(
            "magnr",
            sa.REAL(),
            nullable=True,
            comment="magnitude of nearest source in reference image PSF-catalog [mag]",
        ),
        sa.Column(
            "sigmagnr", sa.REAL(), nullable=True, comment="1-sigma uncertainty in magnr [mag]"
        ),
        sa.Column(
            "chinr",
            sa.REAL(),
            nullable=True,
            comment="DAOPhot chi parameter of nearest source in reference image PSF-catalog",
        ),
        sa.Column(
            "sharpnr",
            sa.REAL(),
            nullable=True,
            comment="DAOPhot sharp parameter of nearest source in reference image PSF-catalog",
        ),
        sa.Column("sky", sa.REAL(), nullable=True, comment="Local sky background estimate [DN]"),
        sa.Column("magdiff", sa.REAL(), nullable=True, comment="Difference: magap - magpsf [mag]"),
        sa.Column(
            "fwhm",
            sa.REAL(),
            nullable=True,
            comment="Full Width Half Max assuming a Gaussian core, from SExtractor [pixels]",
        ),
        sa.Column(
            "classtar",
            sa.REAL(),
            nullable=True,
            comment="Star/Galaxy classification score from SExtractor",
        ),
        sa.Column(
            "mindtoedge",
            sa.REAL(),
            nullable=True,
            comment="Distance to nearest edge in image [pixels]",
        ),
        sa.Column(
            "magfromlim", sa.REAL(), nullable=True, comment="Difference: diffmaglim - magap [mag]"
        ),
        sa.Column("seeratio", sa.REAL(), nullable=True, comment="Ratio: difffwhm / fwhm"),
        sa.Column(
            "aimage",
            sa.REAL(),
            nullable=True,
            comment="Windowed profile RMS afloat major axis from SExtractor [pixels]",
        ),
        sa.Column(
            "bimage",
            sa.REAL(),
            nullable=True,
            comment="Windowed profile RMS afloat minor axis from SExtractor [pixels]",
        ),
        sa.Column("aimagerat", sa.REAL(), nullable=True, comment="Ratio: aimage / fwhm"),
        sa.Column("bimagerat", sa.REAL(), nullable=True, comment="Ratio: bimage / fwhm"),
        sa.Column("elong", sa.REAL(), nullable=True, comment="Ratio: aimage / bimage"),
        sa.Column(
            "nneg",
            sa.Integer(),
            nullable=True,
            comment="number of negative pixels in a 5 x 5 pixel stamp",
        ),
        sa.Column(
            "nbad",
            sa.Integer(),
            nullable=True,
            comment="number of prior-tagged bad pixels in a 5 x 5 pixel stamp",
        ),
        sa.Column(
            "rb",
            sa.REAL(),
            nullable=True,
            comment="RealBogus quality score from Random Forest classifier; range is 0 to 1 where closer to 1 is more reliable",
        ),
        sa.Column(
            "ssdistnr",
            sa.REAL(),
            nullable=True,
            comment="distance to nearest known solar system object if exists within 30 arcsec [arcsec]",
        ),
        sa.Column(
            "ssmagnr",
            sa.REAL(),
            nullable=True,
            comment="magnitude of nearest known solar system object if exists within 30 arcsec (usually V-band from MPC archive) [mag]",
        ),
        sa.Column(
            "ssnamenr",
            sa.Text(),
            nullable=True,
            comment="name of nearest known solar system object if exists within 30 arcsec (from MPC archive)",
        ),
        sa.Column(
            "sumrat",
            sa.REAL(),
            nullable=True,
            comment="Ratio: sum(pixels) / sum(|pixels|) in a 5 x 5 pixel stamp where stamp is first median-filtered to mitigate outliers",
        ),
        sa.Column(
            "magapbig",
            sa.REAL(),
            nullable=True,
            comment="Aperture mag using 18 pixel diameter aperture [mag]",
        ),
        sa.Column(
            "sigmagapbig", sa.REAL(), nullable=True, comment="1-sigma uncertainty in magapbig [mag]"
        ),
        sa.Column(
            "ranr",
            sa.DOUBLE_PRECISION(),
            nullable=True,
            comment="Right Ascension of nearest source in reference image PSF-catalog; J2000 [deg]",
        ),
        sa.Column(
            "decnr",
            sa.DOUBLE_PRECISION(),
            nullable=True,
            comment="Declination of nearest source in reference image PSF-catalog; J2000 [deg]",
        ),
        sa.Column(
            "sgmag1",
            sa.REAL(),
            nullable=True,
            comment="g-band PSF-fit magnitude of closest source from PS1 catalog; if exists within 30 arcsec [mag]",
        ),
        sa.Column(
            "srmag1",
            sa.REAL(),
            nullable=True,
            comment="r-band PSF-fit magnitude of closest source from PS1 catalog; if exists within 30 arcsec [mag]",
        ),
        sa.Column(
            "simag1",
            sa.REAL(),
            nullable=True,
            comment="i-band PSF-fit magnitude of closest source from PS1 catalog; if exists within 30 arcsec [mag]",
        ),
        sa.Column(
            "szmag1",
            sa.REAL(),
            nullable=True,
            comment="z-band PSF-fit magnitude of closest source from PS1 catalog; if exists within 30 arcsec [mag]",
        ),
        sa.Column(
            "sgscore1",
            sa.REAL(),
            nullable=True,
            comment="Star/Galaxy score of closest source from PS1 catalog; if exists within 30 arcsec: 0 <= sgscore <= 1 where closer to 1 implies higher likelihood of being a star",
        ),
        sa.Column(
            "distpsnr1",
            sa.REAL(),
            nullable=True,
            comment="Distance to closest source from PS1 catalog; if exists within 30 arcsec [arcsec]",
        ),
        sa.Column(
            "ndethist",
            sa.Integer(),
            nullable=True,
            comment="Number of spatially-coincident detections falling within 1.5 arcsec going back to beginning of survey; only detections that fell on the same field and readout-channel ID where the input candidate was observed are counted. All raw detections down to a photometric S/N of ~ 3 are included.",
        ),
        sa.Column(
            "ncovhist",
            sa.Integer(),
            nullable=True,
            comment="Number of times input candidate position fell on any field and readout-channel going back to beginning of survey",
        ),
        sa.Column(
            "jdstarthist",
            sa.DOUBLE_PRECISION(),
            nullable=True,
            comment="Earliest Julian date of epoch corresponding to ndethist [days]",
        ),
        sa.Column(
            "jdendhist",
            sa.DOUBLE_PRECISION(),
            nullable=True,
            comment="Latest Julian date of epoch corresponding to ndethist [days]",
        ),
        sa.Column(
            "scorr",
            sa.DOUBLE_PRECISION(),
            nullable=True,
            comment="Peak-pixel signal-to-noise ratio in point source matched-filtered detection image",
        ),
        sa.Column(
            "tooflag",
            sa.Integer(),
            nullable=True,
            comment="1 => candidate is from a Target-of-Opportunity (ToO) exposure; 0 => candidate is from a non-ToO exposure",
        ),
        sa.Column(
            "objectidps1",
            sa.BigInteger(),
            nullable=True,
            comment="Object ID of closest source from PS1 catalog; if exists within 30 arcsec",
        ),
        sa.Column(
            "objectidps2",
            sa.BigInteger(),
            nullable=True,
            comment="Object ID of second closest source from PS1 catalog; if exists within 30 arcsec",
        ),
        sa.Column(
            "sgmag2",
            sa.REAL(),
            nullable=True,
            comment="g-band PSF-fit magnitude of second closest source from PS1 catalog; if exists within 30 arcsec [mag]",
        ),
        sa.Column(
            "srmag2",
            sa.REAL(),
            nullable=True,
            comment="r-band PSF-fit magnitude of second closest source from PS1 catalog; if exists within 30 arcsec [mag]",
        ),
        sa.Column(
            "simag2",
            sa.REAL(),
            nullable=True,
            comment="i-band PSF-fit magnitude of second closest source from PS1 catalog; if exists within 30 arcsec [mag]",
        ),
        sa.Column(
            "szmag2",
            sa.REAL(),
            nullable=True,
            comment="z-band PSF-fit magnitude of second closest source from PS1 catalog; if exists within 30 arcsec [mag]",
        ),
        sa.Column(
            "sgscore2",
            sa.REAL(),
            nullable=True,
            comment="Star/Galaxy score of second closest source from PS1 catalog; if exists within 30 arcsec: 0 <= sgscore <= 1 where closer to 1 implies higher likelihood of being a star",
        ),
        sa.Column(
            "distpsnr2",
            sa.REAL(),
            nullable=True,
            comment="Distance to second closest source from PS1 catalog; if exists within 30 arcsec [arcsec]",
        ),
        sa.Column(
            "objectidps3",
            sa.BigInteger(),
            nullable=True,
            comment="Object ID of third closest source from PS1 catalog; if exists within 30 arcsec",
        ),
        sa.Column(
            "sgmag3",
            sa.REAL(),
            nullable=True,
            comment="g-band PSF-fit magnitude of third closest source from PS1 catalog; if exists within 30 arcsec [mag]",
        ),
        sa.Column(
            "srmag3",
            sa.REAL(),
            nullable=True,
            comment="r-band PSF-fit magnitude of third closest source from PS1 catalog; if exists within 30 arcsec [mag]",
        ),
        sa.Column(
            "simag3",
            sa.REAL(),
            nullable=True,
            comment="i-band PSF-fit magnitude of third closest source from PS1 catalog; if exists within 30 arcsec [mag]",
        ),
        sa.Column(
            "szmag3",
            sa.REAL(),
            nullable=True,
            comment="z-band PSF-fit magnitude of third closest source from PS1 catalog; if exists within 30 arcsec [mag]",
        ),
        sa.Column(
            "sgscore3",
            sa.REAL(),
            nullable=True,
            comment="Star/Galaxy score of third closest source from PS1 catalog; if exists within 30 arcsec: 0 <= sgscore <= 1 where closer to 1 implies higher likelihood of being a star",
        ),
        sa.Column(
            "distpsnr3",
            sa.REAL(),
            nullable=True,
            comment="Distance to third closest source from PS1 catalog; if exists within 30 arcsec [arcsec]",
        ),
        sa.Column(
            "nmtchps",
            sa.Integer(),
            nullable=True,
            comment="Number of source matches from PS1 catalog falling within 30 arcsec",
        ),
        sa.Column(
            "rfid",
            sa.BigInteger(),
            nullable=True,
            comment="Processing ID for reference image to facilitate archive retrieval",
        ),
        sa.Column(
            "jdstartref",
            sa.DOUBLE_PRECISION(),
            nullable=True,
            comment="Observation Julian date of earliest exposure used to generate reference image [days]",
        ),
        sa.Column(
            "jdendref",
            sa.DOUBLE_PRECISION(),
            nullable=True,
            comment="Observation Julian date of latest exposure used to generate reference image [days]",
        ),
        sa.Column(
            "nframesref",
            sa.Integer(),
            nullable=True,
            comment="Number of frames (epochal images) used to generate reference image",
        ),
        sa.Column(
            "rbversion",
            sa.Text(),
            nullable=True,
            comment="version of Random Forest classifier model used to assign RealBogus (rb) quality score",
        ),
        sa.Column(
            "dsnrms",
            sa.REAL(),
            nullable=True,
            comment="Ratio: D/stddev(D) on event position where D = difference image",
        ),
        sa.Column(
            "ssnrms",
            sa.REAL(),
            nullable=True,
            comment="Ratio: S/stddev(S) on event position where S = image of convolution: D (x) PSF(D)",
        ),
        sa.Column(
            "dsdiff", sa.REAL(), nullable=True, comment="Difference of statistics: dsnrms - ssnrms"
        ),
        sa.Column(
            "magzpsci",
            sa.REAL(),
            nullable=True,
            comment="Magnitude zero point for photometry estimates [mag]",
        ),
        sa.Column(
            "magzpsciunc",
            sa.REAL(),
            nullable=True,
            comment="Magnitude zero point uncertainty (in magzpsci) [mag]",
        ),
        sa.Column(
            "magzpscirms",
            sa.REAL(),
            nullable=True,
            comment="RMS (deviation from average) in all differences between instrumental photometry and matched photometric calibrators from science image processing [mag]",
        ),
        sa.Column(
            "nmatches",
            sa.Integer(),
            nullable=True,
            comment="Number of PS1 photometric calibrators used to calibrate science image from science image processing",
        ),
        sa.Column(
            "clrcoeff",
            sa.REAL(),
            nullable=True,
            comment="Color coefficient from linear fit from photometric calibration of science image",
        ),
        sa.Column(
            "clrcounc",
            sa.REAL(),
            nullable=True,
            comment="Color coefficient uncertainty from linear fit (corresponding to clrcoeff)",
        ),
        sa.Column(
            "zpclrcov",
            sa.REAL(),
            nullable=True,
            comment="Covariance in magzpsci and clrcoeff from science image processing [mag^2]",
        ),
        sa.Column(
            "zpmed",
            sa.REAL(),
            nullable=True,
            comment="Magnitude zero point from median of all differences between instrumental photometry and matched photometric calibrators from science image processing [mag]",
        ),
        sa.Column(
            "clrmed",
            sa.REAL(),
            nullable=True,
            comment="Median color of all PS1 photometric calibrators used from science image processing [mag]: for filter (fid) = 1, 2, 3, PS1 color used = g-r, g-r, r-i respectively",
        ),
        sa.Column(
            "clrrms",
            sa.REAL(),
            nullable=True,
            comment="RMS color (deviation from average) of all PS1 photometric calibrators used from science image processing [mag]",
        ),
        sa.Column(
            "neargaia",
            sa.REAL(),
            nullable=True,
            comment="Distance to closest source from Gaia DR1 catalog irrespective of magnitude; if exists within 90 arcsec [arcsec]",
        ),
        sa.Column(
            "neargaiabright",
            sa.REAL(),
            nullable=True,
            comment="Distance to closest source from Gaia DR1 catalog brighter than magnitude 14; if exists within 90 arcsec [arcsec]",
        ),
        sa.Column(
            "maggaia",
            sa.REAL(),
            nullable=True,
            comment="Gaia (G-band) magnitude of closest source from Gaia DR1 catalog irrespective of magnitude; if exists within 90 arcsec [mag]",
        ),
        sa.Column(
            "maggaiabright",
            sa.REAL(),
            nullable=True,
            comment="Gaia (G-band) magnitude of closest source from Gaia DR1 catalog brighter than magnitude 14; if exists within 90 arcsec [mag]",
        ),
        sa.Column(
            "exptime", sa.REAL(), nullable=True, comment="Integration time of camera exposure [sec]"
        ),
        sa.Column(
            "drb",
            sa.REAL(),
            nullable=True,
            comment="RealBogus quality score from Deep-Learning-based classifier; range is 0 to 1 where closer to 1 is more reliable",
        ),
        sa.Column(
            "drbversion",
            sa.Text(),
            nullable=True,
            comment="version of Deep-Learning-based classifier model used to assign RealBogus (drb) quality score",
        ),
        sa.Column("schemavsn", sa.Text(), nullable=False, comment="ZTF alert schema version"),
        sa.Column(
            "hpx",
            healpix_alchemy.types.Point(),
            nullable=False,
            comment="HEALPix index (nested, order 29) of ra, dec",
        ),
        sa.Column(
            "in_alert",
            sa.Boolean(),
            nullable=False,
            comment="True if this detection's own alert was ingested; false if it is known only from the prv_candidates history of a later alert (fewer fields)",
        ),
        sa.Column(
            "dc_mag",
            sa.DOUBLE_PRECISION(),
            nullable=True,
            comment="Apparent (DC) magnitude: reference flux +/- difference flux [mag]; the object's own only where distnr <= 1.5 (else it includes a neighbour)",
        ),
        sa.Column(
            "dc_sigmag",
            sa.DOUBLE_PRECISION(),
            nullable=True,
            comment="1-sigma uncertainty of dc_mag [mag]",
        ),
        sa.Column(
            "ingested_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
            comment="When this row was first written",
        ),
        sa.PrimaryKeyConstraint("candid"),
        comment="Every ZTF detection: alert candidates and the detections of their histories",
    )
    op.create_index("ix_candidates_hpx", "candidates", ["hpx"], unique=False)
    op.create_index("ix_candidates_jd", "candidates", ["jd"], unique=False)
    op.create_index("ix_candidates_objectid_jd", "candidates", ["objectid", "jd"], unique=False)
    op.create_table(
        "cutouts",
        sa.Column("candid", sa.BigInteger(), nullable=False, comment="Candidate ID of the alert"),
        sa.Column("objectid", sa.Text(), nullable=False, comment="ZTF object identifier"),
        sa.Column(
            "science", postgresql.BYTEA(), nullable=True, comment="Science image stamp, as received"
        ),
        sa.Column(
            "template",
            postgresql.BYTEA(),
            nullable=True,
            comment="Reference (template) image stamp, as received",
        ),
        sa.Column(
            "difference",
            postgresql.BYTEA(),
            nullable=True,
            comment="Difference image stamp, as received",
        ),
        sa.Column(
            "stamp_format",
            sa.Text(),
            nullable=False,
            comment="Encoding of the stamps: fits.gz (ZTF >= 1.8), jpeg (schema 1.5), fits",
        ),
        sa.PrimaryKeyConstraint("candid"),
        comment="The three 63x63 image stamps of each alert",
    )
    op.create_index(op.f("ix_cutouts_objectid"), "cutouts", ["objectid"], unique=False)
    # Stamps arrive gzipped: storing them EXTERNAL skips TOAST's futile recompression.
    for stamp in ("science", "template", "difference"):
        op.execute(f"ALTER TABLE cutouts ALTER COLUMN {stamp} SET STORAGE EXTERNAL")
    op.create_table(
        "forced_photometry",
        sa.Column("objectid", sa.Text(), nullable=False, comment="ZTF object identifier"),
        sa.Column("field", sa.Integer(), nullable=True, comment="ZTF field ID"),
        sa.Column("rcid", sa.Integer(), nullable=True, comment="Readout channel ID [00 .. 63]"),
        sa.Column("fid", sa.Integer(), nullable=True, comment="Filter ID (1=g; 2=R; 3=i)"),
        sa.Column("pid", sa.BigInteger(), nullable=True, comment="Processing ID for image"),
        sa.Column(
            "rfid",
            sa.BigInteger(),
            nullable=True,
            comment="Processing ID for reference image to facilitate archive retrieval",
        ),
        sa.Column(
            "sciinpseeing", sa.REAL(), nullable=True, comment="Effective FWHM of sci image [pixels]"
        ),
        sa.Column(
            "scibckgnd", sa.REAL(), nullable=True, comment="Background level in sci image [DN]"
        ),
        sa.Column(
            "scisigpix",
            sa.REAL(),
            nullable=True,
            comment="Robust sigma per pixel in sci image [DN]",
        ),
        sa.Column(
            "magzpsci",
            sa.REAL(),
            nullable=True,
            comment="Magnitude zero point for photometry estimates [mag]",
        ),
        sa.Column(
            "magzpsciunc",
            sa.REAL(),
            nullable=True,
            comment="Magnitude zero point uncertainty (in magzpsci) [mag]",
        ),
        sa.Column(
            "magzpscirms",
            sa.REAL(),
            nullable=True,
            comment="RMS (deviation from average) in all differences between instrumental photometry and matched photometric calibrators from science image processing [mag]",
        ),
        sa.Column(
            "clrcoeff",
            sa.REAL(),
            nullable=True,
            comment="Color coefficient from linear fit from photometric calibration of science image",
        ),
        sa.Column(
            "clrcounc",
            sa.REAL(),
            nullable=True,
            comment="Color coefficient uncertainty from linear fit (corresponding to clrcoeff)",
        ),
        sa.Column(
            "exptime", sa.REAL(), nullable=True, comment="Integration time of camera exposure [sec]"
        ),
        sa.Column(
            "adpctdif1",
            sa.REAL(),
            nullable=True,
            comment="Full sci image astrometric RMS along R.A. with respect to Gaia1 [arcsec]",
        ),
        sa.Column(
            "adpctdif2",
            sa.REAL(),
            nullable=True,
            comment="Full sci image astrometric RMS along Dec. with respect to Gaia1 [arcsec]",
        ),
        sa.Column(
            "diffmaglim",
            sa.REAL(),
            nullable=True,
            comment="Expected 5-sigma mag limit in difference image based on global noise estimate [mag]",
        ),
        sa.Column(
            "programid",
            sa.Integer(),
            nullable=True,
            comment="Program ID: encodes either public, collab, or caltech mode",
        ),
        sa.Column(
            "jd",
            sa.DOUBLE_PRECISION(),
            nullable=True,
            comment="Observation Julian date at start of exposure [days]",
        ),
        sa.Column(
            "forcediffimflux",
            sa.REAL(),
            nullable=True,
            comment="Forced difference image PSF-fit flux [DN]",
        ),
        sa.Column(
            "forcediffimfluxunc",
            sa.REAL(),
            nullable=True,
            comment="1-sigma uncertainty in forcediffimflux [DN]",
        ),
        sa.Column(
            "procstatus",
            sa.Text(),
            nullable=True,
            comment="Forced photometry processing status codes (0 => no warnings); see documentation",
        ),
        sa.Column(
            "distnr",
            sa.REAL(),
            nullable=True,
            comment="distance to nearest source in reference image PSF-catalog [arcsec]",
        ),
        sa.Column(
            "ranr",
            sa.DOUBLE_PRECISION(),
            nullable=True,
            comment="Right Ascension of nearest source in reference image PSF-catalog; J2000 [deg]",
        ),
        sa.Column(
            "decnr",
            sa.DOUBLE_PRECISION(),
            nullable=True,
            comment="Declination of nearest source in reference image PSF-catalog; J2000 [deg]",
        ),
        sa.Column(
            "magnr",
            sa.REAL(),
            nullable=True,
            comment="magnitude of nearest source in reference image PSF-catalog [mag]",
        ),
        sa.Column(
            "sigmagnr", sa.REAL(), nullable=True, comment="1-sigma uncertainty in magnr [mag]"
        ),
        sa.Column(
            "chinr",
            sa.REAL(),
            nullable=True,
            comment="DAOPhot chi parameter of nearest source in reference image PSF-catalog",
        ),
        sa.Column(
            "sharpnr",
            sa.REAL(),
            nullable=True,
            comment="DAOPhot sharp parameter of nearest source in reference image PSF-catalog",
        ),
        comment="Forced PSF photometry at the object's position (fp_hists of 4.x alerts)",
    )
    op.create_index(
        "uq_forced_photometry_epoch",
        "forced_photometry",
        ["objectid", "jd", "fid", "field", "rcid"],
        unique=True,
        postgresql_nulls_not_distinct=True,
    )
    op.create_table(
        "ingest_batches",
        sa.Column(
            "id", sa.BigInteger(), sa.Identity(always=False), nullable=False, comment="Batch number"
        ),
        sa.Column("source", sa.Text(), nullable=False, comment="Where the batch came from"),
        sa.Column(
            "started_at", sa.DateTime(timezone=True), nullable=False, comment="Start of the batch"
        ),
        sa.Column(
            "finished_at", sa.DateTime(timezone=True), nullable=False, comment="Its database commit"
        ),
        sa.Column("n_packets", sa.Integer(), nullable=False, comment="Packets in the batch"),
        sa.Column("n_new", sa.Integer(), nullable=False, comment="Alerts new to the archive"),
        sa.Column("n_duplicate", sa.Integer(), nullable=False, comment="Alerts already archived"),
        sa.Column("n_quarantined", sa.Integer(), nullable=False, comment="Packets quarantined"),
        sa.Column("duration_s", sa.DOUBLE_PRECISION(), nullable=False, comment="Wall time [s]"),
        sa.Column(
            "alerts_per_s", sa.DOUBLE_PRECISION(), nullable=False, comment="Packets per second"
        ),
        sa.PrimaryKeyConstraint("id"),
        comment="One row per ingest batch (one database transaction)",
    )
    op.create_table(
        "noncandidates",
        sa.Column("objectid", sa.Text(), nullable=False, comment="ZTF object identifier"),
        sa.Column(
            "jd", sa.DOUBLE_PRECISION(), nullable=False, comment="Julian date of the observation"
        ),
        sa.Column("fid", sa.Integer(), nullable=False, comment="Filter ID (1=g; 2=R; 3=i)"),
        sa.Column(
            "pid", sa.BigInteger(), nullable=True, comment="Processing ID for the science image"
        ),
        sa.Column(
            "diffmaglim",
            sa.REAL(),
            nullable=True,
            comment="5-sigma limiting magnitude of the difference image [mag]",
        ),
        sa.Column(
            "pdiffimfilename", sa.Text(), nullable=True, comment="Filename of the difference image"
        ),
        sa.Column(
            "programpi", sa.Text(), nullable=True, comment="Principal investigator of the program"
        ),
        sa.Column(
            "programid",
            sa.Integer(),
            nullable=True,
            comment="Program ID: public (1), collaboration, Caltech",
        ),
        sa.Column("nid", sa.Integer(), nullable=True, comment="Night ID"),
        sa.Column("rcid", sa.Integer(), nullable=True, comment="Readout channel ID [00 .. 63]"),
        sa.Column("field", sa.Integer(), nullable=True, comment="ZTF field ID"),
        sa.Column(
            "magzpsci",
            sa.REAL(),
            nullable=True,
            comment="Magnitude zero point of the science image [mag]",
        ),
        sa.Column("magzpsciunc", sa.REAL(), nullable=True, comment="Uncertainty of magzpsci [mag]"),
        sa.Column(
            "magzpscirms",
            sa.REAL(),
            nullable=True,
            comment="RMS of the zero-point calibration [mag]",
        ),
        sa.Column(
            "clrcoeff",
            sa.REAL(),
            nullable=True,
            comment="Color coefficient of the photometric calibration",
        ),
        sa.Column("clrcounc", sa.REAL(), nullable=True, comment="Uncertainty of clrcoeff"),
        sa.Column("rbversion", sa.Text(), nullable=True, comment="Version of the real-bogus model"),
        sa.PrimaryKeyConstraint("objectid", "jd", "fid"),
        comment="Non-detections (upper limits) from the prv_candidates of alerts",
    )
    op.create_table(
        "objects",
        sa.Column("objectid", sa.Text(), nullable=False, comment="ZTF object identifier"),
        sa.Column(
            "ra", sa.DOUBLE_PRECISION(), nullable=False, comment="Mean right ascension (ICRS) [deg]"
        ),
        sa.Column(
            "dec", sa.DOUBLE_PRECISION(), nullable=False, comment="Mean declination (ICRS) [deg]"
        ),
        sa.Column(
            "hpx",
            healpix_alchemy.types.Point(),
            nullable=False,
            comment="HEALPix index (nested, order 29) of ra, dec",
        ),
        sa.Column("ncand", sa.Integer(), nullable=False, comment="Number of detections"),
        sa.Column("nalerts", sa.Integer(), nullable=False, comment="Number of alerts received"),
        sa.Column(
            "jdmin", sa.DOUBLE_PRECISION(), nullable=False, comment="Julian date of first detection"
        ),
        sa.Column(
            "jdmax",
            sa.DOUBLE_PRECISION(),
            nullable=False,
            comment="Julian date of latest detection",
        ),
        sa.Column(
            "latest_candid", sa.BigInteger(), nullable=False, comment="candid of latest alert"
        ),
        sa.Column(
            "context",
            sa.Text(),
            nullable=False,
            comment="Context class from PS1/Gaia fields: star-like, nuclear, near galaxy, orphan",
        ),
        sa.Column(
            "sgscore1",
            sa.REAL(),
            nullable=True,
            comment="Star/galaxy score of the nearest PS1 source (1 = star)",
        ),
        sa.Column(
            "distpsnr1",
            sa.REAL(),
            nullable=True,
            comment="Distance to the nearest PS1 source [arcsec]",
        ),
        sa.Column(
            "neargaia",
            sa.REAL(),
            nullable=True,
            comment="Distance to the nearest Gaia source [arcsec]",
        ),
        sa.Column(
            "maggaia",
            sa.REAL(),
            nullable=True,
            comment="Gaia G magnitude of the nearest Gaia source [mag]",
        ),
        sa.Column(
            "ssnamenr",
            sa.Text(),
            nullable=True,
            comment="Name of the nearest known solar-system object",
        ),
        sa.Column("ncand_g", sa.Integer(), nullable=False, comment="Detections in g band"),
        sa.Column(
            "latest_mag_g",
            sa.DOUBLE_PRECISION(),
            nullable=True,
            comment="magpsf of the latest g detection [mag]",
        ),
        sa.Column(
            "latest_dcmag_g",
            sa.DOUBLE_PRECISION(),
            nullable=True,
            comment="DC (apparent) magnitude of the latest g detection, where the reference source is the object (distnr <= 1.5) [mag]",
        ),
        sa.Column(
            "min_mag_g", sa.DOUBLE_PRECISION(), nullable=True, comment="Brightest g magpsf [mag]"
        ),
        sa.Column(
            "max_mag_g", sa.DOUBLE_PRECISION(), nullable=True, comment="Faintest g magpsf [mag]"
        ),
        sa.Column(
            "mean_mag_g", sa.DOUBLE_PRECISION(), nullable=True, comment="Mean g magpsf [mag]"
        ),
        sa.Column(
            "dmdt_g",
            sa.DOUBLE_PRECISION(),
            nullable=True,
            comment="Rate of change of the g magnitude since the previous night's detection [mag/day, negative = brightening]",
        ),
        sa.Column(
            "amplitude_g",
            sa.DOUBLE_PRECISION(),
            nullable=True,
            comment="Half the peak-to-peak magnitude range [mag] (g band)",
        ),
        sa.Column(
            "beyond_1_std_g",
            sa.DOUBLE_PRECISION(),
            nullable=True,
            comment="Fraction of points more than one standard deviation from the mean (g band)",
        ),
        sa.Column(
            "eta_e_g",
            sa.DOUBLE_PRECISION(),
            nullable=True,
            comment="Von Neumann eta for unevenly sampled data (low = smooth trend) (g band)",
        ),
        sa.Column(
            "linear_fit_slope_g",
            sa.DOUBLE_PRECISION(),
            nullable=True,
            comment="Slope of the weighted linear fit of magnitude against time [mag/day] (g band)",
        ),
        sa.Column(
            "linear_fit_slope_sigma_g",
            sa.DOUBLE_PRECISION(),
            nullable=True,
            comment="Uncertainty of linear_fit_slope [mag/day] (g band)",
        ),
        sa.Column(
            "linear_fit_reduced_chi2_g",
            sa.DOUBLE_PRECISION(),
            nullable=True,
            comment="Reduced chi-squared of the linear fit (g band)",
        ),
        sa.Column(
            "skew_g",
            sa.DOUBLE_PRECISION(),
            nullable=True,
            comment="Skewness of the magnitudes (g band)",
        ),
        sa.Column(
            "standard_deviation_g",
            sa.DOUBLE_PRECISION(),
            nullable=True,
            comment="Standard deviation of the magnitudes [mag] (g band)",
        ),
        sa.Column(
            "stetson_k_g",
            sa.DOUBLE_PRECISION(),
            nullable=True,
            comment="Stetson K kurtosis index (0.798 for Gaussian noise) (g band)",
        ),
        sa.Column(
            "period_g",
            sa.DOUBLE_PRECISION(),
            nullable=True,
            comment="Period of the highest Lomb-Scargle periodogram peak [days] (g band)",
        ),
        sa.Column(
            "period_snr_g",
            sa.DOUBLE_PRECISION(),
            nullable=True,
            comment="Significance of that peak: (power - mean power) / std of power (g band)",
        ),
        sa.Column("ncand_r", sa.Integer(), nullable=False, comment="Detections in r band"),
        sa.Column(
            "latest_mag_r",
            sa.DOUBLE_PRECISION(),
            nullable=True,
            comment="magpsf of the latest r detection [mag]",
        ),
        sa.Column(
            "latest_dcmag_r",
            sa.DOUBLE_PRECISION(),
            nullable=True,
            comment="DC (apparent) magnitude of the latest r detection, where the reference source is the object (distnr <= 1.5) [mag]",
        ),
        sa.Column(
            "min_mag_r", sa.DOUBLE_PRECISION(), nullable=True, comment="Brightest r magpsf [mag]"
        ),
        sa.Column(
            "max_mag_r", sa.DOUBLE_PRECISION(), nullable=True, comment="Faintest r magpsf [mag]"
        ),
        sa.Column(
            "mean_mag_r", sa.DOUBLE_PRECISION(), nullable=True, comment="Mean r magpsf [mag]"
        ),
        sa.Column(
            "dmdt_r",
            sa.DOUBLE_PRECISION(),
            nullable=True,
            comment="Rate of change of the r magnitude since the previous night's detection [mag/day, negative = brightening]",
        ),
        sa.Column(
            "amplitude_r",
            sa.DOUBLE_PRECISION(),
            nullable=True,
            comment="Half the peak-to-peak magnitude range [mag] (r band)",
        ),
        sa.Column(
            "beyond_1_std_r",
            sa.DOUBLE_PRECISION(),
            nullable=True,
            comment="Fraction of points more than one standard deviation from the mean (r band)",
        ),
        sa.Column(
            "eta_e_r",
            sa.DOUBLE_PRECISION(),
            nullable=True,
            comment="Von Neumann eta for unevenly sampled data (low = smooth trend) (r band)",
        ),
        sa.Column(
            "linear_fit_slope_r",
            sa.DOUBLE_PRECISION(),
            nullable=True,
            comment="Slope of the weighted linear fit of magnitude against time [mag/day] (r band)",
        ),
        sa.Column(
            "linear_fit_slope_sigma_r",
            sa.DOUBLE_PRECISION(),
            nullable=True,
            comment="Uncertainty of linear_fit_slope [mag/day] (r band)",
        ),
        sa.Column(
            "linear_fit_reduced_chi2_r",
            sa.DOUBLE_PRECISION(),
            nullable=True,
            comment="Reduced chi-squared of the linear fit (r band)",
        ),
        sa.Column(
            "skew_r",
            sa.DOUBLE_PRECISION(),
            nullable=True,
            comment="Skewness of the magnitudes (r band)",
        ),
        sa.Column(
            "standard_deviation_r",
            sa.DOUBLE_PRECISION(),
            nullable=True,
            comment="Standard deviation of the magnitudes [mag] (r band)",
        ),
        sa.Column(
            "stetson_k_r",
            sa.DOUBLE_PRECISION(),
            nullable=True,
            comment="Stetson K kurtosis index (0.798 for Gaussian noise) (r band)",
        ),
        sa.Column(
            "period_r",
            sa.DOUBLE_PRECISION(),
            nullable=True,
            comment="Period of the highest Lomb-Scargle periodogram peak [days] (r band)",
        ),
        sa.Column(
            "period_snr_r",
            sa.DOUBLE_PRECISION(),
            nullable=True,
            comment="Significance of that peak: (power - mean power) / std of power (r band)",
        ),
        sa.Column("ncand_i", sa.Integer(), nullable=False, comment="Detections in i band"),
        sa.Column(
            "latest_mag_i",
            sa.DOUBLE_PRECISION(),
            nullable=True,
            comment="magpsf of the latest i detection [mag]",
        ),
        sa.Column(
            "latest_dcmag_i",
            sa.DOUBLE_PRECISION(),
            nullable=True,
            comment="DC (apparent) magnitude of the latest i detection, where the reference source is the object (distnr <= 1.5) [mag]",
        ),
        sa.Column(
            "min_mag_i", sa.DOUBLE_PRECISION(), nullable=True, comment="Brightest i magpsf [mag]"
        ),
        sa.Column(
            "max_mag_i", sa.DOUBLE_PRECISION(), nullable=True, comment="Faintest i magpsf [mag]"
        ),
        sa.Column(
            "mean_mag_i", sa.DOUBLE_PRECISION(), nullable=True, comment="Mean i magpsf [mag]"
        ),
        sa.Column(
            "dmdt_i",
            sa.DOUBLE_PRECISION(),
            nullable=True,
            comment="Rate of change of the i magnitude since the previous night's detection [mag/day, negative = brightening]",
        ),
        sa.Column(
            "amplitude_i",
            sa.DOUBLE_PRECISION(),
            nullable=True,
            comment="Half the peak-to-peak magnitude range [mag] (i band)",
        ),
        sa.Column(
            "beyond_1_std_i",
            sa.DOUBLE_PRECISION(),
            nullable=True,
            comment="Fraction of points more than one standard deviation from the mean (i band)",
        ),
        sa.Column(
            "eta_e_i",
            sa.DOUBLE_PRECISION(),
            nullable=True,
            comment="Von Neumann eta for unevenly sampled data (low = smooth trend) (i band)",
        ),
        sa.Column(
            "linear_fit_slope_i",
            sa.DOUBLE_PRECISION(),
            nullable=True,
            comment="Slope of the weighted linear fit of magnitude against time [mag/day] (i band)",
        ),
        sa.Column(
            "linear_fit_slope_sigma_i",
            sa.DOUBLE_PRECISION(),
            nullable=True,
            comment="Uncertainty of linear_fit_slope [mag/day] (i band)",
        ),
        sa.Column(
            "linear_fit_reduced_chi2_i",
            sa.DOUBLE_PRECISION(),
            nullable=True,
            comment="Reduced chi-squared of the linear fit (i band)",
        ),
        sa.Column(
            "skew_i",
            sa.DOUBLE_PRECISION(),
            nullable=True,
            comment="Skewness of the magnitudes (i band)",
        ),
        sa.Column(
            "standard_deviation_i",
            sa.DOUBLE_PRECISION(),
            nullable=True,
            comment="Standard deviation of the magnitudes [mag] (i band)",
        ),
        sa.Column(
            "stetson_k_i",
            sa.DOUBLE_PRECISION(),
            nullable=True,
            comment="Stetson K kurtosis index (0.798 for Gaussian noise) (i band)",
        ),
        sa.Column(
            "period_i",
            sa.DOUBLE_PRECISION(),
            nullable=True,
            comment="Period of the highest Lomb-Scargle periodogram peak [days] (i band)",
        ),
        sa.Column(
            "period_snr_i",
            sa.DOUBLE_PRECISION(),
            nullable=True,
            comment="Significance of that peak: (power - mean power) / std of power (i band)",
        ),
        sa.PrimaryKeyConstraint("objectid"),
        comment="One row per object: position, light-curve summary, features and context",
    )
    op.create_index("ix_objects_hpx", "objects", ["hpx"], unique=False)
    op.create_index("ix_objects_jdmax", "objects", ["jdmax"], unique=False)
    op.create_table(
        "quarantine",
        sa.Column(
            "id", sa.BigInteger(), sa.Identity(always=False), nullable=False, comment="Row number"
        ),
        sa.Column(
            "source", sa.Text(), nullable=False, comment="File, tarball member or topic/offset"
        ),
        sa.Column("sha256", sa.Text(), nullable=False, comment="SHA-256 of the raw bytes"),
        sa.Column(
            "raw", postgresql.BYTEA(), nullable=False, comment="The packet exactly as received"
        ),
        sa.Column("reason", sa.Text(), nullable=False, comment="Why it could not be ingested"),
        sa.Column(
            "received_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
            comment="When it was quarantined",
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("sha256"),
        comment="Packets that failed to decode or validate, kept whole with the reason",
    )


def downgrade() -> None:
    op.drop_table("quarantine")
    op.drop_index("ix_objects_jdmax", table_name="objects")
    op.drop_index("ix_objects_hpx", table_name="objects")
    op.drop_table("objects")
    op.drop_table("noncandidates")
    op.drop_table("ingest_batches")
    op.drop_index(
        "uq_forced_photometry_epoch",
        table_name="forced_photometry",
        postgresql_nulls_not_distinct=True,
    )
    op.drop_table("forced_photometry")
    op.drop_index(op.f("ix_cutouts_objectid"), table_name="cutouts")
    op.drop_table("cutouts")
    op.drop_index("ix_candidates_objectid_jd", table_name="candidates")
    op.drop_index("ix_candidates_jd", table_name="candidates")
    op.drop_index("ix_candidates_hpx", table_name="candidates")
    op.drop_table("candidates")
