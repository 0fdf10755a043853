"""A lean WebSocket reader for fan-out throughput: counts frames in `data_received`, no task per frame.

A thousand sockets receiving a burst means a million frames; the `websockets` asyncio client spends
tens of microseconds on each (a future, a queue, a task switch), which on two cores makes the client,
not the server, the limit. This reader does the RFC 6455 handshake itself, then only walks frame
headers (server frames are unmasked), reads the payload of the first `record_limit` text frames for
their `bench:` stamp, answers pings (and Engine.IO's `2` ping with `3`), and notes the close code.
It is used for every server alike, so the comparison stays fair.
"""

from __future__ import annotations

import asyncio
import base64
import os
import time
from urllib.parse import urlsplit

from bench.ws_load import SocketStats, stamp_of

OP_TEXT, OP_CLOSE, OP_PING, OP_PONG = 0x1, 0x8, 0x9, 0xA


def client_frame(opcode: int, payload: bytes) -> bytes:
    """A masked client frame (payloads here are a few bytes)."""
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + masked


class CountingProtocol(asyncio.Protocol):
    def __init__(self, stats: SocketStats, record_limit: int, socketio: bool) -> None:
        self.stats, self.record_limit, self.socketio = stats, record_limit, socketio
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self.handshake: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.upgraded = False
        self.first_text: asyncio.Future[str] | None = None
        self.closing = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.handshake.done():
            self.handshake.set_exception(ConnectionError("closed during the handshake"))
        if not self.closed.done():
            self.closed.set_result(None)
        if self.upgraded and not self.closing and self.stats.close_code is None:
            self.stats.lost = True

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.upgraded:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buffer[:end])
            del self.buffer[: end + 4]
            self.upgraded = True
            self.handshake.set_result(head)
        self._frames()

    def _frames(self) -> None:
        buf, offset, size = self.buffer, 0, len(self.buffer)
        stats = self.stats
        while size - offset >= 2:
            opcode, length = buf[offset] & 0x0F, buf[offset + 1] & 0x7F
            start = offset + 2
            if length == 126:
                if size - offset < 4:
                    break
                length, start = int.from_bytes(buf[offset + 2 : offset + 4], "big"), offset + 4
            elif length == 127:
                if size - offset < 10:
                    break
                length, start = int.from_bytes(buf[offset + 2 : offset + 10], "big"), offset + 10
            if size < start + length:
                break
            offset = start + length
            if opcode == OP_TEXT:
                self._text(buf, start, offset, stats)
            elif opcode == OP_PING and self.transport is not None:
                self.transport.write(client_frame(OP_PONG, bytes(buf[start:offset])))
            elif opcode == OP_CLOSE:
                stats.close_code = int.from_bytes(buf[start : start + 2], "big") if length >= 2 else 1005
        del buf[:offset]

    def _text(self, buf: bytearray, start: int, end: int, stats: SocketStats) -> None:
        if self.first_text is not None and not self.first_text.done():
            self.first_text.set_result(bytes(buf[start:end]).decode())
            return
        if self.socketio and end - start == 1 and buf[start] == 0x32:  # Engine.IO ping "2"
            if self.transport is not None:
                self.transport.write(client_frame(OP_TEXT, b"3"))
            return
        now = time.time()
        stats.count += 1
        stats.first = stats.first or now
        stats.last = now
        if len(stats.stamps) < self.record_limit:
            stamp = stamp_of(bytes(buf[start : min(end, start + 4096)]).decode(errors="replace"))
            if stamp is not None:
                stats.stamps.append((stamp, (now - stamp) * 1000))

    async def next_text(self, seconds: float) -> str:
        self.first_text = asyncio.get_running_loop().create_future()
        try:
            return await asyncio.wait_for(self.first_text, seconds)
        finally:
            self.first_text = None

    def close(self) -> None:
        self.closing = True
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(client_frame(OP_CLOSE, (1000).to_bytes(2, "big")))
            self.transport.close()


async def open_counting(
    url: str, headers: dict[str, str], stats: SocketStats, record_limit: int, socketio: bool
) -> CountingProtocol:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    loop = asyncio.get_running_loop()
    _, protocol = await loop.create_connection(
        lambda: CountingProtocol(stats, record_limit, socketio), host, port
    )
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [
        f"GET {target} HTTP/1.1",
        f"Host: {host}:{port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    assert protocol.transport is not None
    protocol.transport.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    head = await asyncio.wait_for(protocol.handshake, 30)
    if not head.startswith(b"HTTP/1.1 101"):
        protocol.close()
        raise ConnectionError(head.split(b"\r\n", 1)[0].decode(errors="replace"))
    if socketio:
        # Engine.IO v4: the open packet, then join the default namespace and wait for its answer.
        await protocol.next_text(10)
        protocol.transport.write(client_frame(OP_TEXT, b"40"))
        while not (await protocol.next_text(10)).startswith("40"):
            pass
    return protocol
