"""The ops files: dead man with a stub curl, systemd units verified, the crontab rendered."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import pytest

from tests.integration.cli_support import ROOT

TOKEN = "424242:PLANTED-deadman-token"
CHAT = "-1009876543210"
STUB = """#!/bin/sh
echo "ARGS $*" >> "$STUB_LOG"
while IFS= read -r line; do echo "STDIN $line" >> "$STUB_LOG"; done
"""


def dead_man(tmp_path: Path, **env: str) -> str:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    stub = bin_dir / "curl"
    stub.write_text(STUB, encoding="utf-8")
    stub.chmod(0o755)
    log = tmp_path / "curl.log"
    full = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "STUB_LOG": str(log),
        "CERBERO_BITE_DATA_DIR": str(tmp_path / "data"),
        "CERBERO_BITE_TELEGRAM_BOT_TOKEN": TOKEN,
        "CERBERO_BITE_TELEGRAM_CHAT_ID": CHAT,
        **env,
    }
    done = subprocess.run(
        ["sh", str(ROOT / "scripts" / "dead_man.sh")],
        env=full,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    text = log.read_text(encoding="utf-8") if log.exists() else ""
    log.unlink(missing_ok=True)
    return text


def test_one_message_per_outage_and_one_when_fresh_again(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    heartbeat = data / "heartbeat"
    first = dead_man(tmp_path)  # no heartbeat at all
    assert "no heartbeat" in first
    assert dead_man(tmp_path) == ""  # still down: no repeat
    heartbeat.write_text("anything at all\n", encoding="utf-8")
    recovered = dead_man(tmp_path)
    assert "fresh again" in recovered
    assert dead_man(tmp_path) == ""
    old = time.time() - 25 * 60
    os.utime(heartbeat, (old, old))
    assert "no heartbeat" in dead_man(tmp_path)
    assert "no heartbeat" not in dead_man(tmp_path, DEAD_MAN_MAX_AGE_MIN="30")


def test_the_token_is_never_in_curls_arguments(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    log = dead_man(tmp_path)
    args = [line for line in log.splitlines() if line.startswith("ARGS")]
    stdin = [line for line in log.splitlines() if line.startswith("STDIN")]
    assert args and all(TOKEN not in line for line in args)
    assert any(TOKEN in line for line in stdin)


def test_the_chat_id_and_text_are_never_in_curls_arguments(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    log = dead_man(tmp_path)
    args = [line for line in log.splitlines() if line.startswith("ARGS")]
    stdin = [line for line in log.splitlines() if line.startswith("STDIN")]
    assert args and all(CHAT not in line and "heartbeat" not in line for line in args)
    assert any(CHAT in line for line in stdin)


def test_real_curl_delivers_the_exact_chat_id_and_text(tmp_path: Path) -> None:
    """The config on stdin is quoted right: a chat id with a quote and a backslash arrives whole."""
    received: list[tuple[str, dict[str, list[str]]]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"])).decode()
            received.append((self.path, parse_qs(body)))
            self.send_response(200)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            return

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    chat = '-100"odd\\chat'
    try:
        (tmp_path / "data").mkdir()
        done = subprocess.run(
            ["sh", str(ROOT / "scripts" / "dead_man.sh")],
            env={
                "PATH": "/usr/bin:/bin",
                "CERBERO_BITE_DATA_DIR": str(tmp_path / "data"),
                "CERBERO_BITE_TELEGRAM_BOT_TOKEN": TOKEN,
                "CERBERO_BITE_TELEGRAM_CHAT_ID": chat,
                "CERBERO_BITE_TELEGRAM_API": f"http://127.0.0.1:{server.server_address[1]}",
            },
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )
    finally:
        server.shutdown()
        server.server_close()
    assert done.returncode == 0, done.stderr
    path, form = received[0]
    assert path == f"/bot{TOKEN}/sendMessage"
    assert form["chat_id"] == [chat]
    assert "no heartbeat" in form["text"][0]


def test_the_token_can_come_from_a_file(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    secret = tmp_path / "token"
    secret.write_text(TOKEN + "\n", encoding="utf-8")
    log = dead_man(
        tmp_path,
        CERBERO_BITE_TELEGRAM_BOT_TOKEN="",
        CERBERO_BITE_TELEGRAM_BOT_TOKEN_FILE=str(secret),
    )
    assert TOKEN in log


def test_the_systemd_units_verify(tmp_path: Path) -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.fail("systemd-analyze is needed to verify the units (Debian: systemd)")
    home = tmp_path / "opt"
    (home / ".venv" / "bin").mkdir(parents=True)
    (home / "scripts").mkdir()
    stub = home / ".venv" / "bin" / "bite"
    stub.write_text("#!/bin/sh\nexit 0\n", encoding="utf-8")
    stub.chmod(0o755)
    units = tmp_path / "units"
    units.mkdir()
    for unit in (ROOT / "systemd").iterdir():
        (units / unit.name).write_text(
            unit.read_text(encoding="utf-8").replace("/opt/cerbero-bite", str(home)),
            encoding="utf-8",
        )
    names = sorted(units.iterdir())
    assert len(names) == 10
    done = subprocess.run(
        ["systemd-analyze", "verify", *map(str, names)], capture_output=True, text=True, check=False
    )
    problems = [line for line in done.stderr.splitlines() if "bite-" in line]
    assert done.returncode == 0, done.stderr
    assert problems == []


def test_entry_does_not_fire_late_and_the_others_catch_up() -> None:
    timers = {p.stem: p.read_text(encoding="utf-8") for p in (ROOT / "systemd").glob("*.timer")}
    assert "Persistent=false" in timers["bite-entry"]
    for name in ("bite-monitor", "bite-health", "bite-backup"):
        assert "Persistent=true" in timers[name]
    for name in ("bite-entry", "bite-monitor", "bite-health", "bite-backup", "bite-deadman"):
        service = (ROOT / "systemd" / f"{name}.service").read_text(encoding="utf-8")
        for setting in (
            "Type=oneshot",
            "NoNewPrivileges=yes",
            "ProtectSystem=strict",
            "PrivateTmp=yes",
            "ProtectHome=yes",
            "ReadWritePaths=",
            "LoadCredential=",
            "User=cerbero-bite",
        ):
            assert setting in service, (name, setting)


CRON_FIELD = re.compile(r"^(\*|\d+(-\d+)?)(/\d+)?(,(\d+(-\d+)?)(/\d+)?)*$")


def test_the_rendered_crontab_parses_and_avoids_settlement() -> None:
    done = subprocess.run(
        ["sh", str(ROOT / "scripts" / "install-cron.sh"), "--print"],
        capture_output=True,
        text=True,
        check=True,
    )
    lines = [
        ln
        for ln in done.stdout.splitlines()
        if ln and not ln.startswith("#") and "=" not in ln.split()[0]
    ]
    assert "@BITE_HOME@" not in done.stdout
    assert str(ROOT) in done.stdout
    assert len(lines) == 5
    for line in lines:
        fields = line.split(None, 5)
        assert all(CRON_FIELD.match(f) for f in fields[:5]), line
        if "entry-run" in line or "monitor-run" in line:
            minute = int(fields[0])
            for hour in hours_of(fields[1]):
                assert not time_of_day(7, 30) <= time_of_day(hour, minute) < time_of_day(8, 15)


def hours_of(field: str) -> list[int]:
    """A cron hour field (``6,18``, ``0-7,9-23``) as its hours."""
    out: list[int] = []
    for part in field.split(","):
        low, _, high = part.partition("-")
        out += range(int(low), int(high or low) + 1)
    return out


def time_of_day(hour: int, minute: int) -> int:
    return hour * 60 + minute
