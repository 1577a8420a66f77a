"""Clients of the market services and Telegram: transport, retry, vendor JSON to core types."""
