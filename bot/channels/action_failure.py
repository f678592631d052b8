"""An apology instead of silence when an action fails (above all: the action server cannot be reached).

Rasa 3.6.21's ``MessageProcessor._run_action`` catches any exception of an action (``RemoteAction`` raises
``RasaException`` when the action server refuses the connection, times out or answers 5xx), logs
"Bot will continue, but the actions events are lost" and goes on: the shopper gets an empty answer
(``[]`` over REST, nothing over socket.io) and cannot tell a dead bot from a slow one.

``install()`` wraps ``_run_action`` so that such a failure, with the same logging and the same lost events,
makes the bot say ``utter_kg_unavailable`` ("Sorry, I can't look that up right now. Please try again in a
moment.") as a ``BotUttered`` event: the shopper sees it on every channel and it is kept in the tracker
(so the hand-over transcript shows it). At most one apology per user message, however many actions fail.
``ActionExecutionRejection`` (a form rejecting its slot) is left to Rasa as before. The conversation itself is
untouched, so it goes on normally once the action server is back.

Rasa has no hook for this; ``bot/channels/patches.py`` (installed by both channels, loaded by ``credentials.yml`` in the
Rasa server) installs it. ``rasa shell`` without those credentials keeps Rasa's silence.
"""

from __future__ import annotations

import logging
from typing import Any, List, Optional

from rasa.core.actions.action import Action, ActionExecutionRejection, create_bot_utterance
from rasa.core.processor import MessageProcessor
from rasa.shared.core.events import BotUttered, Event, UserUttered

logger = logging.getLogger(__name__)

APOLOGY_RESPONSE = "utter_kg_unavailable"
APOLOGY_TEXT = "Sorry, I can't look that up right now. Please try again in a moment."  # if the domain lacks it
_MARK = "shopbot_action_failure"  # kept in the BotUttered's metadata: this turn has apologised already


def _apologised_this_turn(tracker: Any) -> bool:
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered):
            return False
        if isinstance(event, BotUttered) and (event.metadata or {}).get(_MARK):
            return True
    return False


class _Apologising:
    """An action whose failure becomes an apology; everything else is the wrapped action's."""

    def __init__(self, action: Action) -> None:
        self._action = action

    def __getattr__(self, name: str) -> Any:
        return getattr(self._action, name)

    async def run(self, output_channel: Any, nlg: Any, tracker: Any, domain: Any) -> List[Event]:
        try:
            return await self._action.run(output_channel, nlg, tracker, domain)
        except ActionExecutionRejection:
            raise
        except Exception:  # exactly what Rasa's processor swallows
            logger.exception(
                "action %r failed (is the action server reachable?); the shopper gets an apology and the "
                "action's events are lost", self._action.name(),
            )
        if _apologised_this_turn(tracker):
            return []
        message: Optional[dict] = None
        try:
            message = await nlg.generate(APOLOGY_RESPONSE, tracker, output_channel.name())
        except Exception:  # the apology must not fail too
            logger.exception("could not render %s", APOLOGY_RESPONSE)
        message = dict(message or {"text": APOLOGY_TEXT})
        uttered = create_bot_utterance(message)
        uttered.metadata = {**(uttered.metadata or {}), _MARK: True}
        return [uttered]


def install() -> None:
    """Make Rasa's message processor apologise for failed actions (idempotent)."""
    original = MessageProcessor._run_action
    if getattr(original, "_shopbot_apologises", False):
        return

    async def _run_action(self: MessageProcessor, action: Action, *args: Any, **kwargs: Any) -> bool:
        return await original(self, _Apologising(action), *args, **kwargs)

    _run_action._shopbot_apologises = True  # type: ignore[attr-defined]
    MessageProcessor._run_action = _run_action  # type: ignore[method-assign]
