"""Readers of vendor JSON fields: a missing or malformed field is a protocol error
of the service that sent it (named, so an alert points at the right one)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from bite.errors import McpProtocolError

_KEPT_FLOATS = 4096


class Fields:
    """Field readers for one service's answers."""

    def __init__(self, service: str) -> None:
        self.service = service
        # the Decimals of the floats read lately: an account's numbers repeat from one
        # answer to the next (a Decimal never changes, so one is shared)
        self._floats: dict[float, Decimal] = {}

    def error(self, tool: str, message: str) -> McpProtocolError:
        """The protocol error of ``tool``."""
        return McpProtocolError(self.service, tool, message)

    def decimal(self, value: Any, tool: str, name: str) -> Decimal:
        """A Decimal from a JSON number or string."""
        if type(value) is float and value - value == 0:  # the common case: finite float
            found = self._floats.get(value)
            if found is None:
                found = Decimal(repr(value))
                if value == 0:  # 0.0 and -0.0 are one key, not one Decimal
                    return found
                if len(self._floats) >= _KEPT_FLOATS:
                    self._floats.clear()
                self._floats[value] = found
            return found
        if isinstance(value, bool) or value is None:
            raise self.error(tool, f"{name} missing or not a number")
        try:
            result = Decimal(str(value))
        except InvalidOperation:
            raise self.error(tool, f"{name} is not a number: {value!r}") from None
        if not result.is_finite():
            raise self.error(tool, f"{name} is not finite")
        return result

    def number(self, value: Any, tool: str, name: str) -> float:
        """A float from a JSON number."""
        if type(value) is float and value - value == 0:  # a finite float is its own value
            return value
        return float(self.decimal(value, tool, name))

    def book_price(self, value: Any, tool: str, name: str) -> Decimal | None:
        """A book price where null or 0 means an empty side."""
        if value is None:
            return None
        price = self.decimal(value, tool, name)
        return None if price == 0 else price

    def ms_time(self, value: Any, tool: str, name: str) -> datetime:
        """A millisecond timestamp as a UTC datetime."""
        try:
            return datetime.fromtimestamp(int(value) / 1000, tz=UTC)
        except (TypeError, ValueError, OverflowError):
            raise self.error(tool, f"{name} is not a millisecond timestamp") from None
