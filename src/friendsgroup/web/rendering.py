"""An HTML page: rendered once, tagged, and answered 304 when the browser has it."""

import hashlib

from flask import Response, render_template, request

# No inline script or style anywhere: every script and stylesheet is a file of this site.
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
# The chart stands alone and may be embedded anywhere; it loads nothing.
SVG_CSP = "default-src 'none'"
HTML = "text/html; charset=utf-8"


def tagged(body: str, mimetype: str, csp: str, status: int = 200) -> Response:
    """A response with a weak ETag over its bytes, 304 when ``If-None-Match`` has it."""
    response = Response(body, status=status, content_type=mimetype)
    response.headers["Content-Security-Policy"] = csp
    response.headers["Vary"] = "Accept-Language"
    # Revalidate every time: the page changes when the registry does.
    response.headers["Cache-Control"] = "no-cache"
    if status == 200:
        response.set_etag(hashlib.sha256(response.get_data()).hexdigest()[:32], weak=True)
        return response.make_conditional(request)
    return response


def page(template: str, status: int = 200, **context) -> Response:
    """A page of the site (``status`` is also given to the template, for error pages)."""
    return tagged(render_template(template, status=status, **context), HTML, PAGE_CSP, status)
