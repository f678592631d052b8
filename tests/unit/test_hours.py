"""The store's opening hours as the graph states them (knowledge/hours.py), read from a real store."""

from __future__ import annotations

from datetime import date, datetime, time, timezone
from zoneinfo import ZoneInfo

import pytest
from rdflib import BNode, Graph, Literal
from rdflib.namespace import RDF, XSD

from knowledge.hours import HoursSpec, OpeningHours, opening_hours, when
from knowledge.namespaces import SCHEMA, SHOP
from knowledge.sparql import OxigraphStoreClient
from knowledge.validation import validate

BERLIN = ZoneInfo("Europe/Berlin")
WEEKDAYS = frozenset(range(5))


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN)


def test_the_demo_store_states_its_hours_machine_readable(memory_kg: OxigraphStoreClient) -> None:
    hours = opening_hours(memory_kg)
    assert hours is not None and hours.zone_name == "Europe/Berlin"
    assert hours.specs == (HoursSpec(WEEKDAYS, time(9), time(18)),)
    assert hours.is_open(berlin(2026, 12, 2, 10, 30))  # a Wednesday morning
    assert not hours.is_open(berlin(2026, 12, 2, 18, 0))  # closing time is closed
    assert not hours.is_open(berlin(2026, 12, 5, 11, 0))  # a Saturday
    # 8:30 UTC on a winter Wednesday is 9:30 in Berlin; in summer 7:30 UTC is 9:30 (CEST)
    assert hours.is_open(datetime(2026, 12, 2, 8, 30, tzinfo=timezone.utc))
    assert hours.is_open(datetime(2026, 7, 1, 7, 30, tzinfo=timezone.utc))
    assert not hours.is_open(datetime(2026, 12, 2, 7, 30, tzinfo=timezone.utc))


def test_next_opening_and_how_it_is_said() -> None:
    hours = OpeningHours((HoursSpec(WEEKDAYS, time(9), time(18)),), "Europe/Berlin")
    friday_night = berlin(2026, 12, 4, 20, 0)
    monday = hours.next_opening(friday_night)
    assert monday == berlin(2026, 12, 7, 9, 0)
    assert when(monday, friday_night) == "on Monday at 9:00 CET"
    early = berlin(2026, 12, 2, 7, 0)
    assert when(hours.next_opening(early), early) == "today at 9:00 CET"
    evening = berlin(2026, 12, 2, 19, 0)
    assert when(hours.next_opening(evening), evening) == "tomorrow at 9:00 CET"


def test_closed_days_overnight_hours_and_holidays() -> None:
    hours = OpeningHours((
        HoursSpec(frozenset({5}), time(22), time(2)),               # Saturday night until 2:00
        HoursSpec(frozenset({6}), time(0), time(0)),                # Sunday: closed (opens = closes)
        HoursSpec(WEEKDAYS, time(9), time(18)),
        HoursSpec(frozenset({3}), time(0), time(0), date(2026, 12, 24), date(2026, 12, 24)),  # Christmas Eve
        HoursSpec(frozenset({4}), time(10), time(14), date(2026, 12, 25), date(2026, 12, 25)),  # short Friday
    ), "Europe/Berlin")
    assert hours.is_open(berlin(2026, 12, 5, 23, 0)) and hours.is_open(berlin(2026, 12, 6, 1, 30))
    assert not hours.is_open(berlin(2026, 12, 6, 2, 30)) and not hours.is_open(berlin(2026, 12, 6, 12, 0))
    assert not hours.is_open(berlin(2026, 12, 24, 11, 0))  # a Thursday, but the holiday replaces it
    assert hours.is_open(berlin(2026, 12, 25, 11, 0)) and not hours.is_open(berlin(2026, 12, 25, 15, 0))
    assert hours.next_opening(berlin(2026, 12, 23, 19, 0)) == berlin(2026, 12, 25, 10, 0)


def test_all_day_and_never_open() -> None:
    always = OpeningHours((HoursSpec(frozenset(range(7)), time(0), time(23, 59)),), "UTC")
    assert always.is_open(datetime(2026, 12, 6, 23, 59, 30, tzinfo=timezone.utc))
    never = OpeningHours((HoursSpec(frozenset(range(7)), time(0), time(0)),), "UTC")
    now = datetime(2026, 12, 6, 12, 0, tzinfo=timezone.utc)
    assert not never.is_open(now) and never.next_opening(now) is None
    assert OpeningHours((), "Not/AZone").zone == ZoneInfo("UTC")


def _store(*specs: tuple) -> Graph:
    graph = Graph()
    graph.add((SHOP.store, RDF.type, SCHEMA.OnlineStore))
    graph.add((SHOP.store, SCHEMA.name, Literal("A store")))
    for days, opens, closes in specs:
        node = BNode()
        graph.add((SHOP.store, SCHEMA.openingHoursSpecification, node))
        graph.add((node, RDF.type, SCHEMA.OpeningHoursSpecification))
        for day in days:
            graph.add((node, SCHEMA.dayOfWeek, day))
        graph.add((node, SCHEMA.opens, opens))
        graph.add((node, SCHEMA.closes, closes))
    return graph


def test_a_store_without_hours_has_none(tmp_path) -> None:
    path = tmp_path / "store.ttl"
    _store().serialize(str(path), format="turtle")
    store = OxigraphStoreClient()
    store.load_turtle(str(path))
    assert opening_hours(store) is None


@pytest.mark.parametrize("day, opens, problem", [
    (Literal("Funday"), Literal("09:00:00", datatype=XSD.time), "days of the week"),
    (SCHEMA.Monday, Literal("nine o'clock"), "opening time"),
])
def test_the_shapes_refuse_hours_that_make_no_sense(day, opens, problem: str) -> None:
    graph = _store(([day], opens, Literal("18:00:00", datatype=XSD.time)))
    report = validate(graph)
    assert not report.conforms and any(problem in p for p in report.problems)


def test_the_shapes_accept_good_hours_and_refuse_a_bad_zone() -> None:
    graph = _store(([SCHEMA.Monday, SCHEMA.Sunday], Literal("09:00:00", datatype=XSD.time),
                    Literal("18:00:00", datatype=XSD.time)))
    graph.add((SHOP.store, SHOP.timeZone, Literal("America/New_York")))
    assert validate(graph).conforms
    graph.set((SHOP.store, SHOP.timeZone, Literal("somewhere nice")))
    assert any("time zone" in p for p in validate(graph).problems)
