"""Webhook deliveries to a local receiver: how many per second, and recorded → delivered delay."""

import json
import statistics
import threading
import time
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .client import Connection


class Receiver:
    """An HTTP server in this process that notes when each delivery arrives."""

    def __init__(self) -> None:
        self.arrivals: dict[str, tuple[float, str]] = {}  # webhook-id: (time, recorded_at)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                receiver.arrivals.setdefault(
                    self.headers["webhook-id"], (time.time(), body["data"]["recorded_at"])
                )
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/hook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def measure(port: int, token: str, count: int, codes: list[str]) -> dict:
    """Subscribe, record ``count`` accessions of a fresh group, wait for every delivery."""
    receiver = Receiver()
    connection = Connection(port, token)
    try:
        group = {
            "slug": "bench-webhooks",
            "name": "Webhook bench",
            "established_on": "2024-01-01",
            "member_kinds": ["country"],
        }
        assert connection.request("POST", "/api/v1/groups", group)[0] == 201
        hook = {"url": receiver.url, "groups": ["bench-webhooks"], "types": ["event.recorded"]}
        status, body = connection.request("POST", "/api/v1/webhooks", hook)
        assert status == 201, body
        started = time.time()
        for code in codes[:count]:
            body = {"participant": code, "effective_on": "2025-01-01"}
            status, _ = connection.request("POST", "/api/v1/groups/bench-webhooks/accessions", body)
            assert status == 201
        deadline = time.time() + 120
        while len(receiver.arrivals) < min(count, len(codes)) and time.time() < deadline:
            time.sleep(0.01)
        arrivals = list(receiver.arrivals.values())
        delays = sorted(
            at - datetime.fromisoformat(recorded.replace("Z", "+00:00")).timestamp()
            for at, recorded in arrivals
        )
        last = max(at for at, _ in arrivals)
        return {
            "delivered": len(arrivals),
            "per_s": len(arrivals) / (last - started),
            "median_ms": statistics.median(delays) * 1000,
            "p95_ms": delays[int(0.95 * (len(delays) - 1))] * 1000,
        }
    finally:
        connection.close()
        receiver.close()
