"""The embedded paper exchange: market model, chain, paper account, service, server."""
