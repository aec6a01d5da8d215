"""Lasair-NB's JupyterHub: the authenticator, the spawner and the configuration.

``jupyterhub -f hub/jupyterhub_config.py`` (``lasair-nb up`` does it) runs a hub whose
users sign up themselves (:mod:`hub.authenticator`), each getting an OS account and a
PostgreSQL role of the same name when their server starts (:mod:`hub.spawner`). This
package uses only ``lasair_nb``'s public API (``lasair_nb.admin.users`` for the roles).
"""
