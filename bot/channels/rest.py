"""The REST channel (``/webhooks/rest/webhook``): Rasa's, with the request checked and the shopper verified first.

Rasa 3.6.21's ``RestInput`` reads ``request.json.get(...)`` without looking and believes whatever ``sender`` and
``metadata`` a client sends. ``ShopRestInput`` answers bad requests with a clear JSON error instead and never
passes them on:

* ``POST /webhooks/rest/conversation`` starts a conversation: ``{"sender": ID, "customer": ...}``. The id is
  issued and signed by the server for the shopper presenting it (``Authorization: Bearer SHOPPER_TOKEN`` or
  ``{"token": ...}`` in the body; no token: a guest). Only that shopper can use it (``bot/identity.py``).
* ``POST /webhooks/rest/webhook`` with ``{"sender": ID, "message": TEXT}`` (and the same token, when signed in):
  401 for a broken or expired token, 403 for a conversation id not issued to this shopper; the customer id
  the actions see is the token's, never one from ``metadata`` (a client's ``customer_id`` is dropped).
* 400 ``{"error": ...}``: the body is not UTF-8 JSON, not an object, ``sender`` is not a non-empty string of at
  most 255 characters, ``message`` is not a string or holds text that is not valid Unicode (lone surrogates),
  ``metadata`` is not a small object, ``input_channel`` is not a short string;
* 413: the body is larger than ``MAX_BODY_BYTES`` (checked while it is read) or the message longer than
  ``SHOPBOT_MAX_MESSAGE_CHARS``.

Control characters in the message (other than tab and line breaks) become spaces. Everything else is
Rasa's channel: the same URL (``name()`` stays ``"rest"``), the same answers, ``?stream=true``.

Importing this module installs the project's Rasa patches (``bot/channels/patches.py``).
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, Awaitable, Callable, Optional, Text, Union

import rasa.utils.endpoints
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.exceptions import PayloadTooLarge
from sanic.request import Request
from sanic.response import HTTPResponse, ResponseStream

from bot.channels import patches
from bot.channels.messages import MessageRefused, clean_message, max_message_chars, nothing_said_text, with_a_person
from bot.identity import Gate, IdentityError, InvalidShopperToken

logger = logging.getLogger(__name__)

patches.install()

MAX_BODY_BYTES = 64_000
MAX_METADATA_BYTES = 8_000
MAX_SENDER_CHARS = 255  # rasa's SQL tracker store keeps sender_id in a VARCHAR(255)
MAX_CHANNEL_CHARS = 64
EXAMPLE = '{"sender": "<id from POST /webhooks/rest/conversation>", "message": "hi"}'


class BadRequest(MessageRefused):
    """A request the channel refuses; ``status`` is the HTTP status to answer with."""


def _text(value: Any, field: str, limit: int, required: bool = True) -> Optional[str]:
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise BadRequest(f'"{field}" must be a string')
    if not value:
        raise BadRequest(f'"{field}" must not be empty')
    if len(value) > limit:
        raise BadRequest(f'"{field}" is longer than {limit} characters')
    return clean_message(value, limit)


def _object(body: bytes) -> dict[str, Any]:
    if not body.strip():
        raise BadRequest(f"send a JSON object like {EXAMPLE}")
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise BadRequest(f"the request body is not UTF-8 JSON; send {EXAMPLE}") from None
    if not isinstance(data, dict):
        raise BadRequest(f"the request body must be a JSON object like {EXAMPLE}")
    return data


def _token(data: dict[str, Any]) -> Optional[str]:
    token = data.get("token")
    if token is not None and not isinstance(token, str):
        raise BadRequest('"token" must be a string (the shopper token) or left out')
    return token or None


def parse_body(body: bytes, message_limit: Optional[int] = None) -> dict[str, Any]:
    """The checked fields of a REST channel request: sender, message, metadata, input_channel and token.

    Raises ``BadRequest`` with the reason (and the status to answer) when the body is not acceptable.
    """
    if len(body) > MAX_BODY_BYTES:
        raise BadRequest(f"the request body is larger than {MAX_BODY_BYTES} bytes", 413)
    data = _object(body)
    if "sender" not in data:
        raise BadRequest('"sender" is missing: the conversation id from POST /webhooks/rest/conversation')
    sender = _text(data.get("sender"), "sender", MAX_SENDER_CHARS)
    if "message" not in data:
        raise BadRequest('"message" is missing: the shopper\'s text, a string')
    message = clean_message(data.get("message"), message_limit or max_message_chars())
    metadata = data.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise BadRequest('"metadata" must be a JSON object (or left out)')
    if metadata and len(json.dumps(metadata)) > MAX_METADATA_BYTES:
        raise BadRequest(f'"metadata" is larger than {MAX_METADATA_BYTES} bytes')
    channel = _text(data.get("input_channel"), "input_channel", MAX_CHANNEL_CHARS, required=False)
    return {"sender": sender, "message": message, "metadata": metadata, "input_channel": channel,
            "token": _token(data)}


def bearer(request: Request) -> Optional[str]:
    """The token of an ``Authorization: Bearer`` header, if there is one."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, read up to ``limit`` bytes (``BadRequest`` 413 as soon as it is larger)."""
    if request.stream is not None:
        request.stream.request_max_size = limit
        try:
            await request.receive_body()
        except PayloadTooLarge:
            raise BadRequest(f"the request body is larger than {limit} bytes", 413) from None
    return request.body or b""


