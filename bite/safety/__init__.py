"""Safety: kill switch, audit chain, job lock, config approval."""
