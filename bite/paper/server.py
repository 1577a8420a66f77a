"""``bite paper serve``: the paper services over real HTTP on 127.0.0.1.

Serves ``POST /{service}/tools/{tool}`` and ``GET /{service}/health`` for all
four services on one port, follows ``X-Bite-Now``, checks the bearer token only
when ``paper.serve_token`` is set, and applies the faults it was started with.
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from bite.clock import Clock
from bite.paper.service import PaperService
from bite.paper.transport import request_time, route

log = logging.getLogger("bite.paper.server")


def make_server(
    service: PaperService, clock: Clock, host: str, port: int, token: str | None
) -> ThreadingHTTPServer:
    """A threading HTTP server bound to ``host:port`` (port 0: any free port)."""
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        server_version = "bite-paper"

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("%s %s", self.command, self.path)

        def _send(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _authorized(self) -> bool:
            if not token:
                return True
            given = self.headers.get("Authorization", "")
            return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())

        def do_GET(self) -> None:
            target = route(self.path)
            if target is None or target[1] != "health":
                self._send(404, {"error": {"code": "not_found", "message": self.path}})
                return
            with lock:
                answer = service.health(target[0])
            if answer.timeout:
                self.close_connection = True
                return
            self._send(answer.status, answer.body)

        def do_POST(self) -> None:
            target = route(self.path)
            if target is None or target[1] == "health":
                self._send(404, {"error": {"code": "not_found", "message": self.path}})
                return
            if not self._authorized():
                self._send(401, {"error": {"code": "unauthorized", "message": "bad token"}})
                return
            length = int(self.headers.get("Content-Length", "0") or 0)
            try:
                args = json.loads(self.rfile.read(length) or b"{}")
            except json.JSONDecodeError:
                self._send(400, {"error": {"code": "bad_json", "message": "body"}})
                return
            now = request_time(self.headers.get("X-Bite-Now"), clock)
            with lock:
                answer = service.call(target[0], target[1], args, now)
            if answer.latency_ms:
                time.sleep(answer.latency_ms / 1000)
            if answer.timeout or answer.lose_response:
                self.close_connection = True
                return
            if answer.malformed:
                data = b'{"result": [unterminated'
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                return
            self._send(answer.status, answer.body)

    return ThreadingHTTPServer((host, port), Handler)
