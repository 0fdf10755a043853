"""A loopback TCP relay to a hub that can stop reading from it: to the hub, its client stopped reading.

A client's own receive buffer is tuned by the kernel (up to `net.ipv4.tcp_rmem`'s maximum, tens of
megabytes), and a client library may read on while its app is busy. The relay reads the hub's side
through a 4 KiB receive buffer and, paused, reads nothing at all, so the hub's writes back up within a
few hundred events, whatever the client and its platform. The client's frames still go through.
"""

from __future__ import annotations

import contextlib
import socket
import threading

RELAY_RECEIVE_BUFFER = 4096


class SlowLink:
    """`url_for(path)` reaches the hub on `port` through the relay; `pause()` stops reading the hub."""

    def __init__(self, port: int) -> None:
        self.target = ("127.0.0.1", port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.reading = threading.Event()
        self.reading.set()
        self.sockets: list[socket.socket] = []
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def url_for(self, path: str) -> str:
        return f"ws://127.0.0.1:{self.port}{path}"

    def pause(self) -> None:
        self.reading.clear()

    def resume(self) -> None:
        self.reading.set()

    def close(self) -> None:
        self.closed = True
        self.reading.set()
        for each in [self.listener, *self.sockets]:
            with contextlib.suppress(OSError):
                each.close()

    def _accept(self) -> None:
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            hub = socket.socket()
            hub.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RELAY_RECEIVE_BUFFER)
            try:
                hub.connect(self.target)
            except OSError:
                client.close()
                continue
            self.sockets += [client, hub]
            threading.Thread(target=self._pump, args=(client, hub, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(hub, client, True), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, pausable: bool) -> None:
        try:
            while True:
                if pausable:
                    self.reading.wait()
                data = source.recv(65536)
                if not data:
                    break
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for each in (source, sink):
                with contextlib.suppress(OSError):
                    each.shutdown(socket.SHUT_RDWR)
