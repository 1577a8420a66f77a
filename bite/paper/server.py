"""``bite paper serve``: the paper services over real HTTP on 127.0.0.1.

Serves ``POST /{service}/tools/{tool}`` and ``GET /{service}/health`` for all
four services on one port, follows ``X-Bite-Now``, checks the bearer token only
when ``paper.serve_token`` is set, and applies the faults it was started with.

A hostile request gets a JSON error, never a dropped connection: a bad request
line, a body that is not a JSON object, a wrong argument type or a bad
``X-Bite-Now`` is 400, a body over ``MAX_BODY_BYTES`` is 413 (never read), and
a client that stalls is cut after ``READ_TIMEOUT_S``. A non-loopback address
needs a token.
"""

from __future__ import annotations

import contextlib
import hmac
import ipaddress
import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from bite.clock import Clock
from bite.errors import BiteError, UsageError
from bite.paper.service import Answer, PaperService
from bite.paper.transport import request_time, route

log = logging.getLogger("bite.paper.server")
MAX_BODY_BYTES = 1 << 20  # the largest real call is a few hundred bytes
READ_TIMEOUT_S = 10.0


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine only (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _BadRequestError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code = status, code


def make_server(
    service: PaperService, clock: Clock, host: str, port: int, token: str | None
) -> ThreadingHTTPServer:
    """A threading HTTP server bound to ``host:port`` (port 0: any free port)."""
    if not is_loopback(host) and not token:
        raise UsageError(
            f"paper serve on {host} (not loopback) needs paper.serve_token: "
            "anyone who can reach it could trade the paper account"
        )
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        server_version = "bite-paper"
        timeout = READ_TIMEOUT_S  # a stalled client cannot hold a thread

        def send_error(
            self, code: int, message: str | None = None, explain: str | None = None
        ) -> None:
            """http.server's own errors (a garbage request line) as JSON too."""
            self.close_connection = True
            if self.request_version == "HTTP/0.9":  # a garbage request line: answer in 1.0
                self.request_version = "HTTP/1.0"
            with contextlib.suppress(OSError):
                self._send(code, {"error": {"code": f"http_{code}", "message": message or ""}})

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("%s %s", getattr(self, "command", None), getattr(self, "path", None))

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
            try:
                args = self._arguments()
                now = request_time(self.headers.get("X-Bite-Now"), clock)
            except (_BadRequestError, BiteError) as exc:
                status = exc.status if isinstance(exc, _BadRequestError) else 400
                code = exc.code if isinstance(exc, _BadRequestError) else "bad_time"
                if status == 413:  # the unread body stays on the wire
                    self.close_connection = True
                self._send(status, {"error": {"code": code, "message": str(exc)}})
                return
            with lock:
                answer = self._call(target[0], target[1], args, now)
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

        def _arguments(self) -> dict[str, Any]:
            raw = self.headers.get("Content-Length", "0") or "0"
            if not raw.strip().isdigit():
                raise _BadRequestError(400, "bad_length", f"Content-Length {raw[:20]!r}")
            length = int(raw)
            if length > MAX_BODY_BYTES:
                raise _BadRequestError(413, "too_large", f"body over {MAX_BODY_BYTES} bytes")
            body = self.rfile.read(length) if length else b""
            if len(body) < length:
                raise _BadRequestError(400, "short_body", "the body ended early")
            try:
                args = json.loads(body or b"{}")
            except (json.JSONDecodeError, UnicodeDecodeError):
                raise _BadRequestError(400, "bad_json", "the body is not JSON") from None
            if not isinstance(args, dict):
                raise _BadRequestError(
                    400, "bad_json", "the body must be a JSON object of arguments"
                )
            return args

        def _call(self, service_name: str, tool: str, args: dict[str, Any], now: Any) -> Answer:
            try:
                return service.call(service_name, tool, args, now)
            except (TypeError, ValueError, ArithmeticError, AttributeError) as exc:
                message = f"an argument of the wrong type or value ({type(exc).__name__})"
                return Answer(400, {"error": {"code": "bad_request", "message": message}})
            except Exception:
                log.exception("paper serve: %s.%s failed", service_name, tool)
                return Answer(500, {"error": {"code": "internal", "message": "see the log"}})

    return ThreadingHTTPServer((host, port), Handler)
