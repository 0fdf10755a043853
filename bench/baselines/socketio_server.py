"""python-socketio with its Redis manager, served by uvicorn: the usual Python answer to fan-out.

Every socket joins the default namespace; a `bench` event emitted by any AsyncRedisManager on the
same channel (the publisher in bench/publishers.py) goes to all of them.

    REDIS_URL=redis://127.0.0.1:6379/0 uvicorn bench.baselines.socketio_server:app
"""

from __future__ import annotations

import importlib
import os
from typing import Any

from bench.workers import raise_fd_limit

# python-socketio ships no type information: used as Any.
socketio: Any = importlib.import_module("socketio")

CHANNEL = "bench-socketio"
EVENT = "bench"

raise_fd_limit()
manager = socketio.AsyncRedisManager(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"), channel=CHANNEL)
server = socketio.AsyncServer(async_mode="asgi", client_manager=manager, transports=["websocket"])
app = socketio.ASGIApp(server)
