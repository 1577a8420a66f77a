"""The dashboard's pages, drawn with streamlit and plotly (``bite dashboard`` runs this file).

It reads the data dir through a read-only SQLite connection and the audit log; it never
calls a broker and never holds the job lock. Its one write is arming the kill switch,
through the same code as ``bite kill-switch arm``, on a short connection of its own.
Each page refreshes itself every 30 s; a missing, locked or damaged database is a
message on the page, never a stack trace.
"""

from __future__ import annotations

import hmac
import logging
import os
import sqlite3
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
import streamlit as st

from bite.clock import NOW_ENV, parse_instant
from bite.config.loader import load_config
from bite.config.schema import ExitConfig
from bite.config.secrets import DASHBOARD_PASSWORD, known_secret_values, read_secret
from bite.context import arm_kill_switch, open_state_readonly, resolve_config_path, resolve_data_dir
from bite.dashboard import views
from bite.dashboard.views import CRONTAB_ENV, PAGES, Settings
from bite.errors import BiteError
from bite.state.db import DatabaseError

REFRESH_S = 30
log = logging.getLogger("bite.dashboard")


def settings_from_env(environ: Mapping[str, str]) -> Settings:
    """The settings ``bite dashboard`` hands its server in the environment."""

    config = resolve_config_path(None, environ)
    crontab = environ.get(CRONTAB_ENV)
    return Settings(
        data_dir=resolve_data_dir(None, environ),
        config_path=config,
        crontab=Path(crontab) if crontab else config.parent / "crontab",
        password=read_secret(DASHBOARD_PASSWORD, environ),
        now=parse_instant(environ[NOW_ENV]) if environ.get(NOW_ENV) else None,
        secrets=known_secret_values(environ),
    )


def main(settings: Settings) -> None:
    """One run of the script: the sign-in when a password is set, then the chosen page."""
    st.set_page_config(page_title="Cerbero Bite", page_icon=":dog:", layout="wide")
    if settings.password and not _signed_in(settings.password):
        return
    page = st.sidebar.radio("Page", PAGES, key="page")
    st.sidebar.caption(f"data dir: {settings.data_dir}")
    st.sidebar.caption(f"refreshes every {REFRESH_S} s; read-only but for arming the switch")
    _page(settings, page)


def _signed_in(password: str) -> bool:
    if st.session_state.get("signed_in"):
        return True
    st.title("Cerbero Bite")
    given = st.text_input("Password", type="password", key="password")
    if given and hmac.compare_digest(given.encode(), password.encode()):
        st.session_state["signed_in"] = True
        st.rerun()
    elif given:
        st.error("Wrong password.")
    return False


@st.fragment(run_every=REFRESH_S)
def _page(settings: Settings, page: str) -> None:
    now = settings.now or datetime.now(UTC)
    st.caption(f"as of {now.strftime('%Y-%m-%d %H:%M:%S')} UTC")
    flash = st.session_state.pop("flash", None)
    if flash:
        st.success(flash)
    draw: dict[str, Callable[[Settings, datetime], None]] = {
        "Now": _now_page,
        "Position": _position_page,
        "History": _history_page,
        "Safety": _safety_page,
        "Backtest": _backtest_page,
    }
    try:
        draw[page](settings, now)
    except Exception as exc:
        _problem(exc)


def _problem(exc: BaseException) -> None:
    if isinstance(exc, BiteError | sqlite3.Error | OSError):
        st.error(f"Cannot read the data dir: {exc}")
    else:
        log.exception("dashboard page failed")
        st.error(f"Internal error ({type(exc).__name__}); the dashboard's log has the details.")


def _state(settings: Settings) -> Any:
    return open_state_readonly(settings.data_dir)


def _read(settings: Settings, view: Callable[[Any], Any]) -> Any:
    """``view`` of the data dir's state, or None with a message when there is none yet."""
    try:
        state = _state(settings)
    except DatabaseError as exc:
        st.info(f"No state to show: {exc}")
        return None
    with state:
        return view(state)


