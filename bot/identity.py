"""Who the shopper is, decided by the server: signed shopper tokens and signed conversation ids.

The party that knows who is signed in (the store's web app, or a real shop's own login) issues a short-lived
**shopper token**: a JWT (HS256) with ``sub`` = the customer id, ``aud`` = ``shopbot-chat``, ``iat`` and
``exp``, signed with ``SHOPPER_TOKEN_SECRET``::

    token = issue_shopper_token("C0001", settings)           # what the store's GET /chat/token returns

The chat channels of the Rasa server hold the same secret and run every message through a ``Gate``:

* a valid token makes the message's sender that customer: the gate writes the id under
  ``actions.identity.CUSTOMER_KEY`` in the message metadata, the only place the actions read it from, after
  removing whatever the client sent there or as ``customer_id``;
* no token means a guest (order questions then need the order number and the e-mail on the order);
* a token that is forged, expired, for another audience or otherwise broken is refused (``InvalidShopperToken``),
  never taken for a guest silently.

**Conversation ids** are issued by the server too (``Gate.new_conversation``): a random nonce and an HMAC of it
together with the shopper it was issued to (the customer id, or ``guest``). A message is only admitted into a
conversation whose id was issued to the same shopper, so a guessed or leaked id opens nothing, and a
conversation started by one customer cannot be continued by another or by a guest.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any, Mapping, Optional

import jwt

from actions.identity import CUSTOMER_KEY
from knowledge.settings import Settings, get_settings

AUDIENCE = "shopbot-chat"
ALGORITHM = "HS256"
GUEST = "guest"
MAX_TOKEN_CHARS = 4096
MAX_LIFETIME_SECONDS = 24 * 3600  # a token that claims to live longer than a day is refused
LEEWAY_SECONDS = 10
#: Metadata keys a client may never set: the verified customer is the channel's to write.
CLAIMED_IDENTITY_KEYS = frozenset({CUSTOMER_KEY, "customer_id"})
CUSTOMER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}")
_CONVERSATION_ID = re.compile(r"[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{22}")


class IdentityError(ValueError):
    """A message the gate refuses; ``reason`` says which check failed (``token`` or ``conversation``)."""

    reason = "identity"


class InvalidShopperToken(IdentityError):
    """The shopper token is forged, expired, for another audience or malformed."""

    reason = "token"


class ConversationRefused(IdentityError):
    """The conversation id was not issued by this server to this shopper."""

    reason = "conversation"


def issue_shopper_token(customer_id: str, settings: Optional[Settings] = None, lifetime: Optional[int] = None,
                        now: Optional[float] = None) -> str:
    """A signed, short-lived token saying that ``customer_id`` is signed in (for the chat widget to pass on)."""
    settings = settings or get_settings()
    if not isinstance(customer_id, str) or not CUSTOMER_ID.fullmatch(customer_id):
        raise ValueError(f"not a customer id: {customer_id!r}")
    issued = int(now if now is not None else time.time())
    seconds = int(lifetime if lifetime is not None else settings.shopper_token_seconds)
    claims = {"sub": customer_id, "aud": AUDIENCE, "iat": issued, "exp": issued + seconds}
    return jwt.encode(claims, settings.secret("shopper-token"), algorithm=ALGORITHM)


def verify_shopper_token(token: str, secret: str, now: Optional[float] = None) -> str:
    """The customer id a valid shopper token names; ``InvalidShopperToken`` for anything else."""
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_CHARS:
        raise InvalidShopperToken("the shopper token is missing or malformed")
    try:
        claims = jwt.decode(
            token, secret, algorithms=[ALGORITHM], audience=AUDIENCE, leeway=LEEWAY_SECONDS,
            options={"require": ["sub", "aud", "exp", "iat"]},
        )
    except jwt.ExpiredSignatureError:
        raise InvalidShopperToken("the shopper token has expired; fetch a new one") from None
    except jwt.PyJWTError as error:
        raise InvalidShopperToken(f"the shopper token is not valid ({error})") from None
    subject, issued, expires = claims.get("sub"), claims.get("iat"), claims.get("exp")
    if not isinstance(subject, str) or not CUSTOMER_ID.fullmatch(subject):
        raise InvalidShopperToken("the shopper token names no customer")
    if not isinstance(issued, (int, float)) or not isinstance(expires, (int, float)):
        raise InvalidShopperToken("the shopper token's times are not numbers")
    current = now if now is not None else time.time()
    if expires - issued > MAX_LIFETIME_SECONDS or issued > current + LEEWAY_SECONDS:
        raise InvalidShopperToken("the shopper token claims an impossible lifetime")
    return subject


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class Gate:
    """What every chat channel checks before a message reaches Rasa: the shopper token and the conversation id."""

    secret: str

    @classmethod
    def from_settings(cls, settings: Optional[Settings] = None) -> "Gate":
        """The gate with the shopper-token secret of the settings."""
        return cls((settings or get_settings()).secret("shopper-token"))

    def customer(self, token: Optional[str]) -> Optional[str]:
        """The verified customer of a token; None without a token (a guest); ``InvalidShopperToken`` if broken."""
        if token is None or token == "":
            return None
        return verify_shopper_token(token, self.secret)

    def _mac(self, nonce: str, customer: Optional[str]) -> str:
        key = hmac.new(self.secret.encode(), b"shopbot conversation ids", hashlib.sha256).digest()
        message = f"{nonce}|{customer or GUEST}".encode()
        return _b64(hmac.new(key, message, hashlib.sha256).digest()[:16])

    def new_conversation(self, customer: Optional[str]) -> str:
        """A new conversation id, issued to this customer (None: a guest)."""
        nonce = _b64(secrets.token_bytes(16))
        return f"{nonce}.{self._mac(nonce, customer)}"

    def owns(self, conversation_id: Any, customer: Optional[str]) -> bool:
        """Whether this server issued the conversation id to this customer (None: a guest)."""
        if not isinstance(conversation_id, str) or not _CONVERSATION_ID.fullmatch(conversation_id):
            return False
        nonce, mac = conversation_id.split(".")
        return hmac.compare_digest(mac, self._mac(nonce, customer))

    def admit(self, conversation_id: Any, token: Optional[str], metadata: Optional[Mapping[str, Any]]) -> dict:
        """The metadata to hand to Rasa for a message: the client's, without identity claims, plus the verified customer.

        Raises ``InvalidShopperToken`` for a broken token and ``ConversationRefused`` when the conversation id was
        not issued to the token's customer (or to a guest, without a token).
        """
        customer = self.customer(token)
        if not self.owns(conversation_id, customer):
            raise ConversationRefused(
                "this conversation id was not issued to you: start a conversation first, and keep using the id you got"
            )
        admitted = {key: value for key, value in (metadata or {}).items() if key not in CLAIMED_IDENTITY_KEYS}
        if customer is not None:
            admitted[CUSTOMER_KEY] = customer
        return admitted
