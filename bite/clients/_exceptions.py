"""The service error tree (mcp-contract.md, Transport), mapped to exit codes.

::

    McpError                         (exit 75 unless said)
    ├── McpAuthError                 401/403: never retried; exit 2
    ├── McpProtocolError             404, a body out of contract
    ├── McpRequestError              other 4xx
    ├── McpUnavailableError          408/429/5xx, timeouts, connection errors: reads retry
    ├── McpDataAnomalyError          an implausible value (strategy.md 11)
    └── McpComboUnavailableError     a combo book the venue will not open

A venue's refusal of an order is not an error: 200 with ``order_state: rejected``.
"""

from __future__ import annotations

from bite.errors import ExitCode, TemporaryFailureError


class McpError(TemporaryFailureError):
    """A service call failed."""

    exit_code = ExitCode.TEMPFAIL

    def __init__(self, service: str, tool: str, message: str) -> None:
        super().__init__(f"{service}.{tool}: {message}")
        self.service = service
        self.tool = tool
        self.detail = message


class McpAuthError(McpError):
    """Credentials refused (401/403)."""

    exit_code = ExitCode.USAGE


class McpProtocolError(McpError):
    """Unknown tool, or a body that does not match the contract."""


class McpRequestError(McpError):
    """The service refused the request (4xx other than auth)."""


class McpUnavailableError(McpError):
    """Unreachable, overloaded, or timed out."""


class McpDataAnomalyError(McpError):
    """A value the cycle uses is implausible."""


class McpComboUnavailableError(McpError):
    """The venue will not open the combo book."""
