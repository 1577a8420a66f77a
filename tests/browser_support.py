"""A headless Chromium driven over the DevTools protocol, for the dashboard's browser test.

Debian's ``chromium`` is started with its own empty profile and no background
networking (the machine's network is closed); the page is loaded, its rendered text
read until it holds what the test expects (streamlit draws over a websocket after the
load), and a screenshot taken. The protocol goes over the ``websockets`` client that
the dashboard extra brings.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from websockets.sync.client import ClientConnection, connect

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)
INSTALL_HINT = "apt-get install chromium chromium-driver (make test does it when run as root)"


def chromium() -> str:
    """The browser's path; a clear failure naming the package when it is missing."""
    found = shutil.which("chromium")
    if found is None:
        raise AssertionError(f"Debian's chromium is not installed: {INSTALL_HINT}")
    return found


class Page:
    """One tab, spoken to over the DevTools protocol."""

    def __init__(self, socket: ClientConnection) -> None:
        self.socket = socket
        self._ids = itertools.count(1)

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        """Call ``method`` and return its result (events in between are skipped)."""
        ident = next(self._ids)
        self.socket.send(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv(timeout=60))
            if message.get("id") == ident:
                if "error" in message:
                    raise AssertionError(f"{method}: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result

    def text(self) -> str:
        """The page's rendered text."""
        found = self.send(
            "Runtime.evaluate", expression="document.body ? document.body.innerText : ''"
        )
        return str(found["result"].get("value", ""))

    def wait_for(self, *needles: str, timeout: float = 60) -> str:
        """Poll the rendered text until it holds every needle; the text."""
        deadline = time.monotonic() + timeout
        shown = ""
        while time.monotonic() < deadline:
            shown = self.text()
            if all(n in shown for n in needles):
                return shown
            time.sleep(0.25)
        raise AssertionError(f"the page never showed {needles!r}; it shows:\n{shown[:2000]}")

    def screenshot(self, path: Path, width: int = 1400, height: int = 1500) -> None:
        """A PNG of the page at ``width`` x ``height``."""
        self.send(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )
        time.sleep(1.0)  # let the page lay itself out at the new size
        data = self.send("Page.captureScreenshot", format="png")["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))


def stop(process: subprocess.Popen[Any], grace_s: float) -> None:
    """Ask a process to end; kill it when it has not within ``grace_s``."""
    process.terminate()
    try:
        process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextlib.contextmanager
def browser_page(url: str) -> Iterator[Page]:
    """Chromium on ``url`` (a fresh profile, removed afterwards)."""
    profile = Path(tempfile.mkdtemp(prefix="bite-chromium-"))
    process = subprocess.Popen(
        [
            chromium(),
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            "--remote-debugging-address=127.0.0.1",
            "--remote-debugging-port=0",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not port_file.exists() or not port_file.read_text().strip():
            if time.monotonic() > deadline or process.poll() is not None:
                raise AssertionError("chromium did not open its DevTools port")
            time.sleep(0.1)
        port = int(port_file.read_text().splitlines()[0])
        targets = httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=10).json()
        target = next(t for t in targets if t["type"] == "page")
        with connect(target["webSocketDebuggerUrl"], max_size=None) as socket:
            page = Page(socket)
            page.send("Page.enable")
            page.send("Page.navigate", url=url)
            yield page
    finally:
        stop(process, 10)
        shutil.rmtree(profile, ignore_errors=True)


def free_port() -> int:
    """A TCP port nobody listens on now, on the loopback."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.contextmanager
def dashboard_server(
    config: Path, data_dir: Path, now: str, crontab: Path | None = None
) -> Iterator[str]:
    """``bite dashboard`` as the operator starts it, on a free port; its URL once it answers."""
    import os
    import sys

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CERBERO_BITE_")}
    env.update(
        {
            "CERBERO_BITE_CONFIG": str(config),
            "CERBERO_BITE_DATA_DIR": str(data_dir),
            "CERBERO_BITE_NOW": now,
            "HOME": str(data_dir.parent),  # streamlit keeps its machine id under ~/.streamlit
        }
    )
    schedule = ["--crontab", str(crontab)] if crontab is not None else []
    server = subprocess.Popen(
        [sys.executable, "-m", "bite", "dashboard", "--port", str(port), *schedule],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                out = server.stdout.read() if server.stdout else ""
                raise AssertionError(f"bite dashboard exited with {server.returncode}: {out}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url + "_stcore/health", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise AssertionError("bite dashboard did not answer within 60 s")
            time.sleep(0.2)
        yield url
    finally:
        stop(server, 20)
        if server.stdout is not None:
            server.stdout.close()
