"""ZTF alert record fields, as the official ZTF Avro schemas define them.

Transcribed from the ``.avsc`` files of ZwickyTransientFacility/ztf-avro-alert
(schema 4.02). Every field of the 3.x schemas is also in 4.02; pre-3.0 schemas
are handled by renaming in :mod:`ingest.rows`. The descriptions become the column
comments that the query builder shows; the simulator builds its 4.02 schema from
the names, types and nullability here.
"""

from __future__ import annotations

from typing import NamedTuple


class Field(NamedTuple):
    """One field of a ZTF record."""

    name: str
    avro_type: str
    nullable: bool
    doc: str


CANDIDATE_FIELDS: tuple[Field, ...] = (
    Field("jd", "double", False, "Observation Julian date at start of exposure [days]"),
    Field("fid", "int", False, "Filter ID (1=g; 2=R; 3=i)"),
    Field("pid", "long", False, "Processing ID for science image to facilitate archive retrieval"),
    Field(
        "diffmaglim",
        "float",
        True,
        "Expected 5-sigma mag limit in difference image based on global noise estimate [mag]",
    ),
    Field(
        "pdiffimfilename", "string", True, "filename of positive (sci minus ref) difference image"
    ),
    Field("programpi", "string", True, "Principal investigator attached to program ID"),
    Field("programid", "int", False, "Program ID: encodes either public, collab, or caltech mode"),
    Field("candid", "long", False, "Candidate ID from operations DB"),
    Field(
        "isdiffpos",
        "string",
        False,
        "t or 1 => candidate is from positive (sci minus ref) subtraction; f or 0 => candidate is from negative (ref minus sci) subtraction",
    ),
    Field("tblid", "long", True, "Internal pipeline table extraction ID"),
    Field("nid", "int", True, "Night ID"),
    Field("rcid", "int", True, "Readout channel ID [00 .. 63]"),
    Field("field", "int", True, "ZTF field ID"),
    Field("xpos", "float", True, "x-image position of candidate [pixels]"),
    Field("ypos", "float", True, "y-image position of candidate [pixels]"),
    Field("ra", "double", False, "Right Ascension of candidate; J2000 [deg]"),
    Field("dec", "double", False, "Declination of candidate; J2000 [deg]"),
    Field("magpsf", "float", False, "Magnitude from PSF-fit photometry [mag]"),
    Field("sigmapsf", "float", False, "1-sigma uncertainty in magpsf [mag]"),
    Field("chipsf", "float", True, "Reduced chi-square for PSF-fit"),
    Field("magap", "float", True, "Aperture mag using 14 pixel diameter aperture [mag]"),
    Field("sigmagap", "float", True, "1-sigma uncertainty in magap [mag]"),
    Field(
        "distnr",
        "float",
        True,
        "distance to nearest source in reference image PSF-catalog [pixels]",
    ),
    Field(
        "magnr", "float", True, "magnitude of nearest source in reference image PSF-catalog [mag]"
    ),
    Field("sigmagnr", "float", True, "1-sigma uncertainty in magnr [mag]"),
    Field(
        "chinr",
        "float",
        True,
        "DAOPhot chi parameter of nearest source in reference image PSF-catalog",
    ),
    Field(
        "sharpnr",
        "float",
        True,
        "DAOPhot sharp parameter of nearest source in reference image PSF-catalog",
    ),
    Field("sky", "float", True, "Local sky background estimate [DN]"),
    Field("magdiff", "float", True, "Difference: magap - magpsf [mag]"),
    Field(
        "fwhm",
        "float",
        True,
        "Full Width Half Max assuming a Gaussian core, from SExtractor [pixels]",
    ),
    Field("classtar", "float", True, "Star/Galaxy classification score from SExtractor"),
    Field("mindtoedge", "float", True, "Distance to nearest edge in image [pixels]"),
    Field("magfromlim", "float", True, "Difference: diffmaglim - magap [mag]"),
    Field("seeratio", "float", True, "Ratio: difffwhm / fwhm"),
    Field(
        "aimage", "float", True, "Windowed profile RMS afloat major axis from SExtractor [pixels]"
    ),
    Field(
        "bimage", "float", True, "Windowed profile RMS afloat minor axis from SExtractor [pixels]"
    ),
    Field("aimagerat", "float", True, "Ratio: aimage / fwhm"),
    Field("bimagerat", "float", True, "Ratio: bimage / fwhm"),
    Field("elong", "float", True, "Ratio: aimage / bimage"),
    Field("nneg", "int", True, "number of negative pixels in a 5 x 5 pixel stamp"),
    Field("nbad", "int", True, "number of prior-tagged bad pixels in a 5 x 5 pixel stamp"),
    Field(
        "rb",
        "float",
        True,
        "RealBogus quality score from Random Forest classifier; range is 0 to 1 where closer to 1 is more reliable",
    ),
    Field(
        "ssdistnr",
        "float",
        True,
        "distance to nearest known solar system object if exists within 30 arcsec [arcsec]",
    ),
    Field(
        "ssmagnr",
        "float",
        True,
        "magnitude of nearest known solar system object if exists within 30 arcsec (usually V-band from MPC archive) [mag]",
    ),
    Field(
        "ssnamenr",
        "string",
        True,
        "name of nearest known solar system object if exists within 30 arcsec (from MPC archive)",
    ),
    Field(
        "sumrat",
        "float",
        True,
        "Ratio: sum(pixels) / sum(|pixels|) in a 5 x 5 pixel stamp where stamp is first median-filtered to mitigate outliers",
    ),
    Field("magapbig", "float", True, "Aperture mag using 18 pixel diameter aperture [mag]"),
    Field("sigmagapbig", "float", True, "1-sigma uncertainty in magapbig [mag]"),
    Field(
        "ranr",
        "double",
        False,
        "Right Ascension of nearest source in reference image PSF-catalog; J2000 [deg]",
    ),
    Field(
        "decnr",
        "double",
        False,
        "Declination of nearest source in reference image PSF-catalog; J2000 [deg]",
    ),
    Field(
        "sgmag1",
        "float",
        True,
        "g-band PSF-fit magnitude of closest source from PS1 catalog; if exists within 30 arcsec [mag]",
    ),
    Field(
        "srmag1",
        "float",
        True,
        "r-band PSF-fit magnitude of closest source from PS1 catalog; if exists within 30 arcsec [mag]",
    ),
    Field(
        "simag1",
        "float",
        True,
        "i-band PSF-fit magnitude of closest source from PS1 catalog; if exists within 30 arcsec [mag]",
    ),
    Field(
        "szmag1",
        "float",
        True,
        "z-band PSF-fit magnitude of closest source from PS1 catalog; if exists within 30 arcsec [mag]",
    ),
    Field(
        "sgscore1",
        "float",
        True,
        "Star/Galaxy score of closest source from PS1 catalog; if exists within 30 arcsec: 0 <= sgscore <= 1 where closer to 1 implies higher likelihood of being a star",
    ),
    Field(
        "distpsnr1",
        "float",
        True,
        "Distance to closest source from PS1 catalog; if exists within 30 arcsec [arcsec]",
    ),
    Field(
        "ndethist",
        "int",
        False,
        "Number of spatially-coincident detections falling within 1.5 arcsec going back to beginning of survey; only detections that fell on the same field and readout-channel ID where the input candidate was observed are counted. All raw detections down to a photometric S/N of ~ 3 are included.",
    ),
    Field(
        "ncovhist",
        "int",
        False,
        "Number of times input candidate position fell on any field and readout-channel going back to beginning of survey",
    ),
    Field(
        "jdstarthist",
        "double",
        True,
        "Earliest Julian date of epoch corresponding to ndethist [days]",
    ),
    Field(
        "jdendhist", "double", True, "Latest Julian date of epoch corresponding to ndethist [days]"
    ),
    Field(
        "scorr",
        "double",
        True,
        "Peak-pixel signal-to-noise ratio in point source matched-filtered detection image",
    ),
    Field(
        "tooflag",
        "int",
        True,
        "1 => candidate is from a Target-of-Opportunity (ToO) exposure; 0 => candidate is from a non-ToO exposure",
    ),
    Field(
        "objectidps1",
        "long",
        True,
        "Object ID of closest source from PS1 catalog; if exists within 30 arcsec",
    ),
    Field(
        "objectidps2",
        "long",
        True,
        "Object ID of second closest source from PS1 catalog; if exists within 30 arcsec",
    ),
    Field(
        "sgmag2",
        "float",
        True,
        "g-band PSF-fit magnitude of second closest source from PS1 catalog; if exists within 30 arcsec [mag]",
    ),
    Field(
        "srmag2",
        "float",
        True,
        "r-band PSF-fit magnitude of second closest source from PS1 catalog; if exists within 30 arcsec [mag]",
    ),
    Field(
        "simag2",
        "float",
        True,
        "i-band PSF-fit magnitude of second closest source from PS1 catalog; if exists within 30 arcsec [mag]",
    ),
    Field(
        "szmag2",
        "float",
        True,
        "z-band PSF-fit magnitude of second closest source from PS1 catalog; if exists within 30 arcsec [mag]",
    ),
    Field(
        "sgscore2",
        "float",
        True,
        "Star/Galaxy score of second closest source from PS1 catalog; if exists within 30 arcsec: 0 <= sgscore <= 1 where closer to 1 implies higher likelihood of being a star",
    ),
    Field(
        "distpsnr2",
        "float",
        True,
        "Distance to second closest source from PS1 catalog; if exists within 30 arcsec [arcsec]",
    ),
    Field(
        "objectidps3",
        "long",
        True,
        "Object ID of third closest source from PS1 catalog; if exists within 30 arcsec",
    ),
    Field(
        "sgmag3",
        "float",
        True,
        "g-band PSF-fit magnitude of third closest source from PS1 catalog; if exists within 30 arcsec [mag]",
    ),
    Field(
        "srmag3",
        "float",
        True,
        "r-band PSF-fit magnitude of third closest source from PS1 catalog; if exists within 30 arcsec [mag]",
    ),
    Field(
        "simag3",
        "float",
        True,
        "i-band PSF-fit magnitude of third closest source from PS1 catalog; if exists within 30 arcsec [mag]",
    ),
    Field(
        "szmag3",
        "float",
        True,
        "z-band PSF-fit magnitude of third closest source from PS1 catalog; if exists within 30 arcsec [mag]",
    ),
    Field(
        "sgscore3",
        "float",
        True,
        "Star/Galaxy score of third closest source from PS1 catalog; if exists within 30 arcsec: 0 <= sgscore <= 1 where closer to 1 implies higher likelihood of being a star",
    ),
    Field(
        "distpsnr3",
        "float",
        True,
        "Distance to third closest source from PS1 catalog; if exists within 30 arcsec [arcsec]",
    ),
    Field(
        "nmtchps",
        "int",
        False,
        "Number of source matches from PS1 catalog falling within 30 arcsec",
    ),
    Field(
        "rfid", "long", False, "Processing ID for reference image to facilitate archive retrieval"
    ),
    Field(
        "jdstartref",
        "double",
        False,
        "Observation Julian date of earliest exposure used to generate reference image [days]",
    ),
    Field(
        "jdendref",
        "double",
        False,
        "Observation Julian date of latest exposure used to generate reference image [days]",
    ),
    Field(
        "nframesref",
        "int",
        False,
        "Number of frames (epochal images) used to generate reference image",
    ),
    Field(
        "rbversion",
        "string",
        False,
        "version of Random Forest classifier model used to assign RealBogus (rb) quality score",
    ),
    Field(
        "dsnrms", "float", True, "Ratio: D/stddev(D) on event position where D = difference image"
    ),
    Field(
        "ssnrms",
        "float",
        True,
        "Ratio: S/stddev(S) on event position where S = image of convolution: D (x) PSF(D)",
    ),
    Field("dsdiff", "float", True, "Difference of statistics: dsnrms - ssnrms"),
    Field("magzpsci", "float", True, "Magnitude zero point for photometry estimates [mag]"),
    Field("magzpsciunc", "float", True, "Magnitude zero point uncertainty (in magzpsci) [mag]"),
    Field(
        "magzpscirms",
        "float",
        True,
        "RMS (deviation from average) in all differences between instrumental photometry and matched photometric calibrators from science image processing [mag]",
    ),
    Field(
        "nmatches",
        "int",
        False,
        "Number of PS1 photometric calibrators used to calibrate science image from science image processing",
    ),
    Field(
        "clrcoeff",
        "float",
        True,
        "Color coefficient from linear fit from photometric calibration of science image",
    ),
    Field(
        "clrcounc",
        "float",
        True,
        "Color coefficient uncertainty from linear fit (corresponding to clrcoeff)",
    ),
    Field(
        "zpclrcov",
        "float",
        True,
        "Covariance in magzpsci and clrcoeff from science image processing [mag^2]",
    ),
    Field(
        "zpmed",
        "float",
        True,
        "Magnitude zero point from median of all differences between instrumental photometry and matched photometric calibrators from science image processing [mag]",
    ),
    Field(
        "clrmed",
        "float",
        True,
        "Median color of all PS1 photometric calibrators used from science image processing [mag]: for filter (fid) = 1, 2, 3, PS1 color used = g-r, g-r, r-i respectively",
    ),
    Field(
        "clrrms",
        "float",
        True,
        "RMS color (deviation from average) of all PS1 photometric calibrators used from science image processing [mag]",
    ),
    Field(
        "neargaia",
        "float",
        True,
        "Distance to closest source from Gaia DR1 catalog irrespective of magnitude; if exists within 90 arcsec [arcsec]",
    ),
    Field(
        "neargaiabright",
        "float",
        True,
        "Distance to closest source from Gaia DR1 catalog brighter than magnitude 14; if exists within 90 arcsec [arcsec]",
    ),
    Field(
        "maggaia",
        "float",
        True,
        "Gaia (G-band) magnitude of closest source from Gaia DR1 catalog irrespective of magnitude; if exists within 90 arcsec [mag]",
    ),
    Field(
        "maggaiabright",
        "float",
        True,
        "Gaia (G-band) magnitude of closest source from Gaia DR1 catalog brighter than magnitude 14; if exists within 90 arcsec [mag]",
    ),
    Field("exptime", "float", True, "Integration time of camera exposure [sec]"),
    Field(
        "drb",
        "float",
        True,
        "RealBogus quality score from Deep-Learning-based classifier; range is 0 to 1 where closer to 1 is more reliable",
    ),
    Field(
        "drbversion",
        "string",
        False,
        "version of Deep-Learning-based classifier model used to assign RealBogus (drb) quality score",
    ),
)

