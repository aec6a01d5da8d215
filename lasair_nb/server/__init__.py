"""Running the platform on one machine.

The embedded PostgreSQL, the broker, managed processes, the reaper, ``up``/``down``.
"""
