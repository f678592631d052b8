"""Handing the conversation to a person, and what the shopper can do when nobody can take it.

``action_handoff`` puts the conversation in the agents' inbox and steps the assistant aside with Rasa's own
``ConversationPaused`` (kept in the tracker store, so it survives restarts) when the store is open (its
opening hours in the graph) and an agent is on duty (the rules: ``knowledge.usecases.support``); agents hand
it back from the inbox or the helpdesk API (``bot/handoff/relay.py`` appends ``ConversationResumed``).
Otherwise the shopper is told why, honestly, and ``leave_message_form`` takes a message and the e-mail address to
answer to (a signed-in customer's is on record).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActionExecuted, ConversationPaused, EventType, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import last_said, previous_bot_action, transcript
from actions.context import context
from actions.identity import customer_id
from knowledge import policies
from knowledge.emails import find_email
from knowledge.hours import OpeningHours, when

#: What the widget reads to know the conversation is with the team (``state``: waiting, ended).
HANDOFF_PAYLOAD = "handoff"


def _user_events(tracker: Tracker) -> List[Dict[str, Any]]:
    return [event for event in tracker.events if event.get("event") == "user"]


def previous_intent(tracker: Tracker) -> Optional[str]:
    """The intent of the shopper's message before the latest one (what a hand-over followed)."""
    users = _user_events(tracker)
    if len(users) < 2:
        return None
    return ((users[-2].get("parse_data") or {}).get("intent") or {}).get("name")


def trigger(tracker: Tracker) -> str:
    """What led to the hand-over: ``asked``, the complaint flow's button, or ``fallback`` (the bot kept failing)."""
    previous = previous_bot_action(tracker)
    if previous == "action_fallback":
        return "fallback"
    if previous == "action_complaint":
        return "complaint"
    text = tracker.latest_message.get("text") or ""
    return "button" if text.startswith("/") else "asked"


def away_text(contact: Optional[policies.StoreContact], hours: Optional[OpeningHours], now: datetime) -> str:
    """Why nobody can answer now, honestly: outside the opening hours (and when we are back), or nobody free."""
    if hours is not None and not hours.is_open(now):
        stated = f" ({contact.hours})" if contact and contact.hours else ""
        back = hours.next_opening(now)
        again = f" We're back {when(back, now)}." if back else ""
        return f"Our team isn't here right now: it's outside our opening hours{stated}.{again}"
    return "Nobody from our team is free to chat right now."


class ActionHandoff(Action):
    """Hand the conversation to a person when someone can take it; otherwise say so and offer to take a message."""

    def name(self) -> Text:
        return "action_handoff"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        answer = context().support.ask_for_person(
            tracker.sender_id, last_said(tracker), transcript(tracker), customer_id=customer_id(tracker),
            triggered_by=trigger(tracker), previous_intent=previous_intent(tracker))
        if answer.state == "already":
            dispatcher.utter_message(text=f"You're already in touch with our team (request {answer.request_id}): they "
                                          "will answer right here.",
                                     json_message={"type": HANDOFF_PAYLOAD, "state": "waiting",
                                                   "request": answer.request_id})
            return [ConversationPaused()]
        if answer.state == "waiting":
            dispatcher.utter_message(
                text=f"I'm passing our conversation to a person from our team (request {answer.request_id}). They'll "
                     "answer right here in a moment; until they hand you back to me, I'll stay quiet.",
                json_message={"type": HANDOFF_PAYLOAD, "state": "waiting", "request": answer.request_id},
            )
            return [SlotSet("handoff_state", None), ConversationPaused()]
        answer_to = f" to {answer.email}" if answer.email else ""
        dispatcher.utter_message(text=f"{away_text(answer.contact, answer.hours, answer.at)} You can leave a message "
                                      f"here and we'll answer by e-mail{answer_to}.")
        return [SlotSet("handoff_state", "offline"), SlotSet("contact_email", answer.email)]


class ValidateLeaveMessageForm(FormValidationAction):
    """Checks the message for the team and the e-mail address to answer to."""

    def name(self) -> Text:
        return "validate_leave_message_form"

    def validate_contact_message(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        text = value.strip() if isinstance(value, str) else ""
        if len(text) < 2 or text.startswith("/"):
            dispatcher.utter_message(text="Please write your message in words, so our team knows how to help.")
            return {"contact_message": None}
        return {"contact_message": text}

    def validate_contact_email(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        found = find_email(value)
        if found is None:
            dispatcher.utter_message(text="That doesn't look like an e-mail address. Which address should we "
                                          "answer to? (It looks like name@example.com.)")
            return {"contact_email": None}
        return {"contact_email": found}


class ActionStoreMessage(Action):
    """Store the shopper's message for the team; it waits in the agents' inbox."""

    def name(self) -> Text:
        return "action_store_message"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        email = tracker.get_slot("contact_email") or ""
        message = tracker.get_slot("contact_message") or ""
        message_id = context().support.leave_message(tracker.sender_id, email, message,
                                                     customer_id=customer_id(tracker))
        dispatcher.utter_message(text=f"Thank you! Your message is with our team (reference {message_id}); we'll "
                                      f"answer by e-mail to {email}. Anything else I can help you with meanwhile?")
        return [SlotSet("contact_message", None), SlotSet("handoff_state", None)]


class ActionMessageDeclined(Action):
    """The shopper would rather not leave a message."""

    def name(self) -> Text:
        return "action_message_declined"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        dispatcher.utter_message(text="No problem. I'm still here if there's anything else I can do for you.")
        return [SlotSet("contact_message", None), SlotSet("handoff_state", None)]


class ActionSessionStart(Action):
    """Rasa's session start (slots carried over), except that a conversation with the team stays with the team.

    A new session resets a tracker's pause; a shopper who comes back after the session expired while a person
    had the conversation must still reach that person, not the assistant.
    """

    def name(self) -> Text:
        return "action_session_start"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        events: List[EventType] = [SessionStarted()]
        if (domain.get("session_config") or {}).get("carry_over_slots_to_new_session", True):
            events += [SlotSet(name, value) for name, value in tracker.slots.items() if value is not None]
        if tracker.is_paused():
            events.append(ConversationPaused())
        events.append(ActionExecuted("action_listen"))
        return events
