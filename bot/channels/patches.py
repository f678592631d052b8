"""Every change this project makes to Rasa 3.6.21's own classes, installed in one call.

Rasa has no hooks for these, so they replace a method at start-up; each ``install`` is idempotent. Both chat
channels (``bot/channels/rest.py`` and ``bot/channels/socketio.py``, loaded by ``credentials.yml``) call
``install()`` when they are imported, so the Rasa server has them whichever channel it is given:

* ``bot.channels.action_failure``: the bot apologises when an action fails (the action server is down)
  instead of answering nothing;
* ``bot.channels.action_validation``: action replies are checked by a JSON-schema validator built once;
* ``bot.channels.redis_lock``: the Redis lock store changes a conversation's lock in one Redis transaction, so
  two Rasa replicas never hold the same conversation's lock at once.
"""

from __future__ import annotations

from bot.channels import action_failure, action_validation, redis_lock


def install() -> None:
    """Install every Rasa patch of the project (idempotent)."""
    action_failure.install()
    action_validation.install()
    redis_lock.install()
