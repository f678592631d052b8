"""The tracker store bot/endpoints.yml configures: conversations survive a restart, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from rasa.core.tracker_store import TrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import read_endpoint_config

from bot.training import DOMAIN
from knowledge.settings import PROJECT_ROOT, Settings
from tests.postgres import create_database

ENDPOINTS = PROJECT_ROOT / "bot" / "endpoints.yml"


@pytest.fixture(params=["sqlite", "postgresql"])
def tracker_store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'tracker.db'}"
    return create_database(request.getfixturevalue("postgres_url"), "tracker_store")


def store_from_endpoints(url: str, domain: Domain, monkeypatch: pytest.MonkeyPatch) -> TrackerStore:
    """The tracker store Rasa builds from bot/endpoints.yml, with the environment `shopbot run` gives Rasa."""
    settings = Settings(tracker_store_url=url)
    for name, value in {"ACTION_ENDPOINT_URL": settings.action_endpoint_url, "ACTION_SERVER_TOKEN": "unused here",
                        **settings.service_env(), **settings.lock_store_env()}.items():
        monkeypatch.setenv(name, value)
    return TrackerStore.create(read_endpoint_config(str(ENDPOINTS), "tracker_store"), domain)


def test_a_conversation_is_stored_and_read_back_by_a_new_store(tracker_store_url: str,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    domain = Domain.load(str(DOMAIN))
    first = store_from_endpoints(tracker_store_url, domain, monkeypatch)
    assert type(first).__name__ == "SQLTrackerStore"
    assert first.engine.url.get_backend_name() == tracker_store_url.split(":")[0]
    tracker = DialogueStateTracker.from_events("shopper-1", [
        ActionExecuted("action_listen"),
        UserUttered("wo ist meine bestellung SB-100001? 🙂 ' OR 1=1 --", {"name": "track_order", "confidence": 0.9}),
        SlotSet("order_id", "SB-100001"),
    ], domain.slots)
    asyncio.run(first.save(tracker))
    first.engine.dispose()

    again = store_from_endpoints(tracker_store_url, domain, monkeypatch)  # a restarted Rasa server
    restored = asyncio.run(again.retrieve("shopper-1"))
    assert restored is not None
    assert [e.as_dict() for e in restored.events] == [e.as_dict() for e in tracker.events]
    assert restored.get_slot("order_id") == "SB-100001"
    assert asyncio.run(again.retrieve("nobody")) is None
    assert list(asyncio.run(again.keys())) == ["shopper-1"]
    again.engine.dispose()
