"""Running actions in process with tracker fixtures, as Rasa's financial-demo and rasa-demo test theirs.

An action runs with a rasa_sdk ``Tracker`` built by :func:`tracker`, a ``CollectingDispatcher`` and the domain as
a dict (``domain`` fixture: ``bot/domain/*.yml`` merged), against real parts: the ``action_context`` fixture gives
the actions a SQLite shop database the project's generator filled (its demo orders dated from today) and the
demo graph in an in-process pyoxigraph store. ``tests/conftest.py`` registers these fixtures for every test.
"""

from __future__ import annotations

import asyncio
import shutil
from datetime import date
from pathlib import Path
from typing import Any, Iterable, Iterator, Optional

import pytest
import yaml
from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.context import ActionContext, use_context
from actions.identity import CUSTOMER_KEY
from knowledge.demo_store import generate_products
from knowledge.recommend.shop import ensure_model
from knowledge.settings import PROJECT_ROOT, Settings
from knowledge.shop import Shop
from knowledge.shopdb.engine import ShopDB, connect
from knowledge.shopdb.generate import generate_shop
from knowledge.sparql import OxigraphStoreClient, SparqlEndpoint


@pytest.fixture(scope="session")
def shop_template(tmp_path_factory: pytest.TempPathFactory, catalog_file: Path) -> Path:
    """A generated shop database (the demo customers and their five orders among 60 customers) with its segments,
    and next to it ``models/`` holding the recommender trained on it; made once."""
    path = tmp_path_factory.mktemp("shop-template") / "shop.db"
    db, kg = connect(f"sqlite:///{path}"), OxigraphStoreClient()
    try:
        generate_shop(db, generate_products(), today=date.today(), customers=60, orders=300)
        kg.load_turtle(str(catalog_file))
        ensure_model(path.parent / "models" / "recommender.npz", db, kg)
    finally:
        db.dispose()
    return path


@pytest.fixture
def shop_db(shop_template: Path, tmp_path: Path) -> Iterator[ShopDB]:
    """A fresh copy of the generated shop database for one test."""
    path = tmp_path / "shop.db"
    shutil.copyfile(shop_template, path)
    db = connect(f"sqlite:///{path}")
    yield db
    db.dispose()


def context_on(kg: SparqlEndpoint, db: ShopDB, var_dir: Path) -> ActionContext:
    """An action context on this graph and database, its models under ``var_dir``."""
    settings = Settings.from_env({"SHOPBOT_VAR_DIR": str(var_dir), "DATABASE_URL": str(db.engine.url)})
    return ActionContext(settings, shop=Shop(kg, vocabulary_max_age=3600), db=db)


@pytest.fixture
def action_context(shop_db: ShopDB, memory_kg: OxigraphStoreClient, tmp_path: Path) -> Iterator[ActionContext]:
    """The actions' context for one test: the demo graph in process and a fresh generated shop database (no
    recommender trained yet in its var dir)."""
    context = context_on(memory_kg, shop_db, tmp_path / "var")
    use_context(context)
    yield context
    use_context(None)


@pytest.fixture
def trained_context(action_context: ActionContext, shop_template: Path) -> ActionContext:
    """The actions' context with the recommender trained on its database already saved in its var dir."""
    shutil.copytree(shop_template.parent / "models", action_context.settings.recommender_file.parent)
    return action_context


@pytest.fixture(scope="session")
def domain() -> dict[str, Any]:
    """The assistant's domain as a dict, as the action server receives it (``bot/domain/*.yml`` merged)."""
    merged: dict[str, Any] = {}
    for path in sorted((PROJECT_ROOT / "bot" / "domain").glob("*.yml")):
        for key, value in (yaml.safe_load(path.read_text()) or {}).items():
            if isinstance(value, dict):
                merged.setdefault(key, {}).update(value)
            elif isinstance(value, list):
                merged.setdefault(key, []).extend(value)
            else:
                merged[key] = value
    return merged


def user(text: str, intent: Optional[str] = None, entities: Iterable[dict] = (), customer: Optional[str] = None,
         ranking: Optional[list[dict]] = None) -> dict[str, Any]:
    """A user event (and its parse data) as Rasa sends it; ``customer`` is the id the channel verified."""
    parse = {"text": text, "intent": {"name": intent, "confidence": 1.0} if intent else {},
             "entities": list(entities), "metadata": {CUSTOMER_KEY: customer} if customer else {}}
    if ranking is not None:
        parse["intent_ranking"] = ranking
    return {"event": "user", "text": text, "parse_data": parse, "metadata": parse["metadata"]}


def bot(text: str) -> dict[str, Any]:
    """A bot utterance event."""
    return {"event": "bot", "text": text}


def action(name: str) -> dict[str, Any]:
    """An action-executed event."""
    return {"event": "action", "name": name}


def tracker(text: str = "", intent: Optional[str] = None, entities: Iterable[dict] = (), *,
            customer: Optional[str] = None, slots: Optional[dict[str, Any]] = None, before: Iterable[dict] = (),
            sender: str = "test-conversation", paused: bool = False) -> Tracker:
    """A tracker whose latest message is ``text`` (with this intent and entities), after the events ``before``."""
    latest = user(text, intent, entities, customer)
    return Tracker(
        sender_id=sender, slots=dict(slots or {}), latest_message=latest["parse_data"],
        events=[*before, latest], paused=paused, followup_action=None, active_loop={},
        latest_action_name="action_listen",
    )


def run(action_: Action, track: Tracker, domain_: Optional[dict[str, Any]] = None) -> tuple[list[dict], list[dict]]:
    """Run an action; what it said, and the events it returned."""
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action_.run(dispatcher, track, domain_ or {}))
    return dispatcher.messages, events


def said(messages: list[dict[str, Any]]) -> str:
    """Everything the bot wrote, one message per line."""
    return "\n".join(m.get("text") or "" for m in messages if m.get("text"))


def slots(events: list[dict[str, Any]]) -> dict[str, Any]:
    """The slots the events set, by name (the last value wins)."""
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}
