"""Whether a Deribit API key can do more than trading needs (docs/runbook.md).

``public/auth`` answers with the scope it granted: space-separated ``name:level``
tokens (``trade:read_write wallet:none account:read``, plus ``session:``, ``expires:``
and the like, which say nothing of rights). A trading job needs ``trade:read_write``
and reads the account; a key that can move funds (``wallet`` other than ``none``),
change the account (``account:read_write``) or trade blocks and custody is wider than
that: a stolen one could empty the account. The runbook shows how to create a key with
``wallet:none`` and an IP restriction.
"""

from __future__ import annotations

RIGHTS = frozenset({"trade", "wallet", "account", "block_trade", "block_rfq", "custody"})
ALLOWED: dict[str, frozenset[str]] = {
    "trade": frozenset({"read", "read_write", "none"}),
    "account": frozenset({"read", "none"}),
    "wallet": frozenset({"none"}),
    "block_trade": frozenset({"none", "read"}),
    "block_rfq": frozenset({"none", "read"}),
    "custody": frozenset({"none"}),
}


def wide_rights(scope: str) -> list[str]:
    """The tokens of ``scope`` that give more than trading needs, in the order given."""
    wide = []
    for token in scope.split():
        name, sep, level = token.partition(":")
        if sep and name in RIGHTS and level not in ALLOWED[name]:
            wide.append(token)
    return wide
