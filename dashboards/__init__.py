"""Lasair-NB's public dashboards: Voila pages over the archive (``/services/dashboards/``).

- :mod:`dashboards.page`: checked URL parameters, kind errors, tables, links.
- :mod:`dashboards.serve`: the Voila server the hub runs, with access per dashboard.
- ``*.ipynb``: the dashboards themselves.
"""
