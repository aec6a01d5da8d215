"""The "Lasair (Python 3)" Jupyter kernel: a kernel spec and what it runs first.

``python -m kernel install --prefix ENV`` writes ``ENV/share/jupyter/kernels/lasair``,
a kernel of ENV's Python that runs :mod:`kernel.startup` before the first cell (ipykernel's
``exec_files``): ``ln``, ``lasair`` and ``archive`` are ready, connected as the user
(``LASAIR_USER`` / ``LASAIR_PASSWORD`` from the hub).
"""
