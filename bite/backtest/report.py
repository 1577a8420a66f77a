"""``report.html``: one self-contained page of a backtest (no script, no network).

The equity curve, the account's drawdown, the histogram of R, and the tables of
the summary, the exits by rule and the entries skipped by reason; every chart is
inline SVG.
"""

from __future__ import annotations

import html
from typing import Any

WIDTH, HEIGHT, PAD = 900, 300, 50


def _polyline(values: list[float], title: str, unit: str, colour: str) -> str:
    if not values:
        return f"<p>{html.escape(title)}: no data.</p>"
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    step = (WIDTH - 2 * PAD) / max(len(values) - 1, 1)
    points = " ".join(
        f"{PAD + i * step:.1f},{HEIGHT - PAD - (v - low) / span * (HEIGHT - 2 * PAD):.1f}"
        for i, v in enumerate(values)
    )
    ticks = "".join(
        f'<text x="{PAD - 6}" y="{HEIGHT - PAD - k / 4 * (HEIGHT - 2 * PAD) + 4:.1f}" '
        f'font-size="11" text-anchor="end">{low + span * k / 4:,.1f}</text>'
        for k in range(5)
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'font-family="sans-serif"><text x="{WIDTH / 2}" y="20" text-anchor="middle">'
        f"{html.escape(title)} ({html.escape(unit)})</text>{ticks}"
        f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{points}"/></svg>'
    )


def _histogram(values: list[float], title: str) -> str:
    if not values:
        return f"<p>{html.escape(title)}: no trades.</p>"
    low, high = min(*values, -1.0), max(*values, 0.5)
    bins = 20
    width = (high - low) / bins or 1.0
    counts = [0] * bins
    for v in values:
        counts[min(int((v - low) / width), bins - 1)] += 1
    top = max(counts)
    bar = (WIDTH - 2 * PAD) / bins
    rects = "".join(
        f'<rect x="{PAD + i * bar:.1f}" y="{HEIGHT - PAD - c / top * (HEIGHT - 2 * PAD):.1f}" '
        f'width="{bar - 2:.1f}" height="{c / top * (HEIGHT - 2 * PAD):.1f}" '
        f'fill="{"#2da44e" if low + (i + 0.5) * width > 0 else "#cf222e"}"/>'
        for i, c in enumerate(counts)
    )
    labels = (
        f'<text x="{PAD}" y="{HEIGHT - PAD + 16}" font-size="11">{low:.2f} R</text>'
        f'<text x="{WIDTH - PAD}" y="{HEIGHT - PAD + 16}" font-size="11" '
        f'text-anchor="end">{high:.2f} R</text>'
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'font-family="sans-serif"><text x="{WIDTH / 2}" y="20" text-anchor="middle">'
        f"{html.escape(title)}</text>{rects}{labels}</svg>"
    )


def _table(title: str, rows: list[tuple[str, Any]]) -> str:
    body = "".join(
        f"<tr><td>{html.escape(str(k))}</td><td>{html.escape(str(v))}</td></tr>" for k, v in rows
    )
    return f"<h2>{html.escape(title)}</h2><table>{body}</table>"


def report_html(
    title: str,
    summary: dict[str, Any],
    equity: list[dict[str, Any]],
    trades: list[dict[str, Any]],
) -> str:
    """The page, as text."""
    values = [float(r["equity_eur"]) for r in equity]
    peak, drawdown = 0.0, []
    for v in values:
        peak = max(peak, v)
        drawdown.append(-(peak - v) / peak * 100 if peak > 0 else 0.0)
    rs = [float(t["r"]) for t in trades if t.get("r") not in ("", None)]
    headline = [
        (k, summary.get(k))
        for k in (
            "trades",
            "hit_rate",
            "breakeven_hit_rate",
            "expectancy_r",
            "expectancy_r_ci95",
            "pnl_eur_total",
            "strategy_drawdown_eur",
            "account_drawdown_eur_pct",
            "sharpe_weekly",
            "sortino_weekly",
            "time_in_market_pct",
            "fills",
            "halts",
            "hedge",
        )
    ]
    if summary.get("hedge", "none") != "none":  # the account with and without its hedge
        headline += [
            (
                "account_drawdown_eur_pct_without_hedge",
                summary.get("account_drawdown_eur_pct_without_hedge"),
            ),
            ("hedge_funding_eth", summary.get("hedge_funding_eth")),
            ("hedge_fees_eth", summary.get("hedge_fees_eth")),
        ]
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>body{{font-family:sans-serif;"
        "max-width:960px;margin:auto}table{border-collapse:collapse}td{border:1px solid #ccc;"
        "padding:2px 8px}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>"
        + _table("Summary", headline)
        + _polyline(values, "Account equity", "EUR", "#1f6feb")
        + _polyline(drawdown, "Account drawdown", "% from peak", "#cf222e")
        + _histogram(rs, "Trades by R")
        + _table("Exits by rule", list(summary.get("exits_by_rule", {}).items()))
        + _table("Entries skipped, by reason", list(summary.get("skipped_entries", {}).items()))
        + "<h2>Approximations</h2><ul>"
        + "".join(f"<li>{html.escape(a)}</li>" for a in summary.get("approximations", []))
        + "</ul></body></html>\n"
    )
