"""The notebook API: ``connect()`` → :class:`~lasair_nb.client.archive.Archive`.

It calls :mod:`lasair_nb.archive` and never writes SQL itself.
"""
