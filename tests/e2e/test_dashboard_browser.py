"""The dashboard in a real browser: `bite dashboard` served, headless Chromium renders it."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.browser_support import browser_page, dashboard_server
from tests.e2e.scripted import at, scripted_workspace
from tests.integration.cli_support import ROOT


def test_chromium_renders_the_open_position_and_the_kill_switch(tmp_path: Path) -> None:
    ws = scripted_workspace(tmp_path, "crash")
    code, entry = ws.json("entry-run", now=at(0))
    assert code == 0, entry
    assert ws.run("monitor-run", now=at(4)).returncode == 0
    short = entry["proposal"]["short"]["instrument_name"]
    with (
        dashboard_server(ws.config, ws.data, at(4.5), ROOT / "crontab") as url,
        browser_page(url) as page,
    ):
        shown = page.wait_for(short, "Kill switch")
        assert "disarmed" in shown
        assert "HOLD 30 min" in shown
        assert "Traceback" not in shown
        assert "2026-03-09 14:00 UTC" in shown  # the next entry-run, from the crontab
        picture = tmp_path / "dashboard.png"
        page.screenshot(picture)
    with pytest.raises(httpx.ConnectError):  # stopped: the server left nothing behind
        httpx.get(url, timeout=5)
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert picture.stat().st_size > 20_000  # a drawn page, not a blank one