# -- Now ----------------------------------------------------------------------------------


def _now_page(settings: Settings, now: datetime) -> None:
    st.header("Now")
    try:
        state = _state(settings)
    except DatabaseError as exc:
        st.info(f"No state to show: {exc}")
        _arm_form(settings, now)
        return
    with state:
        data = views.now_view(settings, state, now)
    engine, config = data["engine"], data["config"]
    switch = engine["kill_switch"]
    cols = st.columns(4)
    cols[0].metric("Environment", str(engine["environment"] or "unknown"))
    cols[1].metric("Kill switch", f"ARMED ({switch['kind']})" if switch["armed"] else "disarmed")
    age = engine["heartbeat_age_minutes"]
    cols[2].metric("Heartbeat", f"{age:g} min ago" if age is not None else "none yet")
    cols[3].metric("Health strikes", str(engine["health_strikes"]))
    if switch["armed"]:
        st.error(
            f"Kill switch ARMED ({switch['kind']}) since {switch['since']} by {switch['source']}:"
            f" {'; '.join(switch['reasons'])}"
        )
    hedge = data["hedge"]
    if hedge and hedge.get("short_usd") is not None:
        st.write(
            f"Hedge: short **{hedge['short_usd']} USD** on the perpetual, target "
            f"{hedge['target_usd']}, drift {hedge['drift_usd']} (band {hedge['band_usd']});"
            f" funding received {hedge['funding_received_eth']} ETH, fees {hedge['fees_eth']}"
            f" ETH; {hedge['status']} at {hedge['at']}"
        )
    _table("Open positions", data["positions"], "No open position.")
    st.subheader("Configuration")
    approved = config["approved_hash"]
    st.write(f"Approved config: `{approved[:16] if approved else 'none yet'}`")
    if not config["valid"]:
        st.warning(f"{config['file']} does not validate: {config['error']}")
    elif config["differs"]:
        st.warning(
            f"{config['file']} (`{config['file_hash'][:16]}`) differs from the approved config:"
            " the next job asks for approval (bite config approve)."
        )
    else:
        st.write(f"{config['file']} is the approved config.")
    _table("Last runs", data["runs"], "No job has run yet.")
    _table("Next scheduled runs", data["schedule"], f"Unknown: no crontab at {data['crontab']}.")
    _arm_form(settings, now)


def _table(title: str, rows: list[dict[str, Any]], empty: str) -> None:
    """A titled table, or what to say when it has no row."""
    st.subheader(title)
    if rows:
        st.table(rows)
    else:
        st.write(empty)


def _arm_form(settings: Settings, now: datetime) -> None:
    """The dashboard's one action: arm the kill switch (operational), with a reason."""

    with st.expander("Arm the kill switch"):
        with st.form("arm"):
            reason = st.text_input("Reason (kept in the audit log)")
            sure = st.checkbox("I want to stop new entries now")
            sent = st.form_submit_button("Arm the kill switch")
        if not sent:
            return
        if not sure or not reason.strip():
            st.warning("Give a reason and tick the confirmation to arm the switch.")
            return
        try:
            current = arm_kill_switch(
                settings.data_dir, reason, "operational", "dashboard", now, settings.secrets
            )
        except BiteError as exc:
            st.error(f"The switch was not armed: {exc}")
            return
        st.session_state["flash"] = (
            f"Kill switch ARMED ({current.kind}) from the dashboard: {'; '.join(current.reasons)}"
        )
        st.rerun()  # the page again, showing the switch as it now is


# -- Position -----------------------------------------------------------------------------


def _position_page(settings: Settings, now: datetime) -> None:
    st.header("Position")
    try:
        exit_cfg = load_config(settings.config_path).config.exit
    except BiteError:  # the thresholds fall back to the shipped defaults
        exit_cfg = ExitConfig()
    positions = _read(settings, lambda state: views.position_views(state, exit_cfg, now))
    if positions is None:
        return
    if not positions:
        st.write("No open position.")
        return
    for p in positions:
        _one_position(p)


