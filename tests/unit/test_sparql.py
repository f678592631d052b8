"""Unit tests of knowledge.sparql: safe query rendering, result parsing and both endpoint clients."""

from __future__ import annotations

import time
import uuid
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rdflib import BNode, Literal, URIRef
from rdflib.namespace import XSD

from knowledge.namespaces import PRODUCT, SCHEMA, sparql_prefixes
from knowledge.products import count_triples
from knowledge.sparql import (
    HttpSparqlClient,
    KnowledgeGraphUnavailable,
    OxigraphStoreClient,
    parse_results,
    py,
    render,
    values,
)

HOSTILE = 'x" } ; DROP ALL ; #'
SUBJECT_NS = "urn:shopbot-test:subject:"
PREDICATE = URIRef("urn:shopbot-test:says")


# --- render() -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["P0001", 'x" }', 42, 4.2, Decimal("1.5"), None, b"bytes", True, BNode()])
def test_render_refuses_anything_but_rdflib_terms(value: object) -> None:
    with pytest.raises(TypeError):
        render("SELECT * WHERE { ?s ?p $o }", o=value)


@pytest.mark.parametrize("value", [["P0001"], (PRODUCT.P0001, "P0002"), [PRODUCT.P0001, 7]])
def test_render_refuses_plain_values_inside_sequences(value: object) -> None:
    with pytest.raises(TypeError):
        render("SELECT * WHERE { VALUES ?p { $products } }", products=value)


def test_render_writes_escaped_terms_after_the_prefix_header() -> None:
    query = render(
        "SELECT * WHERE { $s schema:name $name ; schema:price $price }",
        s=PRODUCT.P0001,
        name=Literal('say "hi"'),
        price=Literal(Decimal("9.50"), datatype=XSD.decimal),
    )
    assert query.startswith(sparql_prefixes())
    body = query[len(sparql_prefixes()):]
    assert "<https://shop.example/product/P0001>" in body
    assert r'"say \"hi\""' in body
    assert '"9.50"^^<http://www.w3.org/2001/XMLSchema#decimal>' in body
    assert "$" not in body


@pytest.mark.parametrize("sequence", [tuple, list])
def test_render_joins_sequences_of_terms(sequence: type) -> None:
    query = render("VALUES ?p { $products }", products=sequence([PRODUCT.P0001, PRODUCT.P0002, Literal("x")]))
    assert query.endswith(
        'VALUES ?p { <https://shop.example/product/P0001> <https://shop.example/product/P0002> "x" }'
    )


def test_render_without_bindings_is_prefixes_plus_template() -> None:
    assert render("ASK { ?s ?p ?o }") == sparql_prefixes() + "ASK { ?s ?p ?o }"


@settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(text=st.text())
def test_any_text_round_trips_as_one_literal(memory_kg: OxigraphStoreClient, text: str) -> None:
    subject = URIRef(SUBJECT_NS + uuid.uuid4().hex)
    before = count_triples(memory_kg)
    memory_kg.update(render("INSERT DATA { $s $p $o }", s=subject, p=PREDICATE, o=Literal(text)))
    rows = memory_kg.select(render("SELECT ?o WHERE { $s $p ?o }", s=subject, p=PREDICATE))
    assert count_triples(memory_kg) == before + 1
    assert len(rows) == 1
    assert isinstance(rows[0]["o"], Literal)
    assert str(rows[0]["o"]) == text
    assert rows[0]["o"].language is None
    # the text is also found when it is itself the bound value of a query
    found = memory_kg.select(render("SELECT ?s WHERE { ?s $p $o }", p=PREDICATE, o=Literal(text)))
    assert [row["s"] for row in found] == [subject]


@pytest.mark.parametrize("text", ['\n\\"', 'first line\nsecond ends in \\"', 'a\n\\\\"'])
def test_literal_with_newline_ending_in_backslash_quote_round_trips(memory_kg: OxigraphStoreClient, text: str) -> None:
    subject = URIRef(SUBJECT_NS + uuid.uuid4().hex)
    memory_kg.update(render("INSERT DATA { $s $p $o }", s=subject, p=PREDICATE, o=Literal(text)))
    rows = memory_kg.select(render("SELECT ?o WHERE { $s $p ?o }", s=subject, p=PREDICATE))
    assert [str(row["o"]) for row in rows] == [text]


def test_hostile_literal_in_a_select_changes_nothing(memory_kg: OxigraphStoreClient) -> None:
    before = count_triples(memory_kg)
    rows = memory_kg.select(render("SELECT ?p WHERE { ?p schema:name $name }", name=Literal(HOSTILE)))
    assert rows == []
    assert count_triples(memory_kg) == before
    assert before > 1000