PRV_CANDIDATE_FIELDS: tuple[Field, ...] = (
    Field("jd", "double", False, "Observation Julian date at start of exposure [days]"),
    Field("fid", "int", False, "Filter ID (1=g; 2=R; 3=i)"),
    Field("pid", "long", False, "Processing ID for image"),
    Field(
        "diffmaglim",
        "float",
        True,
        "Expected 5-sigma mag limit in difference image based on global noise estimate [mag]",
    ),
    Field(
        "pdiffimfilename", "string", True, "filename of positive (sci minus ref) difference image"
    ),
    Field("programpi", "string", True, "Principal investigator attached to program ID"),
    Field("programid", "int", False, "Program ID: encodes either public, collab, or caltech mode"),
    Field("candid", "long", True, "Candidate ID from operations DB"),
    Field(
        "isdiffpos",
        "string",
        True,
        "t or 1 => candidate is from positive (sci minus ref) subtraction; f or 0 => candidate is from negative (ref minus sci) subtraction",
    ),
    Field("tblid", "long", True, "Internal pipeline table extraction ID"),
    Field("nid", "int", True, "Night ID"),
    Field("rcid", "int", True, "Readout channel ID [00 .. 63]"),
    Field("field", "int", True, "ZTF field ID"),
    Field("xpos", "float", True, "x-image position of candidate [pixels]"),
    Field("ypos", "float", True, "y-image position of candidate [pixels]"),
    Field("ra", "double", True, "Right Ascension of candidate; J2000 [deg]"),
    Field("dec", "double", True, "Declination of candidate; J2000 [deg]"),
    Field("magpsf", "float", True, "Magnitude from PSF-fit photometry [mag]"),
    Field("sigmapsf", "float", True, "1-sigma uncertainty in magpsf [mag]"),
    Field("chipsf", "float", True, "Reduced chi-square for PSF-fit"),
    Field("magap", "float", True, "Aperture mag using 14 pixel diameter aperture [mag]"),
    Field("sigmagap", "float", True, "1-sigma uncertainty in magap [mag]"),
    Field(
        "distnr",
        "float",
        True,
        "distance to nearest source in reference image PSF-catalog [pixels]",
    ),
    Field(
        "magnr", "float", True, "magnitude of nearest source in reference image PSF-catalog [mag]"
    ),
    Field("sigmagnr", "float", True, "1-sigma uncertainty in magnr [mag]"),
    Field(
        "chinr",
        "float",
        True,
        "DAOPhot chi parameter of nearest source in reference image PSF-catalog",
    ),
    Field(
        "sharpnr",
        "float",
        True,
        "DAOPhot sharp parameter of nearest source in reference image PSF-catalog",
    ),
    Field("sky", "float", True, "Local sky background estimate [DN]"),
    Field("magdiff", "float", True, "Difference: magap - magpsf [mag]"),
    Field(
        "fwhm",
        "float",
        True,
        "Full Width Half Max assuming a Gaussian core, from SExtractor [pixels]",
    ),
    Field("classtar", "float", True, "Star/Galaxy classification score from SExtractor"),
    Field("mindtoedge", "float", True, "Distance to nearest edge in image [pixels]"),
    Field("magfromlim", "float", True, "Difference: diffmaglim - magap [mag]"),
    Field("seeratio", "float", True, "Ratio: difffwhm / fwhm"),
    Field(
        "aimage", "float", True, "Windowed profile RMS afloat major axis from SExtractor [pixels]"
    ),
    Field(
        "bimage", "float", True, "Windowed profile RMS afloat minor axis from SExtractor [pixels]"
    ),
    Field("aimagerat", "float", True, "Ratio: aimage / fwhm"),
    Field("bimagerat", "float", True, "Ratio: bimage / fwhm"),
    Field("elong", "float", True, "Ratio: aimage / bimage"),
    Field("nneg", "int", True, "number of negative pixels in a 5 x 5 pixel stamp"),
    Field("nbad", "int", True, "number of prior-tagged bad pixels in a 5 x 5 pixel stamp"),
    Field(
        "rb",
        "float",
        True,
        "RealBogus quality score; range is 0 to 1 where closer to 1 is more reliable",
    ),
    Field(
        "ssdistnr",
        "float",
        True,
        "distance to nearest known solar system object if exists within 30 arcsec [arcsec]",
    ),
    Field(
        "ssmagnr",
        "float",
        True,
        "magnitude of nearest known solar system object if exists within 30 arcsec (usually V-band from MPC archive) [mag]",
    ),
    Field(
        "ssnamenr",
        "string",
        True,
        "name of nearest known solar system object if exists within 30 arcsec (from MPC archive)",
    ),
    Field(
        "sumrat",
        "float",
        True,
        "Ratio: sum(pixels) / sum(|pixels|) in a 5 x 5 pixel stamp where stamp is first median-filtered to mitigate outliers",
    ),
    Field("magapbig", "float", True, "Aperture mag using 18 pixel diameter aperture [mag]"),
    Field("sigmagapbig", "float", True, "1-sigma uncertainty in magapbig [mag]"),
    Field(
        "ranr",
        "double",
        True,
        "Right Ascension of nearest source in reference image PSF-catalog; J2000 [deg]",
    ),
    Field(
        "decnr",
        "double",
        True,
        "Declination of nearest source in reference image PSF-catalog; J2000 [deg]",
    ),
    Field(
        "scorr",
        "double",
        True,
        "Peak-pixel signal-to-noise ratio in point source matched-filtered detection image",
    ),
    Field("magzpsci", "float", True, "Magnitude zero point for photometry estimates [mag]"),
    Field("magzpsciunc", "float", True, "Magnitude zero point uncertainty (in magzpsci) [mag]"),
    Field(
        "magzpscirms",
        "float",
        True,
        "RMS (deviation from average) in all differences between instrumental photometry and matched photometric calibrators from science image processing [mag]",
    ),
    Field(
        "clrcoeff",
        "float",
        True,
        "Color coefficient from linear fit from photometric calibration of science image",
    ),
    Field(
        "clrcounc",
        "float",
        True,
        "Color coefficient uncertainty from linear fit (corresponding to clrcoeff)",
    ),
    Field(
        "rbversion",
        "string",
        False,
        "version of RealBogus model/classifier used to assign rb quality score",
    ),
)