def _one_position(p: dict[str, Any]) -> None:
    st.subheader(f"{p['spread']} {p['id']} ({p['status']})")
    st.write(
        f"Short **{p['short']}**, long **{p['long']}**, {p['contracts']} contracts,"
        f" expiry {p['expiry']}"
    )
    cols = st.columns(5)
    cols[0].metric("Credit", f"{p['credit_eth']} ETH")
    cols[1].metric("Debit (mid)", f"{p['debit_mid_eth'] or '-'} ETH")
    cols[2].metric("P&L", f"{_num(p['pnl_eth'], '0.0001')} ETH")
    cols[3].metric("P&L", f"{_num(p['pnl_eur'], '0.01')} EUR")
    distance = p["distance_pct"]
    cols[4].metric("Spot to short strike", f"{_num(distance, '0.1')} %")
    evaluation = p["evaluation"]
    if evaluation:
        st.caption(
            f"monitor-run's evaluation {evaluation['age_minutes']:g} min ago:"
            f" {evaluation['action']}, spot {evaluation['spot']}"
        )
    else:
        st.caption("Not evaluated by monitor-run yet: no debit, spot or greeks to show.")
    greeks = p["greeks"]
    st.write(
        "Greeks (what is held): "
        + ", ".join(f"{k} {v:.4g}" for k, v in greeks.items() if isinstance(v, int | float))
    )
    st.plotly_chart(_payoff_figure(p), key=f"payoff-{p['id']}")
    if p["rules"]:
        st.dataframe(p["rules"], hide_index=True)


def _num(value: Any, quantum: str) -> str:
    if value is None:
        return "-"
    return str(Decimal(str(value)).quantize(Decimal(quantum)))


def _payoff_figure(p: dict[str, Any]) -> go.Figure:
    xs = [x for x, _ in p["payoff"]]
    ys = [y for _, y in p["payoff"]]
    fig = go.Figure(go.Scatter(x=xs, y=ys, mode="lines", name="P&L at expiry (USD)"))
    marks = [("short", p["short_strike"], "red"), ("long", p["long_strike"], "gray")]
    if p["breakeven"] is not None:
        marks.append(("breakeven", p["breakeven"], "orange"))
    if p["spot"] is not None:
        marks.append(("spot", p["spot"], "blue"))
    for name, x, colour in marks:
        fig.add_vline(
            x=float(x), line_color=colour, line_dash="dash", annotation_text=f"{name} {x:.0f}"
        )
    fig.add_hline(y=0, line_color="black", line_width=1)
    fig.update_layout(
        title="Payoff at expiry, before fees (USD)",
        xaxis_title="ETH settlement price (USD)",
        yaxis_title="P&L (USD)",
        height=380,
    )
    return fig


# -- History ------------------------------------------------------------------------------


def _history_page(settings: Settings, now: datetime) -> None:
    st.header("History")
    data = _read(settings, views.history_view)
    if data is None:
        return
    if data["equity"]:
        fig = go.Figure()
        times = [e["time"] for e in data["equity"]]
        fig.add_scatter(x=times, y=[e["eur"] for e in data["equity"]], name="equity (EUR)")
        fig.add_scatter(
            x=times, y=[e["eth"] for e in data["equity"]], name="equity (ETH)", yaxis="y2"
        )
        fig.update_layout(
            title="Account equity at each entry-run",
            yaxis={"title": "EUR"},
            yaxis2={"title": "ETH", "overlaying": "y", "side": "right"},
            height=340,
        )
        st.plotly_chart(fig, key="equity")
    else:
        st.write("No equity recorded yet (entry-run records it each week).")
    st.subheader("Closed trades")
    if not data["trades"]:
        st.write("No closed trade yet.")
    else:
        _line(
            [t["closed_at"] for t in data["trades"]],
            [t["cumulative_eur"] for t in data["trades"]],
            "Strategy P&L, cumulative (EUR)",
            300,
            "cumulative",
        )
        st.dataframe(data["trades"], hide_index=True)
        if data["r"]:
            hist = go.Figure(go.Histogram(x=data["r"], nbinsx=20))
            hist.update_layout(title="R per trade", xaxis_title="R", height=280)
            st.plotly_chart(hist, key="r")
    if data["kelly"]:
        _line(
            [k["time"] for k in data["kelly"]],
            [k["risk_fraction"] for k in data["kelly"]],
            "Kelly: the fraction of equity risked",
            260,
            "kelly",
        )
    st.subheader("Skipped entries by reason")
    if data["skipped"]:
        st.dataframe([{"reason": r, "runs": n} for r, n in data["skipped"]], hide_index=True)
    else:
        st.write("No entry-run skipped.")


