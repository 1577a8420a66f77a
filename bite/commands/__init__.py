"""The CLI commands, one module per area; ``bite.cli`` assembles them."""
