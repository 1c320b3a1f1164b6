"""One HTTP POST of a delivery: no redirects followed, a timeout, the answer or the error."""

import http.client
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from .targets import refusal


@dataclass(frozen=True)
class Outcome:
    """What one attempt got: a status code or an error, and how long it took."""

    status_code: int | None
    error: str | None
    latency_ms: int

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def post(url: str, body: bytes, headers: dict, timeout: float, allow_private: bool) -> Outcome:
    """POST ``body`` to ``url``; a 3xx is an answer like any other, not followed."""
    started = time.monotonic()

    def elapsed() -> int:
        return int((time.monotonic() - started) * 1000)

    # Checked again at each send: the name may resolve elsewhere than when it was registered.
    reason = refusal(url, allow_private)
    if reason is not None:
        return Outcome(None, f"refused: {reason}", elapsed())
    parts = urlsplit(url)
    kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    connection = kind(parts.hostname, parts.port, timeout=timeout)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request(
            "POST",
            path,
            body=body,
            headers={
                **headers,
                "Content-Type": "application/json",
                "User-Agent": "friendsgroup-webhooks",
            },
        )
        response = connection.getresponse()
        response.read(64 * 1024)
        status = response.status
    except (OSError, http.client.HTTPException) as error:
        return Outcome(None, f"{type(error).__name__}: {error}"[:500], elapsed())
    finally:
        connection.close()
    error = None if 200 <= status < 300 else f"HTTP {status}"
    if 300 <= status < 400:
        error = f"HTTP {status}: redirects are not followed"
    return Outcome(status, error, elapsed())
