"""Configuration: the ``strategy.yaml`` schema and its loader."""
