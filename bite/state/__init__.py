"""Persistence: the SQLite state database, its migrations and its only writer."""
