"""igent serve's transport sends an answer's head and body in one write (cli/serve_http.py)."""

from __future__ import annotations

import asyncio

from igent.cli.serve_http import CoalescingTransport


class RecordingTransport:
    """The part of an asyncio transport the coalescing one uses, recording what it gets."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        assert not self.closed
        self.writes.append(data)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str) -> str:
        return f"info {name}"


async def test_a_head_and_its_body_go_out_in_one_write() -> None:
    real = RecordingTransport()
    transport = CoalescingTransport(real, asyncio.get_running_loop())  # type: ignore[arg-type]

    transport.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
    transport.write(b"{}")
    await asyncio.sleep(0)

    assert real.writes == [b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}"]


async def test_a_lone_write_goes_out_at_the_next_turn_of_the_loop() -> None:
    real = RecordingTransport()
    transport = CoalescingTransport(real, asyncio.get_running_loop())  # type: ignore[arg-type]

    transport.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")  # a stream's head
    assert real.writes == []
    await asyncio.sleep(0)

    assert real.writes == [b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"]


async def test_close_sends_what_is_held_first_and_the_rest_is_the_real_transports() -> None:
    real = RecordingTransport()
    transport = CoalescingTransport(real, asyncio.get_running_loop())  # type: ignore[arg-type]

    transport.write(b"last")
    transport.close()
    await asyncio.sleep(0)  # the scheduled flush finds nothing to send

    assert real.writes == [b"last"] and real.closed
    assert transport.get_extra_info("peername") == "info peername"