def _line(x: list[Any], y: list[Any], title: str, height: int, key: str) -> None:
    """A line of points over time, titled."""
    fig = go.Figure(go.Scatter(x=x, y=y, mode="lines+markers"))
    fig.update_layout(title=title, height=height)
    st.plotly_chart(fig, key=key)


# -- Safety -------------------------------------------------------------------------------


def _safety_page(settings: Settings, now: datetime) -> None:
    st.header("Safety")
    data = _read(settings, lambda state: views.safety_view(state, now))
    if data is None:
        return
    audit = data["audit"]
    if audit["healthy"]:
        st.success(
            f"Audit chain verified now: {audit['records']} records,"
            f" head seq {audit['head_seq']} hash {audit['head_hash'][:16]}..."
        )
    else:
        where = f" at seq {audit['first_bad_seq']}" if audit["first_bad_seq"] else ""
        st.error(
            f"Audit chain BROKEN{where}: {audit['problem'] or 'it does not match its anchor'}"
            + (
                f"; set-aside logs: {', '.join(audit['broken_logs'])}"
                if audit["broken_logs"]
                else ""
            )
        )
    switch = data["kill_switch"]
    if switch["armed"]:
        st.error(
            f"Kill switch ARMED ({switch['kind']}) since {switch['since']}:"
            f" {'; '.join(switch['reasons'])}"
        )
    else:
        st.write("Kill switch: **disarmed**")
    st.subheader("Alerts")
    if data["alerts"]:
        st.write(", ".join(f"{k}: {v}" for k, v in sorted(data["alerts_by_severity"].items())))
        st.dataframe(data["alerts"], hide_index=True)
    else:
        st.write("No alert.")
    st.subheader("Recovery events")
    if data["recoveries"]:
        st.dataframe(data["recoveries"], hide_index=True)
    else:
        st.write("None in the audit log's last 500 records.")
    st.subheader("Backups")
    if data["backups"]:
        st.dataframe(data["backups"], hide_index=True)
    else:
        st.write("No backup yet (backup-run writes them to data/backups).")


# -- Backtest -----------------------------------------------------------------------------


def _backtest_page(settings: Settings, now: datetime) -> None:
    st.header("Backtest")
    folder = st.text_input("A `bite backtest --out` folder", key="backtest_folder")
    if not folder:
        st.write("Give the folder a backtest wrote (summary.json, equity.csv, trades.csv).")
        return
    data = views.backtest_view(Path(folder).expanduser())
    summary = data["summary"]
    keys = ("trades", "hit_rate", "breakeven_hit_rate", "expectancy_r", "strategy_drawdown_eur")
    cols = st.columns(len(keys))
    for col, key in zip(cols, keys, strict=True):
        col.metric(key, str(summary.get(key, "-")))
    fig = go.Figure(
        go.Scatter(x=[e["time"] for e in data["equity"]], y=[e["eur"] for e in data["equity"]])
    )
    fig.update_layout(title="Equity (EUR)", height=320)
    st.plotly_chart(fig, key="backtest-equity")
    st.json(summary, expanded=False)
    if data["trades"]:
        st.dataframe(data["trades"], hide_index=True)


if __name__ == "__main__":  # streamlit runs this file as the script
    main(settings_from_env(os.environ))
