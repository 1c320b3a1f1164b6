"""Where a webhook may point: a public http(s) address, unless the operator allows private ones."""

import ipaddress
import socket
from urllib.parse import urlsplit


class TargetRefused(ValueError):
    """A target URL the service will not send to, with the reason."""


def refusal(url: str, allow_private: bool) -> str | None:
    """Why ``url`` may not be a webhook target, or None when it may."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an absolute http or https URL"
    if parts.username or parts.password:
        return "must not carry credentials"
    if allow_private:
        return None
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        found = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, ValueError):
        return f"host {parts.hostname!r} does not resolve"
    for *_, address in found:
        ip = ipaddress.ip_address(address[0].split("%")[0])
        if not ip.is_global or ip.is_multicast:
            return (
                f"resolves to {ip}, a loopback, private or link-local address "
                "(set WEBHOOK_ALLOW_PRIVATE=1 to allow)"
            )
    return None


def check_target(url: str, allow_private: bool) -> None:
    """Raise ``TargetRefused`` unless ``url`` may be a webhook target."""
    reason = refusal(url, allow_private)
    if reason is not None:
        raise TargetRefused(reason)
