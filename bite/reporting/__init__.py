"""Presentation only: rich tables for the terminal, text for Telegram."""
