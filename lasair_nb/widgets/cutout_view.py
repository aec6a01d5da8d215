"""``CutoutView``: the science, template and difference stamps of one alert, zscale-stretched.

Each stamp becomes a small grey-scale PNG (matplotlib's ``imsave``, no figure, about a
millisecond for a 63×63 stamp) shown in an ``ipywidgets.Image``; the browser enlarges it
with nearest-neighbour sampling, so every pixel of the stamp stays visible.
"""

from __future__ import annotations

import html
import io
from typing import Any

import ipywidgets as widgets
import matplotlib as mpl
import numpy as np
import numpy.typing as npt
from astropy.visualization import ZScaleInterval

mpl.use("Agg", force=False)  # no display: PNG bytes only
import matplotlib.image as mpimg

STAMPS = ("science", "template", "difference")
"""The three stamps of an alert, in the order shown."""

STAMP_SIZE = "150px"
"""Width and height of each shown stamp."""


def zscale_png(data: npt.ArrayLike) -> bytes:
    """A grey-scale PNG of an image, stretched between its zscale limits (IRAF's zscale).

    Parameters
    ----------
    data
        A 2-D image; NaNs (masked pixels at a CCD edge) are drawn black.

    Returns
    -------
    bytes
        The PNG, one pixel per image pixel, row 0 at the bottom (FITS order).
    """
    image = np.asarray(data, dtype=np.float64)
    if image.ndim != 2:
        raise ValueError(f"a stamp must be a 2-D image, got shape {image.shape}")
    finite = np.isfinite(image)
    if finite.any():
        low, high = ZScaleInterval().get_limits(image[finite])
    else:
        low, high = 0.0, 1.0
    if not high > low:
        high = low + 1.0
    scaled = np.clip((np.where(finite, image, low) - low) / (high - low), 0.0, 1.0)
    buffer = io.BytesIO()
    mpimg.imsave(buffer, scaled, cmap="gray", vmin=0.0, vmax=1.0, origin="lower", format="png")
    return buffer.getvalue()


class CutoutView(widgets.VBox):
    """Three stamps side by side with a caption; :meth:`show` puts an alert's stamps in.

    Attributes
    ----------
    images
        ``{"science": Image, "template": Image, "difference": Image}``.
    caption
        The line under the stamps: which alert, or why there is none.
    """

    def __init__(self, **kwargs: Any) -> None:
        self.images = {
            name: widgets.Image(
                format="png",
                layout=widgets.Layout(width=STAMP_SIZE, height=STAMP_SIZE, object_fit="contain"),
            )
            for name in STAMPS
        }
        for image in self.images.values():
            image.add_class("lasair-cutout")
        columns = [
            widgets.VBox(
                [widgets.HTML(f"<b>{name}</b>"), self.images[name]],
                layout=widgets.Layout(align_items="center", margin="0 4px"),
            )
            for name in STAMPS
        ]
        self.caption = widgets.HTML()
        style = widgets.HTML(
            "<style>.lasair-cutout img, img.lasair-cutout"
            "{image-rendering: pixelated; background: #000}</style>"
        )
        super().__init__([style, widgets.HBox(columns), self.caption], **kwargs)
        self.add_class("lasair-cutouts")

    def show(self, stamps: dict[str, npt.ArrayLike], caption: str) -> None:
        """Show three stamps.

        Parameters
        ----------
        stamps
            Image data by name (``science``, ``template``, ``difference``).
        caption
            What the stamps are (plain text).
        """
        for name in STAMPS:
            self.images[name].value = zscale_png(stamps[name])
        self.caption.value = f'<span style="color:#444">{html.escape(caption)}</span>'

    def clear(self, reason: str = "") -> None:
        """Show no stamps, and why (plain text)."""
        for image in self.images.values():
            image.value = b""
        self.caption.value = f'<span style="color:#444">{html.escape(reason)}</span>'
