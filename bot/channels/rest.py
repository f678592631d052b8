"""The REST channel (``/webhooks/rest/webhook``): Rasa's, with the request body checked first.

Rasa 3.6.21's ``RestInput`` reads ``request.json.get(...)`` without looking: an empty body or JSON that is
not an object (``[]``, ``"hi"``, ``null``) raises inside the handler and answers 500, a ``message`` that is
not text (a number, a list) fails later in the NLU pipeline, and any length goes through (a 100 kB message
keeps DIET's transformer busy for a long time). ``ShopRestInput`` answers those with a clear JSON error
instead and never passes them on:

* 400 ``{"error": ...}``: the body is not UTF-8 JSON, not an object, ``sender`` is not a non-empty string of at
  most 255 characters (the tracker store's column), ``message`` is not a string or holds text that is not
  valid Unicode (lone surrogates), ``metadata`` is not an object, ``input_channel`` is not a short string;
* 413: the body is larger than ``MAX_BODY_BYTES`` or the message longer than ``MAX_MESSAGE_CHARS``.

Control characters in the message (other than tab and line breaks) become spaces. Everything else is
Rasa's channel: the same URL (``name()`` stays ``"rest"``), the same answers, ``?stream=true``.

Importing this module also installs ``bot.channels.action_failure``: the bot apologises when an action fails
(the action server is down) instead of answering nothing, on every channel of the Rasa server; and
``bot.channels.action_validation``: action replies are checked by a JSON-schema validator built once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from typing import Any, Awaitable, Callable, Optional, Text, Union

import rasa.utils.endpoints
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse, ResponseStream

from bot.channels import action_failure, action_validation

logger = logging.getLogger(__name__)

action_failure.install()
action_validation.install()

MAX_BODY_BYTES = 64_000
MAX_MESSAGE_CHARS = 5_000
MAX_SENDER_CHARS = 255  # rasa's SQL tracker store keeps sender_id in a VARCHAR(255)
MAX_CHANNEL_CHARS = 64
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


class BadRequest(ValueError):
    """A request the channel refuses; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _text(value: Any, field: str, limit: int, required: bool = True, empty: bool = False) -> Optional[str]:
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise BadRequest(f'"{field}" must be a string')
    if not value and not empty:
        raise BadRequest(f'"{field}" must not be empty')
    if len(value) > limit:
        raise BadRequest(f'"{field}" is longer than {limit} characters', 413 if field == "message" else 400)
    if _SURROGATE.search(value):
        raise BadRequest(f'"{field}" is not valid Unicode text (it holds lone surrogates)')
    return value


def parse_body(body: bytes) -> dict[str, Any]:
    """The checked fields of a REST channel request: sender, message, metadata and input_channel.

    Raises ``BadRequest`` with the reason (and the status to answer) when the body is not acceptable.
    """
    if len(body) > MAX_BODY_BYTES:
        raise BadRequest(f"the request body is larger than {MAX_BODY_BYTES} bytes", 413)
    if not body.strip():
        raise BadRequest('send a JSON object like {"sender": "me", "message": "hi"}')
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise BadRequest('the request body is not UTF-8 JSON; send {"sender": "me", "message": "hi"}') from None
    if not isinstance(data, dict):
        raise BadRequest('the request body must be a JSON object like {"sender": "me", "message": "hi"}')
    if "sender" not in data:
        raise BadRequest('"sender" is missing: the id of the conversation, a string')
    sender = _text(data.get("sender"), "sender", MAX_SENDER_CHARS)
    if "message" not in data:
        raise BadRequest('"message" is missing: the shopper\'s text, a string')
    message = _CONTROL.sub(" ", _text(data.get("message"), "message", MAX_MESSAGE_CHARS, empty=True) or "")
    metadata = data.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise BadRequest('"metadata" must be a JSON object (or left out)')
    channel = _text(data.get("input_channel"), "input_channel", MAX_CHANNEL_CHARS, required=False)
    return {"sender": sender, "message": message, "metadata": metadata, "input_channel": channel}


class ShopRestInput(RestInput):
    """Rasa's REST channel answering malformed requests with 400/413 and a JSON reason instead of 500."""

    @classmethod
    def name(cls) -> Text:
        """The channel's name: the webhook stays ``/webhooks/rest/webhook``."""
        return "rest"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[None]]) -> Blueprint:
        """The health route and the checked webhook."""
        webhook = Blueprint(f"custom_webhook_{type(self).__name__}", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(_request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> Union[ResponseStream, HTTPResponse]:
            try:
                fields = parse_body(request.body or b"")
            except BadRequest as error:
                return response.json({"error": str(error)}, status=error.status)
            text, sender = fields["message"], fields["sender"]
            channel, metadata = fields["input_channel"] or self.name(), fields["metadata"]
            if rasa.utils.endpoints.bool_arg(request, "stream", default=False):
                return response.stream(self.stream_response(on_new_message, text, sender, channel, metadata),
                                       content_type="text/event-stream")
            collector = CollectingOutputChannel()
            try:
                await on_new_message(UserMessage(text, collector, sender, input_channel=channel, metadata=metadata))
            except asyncio.CancelledError:
                logger.error("REST message from %r timed out", sender)
            except Exception:  # noqa: BLE001 - as Rasa's channel: log it, answer what was said so far
                logger.exception("REST message from %r failed", sender)
            return response.json(collector.messages)

        return webhook
