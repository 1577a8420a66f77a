"""Draw docs/images/dashboard.png: the dashboard's *Now* page with an open position.

The data dir is made as the browser test makes it: an entry on the scripted paper
market and a monitor-run four hours later; then ``bite dashboard`` serves it and
headless Chromium takes the picture.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.browser_support import browser_page, dashboard_server  # noqa: E402
from tests.e2e.scripted import at, scripted_workspace  # noqa: E402


def main(target: Path) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        ws = scripted_workspace(Path(tmp), "crash")
        if ws.run("entry-run", now=at(0)).returncode or ws.run("monitor-run", now=at(4)).returncode:
            print("the jobs did not make the data dir", file=sys.stderr)
            return 1
        with (
            dashboard_server(ws.config, ws.data, at(4.5), ROOT / "crontab") as url,
            browser_page(url) as page,
        ):
            page.wait_for("Open positions", "HOLD", "entry-run")
            page.screenshot(target, height=1150)
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(
        main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs/images/dashboard.png")
    )