FP_HIST_FIELDS: tuple[Field, ...] = (
    Field("field", "int", True, "ZTF field ID"),
    Field("rcid", "int", True, "Readout channel ID [00 .. 63]"),
    Field("fid", "int", False, "Filter ID (1=g; 2=R; 3=i)"),
    Field("pid", "long", False, "Processing ID for image"),
    Field(
        "rfid", "long", False, "Processing ID for reference image to facilitate archive retrieval"
    ),
    Field("sciinpseeing", "float", True, "Effective FWHM of sci image [pixels]"),
    Field("scibckgnd", "float", True, "Background level in sci image [DN]"),
    Field("scisigpix", "float", True, "Robust sigma per pixel in sci image [DN]"),
    Field("magzpsci", "float", True, "Magnitude zero point for photometry estimates [mag]"),
    Field("magzpsciunc", "float", True, "Magnitude zero point uncertainty (in magzpsci) [mag]"),
    Field(
        "magzpscirms",
        "float",
        True,
        "RMS (deviation from average) in all differences between instrumental photometry and matched photometric calibrators from science image processing [mag]",
    ),
    Field(
        "clrcoeff",
        "float",
        True,
        "Color coefficient from linear fit from photometric calibration of science image",
    ),
    Field(
        "clrcounc",
        "float",
        True,
        "Color coefficient uncertainty from linear fit (corresponding to clrcoeff)",
    ),
    Field("exptime", "float", True, "Integration time of camera exposure [sec]"),
    Field(
        "adpctdif1",
        "float",
        True,
        "Full sci image astrometric RMS along R.A. with respect to Gaia1 [arcsec]",
    ),
    Field(
        "adpctdif2",
        "float",
        True,
        "Full sci image astrometric RMS along Dec. with respect to Gaia1 [arcsec]",
    ),
    Field(
        "diffmaglim",
        "float",
        True,
        "Expected 5-sigma mag limit in difference image based on global noise estimate [mag]",
    ),
    Field("programid", "int", False, "Program ID: encodes either public, collab, or caltech mode"),
    Field("jd", "double", False, "Observation Julian date at start of exposure [days]"),
    Field("forcediffimflux", "float", True, "Forced difference image PSF-fit flux [DN]"),
    Field("forcediffimfluxunc", "float", True, "1-sigma uncertainty in forcediffimflux [DN]"),
    Field(
        "procstatus",
        "string",
        True,
        "Forced photometry processing status codes (0 => no warnings); see documentation",
    ),
    Field(
        "distnr",
        "float",
        True,
        "distance to nearest source in reference image PSF-catalog [arcsec]",
    ),
    Field(
        "ranr",
        "double",
        False,
        "Right Ascension of nearest source in reference image PSF-catalog; J2000 [deg]",
    ),
    Field(
        "decnr",
        "double",
        False,
        "Declination of nearest source in reference image PSF-catalog; J2000 [deg]",
    ),
    Field(
        "magnr", "float", True, "magnitude of nearest source in reference image PSF-catalog [mag]"
    ),
    Field("sigmagnr", "float", True, "1-sigma uncertainty in magnr [mag]"),
    Field(
        "chinr",
        "float",
        True,
        "DAOPhot chi parameter of nearest source in reference image PSF-catalog",
    ),
    Field(
        "sharpnr",
        "float",
        True,
        "DAOPhot sharp parameter of nearest source in reference image PSF-catalog",
    ),
)
