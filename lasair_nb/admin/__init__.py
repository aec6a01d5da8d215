"""Operators' API: users and roles, called by the CLI and the hub."""
