"""The live hand-over's queue, agents on duty, left messages and the helpdesk outbox, on a real SQLite file."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Iterator

import pytest

from knowledge.demo_store import generate_products
from knowledge.shopdb import ShopDB, connect
from knowledge.shopdb import handoff as handoffs
from knowledge.shopdb.generate import generate_shop
from knowledge.shopdb.handoff import HandoffError
from knowledge.shopdb.staff import add_staff, can, get_staff, issue_token, set_role, staff_for_token


@pytest.fixture
def db(tmp_path: Path) -> Iterator[ShopDB]:
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    generate_shop(url, generate_products()[:20], customers=3, orders=5)
    shop = connect(url)
    yield shop
    shop.dispose()


def test_a_hand_over_goes_waiting_open_closed(db: ShopDB) -> None:
    handoff = handoffs.request_handoff(db, "conv-1", "I want a human", [{"from": "shopper", "text": "hi"}],
                                       customer_id="C0001", triggered_by="asked", previous_intent="ask_price")
    assert handoff.state == "waiting" and handoff.active and handoff.customer_id == "C0001"
    assert handoff.previous_intent == "ask_price" and handoff.triggered_by == "asked"
    again = handoffs.request_handoff(db, "conv-1", "still there?", [])
    assert again.id == handoff.id  # one live hand-over per conversation
    assert [h.id for h in handoffs.queues(db)["waiting"]] == [handoff.id]

    taken = handoffs.take(db, handoff.id, "ada")
    assert taken.state == "open" and taken.agent == "ada" and taken.first_reply_at is None
    answered = handoffs.record_reply(db, handoff.id, "ada")
    assert answered.first_reply_at is not None
    assert handoffs.record_reply(db, handoff.id, "ada").first_reply_at == answered.first_reply_at  # the first one

    closed = handoffs.finish(db, handoff.id, "ada", "handed_back")
    assert closed.state == "closed" and closed.outcome == "handed_back" and not closed.active
    assert handoffs.active_handoff(db, "conv-1") is None
    assert [h.id for h in handoffs.queues(db)["closed"]] == [handoff.id]
    with pytest.raises(HandoffError):
        handoffs.finish(db, handoff.id, "ada", "closed")
    with pytest.raises(HandoffError):
        handoffs.record_reply(db, handoff.id, "ada")
    with pytest.raises(HandoffError):
        handoffs.take(db, "HO-NOSUCH", "ada")
    assert handoffs.request_handoff(db, "conv-1", "again", []).id != handoff.id  # a new request after closing


def test_a_reply_takes_a_waiting_conversation_and_the_wait_is_measured(db: ShopDB) -> None:
    handoff = handoffs.request_handoff(db, "conv-2", "help", [])
    answered = handoffs.record_reply(db, handoff.id, "bea")
    assert answered.state == "open" and answered.agent == "bea"
    assert answered.waited(answered.created_at + timedelta(hours=1)) == answered.first_reply_at - answered.created_at
    note = "x" * 5000
    closed = handoffs.finish(db, handoff.id, "bea", "closed", note)
    assert closed.close_note.endswith(" […]") and len(closed.close_note) == handoffs.MAX_NOTE_CHARS
    with pytest.raises(ValueError):
        handoffs.finish(db, handoffs.request_handoff(db, "conv-3", "", []).id, "bea", "vanished")


def test_agents_are_on_duty_while_seen(db: ShopDB) -> None:
    now = handoffs.utcnow()
    handoffs.agent_seen(db, "ada", now - timedelta(seconds=90))
    handoffs.agent_seen(db, "bea", now - timedelta(seconds=5))
    assert handoffs.agents_on_duty(db, 60, now) == ["bea"]
    handoffs.agent_seen(db, "ada", now)
    assert handoffs.agents_on_duty(db, 60, now) == ["ada", "bea"]
    handoffs.agent_left(db, "ada")
    assert handoffs.agents_on_duty(db, 60, now) == ["bea"]


def test_messages_left_for_the_team(db: ShopDB) -> None:
    assert handoffs.customer_email(db, "C0001")
    first = handoffs.leave_message(db, "conv-4", "a@example.com", "Call me back\x00 please", customer_id="C0001")
    second = handoffs.leave_message(db, "conv-5", "b@example.com", "Where is my refund?", customer_id="C9999")
    waiting = handoffs.left_messages(db)
    assert [m.id for m in waiting] == [first, second]
    assert waiting[0].text == "Call me back please" and waiting[0].customer_id == "C0001"
    assert waiting[1].customer_id is None  # an unknown customer is not linked, the message is kept
    handoffs.message_done(db, first, "ada")
    assert [m.id for m in handoffs.left_messages(db)] == [second]
    assert handoffs.get_message(db, first).handled_by == "ada"


def test_the_outbox_keeps_each_hand_overs_events_in_order_and_retries(db: ShopDB) -> None:
    one = handoffs.request_handoff(db, "conv-6", "help", [], notify=True)
    two = handoffs.request_handoff(db, "conv-7", "help", [], notify=True)
    handoffs.enqueue(db, one.id, "handoff.message", {"message": {"text": "hello?"}})
    handoffs.request_handoff(db, "conv-8", "quiet", [])  # no webhook: nothing queued
    due = handoffs.due_deliveries(db)
    assert [(d.subject, d.kind) for d in due] == [(one.id, "handoff.created"), (two.id, "handoff.created")]
    handoffs.delivery_failed(db, due[0].id, "HTTP 500")
    due = handoffs.due_deliveries(db)
    assert [d.subject for d in due] == [two.id]  # one's first event waits for its retry, and so does its second
    later = handoffs.utcnow() + timedelta(seconds=3)
    assert [d.kind for d in handoffs.due_deliveries(db, now=later)][:1] == ["handoff.created"]
    first = handoffs.due_deliveries(db, now=later)[0]
    handoffs.delivered(db, first.id)
    assert [(d.subject, d.kind) for d in handoffs.due_deliveries(db, now=later)] == [
        (two.id, "handoff.created"), (one.id, "handoff.message")]
    for attempt in range(handoffs.MAX_ATTEMPTS):  # a receiver that never answers: given up after MAX_ATTEMPTS
        due = handoffs.due_deliveries(db, now=later + timedelta(days=attempt))
        handoffs.delivery_failed(db, next(d.id for d in due if d.subject == two.id), "down")
    assert {d.subject for d in handoffs.due_deliveries(db, now=later + timedelta(days=30))} == {one.id}


def test_what_the_outbox_never_heard_of_is_announced_once(db: ShopDB) -> None:
    told = handoffs.request_handoff(db, "conv-told", "a person please", [], notify=True)
    untold = handoffs.request_handoff(db, "conv-untold", "a person please", [])
    closed = handoffs.request_handoff(db, "conv-closed", "a person please", [])
    handoffs.finish(db, closed.id, "ada", "closed")
    message = handoffs.leave_message(db, "conv-m", "jo@example.com", "call me")
    assert handoffs.unannounced(db) == [(untold.id, "handoff.created"), (message, "message.created")]
    for subject, kind in handoffs.unannounced(db):
        handoffs.enqueue(db, subject, kind)
    assert handoffs.unannounced(db) == []
    assert told.id in {event["subject"] for event in handoffs.outbox(db)}


def test_the_agent_role_may_answer_shoppers_but_not_edit(db: ShopDB) -> None:
    assert can("agent", "handoff") and can("admin", "handoff") and can("agent", "read")
    assert not can("agent", "write") and not can("editor", "handoff") and not can("viewer", "handoff")
    add_staff(db, "ada", "a long password", role="agent", display_name="  Ada   L. ")
    ada = get_staff(db, "ada")
    assert ada.role == "agent" and ada.name == "Ada L." and ada.can("handoff")
    assert staff_for_token(db, issue_token(db, "ada")).can("handoff")


def test_an_older_staff_table_learns_the_agent_role(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as old:  # the staff tables as the version before the agent role made them
        old.executescript("""
        CREATE TABLE staff (id INTEGER NOT NULL, username VARCHAR(64) NOT NULL, password_hash VARCHAR(255) NOT NULL,
          role VARCHAR(16) NOT NULL, created_at DATETIME NOT NULL, active BOOLEAN NOT NULL, PRIMARY KEY (id),
          CONSTRAINT ck_staff_role CHECK (role IN ('viewer', 'editor', 'admin')), UNIQUE (username));
        CREATE TABLE staff_tokens (id INTEGER NOT NULL, token_hash VARCHAR(64) NOT NULL, username VARCHAR(64) NOT NULL,
          created_at DATETIME NOT NULL, last_used DATETIME, PRIMARY KEY (id), UNIQUE (token_hash),
          FOREIGN KEY(username) REFERENCES staff (username) ON DELETE CASCADE);
        INSERT INTO staff VALUES (1, 'ada', 'x', 'admin', '2026-01-01 00:00:00', 1);
        INSERT INTO staff_tokens VALUES (1, 'hash', 'ada', '2026-01-01 00:00:00', NULL);
        """)
    db = connect(f"sqlite:///{path}")
    try:
        assert set_role(db, "ada", "agent").role == "agent"
        assert get_staff(db, "ada").display_name is None
    finally:
        db.dispose()
    with sqlite3.connect(path) as upgraded:
        assert upgraded.execute("SELECT username FROM staff_tokens").fetchall() == [("ada",)]  # tokens kept
        assert upgraded.execute("PRAGMA foreign_key_check").fetchall() == []
        columns = {row[1] for row in upgraded.execute("PRAGMA table_info(handoff_requests)")}
    assert {"triggered_by", "previous_intent", "first_reply_at", "forwarded_event"} <= columns