class ShopRestInput(RestInput):
    """Rasa's REST channel with server-issued conversation ids, verified shoppers and checked requests."""

    @classmethod
    def name(cls) -> Text:
        """The channel's name: the webhook stays ``/webhooks/rest/webhook``."""
        return "rest"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[None]]) -> Blueprint:
        """The health route, the route that starts a conversation, and the checked webhook."""
        webhook = Blueprint(f"custom_webhook_{type(self).__name__}", __name__)
        gate = Gate.from_settings()
        limit = max_message_chars()

        @webhook.route("/", methods=["GET"])
        async def health(_request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/conversation", methods=["POST"], stream=True)
        async def conversation(request: Request) -> HTTPResponse:
            try:
                raw = await read_body(request, MAX_BODY_BYTES)
                token = bearer(request) or (_token(_object(raw)) if raw.strip() else None)
                customer = gate.customer(token)
            except MessageRefused as error:
                return response.json({"error": str(error)}, status=error.status)
            except InvalidShopperToken as error:
                return response.json({"error": str(error)}, status=401)
            return response.json({"sender": gate.new_conversation(customer), "customer": customer})

        @webhook.route("/webhook", methods=["POST"], stream=True)
        async def receive(request: Request) -> Union[ResponseStream, HTTPResponse]:
            try:
                fields = parse_body(await read_body(request, MAX_BODY_BYTES), limit)
                metadata = gate.admit(fields["sender"], bearer(request) or fields["token"], fields["metadata"])
            except MessageRefused as error:
                return response.json({"error": str(error)}, status=error.status)
            except IdentityError as error:
                status = 401 if isinstance(error, InvalidShopperToken) else 403
                return response.json({"error": str(error), "reason": error.reason}, status=status)
            text, sender = fields["message"], fields["sender"]
            channel = fields["input_channel"] or self.name()
            if rasa.utils.endpoints.bool_arg(request, "stream", default=False):
                return response.stream(self.stream_response(on_new_message, text, sender, channel, metadata),
                                       content_type="text/event-stream")
            collector = CollectingOutputChannel()
            try:
                await on_new_message(UserMessage(text, collector, sender, input_channel=channel, metadata=metadata))
            except asyncio.CancelledError:
                logger.error("REST message from %r timed out", sender)
            except Exception:  # as Rasa's channel: log it, answer what was said so far
                logger.exception("REST message from %r failed", sender)
            if not collector.messages and not await with_a_person(request.app, sender):  # silence reads as broken
                collector.messages.append({"recipient_id": sender, "text": nothing_said_text()})
            return response.json(collector.messages)

        return webhook
