"""The one-shot jobs."""
