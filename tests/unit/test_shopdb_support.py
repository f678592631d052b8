"""Unit tests of knowledge.shopdb.support: complaints and handoff requests are always stored, within limits."""

from __future__ import annotations

import json
import math
from datetime import datetime
from pathlib import Path
from typing import Iterator

import pytest
from sqlalchemy import inspect

from knowledge.demo_store import generate_products
from knowledge.shopdb import ShopDB, connect, get_handoff, open_handoffs, record_complaint, record_handoff, row_counts
from knowledge.shopdb.generate import generate_shop
from knowledge.shopdb.models import Complaint, HandoffRequest
from knowledge.shopdb.support import MAX_TEXT_CHARS, MAX_TRANSCRIPT_CHARS, TRUNCATION_MARK, clean_text


@pytest.fixture
def db(tmp_path: Path) -> Iterator[ShopDB]:
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    generate_shop(url, generate_products()[:20], customers=3, orders=5)
    shop = connect(url)
    yield shop
    shop.dispose()


def _complaint(url_db: ShopDB, complaint_id: str) -> Complaint:
    fresh = connect(url_db.engine.url)
    try:
        with fresh.session() as session:
            row = session.get(Complaint, complaint_id)
            assert row is not None
            return row
    finally:
        fresh.dispose()


def test_record_complaint(db: ShopDB) -> None:
    first = record_complaint(db, "web-123", "My parcel arrived wet.", customer_id="C0001")
    second = record_complaint(db, "web-456", "Rude courier.")
    assert first != second and first.startswith("CP-")
    row = _complaint(db, first)
    assert (row.sender_id, row.customer_id, row.text) == ("web-123", "C0001", "My parcel arrived wet.")
    assert isinstance(row.created_at, datetime) and row.created_at.tzinfo is None
    assert _complaint(db, second).customer_id is None


def test_unknown_or_hostile_customer_keeps_the_row(db: ShopDB) -> None:
    for customer in ("C4040", "C0001' OR '1'='1", "x" * 500, 17):
        complaint_id = record_complaint(db, "web-1", "text", customer_id=customer)  # type: ignore[arg-type]
        assert _complaint(db, complaint_id).customer_id is None
    assert row_counts(db.engine)["complaints"] == 4


def test_huge_and_odd_texts_are_cut_not_lost(db: ShopDB) -> None:
    huge = "a" * 1_000_000
    complaint_id = record_complaint(db, "s" * 10_000, huge + "\x00", customer_id="C0002")
    row = _complaint(db, complaint_id)
    assert len(row.text) == MAX_TEXT_CHARS and row.text.endswith(TRUNCATION_MARK)
    assert len(row.sender_id) == 255
    odd = "nul\x00 here, lone surrogate \ud800, emoji 📦, quote ' \"; DROP TABLE complaints; --"
    row = _complaint(db, record_complaint(db, "web-2", odd))
    assert "\x00" not in row.text and "📦" in row.text and "DROP TABLE complaints" in row.text
    assert "complaints" in inspect(db.engine).get_table_names()
    assert _complaint(db, record_complaint(db, "web-3", None)).text == ""  # type: ignore[arg-type]


def test_record_handoff_with_transcript(db: ShopDB) -> None:
    transcript = [
        {"event": "user", "text": "where is my order SB-100002?", "timestamp": 1764400000.5},
        {"event": "bot", "text": "It is on its way with UPS.", "buttons": [{"title": "Track", "payload": "/track"}]},
        {"event": "user", "text": "I want a person"},
    ]
    handoff_id = record_handoff(db, "web-123", "asked for a human", transcript, customer_id="C0001")
    assert handoff_id.startswith("HO-")
    fresh = connect(db.engine.url)
    try:
        view = get_handoff(fresh, handoff_id)
        assert view is not None
        assert view.transcript == transcript
        assert (view.status, view.customer_id, view.reason, view.sender_id) == ("open", "C0001", "asked for a human",
                                                                               "web-123")
        assert [h.handoff_id for h in open_handoffs(fresh)] == [handoff_id]
        with fresh.session() as session:
            row = session.get(HandoffRequest, handoff_id)
            assert row is not None and json.loads(row.transcript) == transcript
    finally:
        fresh.dispose()
    assert get_handoff(db, "HO-NOPE") is None


def test_handoff_with_odd_transcript(db: ShopDB) -> None:
    transcript = [
        {"event": "user", "text": "x" * 20_000, "when": datetime(2026, 11, 29, 12, 0), "tags": {"a", "b"}},
        "a bare string",
        {"score": math.nan, "inf": math.inf, "nested": [[[[[[[["deep"]]]]]]]], 5: "int key"},
    ]
    view = get_handoff(db, record_handoff(db, "web-9", "r" * 9_000, transcript))  # type: ignore[arg-type]
    assert view is not None and view.customer_id is None
    first, second, third = view.transcript
    assert len(first["text"]) == MAX_TEXT_CHARS and first["when"] == "2026-11-29 12:00:00"
    assert second == {"text": "a bare string"}
    assert third["score"] is None and third["inf"] is None and third["5"] == "int key"
    assert len(view.reason) == MAX_TEXT_CHARS
    assert get_handoff(db, record_handoff(db, "web-9", "empty", None)).transcript == []  # type: ignore[union-attr]


def test_huge_transcript_keeps_the_newest_events(db: ShopDB) -> None:
    transcript = [{"event": "user", "text": f"{i}: " + "y" * 4_000} for i in range(2_000)]
    view = get_handoff(db, record_handoff(db, "web-7", "long chat", transcript))
    assert view is not None
    fresh = connect(db.engine.url)
    try:
        with fresh.session() as session:
            row = session.get(HandoffRequest, view.handoff_id)
            assert row is not None and len(row.transcript) <= MAX_TRANSCRIPT_CHARS + 100
    finally:
        fresh.dispose()
    marker, *kept = view.transcript
    assert marker["event"] == "truncated" and marker["dropped_events"] == 2_000 - len(kept)
    assert kept[-1]["text"].startswith("1999: ")
    assert [int(e["text"].split(":")[0]) for e in kept] == list(range(2_000 - len(kept), 2_000))


def test_clean_text() -> None:
    assert clean_text("short") == "short"
    assert clean_text("abcdefghij", 8) == "abcd" + TRUNCATION_MARK
    assert len(clean_text("z" * 10, 3)) == 3
    assert clean_text(12) == "12"
