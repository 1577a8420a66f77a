"""The local dashboard (``bite dashboard``): read-only pages over the data dir."""
