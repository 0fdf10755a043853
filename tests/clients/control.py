"""The harness's verbs over HTTP, for the JavaScript suite: `POST /<verb>` with a JSON body, JSON back.

Served on loopback from a thread of the pytest process while `node --test` runs; each verb is a method
of tests/clients/harness.py's ClientWorld.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.clients.harness import SERVERS, ClientWorld
from tests.realtime.helpers import ALICE, BUSINESS
from tests.reliability.clients import INBOX
from tests.reliability.cluster import Server


def done(verb: Callable[[Any], None], argument: Any) -> dict[str, Any]:
    verb(argument)
    return {"done": True}


def slow_link(world: ClientWorld, server: Server) -> dict[str, Any]:
    link = world.slow_link(server)
    return {"link": world.links.index(link), "url": link.url_for(INBOX)}


def verbs(world: ClientWorld) -> dict[str, Callable[[dict[str, Any]], dict[str, Any]]]:
    return {
        "setup": lambda _: {
            "servers": list(SERVERS),
            "urls": {server: world.ws_url(server) for server in SERVERS},
            "token": world.token,
            "customer": ALICE,
            "business": BUSINESS,
        },
        "last-seq": lambda _: {"seq": world.last_seq()},
        "record": lambda body: {"seq": world.record(int(body.get("count", 1)))},
        "restart": lambda body: {"seq": world.restart(body["server"], int(body.get("during", 0)))},
        "freeze": lambda body: done(world.freeze, body["server"]),
        "kill-frozen": lambda body: done(world.kill_frozen, body["server"]),
        "prune": lambda _: {"seq": world.prune()},
        "slow-link": lambda body: slow_link(world, body["server"]),
        "pause-link": lambda body: done(lambda index: world.links[index].pause(), int(body["link"])),
        "resume-link": lambda body: done(lambda index: world.links[index].resume(), int(body["link"])),
        "record-for": lambda body: {"seq": world.record_for(float(body["seconds"]))},
    }


@contextmanager
def serving(world: ClientWorld) -> Iterator[str]:
    """Serve the verbs on a free loopback port; yields the base URL."""
    table = verbs(world)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            verb = self.path.strip("/")
            length = int(self.headers.get("Content-Length") or 0)
            try:
                body = json.loads(self.rfile.read(length) or b"{}")
                status, answer = 200, table[verb](body)
            except KeyError:
                status, answer = 404, {"error": "unknown_verb", "detail": verb}
            except Exception as error:
                status, answer = 500, {"error": type(error).__name__, "detail": str(error)}
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
