"""Standard Webhooks: the secret, the message id and the signed headers of one delivery."""

import base64
import secrets
from datetime import datetime

from standardwebhooks.webhooks import Webhook as Signer

SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    """A fresh signing secret in the specification's ``whsec_<base64>`` form."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def message_id(delivery_id: int) -> str:
    """The ``webhook-id`` of a delivery: the same on every attempt, so receivers can dedupe."""
    return f"msg_{delivery_id}"


def signed_headers(secret: str, msg_id: str, at: datetime, body: str) -> dict[str, str]:
    """The ``webhook-*`` headers for ``body`` sent at ``at``."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Signer(secret).sign(msg_id, at, body),
    }
