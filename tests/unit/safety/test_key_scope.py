"""A Deribit key that can do more than trading needs is refused (safety.key_scope)."""

from __future__ import annotations

import pytest
from bite.safety.key_scope import wide_rights


@pytest.mark.parametrize(
    ("scope", "wide"),
    [
        ("trade:read_write", []),
        ("connection mainaccount trade:read_write account:read wallet:none", []),
        ("session:abc expires:1700000000 trade:read_write block_trade:read", []),
        ("trade:read_write wallet:read_write", ["wallet:read_write"]),
        ("trade:read_write wallet:read", ["wallet:read"]),
        ("account:read_write trade:read_write", ["account:read_write"]),
        ("trade:read_write custody:read_write block_rfq:read_write", [
            "custody:read_write", "block_rfq:read_write",
        ]),
    ],
)  # fmt: skip
def test_what_is_wider_than_trading(scope: str, wide: list[str]) -> None:
    assert wide_rights(scope) == wide
