"""The load client: keep-alive HTTP over loopback, run in its own process."""

import http.client
import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import Any


class Connection:
    """One keep-alive HTTP/1.1 connection to the server."""

    def __init__(self, port: int, token: str | None = None) -> None:
        self.port = port
        self.headers = {"Accept": "application/json"}
        if token:
            self.headers["Authorization"] = f"Bearer {token}"
        self.http = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, bytes]:
        """Status and body; a GET is retried once on a connection the server had closed."""
        headers = dict(self.headers)
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        try:
            return self._send(method, path, data, headers)
        except (http.client.RemoteDisconnected, ConnectionError):
            # A POST is not retried: it may have been recorded.
            if method != "GET":
                raise
            self.http.close()
            return self._send(method, path, data, headers)

    def _send(self, method, path, data, headers) -> tuple[int, bytes]:
        self.http.request(method, path, body=data, headers=headers)
        response = self.http.getresponse()
        return response.status, response.read()

    def close(self) -> None:
        self.http.close()


def latency(
    port: int, paths: list[str], warmup: int, every_answer: bool = False, as_json: bool = True
) -> tuple[list[float], list]:
    """Seconds per GET of each path after the first ``warmup`` (unmeasured), and the
    answers of the measured ones (of the last one only, unless ``every_answer``), as JSON
    or as text."""
    return collected(get_steps(port, paths), warmup, every_answer, as_json)


def get_steps(port: int, paths: list[str]) -> Iterator[tuple[float, bytes]]:
    """Each GET in turn, on one keep-alive connection: its seconds and its body."""
    connection = Connection(port)
    try:
        for path in paths:
            started = time.perf_counter()
            status, body = connection.request("GET", path)
            elapsed = time.perf_counter() - started
            if status != 200:
                raise RuntimeError(f"GET {path} answered {status}: {body[:300]!r}")
            yield elapsed, body
    finally:
        connection.close()


def collected(
    steps: Iterable[tuple[float, Any]], warmup: int, every_answer: bool, as_json: bool = True
) -> tuple[list[float], list]:
    """The seconds of the steps after the first ``warmup``, and their answers (the last
    one's only, unless ``every_answer``; bytes decoded as JSON, or as text)."""
    timings, answers = [], []
    for i, (elapsed, answer) in enumerate(steps):
        if i < warmup:
            continue
        timings.append(elapsed)
        if every_answer or not answers:
            answers.append(answer)
        else:
            answers[-1] = answer
    return timings, [_decoded(answer, as_json) for answer in answers]


Series = dict[str, tuple[Callable[..., Iterable[tuple[float, Any]]], tuple, bool]]


def interleaved(series: Series, warmup: int, block: int) -> dict[str, tuple[list[float], list]]:
    """Series of steps taken in turn, ``block`` steps of each, so that whatever else the
    machine does falls on all of them alike rather than on the one it happens to meet.

    Each series is (its steps' function, that function's arguments, every_answer); the result
    gives each ``collected``'s timings and answers. A block of several steps keeps a series'
    caches as warm as a run of it alone would (a step after another series' is a cold one).
    """
    running = {name: iter(function(*args)) for name, (function, args, _) in series.items()}
    taken: dict[str, list] = {name: [] for name in series}
    while running:
        for name in list(running):
            done, before = taken[name], len(taken[name])
            for step in islice(running[name], block):
                if done and not series[name][2]:
                    done[-1] = (done[-1][0], None)  # only the last answer is kept
                done.append(step)
            if len(done) - before < block:  # the series has no more steps
                del running[name]
    return {name: collected(taken[name], warmup, series[name][2]) for name in series}


def _decoded(answer: Any, as_json: bool) -> Any:
    if not isinstance(answer, bytes):
        return answer
    return json.loads(answer) if as_json else answer.decode()


def post_all(
    port: int, token: str, requests: list[tuple[str, dict]], clients: int
) -> tuple[list[tuple[int, dict | None]], float]:
    """POST each (path, body) from ``clients`` threads, each on its own connection.

    Returns (status, JSON answer) in request order, and the seconds from the common start
    to the last answer. A transport error is status 0: its outcome is unknown.
    """
    results: list[tuple[int, dict | None]] = [(0, None)] * len(requests)
    chunks = [range(len(requests))[t::clients] for t in range(clients)]
    start = threading.Barrier(clients + 1)
    errors: list[BaseException] = []

    def work(indexes: range) -> None:
        connection = Connection(port, token)
        try:
            start.wait()
            for i in indexes:
                path, body = requests[i]
                try:
                    status, answer = connection.request("POST", path, body)
                except (OSError, http.client.HTTPException):
                    connection.close()
                    connection = Connection(port, token)
                    continue
                results[i] = (status, json.loads(answer) if answer else None)
        except BaseException as error:  # a fault of the bench: raised in the caller below
            errors.append(error)
            start.abort()
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(chunk,)) for chunk in chunks]
    for thread in threads:
        thread.start()
    try:
        start.wait()
    except threading.BrokenBarrierError:
        pass
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results, time.perf_counter() - began
