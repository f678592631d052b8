"""A shopper talking to the running assistant over the REST channel, for the end-to-end tests."""

from __future__ import annotations

from typing import Any, Optional

import requests

from bot.stack import Stack
from bot.identity import issue_shopper_token


class Chat:
    """A shopper talking to the running assistant over the REST channel, in a conversation the server issued.

    A signed-in customer sends the shopper token the store would give them (``Authorization: Bearer``).
    """

    def __init__(self, url: str, name: str, token: Optional[str] = None) -> None:
        self.url, self.name = url, name
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        started = requests.post(url.rsplit("/", 1)[0] + "/conversation", headers=self.headers, timeout=30)
        assert started.status_code == 200, started.text
        self.sender = started.json()["sender"]

    def say(self, text: str) -> list[dict[str, Any]]:
        """Send one message; return the bot's messages."""
        body = {"sender": self.sender, "message": text}
        response = requests.post(self.url, json=body, headers=self.headers, timeout=60)
        assert response.status_code == 200, response.text
        return response.json()

    def text(self, text: str) -> str:
        """Send one message; return everything the bot wrote, as one string."""
        return "\n".join(m.get("text", "") for m in self.say(text))


def chat(stack: Stack, name: str, customer_id: str = "") -> Chat:
    """A new conversation with the running assistant, as a guest or as a signed-in customer."""
    token = issue_shopper_token(customer_id, stack.settings) if customer_id else None
    return Chat(f"http://127.0.0.1:{stack.settings.rasa_port}/webhooks/rest/webhook", name, token)
