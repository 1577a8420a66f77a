"""``paper serve`` under hostile requests: a JSON error for each, never a dropped line.

The server runs in this process on 127.0.0.1 (port 0) over a real socket; the
fuzz test sends random bodies to every tool and checks the status and the JSON.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from bite.clock import WallClock
from bite.config.schema import StrategyConfig
from bite.errors import UsageError
from bite.paper.series import build_market
from bite.paper.server import MAX_BODY_BYTES, make_server
from bite.paper.service import PaperService
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

TOOLS = [
    "ticker",
    "instruments",
    "book_summary",
    "place_combo_order",
    "edit_order",
    "cancel_order",
    "orders_by_label",
    "trades_by_order",
    "index_price",
    "positions",
]


@pytest.fixture(scope="module")
def port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    directory = tmp_path_factory.mktemp("hostile")
    cfg = StrategyConfig()
    service = PaperService(cfg, directory, build_market(cfg, directory), {})
    server = make_server(service, WallClock(), "127.0.0.1", 0, None)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        service.close()


def exchange(port: int, data: bytes, *, half_close: bool = False) -> tuple[int, Any]:
    """Send raw bytes; return the status and the JSON body of the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        sock.sendall(data)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    assert head, f"no answer to {data[:60]!r}"
    status = int(head.split(b" ", 2)[1])
    return status, json.loads(body)


def post(port: int, body: bytes, *, tool: str = "ticker", headers: str = "") -> tuple[int, Any]:
    request = (
        f"POST /deribit/tools/{tool} HTTP/1.1\r\nHost: x\r\n{headers}"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    return exchange(port, request)


@pytest.mark.parametrize(
    ("body", "headers", "status", "code"),
    [
        (b"[1, 2]", "", 400, "bad_json"),
        (b'"a string"', "", 400, "bad_json"),
        (b"{not json", "", 400, "bad_json"),
        (b"\xff\xfe", "", 400, "bad_json"),
        (b'{"instrument_name": 5}', "", 400, "bad_request"),
        (b'{"instrument_name": ["x"]}', "", 400, "bad_request"),
        (b"{}", "X-Bite-Now: yesterday\r\n", 400, "bad_time"),
        (b"{}", "X-Bite-Now: 9999-12-31T00:00:00Z\r\n", 400, "bad_time"),
    ],
)
def test_a_bad_body_or_header_is_a_json_400(
    port: int, body: bytes, headers: str, status: int, code: str
) -> None:
    got, answer = post(port, body, headers=headers)
    assert got == status
    assert answer["error"]["code"] == code


@pytest.mark.parametrize(
    ("length", "status", "code"),
    [("abc", 400, "bad_length"), ("-1", 400, "bad_length"), ("1e3", 400, "bad_length")],
)
def test_a_bad_content_length_is_a_json_400(port: int, length: str, status: int, code: str) -> None:
    # the header alone is refused: no body is waited for (a dropped line would have no JSON)
    request = f"POST /deribit/tools/ticker HTTP/1.1\r\nContent-Length: {length}\r\n\r\n"
    got, answer = exchange(port, request.encode())
    assert (got, answer["error"]["code"]) == (status, code)


@pytest.mark.parametrize("length", [MAX_BODY_BYTES + 1, 200_000_000, 10**20])
def test_a_huge_body_is_refused_without_being_read(port: int, length: int) -> None:
    request = f"POST /deribit/tools/ticker HTTP/1.1\r\nContent-Length: {length}\r\n\r\n"
    got, answer = exchange(port, request.encode())
    assert (got, answer["error"]["code"]) == (413, "too_large")


def test_a_body_shorter_than_its_length_is_a_400(port: int) -> None:
    request = b"POST /deribit/tools/ticker HTTP/1.1\r\nContent-Length: 50\r\n\r\n{}"
    got, answer = exchange(port, request, half_close=True)
    assert (got, answer["error"]["code"]) == (400, "short_body")


@pytest.mark.parametrize(
    "line", [b"GARBAGE\r\n\r\n", b"\x00\x01 / HTTP/9.9\r\n\r\n", b"GET / HTTP/1.1 extra\r\n\r\n"]
)
def test_a_garbage_request_line_gets_a_json_error(port: int, line: bytes) -> None:
    got, answer = exchange(port, line)
    assert 400 <= got < 600
    assert "error" in answer


def test_the_server_still_answers_a_good_call_after_the_hostile_ones(port: int) -> None:
    got, answer = post(port, b"{}", tool="index_price")
    assert got == 200
    assert "index_price" in json.dumps(answer)


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    tool=st.sampled_from(TOOLS),
    body=st.one_of(
        st.binary(max_size=200),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
            lambda inner: (
                st.lists(inner, max_size=3)
                | st.dictionaries(
                    st.sampled_from(
                        ["instrument_name", "amount", "price", "label", "order_id", "legs", "side"]
                    ),
                    inner,
                    max_size=4,
                )
            ),
            max_leaves=8,
        ).map(lambda value: json.dumps(value).encode()),
    ),
)
def test_fuzz_random_bodies_get_a_documented_status_and_json(
    port: int, tool: str, body: bytes
) -> None:
    got, answer = post(port, body, tool=tool)
    assert got in (200, 400, 404, 409), (tool, body, got, answer)
    assert isinstance(answer, dict | list)


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.1", "::"])  # noqa: S104 - refused, never bound
def test_a_non_loopback_address_without_a_token_is_refused(tmp_path: Path, host: str) -> None:
    cfg = StrategyConfig()
    service = PaperService(cfg, tmp_path, build_market(cfg, tmp_path), {})
    try:
        with pytest.raises(UsageError, match="serve_token"):
            make_server(service, WallClock(), host, 0, None)
    finally:
        service.close()
