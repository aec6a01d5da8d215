"""Jupyter widgets over the client's public API (ipywidgets 8; JupyterLab and Voila alike).

Submodules are imported when used, so ``lasair_nb.widgets.assets`` (and the
``lasair-nb widgets`` command) work without the widget packages installed.
"""
