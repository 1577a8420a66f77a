"""Cerbero Bite: one ETH option credit spread a week, run as one-shot jobs."""

__version__ = "0.1.0"
