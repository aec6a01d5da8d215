"""The ``lasair-nb`` command (see :mod:`lasair_nb.cli.main`)."""

from lasair_nb.cli.main import main

__all__ = ["main"]
