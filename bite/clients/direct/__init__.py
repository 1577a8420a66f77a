"""Direct connectors: the services reached at their public sources."""
