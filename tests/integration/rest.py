"""A shopper talking to the running assistant over the REST channel, for the end-to-end tests."""

from __future__ import annotations

from typing import Any

import requests

from bot.cli import Stack


class Chat:
    """A shopper talking to the running assistant over the REST channel."""

    def __init__(self, url: str, sender: str, customer_id: str = "") -> None:
        self.url, self.sender = url, sender
        self.metadata = {"customer_id": customer_id} if customer_id else None

    def say(self, text: str) -> list[dict[str, Any]]:
        """Send one message; return the bot's messages."""
        body = {"sender": self.sender, "message": text, "metadata": self.metadata}
        response = requests.post(self.url, json=body, timeout=60)
        assert response.status_code == 200, response.text
        return response.json()

    def text(self, text: str) -> str:
        """Send one message; return everything the bot wrote, as one string."""
        return "\n".join(m.get("text", "") for m in self.say(text))


def chat(stack: Stack, name: str, customer_id: str = "") -> Chat:
    """A new conversation with the running assistant, as a guest or a signed-in customer."""
    return Chat(f"http://127.0.0.1:{stack.settings.rasa_port}/webhooks/rest/webhook", name, customer_id)
