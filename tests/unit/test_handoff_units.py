"""The hand-over's pure parts: transcripts from tracker events, the webhook's signature, the containment figures."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone

import pytest

from bot.handoff.figures import containment, containment_chart
from bot.handoff.relay import AGENT_KEY
from bot.handoff.transcript import EVENTS, StoredEvent, TrackerStoreReader, lines, state
from bot.handoff.webhook import sign, verify
from knowledge.shopdb.handoff import Handoff

T0 = datetime(2026, 12, 2, 10, 0, tzinfo=timezone.utc).timestamp()


def event(number: int, kind: str, **data: object) -> StoredEvent:
    return StoredEvent(number, kind, T0 + number, {"event": kind, **data})


CONVERSATION = [
    event(1, "action", name="action_session_start"),
    event(2, "user", text="how much is the trailblazer 2?", parse_data={"intent": {"name": "ask_price"}}),
    event(3, "slot", name="product_id", value="P0001"),
    event(4, "bot", text="The Trailblazer 2 GTX Running Shoe costs $129.00.",
          data={"custom": {"type": "product_card", "card": {"id": "P0001", "title": "Trailblazer 2 GTX Running Shoe",
                                                           "price_text": "$129.00"}},
                "buttons": [{"title": "Tell me more", "payload": "/x"}]}),
    event(5, "slot", name="search", value={"category": "Running Shoes", "max_price": "100"}),
    event(6, "bot", text="Here's what I found",
          data={"custom": {"type": "carousel", "cards": [{"title": "Road Racer", "price_text": "$89.00"},
                                                         {"title": "Trail Pro", "price_text": "$99.00"}]}}),
    event(7, "user", text="/human_handoff", parse_data={"intent": {"name": "human_handoff"}}),
    event(8, "bot", text="I'm passing our conversation to a person"),
    event(9, "bot", text=None, data={"custom": {"type": "handoff", "state": "waiting"}}),
    event(10, "pause"),
    event(11, "user", text="<b>hello?</b>", parse_data={"intent": {"name": "greet"}}),
    event(12, "bot", text="Hi, I'm Ada. Let me look.", metadata={AGENT_KEY: {"username": "ada", "name": "Ada"}}),
    event(13, "resume"),
]


def test_a_transcript_reads_like_the_conversation() -> None:
    found = lines(CONVERSATION)
    assert [(line.who, line.text) for line in found] == [
        ("shopper", "how much is the trailblazer 2?"),
        ("assistant", "The Trailblazer 2 GTX Running Shoe costs $129.00."),
        ("assistant", "Here's what I found"),
        ("shopper", "[button: human handoff]"),
        ("assistant", "I'm passing our conversation to a person"),
        ("system", "The assistant stepped aside: the conversation is with the team."),
        ("shopper", "<b>hello?</b>"),  # as text: the template escapes it
        ("agent", "Hi, I'm Ada. Let me look."),
        ("system", "Handed back: the assistant answers again."),
    ]
    assert found[1].products == (("Trailblazer 2 GTX Running Shoe", "$129.00"),) and found[1].buttons == ("Tell me more",)
    assert found[2].products == (("Road Racer", "$89.00"), ("Trail Pro", "$99.00"))
    assert found[7].name == "Ada"
    assert json.loads(json.dumps(found[1].to_dict()))["products"][0] == {"name": "Trailblazer 2 GTX Running Shoe",
                                                                        "price": "$129.00"}


def test_the_state_follows_focus_search_and_pause() -> None:
    current = state(CONVERSATION[:11])
    assert current.product_id == "P0001" and current.search == {"category": "Running Shoes", "max_price": "100"}
    assert current.paused and current.last_event == 11
    assert not state(CONVERSATION[11:], current).paused  # continued from where it was: resumed


def test_the_reader_reads_rasas_events_table(tmp_path) -> None:
    reader = TrackerStoreReader(f"sqlite:///{tmp_path / 'tracker.db'}")
    assert reader.events("nobody") == [] and reader.last_event_id("nobody") == 0  # before Rasa made the table
    EVENTS.create(reader.engine)
    with reader.engine.begin() as connection:
        for stored in CONVERSATION:
            connection.execute(EVENTS.insert().values(id=stored.id, sender_id="c1", type_name=stored.type_name,
                                                      timestamp=stored.timestamp, data=json.dumps(stored.data),
                                                      intent_name=None, action_name=stored.data.get("name")))
        connection.execute(EVENTS.insert().values(id=99, sender_id="c2", type_name="user", timestamp=T0, data="{}"))
    assert [e.id for e in reader.events("c1", after=10)] == [11, 12, 13]
    assert [e.id for e in reader.events("c1", limit=2)] == [12, 13]  # the newest, oldest first
    assert reader.last_event_id("c1", "pause") == 10
    assert {row[0] for row in reader.activity_since(T0)} == {"c1", "c2"}
    reader.dispose()


def test_the_webhook_signature_is_an_hmac_over_time_and_body() -> None:
    body = b'{"event": "handoff.created"}'
    header = sign(body, "s3cret", timestamp=1_800_000_000)
    assert header.startswith("t=1800000000,v1=") and len(header.split("v1=")[1]) == 64
    assert verify(body, header, "s3cret", now=1_800_000_010)
    assert not verify(body + b" ", header, "s3cret", now=1_800_000_010)  # another body
    assert not verify(body, header, "other", now=1_800_000_010)  # another secret
    assert not verify(body, header, "s3cret", now=1_800_001_000)  # too old: a replay
    assert not verify(body, "t=abc,v1=00", "s3cret") and not verify(body, None, "s3cret")


def handoff(sender: str, created: datetime, reply_after: float = None, intent: str = "ask_price",  # noqa: RUF013 - a test helper; None means no reply
            trigger: str = "asked") -> Handoff:
    replied = created + timedelta(seconds=reply_after) if reply_after is not None else None
    return Handoff(id=f"HO-{sender}", sender_id=sender, customer_id=None, reason="", created_at=created,
                   status="closed", triggered_by=trigger, previous_intent=intent, agent="ada", taken_at=replied,
                   first_reply_at=replied, closed_at=None, outcome="handed_back", close_note=None, forwarded_event=0)


def test_containment_figures() -> None:
    day1, day2 = datetime(2026, 12, 1, 9), datetime(2026, 12, 2, 9)
    ts1, ts2 = day1.replace(tzinfo=timezone.utc).timestamp(), day2.replace(tzinfo=timezone.utc).timestamp()
    activity = [("a", "user", ts1, "greet", None), ("a", "action", ts1, None, "utter_greet"),
                ("b", "user", ts1, "nlu_fallback", None), ("b", "action", ts1 + 1, None, "action_fallback"),
                ("b", "user", ts1 + 2, "nlu_fallback", None), ("b", "action", ts1 + 3, None, "action_fallback"),
                ("c", "user", ts2, "complaint", None), ("d", "user", ts2, "ask_price", None),
                ("e", "user", ts2 - 86400 * 5, "greet", None)]  # before the period
    handed = [handoff("b", day1, 30, "nlu_fallback", "fallback"), handoff("c", day2, 90, "complaint", "complaint"),
              handoff("d", day2, None, "complaint")]
    figures = containment(activity, handed, date(2026, 12, 1), date(2026, 12, 2))
    assert [(d.day.day, d.conversations, d.handed_over) for d in figures.days] == [(1, 2, 1), (2, 2, 2)]
    assert figures.conversations == 4 and figures.handed_over == 3 and figures.share == pytest.approx(0.75)
    assert figures.median_wait_seconds == 60 and figures.answered == 2
    assert figures.messages == 5 and figures.fallbacks == 2 and figures.fallback_rate == pytest.approx(0.4)
    assert figures.top_intents[0] == ("complaint", 2)
    assert dict(figures.triggers) == {"fallback": 1, "complaint": 1, "asked": 1}
    assert containment_chart(figures).startswith("data:image/png;base64,")
    empty = containment([], [], date(2026, 12, 1), date(2026, 12, 1))
    assert empty.share == 0 and empty.median_wait_seconds is None and empty.fallback_rate == 0
