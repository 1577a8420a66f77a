"""``bite dashboard``: the local read-only dashboard (the optional extra ``dashboard``)."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated

import typer

from bite.commands._shared import (
    ConfigOption,
    DataDirOption,
    JsonOption,
    LogLevelOption,
    _emit,
    _exit_codes,
    _view,
    app,
    environ,
)
from bite.errors import UsageError

LOOPBACK_NAMES = ("localhost",)


def is_loopback(host: str) -> bool:
    """Whether ``host`` only listens on this machine (127.0.0.0/8, ::1, localhost)."""
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def streamlit_argv(python: str, host: str, port: int) -> list[str]:
    """The server's command line: headless, no usage statistics, no file watching, and
    errors shown as one line on the page (the page's own message says what broke)."""
    import importlib.util

    script = importlib.util.find_spec("bite.dashboard.app")
    if script is None or script.origin is None:
        raise UsageError("bite.dashboard.app is missing from this installation")
    return [
        python,
        "-m",
        "streamlit",
        "run",
        script.origin,
        "--server.address",
        host,
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--server.fileWatcherType",
        "none",
        "--server.runOnSave",
        "false",
        "--browser.gatherUsageStats",
        "false",
        "--client.showErrorDetails",
        "none",
        "--client.toolbarMode",
        "minimal",
        "--global.developmentMode",
        "false",
    ]


@app.command("dashboard")
def dashboard_command(
    port: Annotated[
        int, typer.Option("--port", min=1, max=65535, help="The port to listen on.")
    ] = 8501,
    host: Annotated[
        str,
        typer.Option(
            "--host",
            help="The address to listen on. Loopback by default; any other address needs "
            "CERBERO_BITE_DASHBOARD_PASSWORD (or _FILE). An SSH tunnel is the safer way "
            "in from another machine (docs/runbook.md).",
        ),
    ] = "127.0.0.1",
    crontab: Annotated[
        Path | None,
        typer.Option(
            "--crontab",
            help="The crontab that schedules the jobs, for the next runs (default: the "
            "file named crontab beside the config).",
            show_default=False,
        ),
    ] = None,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    as_json: JsonOption = False,
    log_level: LogLevelOption = "WARNING",
) -> None:
    """Start the dashboard: positions, history, safety and backtests in a browser.

    It reads the data dir's SQLite read-only and the audit log; it never calls a broker
    and never takes the job lock, so it can stay open while the jobs run. Its one action
    is arming the kill switch. Stop it with Ctrl-C.
    """
    import importlib.util
    import os
    import sys

    from bite.clock import NOW_ENV
    from bite.config.loader import load_config
    from bite.config.secrets import DASHBOARD_PASSWORD, read_secret
    from bite.context import resolve_config_path, resolve_data_dir
    from bite.dashboard.views import CRONTAB_ENV

    with _exit_codes():
        _view(log_level)
        if importlib.util.find_spec("streamlit") is None:
            raise UsageError(
                "the dashboard needs the optional extra: `make dashboard`, or "
                "`pip install 'cerbero-bite[dashboard]'`"
            )
        env = dict(environ())
        if not is_loopback(host) and not read_secret(DASHBOARD_PASSWORD, env):
            raise UsageError(
                f"--host {host} is reachable from other machines: set {DASHBOARD_PASSWORD} "
                f"(or {DASHBOARD_PASSWORD}_FILE) first, or keep the loopback address and "
                "use an SSH tunnel (docs/runbook.md)"
            )
        config_path = resolve_config_path(config, env).resolve()
        env["CERBERO_BITE_CONFIG"] = str(config_path)
        env["CERBERO_BITE_DATA_DIR"] = str(resolve_data_dir(data_dir, env).resolve())
        if crontab is not None:
            env[CRONTAB_ENV] = str(crontab.resolve())
        if NOW_ENV in env:  # a fixed instant, as the jobs honour it: in paper only
            try:
                paper = load_config(config_path).config.execution.environment == "paper"
            except UsageError:
                paper = False
            if not paper:
                del env[NOW_ENV]
        where = f"[{host}]" if ":" in host else host
        url = f"http://{where}:{port}"
        if as_json:  # one object, then the server's own lines
            _emit(
                {"url": url, "data_dir": env["CERBERO_BITE_DATA_DIR"], "config": str(config_path)}
            )
        else:
            typer.echo(f"Cerbero Bite dashboard on {url} (Ctrl-C stops it)")
        sys.stdout.flush()
        if as_json:
            os.dup2(2, 1)  # the server's own lines go to stderr
        # the process becomes the server: a signal (Ctrl-C, systemd's stop) reaches it
        # directly and no child is left behind
        argv = streamlit_argv(sys.executable, host, port)
        os.execve(sys.executable, argv, env)  # noqa: S606 - our interpreter, our argv
