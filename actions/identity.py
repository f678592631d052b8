"""Who the shopper is, as the actions see it: only what the Rasa server's channels verified.

The channels (``bot/channels/rest.py``, ``bot/channels/socketio.py``) check the shopper's signed token and put
the customer id under ``CUSTOMER_KEY`` in the message metadata, after removing whatever the client sent under
that key or as ``customer_id``. So an action never trusts a customer id a client claims: it reads this key of
the latest message, and a message without it comes from a guest.
"""

from __future__ import annotations

from typing import Any, Optional

from knowledge.usecases.orders import Shopper

#: The metadata key only the channels write: the customer id of a verified shopper token.
CUSTOMER_KEY = "shopbot_verified_customer"


def customer_id(tracker: Any) -> Optional[str]:
    """The signed-in customer's id, as the channel verified it for the latest message (None for a guest)."""
    metadata = (tracker.latest_message or {}).get("metadata") or {}
    value = metadata.get(CUSTOMER_KEY) if isinstance(metadata, dict) else None
    return value if isinstance(value, str) and value else None


def shopper(tracker: Any) -> Shopper:
    """Who asks about an order: the verified customer, or a guest by the e-mail address they gave (``email`` slot)."""
    signed_in = customer_id(tracker)
    return Shopper(customer_id=signed_in) if signed_in else Shopper(email=tracker.get_slot("email"))
