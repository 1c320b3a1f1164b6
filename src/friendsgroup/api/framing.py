"""A chunked request body read whole and bounded: 413 past the limit, 400 when malformed."""

import io

from flask import current_app, request
from werkzeug.wsgi import get_content_length

from ..errors import bad_request, payload_too_large

# Read this much at a time: a body over the limit costs at most the limit and one step.
STEP = 64 * 1024


def bound_chunked_body() -> None:
    """Read a chunked body (no ``Content-Length``) into memory, at most MAX_CONTENT_LENGTH.

    werkzeug stops reading a chunked body at the limit without saying so, so a body over it
    was parsed truncated (400) or, padded with whitespace, accepted whole (201). Read here it
    is refused whole (413), and afterwards it is a plain body of known length. Call before
    anything reads ``request.stream``.
    """
    environ = request.environ
    # From the environ: ``request.content_length`` is cached, and would keep saying None.
    if get_content_length(environ) is not None or not environ.get("wsgi.input_terminated"):
        return
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    stream = environ["wsgi.input"]
    parts: list[bytes] = []
    size = 0
    try:
        while limit is None or size <= limit:
            part = stream.read(STEP if limit is None else min(STEP, limit + 1 - size))
            if not part:
                break
            parts.append(part)
            size += len(part)
    # The server's framing errors (a bad chunk size or trailer, a client gone or too slow)
    # share no base class: each means the body cannot be read as sent.
    except Exception as error:
        raise bad_request("the chunked body is malformed or incomplete", field="body") from error
    if limit is not None and size > limit:
        raise payload_too_large(f"the body is over the limit of {limit} bytes")
    data = b"".join(parts)
    environ["wsgi.input"] = io.BytesIO(data)
    environ["CONTENT_LENGTH"] = str(len(data))
    environ.pop("HTTP_TRANSFER_ENCODING", None)
    environ.pop("wsgi.input_terminated", None)
