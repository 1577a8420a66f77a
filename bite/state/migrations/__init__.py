"""Numbered SQL migrations of the state database."""
