"""Keep-alive only after a body read to its end: an unread body ends the connection."""

# A module of its own beside server.py, free of gunicorn, so that it is tested without one.


class WatchedBody:
    """The request body as the application reads it, noting whether it reached the end."""

    def __init__(self, stream, length: int | None) -> None:
        self._stream = stream
        self._left = length  # None: chunked, the end is where a read returns nothing
        self.finished = length == 0

    def _seen(self, data: bytes, size) -> bytes:
        if not data:
            if size != 0:
                self.finished = True
        elif self._left is not None:
            self._left -= len(data)
            self.finished = self._left <= 0
        return data

    def read(self, size=None) -> bytes:
        return self._seen(self._stream.read(size), size)

    def readline(self, size=None) -> bytes:
        return self._seen(self._stream.readline(size), size)

    def readlines(self, hint=None) -> list[bytes]:
        return list(self)

    def __iter__(self):
        return iter(self.readline, b"")


def body_length(environ) -> int | None:
    """The announced length of the request body: None for chunked, 0 for none at all."""
    if "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
        return None
    return int(environ.get("CONTENT_LENGTH") or 0)


def closing_unread_bodies(app):
    """Wrap a WSGI app so that a response to a request whose body it left unread (a 401, 413,
    415 or 404 answered before the body was needed) says ``Connection: close``.

    Otherwise the server announces keep-alive, gives up draining a large body and closes,
    and a keep-alive client's next request on that connection fails.
    """

    def wsgi(environ, start_response):
        body = WatchedBody(environ["wsgi.input"], body_length(environ))
        environ["wsgi.input"] = body

        def start(status, headers, exc_info=None):
            if not body.finished:
                close_after(start_response)
            return start_response(status, headers, exc_info)

        return app(environ, start)

    return wsgi


def close_after(start_response) -> None:
    """Make the server close the connection after this response.

    A ``Connection`` header from the application is hop-by-hop, which gunicorn drops; its
    response object (the owner of ``start_response``) closes on ``force_close()``.
    """
    force_close = getattr(getattr(start_response, "__self__", None), "force_close", None)
    if force_close is not None:
        force_close()
