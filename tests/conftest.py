"""Test isolation shared by the whole suite."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _bite_logger_as_found() -> Iterator[None]:
    """A command run in-process configures the ``bite`` logger for its run (no
    propagation, its own handlers); put it back so that later tests' ``caplog``
    sees the records."""
    logger = logging.getLogger("bite")
    handlers, level, propagate = list(logger.handlers), logger.level, logger.propagate
    filters = list(logger.filters)
    yield
    for handler in list(logger.handlers):
        if handler not in handlers:
            logger.removeHandler(handler)
            handler.close()
    logger.filters[:] = filters
    logger.setLevel(level)
    logger.propagate = propagate
