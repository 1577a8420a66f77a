"""A round trip over real HTTP: ``bite paper serve`` on 127.0.0.1, clients at its URL, ping."""

from __future__ import annotations

import json
from pathlib import Path

from tests.integration.cli_support import bite
from tests.process_support import paper_server


def client_config(tmp_path: Path, port: int) -> Path:
    urls = "\n".join(
        f"  {s}:\n    url: http://127.0.0.1:{port}/{s}"
        for s in ("deribit", "hyperliquid", "macro", "sentiment")
    )
    path = tmp_path / "strategy.yaml"
    path.write_text(f"services:\n{urls}\nexecution:\n  retry_waits_s: [0]\n", encoding="utf-8")
    return path


def test_ping_is_green_against_a_real_paper_server(tmp_path: Path) -> None:
    with paper_server(tmp_path) as port:
        result = bite(
            "ping",
            "--json",
            "--config",
            str(client_config(tmp_path, port)),
            "--data-dir",
            str(tmp_path / "data"),
        )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["ok"] is True
    assert [s["service"] for s in out["services"]] == [
        "deribit",
        "hyperliquid",
        "macro",
        "sentiment",
    ]
    assert out["services"][0]["environment"] == "paper"
    assert not (tmp_path / "data" / "paper.sqlite").exists()  # the server holds the account


def test_ping_exits_75_when_a_service_is_down(tmp_path: Path) -> None:
    with paper_server(tmp_path) as port:
        config = client_config(tmp_path, port)
    result = bite("ping", "--config", str(config), "--data-dir", str(tmp_path / "data"))
    assert result.returncode == 75
    assert "DOWN" in result.stdout


def test_the_server_checks_the_token_when_one_is_set(tmp_path: Path) -> None:
    token = "serve-TOKEN-x1"
    with paper_server(tmp_path, f"paper:\n  serve_token: {token}\n") as port:
        config = client_config(tmp_path, port)
        refused = bite("ping", "--config", str(config), "--data-dir", str(tmp_path / "d"))
        env = {
            f"CERBERO_BITE_MCP_{s.upper()}_TOKEN": token
            for s in ("deribit", "hyperliquid", "macro", "sentiment")
        }
        allowed = bite("ping", "--config", str(config), "--data-dir", str(tmp_path / "d"), env=env)
    assert refused.returncode == 2  # credentials refused: McpAuthError
    assert allowed.returncode == 0, allowed.stderr
    assert token not in refused.stdout + refused.stderr + allowed.stdout + allowed.stderr


def test_paper_reset_starts_the_account_over(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = bite("paper", "status", "--json", "--data-dir", str(data))
    assert json.loads(first.stdout)["generation"] == 1
    reset = bite("paper", "reset", "--yes", "--data-dir", str(data))
    assert reset.returncode == 0
    assert "generation 2" in reset.stdout
    after = json.loads(bite("paper", "status", "--json", "--data-dir", str(data)).stdout)
    assert (after["generation"], after["account"]["equity"], after["orders"]) == (2, 10.0, [])


def test_paper_serve_answers_the_hedges_tools_over_http(tmp_path: Path) -> None:
    """place_order, position and the perpetual's ticker through `bite paper serve`."""
    import httpx

    with paper_server(tmp_path) as port:
        base = f"http://127.0.0.1:{port}/deribit/tools"
        ticker = httpx.post(f"{base}/ticker", json={"instrument_name": "ETH-PERPETUAL"}).json()
        placed = httpx.post(
            f"{base}/place_order",
            json={
                "instrument_name": "ETH-PERPETUAL",
                "side": "sell",
                "amount": 1000,
                "price": str(ticker["best_bid_price"]),
                "label": "bite-h202601051400",
            },
        ).json()
        held = httpx.post(f"{base}/position", json={"instrument_name": "ETH-PERPETUAL"}).json()
        other = httpx.post(f"{base}/position", json={"instrument_name": "BTC-PERPETUAL"})
    assert ticker["best_bid_price"] < ticker["mark_price"] < ticker["best_ask_price"]
    assert placed["order"]["order_state"] == "filled"
    assert placed["order"]["instrument_name"] == "ETH-PERPETUAL"
    assert (held["size"], held["direction"], held["kind"]) == (-1000.0, "sell", "future")
    assert other.status_code == 400
