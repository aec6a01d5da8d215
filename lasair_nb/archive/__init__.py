"""The archive: schema, migrations, engines, and one storage module per concern.

Storage functions take a SQLAlchemy ``Connection`` (or a DB-API connection where
COPY or cursors need one) and return rows or DataFrames. This layer holds all
SQL of Lasair-NB except the user's own.
"""
