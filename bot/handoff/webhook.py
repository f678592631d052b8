"""The helpdesk webhook's signature: an HMAC-SHA256 over the delivery time and the body.

Every delivery to ``HANDOFF_WEBHOOK_URL`` carries ``X-Shopbot-Signature: t=UNIX_TIME,v1=HEX`` where HEX is
``HMAC-SHA256(HANDOFF_WEBHOOK_SECRET, f"{t}.{body}")``. A receiver recomputes it over the raw body, compares
in constant time and refuses deliveries older than a few minutes (a replayed one)::

    from bot.handoff.webhook import verify
    if not verify(raw_body, request.headers["X-Shopbot-Signature"], secret):
        return 401
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Optional

HEADER = "X-Shopbot-Signature"
TOLERANCE_SECONDS = 300


def sign(body: bytes, secret: str, timestamp: Optional[int] = None) -> str:
    """The signature header's value for a body sent now (or at ``timestamp``)."""
    moment = int(time.time() if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"{moment}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={moment},v1={digest}"


def verify(body: bytes, header: Optional[str], secret: str, tolerance: float = TOLERANCE_SECONDS,
           now: Optional[float] = None) -> bool:
    """Whether a signature header is valid for this body and secret, and recent."""
    if not header or not secret:
        return False
    parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        moment = int(parts.get("t", ""))
    except ValueError:
        return False
    if abs((time.time() if now is None else now) - moment) > tolerance:
        return False
    expected = sign(body, secret, moment).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))
