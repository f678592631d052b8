"""Checks of the SPARQL server the knowledge-layer tests run against (the `kg` fixture), for other servers than Oxigraph.

tests/unit runs the escaping round trips on the in-process pyoxigraph store only; these run them on the
server, and compare the answers of the knowledge layer's functions on the server with those of the
in-process store, for the whole demo catalog. Not collected by the default pytest run (the file name does
not start with test_); tests/virtuoso/run.py runs it against Virtuoso, and against the local Oxigraph
server it runs with `pytest tests/virtuoso/server_checks.py`.

Known server bugs in the knowledge-layer suite are marked xfail, for that server only, in plugin.py.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rdflib import Literal, URIRef
from rdflib.namespace import XSD

from knowledge.demo_store import CATEGORIES
from knowledge.namespaces import PRODUCT
from knowledge.policies import payment_methods, return_policy, shipping_options, store_contact
from knowledge.products import SearchFacets, all_product_ids, compare_products, count_triples, get_products, search_products
from knowledge.sparql import HttpSparqlClient, KnowledgeGraphUnavailable, OxigraphStoreClient, render
from knowledge.vocabulary import Vocabulary, load_vocabulary

SUBJECT_NS = "urn:shopbot-test:subject:"
PREDICATE = URIRef("urn:shopbot-test:says")
HOSTILE = 'x" } ; DROP ALL ; #'


def _round_trip(kg: HttpSparqlClient, literal: Literal) -> None:
    subject = URIRef(SUBJECT_NS + uuid.uuid4().hex)
    kg.update(render("INSERT DATA { $s $p $o }", s=subject, p=PREDICATE, o=literal))
    try:
        rows = kg.select(render("SELECT ?o WHERE { $s $p ?o }", s=subject, p=PREDICATE))
        assert [str(row["o"]) for row in rows] == [str(literal)]
        found = kg.select(render("SELECT ?s WHERE { ?s $p $o }", p=PREDICATE, o=literal))
        assert [row["s"] for row in found] == [subject]
    finally:
        kg.update(render("DELETE WHERE { $s ?p ?o }", s=subject))


@settings(max_examples=200, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(text=st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")))
def test_any_text_round_trips_on_the_server(fresh_kg: HttpSparqlClient, text: str) -> None:
    _round_trip(fresh_kg, Literal(text))


@pytest.mark.parametrize("text", ["", "é ü ß 日本語 😀", "a\nb\rc\td", 'q"uote \\ back\\slash', '\n\\"', "\\u0041",
                                  "\u2028\ufeff\x7f\x01", "x" * 5000, HOSTILE])
def test_awkward_text_round_trips_on_the_server(fresh_kg: HttpSparqlClient, text: str) -> None:
    _round_trip(fresh_kg, Literal(text))


def test_nul_character_round_trips_on_the_server(fresh_kg: HttpSparqlClient) -> None:
    """U+0000 goes out escaped (Virtuoso would end the query text at a raw one, as a C string)."""
    _round_trip(fresh_kg, Literal("before\x00after"))


def test_nul_character_never_changes_the_graph(fresh_kg: HttpSparqlClient) -> None:
    """Whatever a server does with U+0000, a cut query is an error, never another update."""
    before = count_triples(fresh_kg)
    hostile = Literal('x\x00" } ; DROP ALL ; INSERT DATA { <urn:a> <urn:b> "c" } #')
    try:
        fresh_kg.update(render("INSERT DATA { $s schema:name $o }", s=PRODUCT.P0001, o=hostile))
    except KnowledgeGraphUnavailable:
        assert count_triples(fresh_kg) == before
    else:
        assert count_triples(fresh_kg) == before + 1
    assert not fresh_kg.ask(render("ASK { <urn:a> <urn:b> ?c }"))


@pytest.mark.parametrize("literal", [
    Literal("Laufschuh", lang="de"),
    Literal("Running shoe", lang="en-GB"),
    Literal(Decimal("129.5"), datatype=XSD.decimal),
    Literal(42, datatype=XSD.integer),
    Literal(True),
    Literal("/static/products/P0001.svg", datatype=XSD.anyURI),
    Literal("2026-11-29", datatype=XSD.date),
], ids=lambda literal: literal.datatype.rsplit("#", 1)[-1] if literal.datatype else f"@{literal.language}")
def test_typed_and_tagged_literals_round_trip_on_the_server(fresh_kg: HttpSparqlClient, literal: Literal) -> None:
    subject = URIRef(SUBJECT_NS + uuid.uuid4().hex)
    fresh_kg.update(render("INSERT DATA { $s $p $o }", s=subject, p=PREDICATE, o=literal))
    rows = fresh_kg.select(render("SELECT ?o WHERE { $s $p ?o }", s=subject, p=PREDICATE))
    assert len(rows) == 1
    term = rows[0]["o"]
    # by value: stores may write a number's canonical form ("129.5") and a language tag in lower case (both
    # allowed by RDF 1.1); the knowledge layer only relies on values
    assert (term.datatype, (term.language or "").lower(), term.toPython()) == (
        literal.datatype, (literal.language or "").lower(), literal.toPython())
    assert fresh_kg.ask(render("ASK { ?s $p $o }", p=PREDICATE, o=literal))


def test_hostile_literal_in_an_update_is_stored_as_text(fresh_kg: HttpSparqlClient) -> None:
    before = count_triples(fresh_kg)
    fresh_kg.update(render("INSERT DATA { $s schema:name $o }", s=PRODUCT.P0001, o=Literal(HOSTILE)))
    assert count_triples(fresh_kg) == before + 1
    rows = fresh_kg.select(render("SELECT ?p WHERE { ?p schema:name $o }", o=Literal(HOSTILE)))
    assert [row["p"] for row in rows] == [PRODUCT.P0001]


# --- the knowledge layer's answers: the server against the in-process store -----------------------------------


def _vocabulary_facts(vocabulary: Vocabulary) -> tuple:
    return (sorted(vocabulary.product_names.items()), vocabulary.key_owners(),
            sorted(vocabulary.categories.items()), sorted(vocabulary.brands.items()),
            sorted(vocabulary.colors), sorted(vocabulary.materials), sorted(vocabulary.sizes))


def test_vocabulary_is_the_same(kg: HttpSparqlClient, memory_kg: OxigraphStoreClient) -> None:
    assert _vocabulary_facts(load_vocabulary(kg)) == _vocabulary_facts(load_vocabulary(memory_kg))


def test_every_product_is_the_same(kg: HttpSparqlClient, memory_kg: OxigraphStoreClient) -> None:
    ids = all_product_ids(memory_kg)
    assert all_product_ids(kg) == ids and len(ids) >= 300
    assert get_products(kg, ids) == get_products(memory_kg, ids)


@pytest.mark.parametrize("spec", CATEGORIES, ids=lambda spec: spec.slug)
def test_searches_are_the_same(kg: HttpSparqlClient, memory_kg: OxigraphStoreClient, spec) -> None:
    low, high = spec.price_range
    searches = [SearchFacets(category=spec.label, limit=50)]
    searches += [SearchFacets(category=spec.label.upper(), color=color, max_price=Decimal((low + high) // 2), limit=50)
                 for color in spec.colors]
    searches += [SearchFacets(category=spec.label, material=material, min_price=Decimal(low + 5), sort=sort,
                              in_stock=True, limit=10)
                 for material in spec.materials for sort in ("price_asc", "price_desc", "name", "rating")]
    for facets in searches:
        assert [p.id for p in search_products(kg, facets)] == [p.id for p in search_products(memory_kg, facets)], facets


def test_comparisons_and_policies_are_the_same(kg: HttpSparqlClient, memory_kg: OxigraphStoreClient) -> None:
    for first, second in [("P0001", "P0002"), ("P0001", "P0100"), ("P0321", "P0150"), ("P0001", "P9999")]:
        assert compare_products(kg, first, second) == compare_products(memory_kg, first, second)
    for read in (return_policy, shipping_options, payment_methods, store_contact):
        assert read(kg) == read(memory_kg), read.__name__