def test_hostile_literal_in_an_update_is_stored_as_text(memory_kg: OxigraphStoreClient) -> None:
    before = count_triples(memory_kg)
    memory_kg.update(render("INSERT DATA { $s schema:name $o }", s=PRODUCT.P0001, o=Literal(HOSTILE)))
    assert count_triples(memory_kg) == before + 1
    rows = memory_kg.select(render("SELECT ?p WHERE { ?p schema:name $o }", o=Literal(HOSTILE)))
    assert [row["p"] for row in rows] == [PRODUCT.P0001]


# --- parse_results, py, values ----------------------------------------------------------------------------


def test_parse_results_builds_rdflib_terms() -> None:
    payload = {
        "head": {"vars": ["s", "price", "label", "plain", "b", "missing"]},
        "results": {
            "bindings": [
                {
                    "s": {"type": "uri", "value": "https://shop.example/product/P0001"},
                    "price": {"type": "literal", "value": "129.00", "datatype": str(XSD.decimal)},
                    "label": {"type": "literal", "value": "Laufschuh", "xml:lang": "de"},
                    "plain": {"type": "literal", "value": "mesh"},
                    "b": {"type": "bnode", "value": "b0"},
                },
                {"s": {"type": "uri", "value": "https://shop.example/product/P0002"}},
            ]
        },
    }
    rows = parse_results(payload)
    assert len(rows) == 2
    first = rows[0]
    assert first["s"] == URIRef("https://shop.example/product/P0001") and isinstance(first["s"], URIRef)
    assert isinstance(first["price"], Literal)
    assert first["price"].datatype == XSD.decimal
    assert py(first["price"]) == Decimal("129.00")
    assert first["label"].language == "de" and first["label"].datatype is None
    assert str(first["label"]) == "Laufschuh"
    assert first["plain"] == Literal("mesh") and first["plain"].language is None
    assert isinstance(first["b"], BNode)
    assert "missing" not in first
    assert set(rows[1]) == {"s"}
    assert values(rows, "price") == [Decimal("129.00")]
    assert values(rows, "s") == ["https://shop.example/product/P0001", "https://shop.example/product/P0002"]


def test_parse_results_of_an_empty_document() -> None:
    assert parse_results({}) == []
    assert parse_results({"head": {"vars": []}, "results": {"bindings": []}}) == []
    assert py(None) is None


# --- clients -----------------------------------------------------------------------------------------------

_COMPARABLE = """SELECT ?p ?name ?price ?stock ?label WHERE {
  ?p a schema:Product ; schema:name ?name ; shop:stockLevel ?stock ; schema:offers/schema:price ?price .
  BIND(STRLANG(?name, "en") AS ?label)
} ORDER BY ?p LIMIT 25"""


def test_store_and_http_clients_return_the_same_rows(memory_kg: OxigraphStoreClient, kg: HttpSparqlClient) -> None:
    query = render(_COMPARABLE)
    local, remote = memory_kg.select(query), kg.select(query)
    assert len(local) == 25
    assert local == remote
    assert remote[0]["p"] == PRODUCT.P0001
    assert remote[0]["label"].language == "en"
    assert remote[0]["price"].datatype == XSD.decimal
    assert remote[0]["stock"].datatype == XSD.integer


def test_store_and_http_clients_agree_on_ask(memory_kg: OxigraphStoreClient, kg: HttpSparqlClient) -> None:
    yes = render("ASK { $p schema:brand/schema:name $b }", p=PRODUCT.P0001, b=Literal("Stridewell"))
    no = render("ASK { $p schema:brand/schema:name $b }", p=PRODUCT.P0001, b=Literal("Fleetfoot"))
    assert memory_kg.ask(yes) is True and kg.ask(yes) is True
    assert memory_kg.ask(no) is False and kg.ask(no) is False


def test_http_client_reports_a_rejected_query(kg: HttpSparqlClient) -> None:
    with pytest.raises(KnowledgeGraphUnavailable, match="answered 4"):
        kg.select("SELECT nonsense WHERE {")


def test_http_client_on_a_closed_port_fails_fast() -> None:
    from bot.services import free_port

    port = free_port()
    client = HttpSparqlClient(f"http://127.0.0.1:{port}/query", timeout=1)
    started = time.monotonic()
    with pytest.raises(KnowledgeGraphUnavailable, match="unreachable"):
        client.select(render("SELECT * WHERE { ?s ?p ?o } LIMIT 1"))
    with pytest.raises(KnowledgeGraphUnavailable):
        client.update(render("INSERT DATA { $s $p $o }", s=PRODUCT.P0001, p=SCHEMA.name, o=Literal("x")))
    assert time.monotonic() - started < 5
