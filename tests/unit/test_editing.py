"""Unit tests of knowledge.editing: terms, changes, validation, conflicts, audit and revert.

They run against the real Oxigraph server (``fresh_kg`` restores the demo catalog after each test) and a
real SQLite file in ``tmp_path``.
"""

from __future__ import annotations

import shutil
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterator

import pyoxigraph
import pytest
from rdflib import Literal, URIRef
from rdflib.namespace import RDF, XSD
from sqlalchemy import func, select

from knowledge.editing import (
    EMPTY_VERSION,
    Change,
    EditConflict,
    Editor,
    EmptyChange,
    PermissionDenied,
    ValidationFailed,
    add,
    compact,
    create_product,
    delete_product,
    document,
    format_triple,
    from_ntriples,
    import_csv,
    import_turtle,
    invert,
    parse_object,
    parse_predicate,
    parse_subject,
    parse_term,
    remove,
    set_value,
    to_ntriples,
    update_product,
    version_of,
)
from knowledge.editing.errors import ChangeNotFound
from knowledge.namespaces import BRAND, CATEGORY, PRODUCT, SCHEMA, SHOP
from knowledge.products import get_product
from knowledge.shopdb import ShopDB, connect
from knowledge.shopdb.staff import KgChange, add_staff, set_active
from knowledge.sparql import HttpSparqlClient, KnowledgeGraphUnavailable, render
from tests.invariants import Snapshot
from tests.postgres import create_database

P1 = PRODUCT.P0001
OFFER1 = PRODUCT["P0001-offer"]
HOSTILE = 'x" } ; DROP ALL ; INSERT DATA { <urn:a> <urn:b> "c" } #'


def add_the_staff(shop: ShopDB) -> None:
    add_staff(shop, "alice", "alice-password", role="editor")
    add_staff(shop, "bob", "bob-password", role="admin")
    add_staff(shop, "vera", "vera-password", role="viewer")


@pytest.fixture(scope="module")
def staff_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A shop database file holding the editor alice, the admin bob and the viewer vera (made once, copied)."""
    path = tmp_path_factory.mktemp("staff") / "shop.db"
    shop = connect(f"sqlite:///{path}")
    add_the_staff(shop)
    shop.dispose()
    return path


@pytest.fixture(scope="module")
def staff_template(request: pytest.FixtureRequest) -> str:
    """The same staff in a PostgreSQL database, copied for each test as a template."""
    server = request.getfixturevalue("postgres_url")
    shop = connect(create_database(server, "editing_template"))
    add_the_staff(shop)
    shop.dispose()
    return server


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, staff_db: Path, tmp_path: Path) -> Iterator[ShopDB]:
    """The shop database of the editing tests: on SQLite and on PostgreSQL, each test with its own copy."""
    if request.param == "sqlite":
        shutil.copyfile(staff_db, tmp_path / "shop.db")
        shop = connect(f"sqlite:///{tmp_path / 'shop.db'}")
    else:
        server = request.getfixturevalue("staff_template")
        shop = connect(create_database(server, "editing", template="editing_template"))
    yield shop
    shop.dispose()


@pytest.fixture
def editor(fresh_kg: HttpSparqlClient, db: ShopDB) -> Editor:
    return Editor(fresh_kg, db)


def triples_of(kg: HttpSparqlClient) -> set[str]:
    """Every catalog triple of the graph as an N-Triples line (the server's canonical form: equal sets, equal
    graphs); the graph's own change counter (``knowledge.catalog_state``) left out."""
    from knowledge.catalog_state import STATE_NODE

    query = f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ ?s ?p ?o FILTER(?s != <{STATE_NODE}>) }}"
    response = kg.session.post(kg.query_url, data={"query": query},
                               headers={"Accept": "application/n-triples"}, timeout=30)
    response.raise_for_status()
    from pyoxigraph import RdfFormat, parse  # re-serialised: servers differ in whitespace (Virtuoso uses tabs)

    return {str(quad.triple) + " ." for quad in parse(response.text, format=RdfFormat.N_TRIPLES)}


def audit_rows(db: ShopDB) -> int:
    with db.engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(KgChange.__table__)).scalar_one())


def price(kg: HttpSparqlClient, product_id: str = "P0001") -> Decimal:
    product = get_product(kg, product_id)
    assert product is not None
    return product.price


# --- terms -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, term", [
    ("P0001", P1),
    ("prod:P0001", P1),
    ("prod:P0001-offer", OFFER1),
    ("<https://shop.example/product/P0001>", P1),
    ("brand:stridewell", BRAND.stridewell),
    ("cat:running-shoes", CATEGORY["running-shoes"]),
    ("shop:store", SHOP.store),
    ("policy:returns", URIRef("https://shop.example/policy/returns")),
])
def test_parse_subject(text: str, term: URIRef) -> None:
    assert parse_subject(text) == term


@pytest.mark.parametrize("text, term", [
    ('"navy"', Literal("navy")),
    ('"x"@en', Literal("x", lang="en")),
    ('"12"^^xsd:integer', Literal("12", datatype=XSD.integer)),
    ("99.00", Literal("99.00", datatype=XSD.decimal)),
    ("42", Literal("42", datatype=XSD.integer)),
    ("-5", Literal("-5", datatype=XSD.integer)),
    ("true", Literal("true", datatype=XSD.boolean)),
    ("dark blue", Literal("dark blue")),
    ("cheap", Literal("cheap")),
    ("cat:running-shoes", CATEGORY["running-shoes"]),
    ("<https://example.com/x>", URIRef("https://example.com/x")),
    ('"/static/x.svg"^^xsd:anyURI', Literal("/static/x.svg", datatype=XSD.anyURI)),
    ('"say \\"hi\\""', Literal('say "hi"')),
    (f'"{HOSTILE.replace(chr(34), chr(92) + chr(34))}"', Literal(HOSTILE)),
])
def test_parse_object(text: str, term: Literal) -> None:
    parsed = parse_object(text)
    assert parsed == term and type(parsed) is type(term)


def test_parse_predicate() -> None:
    assert parse_predicate("a") == RDF.type
    assert parse_predicate("schema:color") == SCHEMA.color
    assert parse_predicate("rdfs:label") == URIRef("http://www.w3.org/2000/01/rdf-schema#label")


@pytest.mark.parametrize("text, position, message", [
    ("foo:bar", "object", "unknown prefix 'foo:'"),
    ('"12"^^foo:int', "object", "unknown prefix 'foo:'"),
    ("<relative>", "object", "not a valid absolute IRI"),
    ("<https://a b>", "subject", "not a valid"),
    ('"unterminated', "object", "not a valid object"),
    ('"abc"^^xsd:integer', "object", "is not a valid xsd:integer"),
    ('"a" . <urn:x> <urn:y> "b"', "object", "not a single object"),
    ("_:b0", "object", "blank nodes are not supported"),
    ("[]", "object", "blank nodes are not supported"),
    ("", "object", "empty object"),
    ('"text"', "subject", "must be an IRI"),
    ("42", "predicate", "must be an IRI"),
    ("foo", "subject", "not a valid subject"),
    ("P1", "subject", "not a valid subject"),
    ("http://example.com/x", "object", "unknown prefix 'http:'"),
])
def test_bad_terms_are_refused_clearly(text: str, position: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        if position == "object":
            parse_object(text)
        else:
            parse_term(text, position)


def test_compact_round_trips_through_parse_object() -> None:
    for term in (Literal("129", datatype=XSD.decimal), Literal(-5), Literal(True), Literal("navy"),
                 Literal("x", lang="en"), Literal("/x.svg", datatype=XSD.anyURI), Literal(HOSTILE), OFFER1):
        assert parse_object(compact(term)).eq(term) if isinstance(term, Literal) else parse_object(compact(term)) == term
    assert compact(OFFER1) == "prod:P0001-offer"
    assert format_triple((OFFER1, SCHEMA.price, Literal("99.00", datatype=XSD.decimal))) == \
        "prod:P0001-offer schema:price 99.00"


def test_ntriples_round_trip_and_version_ignores_order() -> None:
    triples = [(P1, SCHEMA.color, Literal(HOSTILE)), (P1, SCHEMA.name, Literal("x\ny", lang="en")),
               (OFFER1, SCHEMA.price, Literal("1.50", datatype=XSD.decimal)), (P1, SCHEMA.offers, OFFER1)]
    text = to_ntriples(triples)
    assert from_ntriples(text) == frozenset(triples)
    assert to_ntriples(reversed(triples)) == text
    assert version_of(triples) == version_of(reversed(triples)) != version_of(triples[:3])
    assert version_of([]) == EMPTY_VERSION and to_ntriples([]) == "" and from_ntriples("") == frozenset()


# --- documents and builders --------------------------------------------------------------------------------

def test_document_holds_product_offer_and_rating(kg: HttpSparqlClient) -> None:
    triples, version = document(kg, "P0001")
    subjects = {s for s, _, _ in triples}
    assert subjects == {P1, OFFER1, PRODUCT["P0001-rating"]}
    assert (OFFER1, SCHEMA.price, Literal("129", datatype=XSD.decimal)) in {
        (s, p, o) for s, p, o in triples if p == SCHEMA.price}
    assert document(kg, "prod:P0001-offer").version == version == document(kg, "<%s>" % P1).version
    assert len(version) == 12
    assert document(kg, "P9999") == (frozenset(), EMPTY_VERSION)
    assert document(kg, "brand:stridewell").triples == {
        (BRAND.stridewell, RDF.type, SCHEMA.Brand), (BRAND.stridewell, SCHEMA.name, Literal("Stridewell"))}


def test_add_and_remove_builders_need_no_graph() -> None:
    change = add("P0001", "schema:color", "navy")
    assert change.added == {(P1, SCHEMA.color, Literal("navy"))} and not change.removed
    assert change.summary == 'add prod:P0001 schema:color "navy"' and change.based_on == ()
    change = remove("prod:P0001", "schema:size", "10")  # sizes are text: the bare number becomes "10"
    assert change.removed == {(P1, SCHEMA.size, Literal("10"))}
    change = add("P0001", "schema:price", "99")  # price of a product goes to its offer, as a decimal
    assert change.added == {(OFFER1, SCHEMA.price, Literal("99", datatype=XSD.decimal))}
    with pytest.raises(ValueError, match="unknown prefix"):
        add("P0001", "foo:color", "navy")


def test_change_is_plain_frozen_data() -> None:
    triple = (P1, SCHEMA.color, Literal("navy"))
    change = Change(added=[triple, triple], removed=[triple, (P1, SCHEMA.color, Literal("red"))], summary="x\ny",
                    based_on={"prod:P0001": "abc"})
    assert change.added == frozenset() and change.removed == {(P1, SCHEMA.color, Literal("red"))}  # cancels out
    assert change.summary == "x y" and change.expected == {"prod:P0001": "abc"}
    assert Change.from_dict(change.to_dict()) == change
    with pytest.raises(AttributeError):
        change.summary = "changed"  # type: ignore[misc]
    with pytest.raises(ValueError, match="blank nodes"):
        from rdflib import BNode
        Change(added=[(P1, SCHEMA.color, BNode())])
    inverse = invert(add("P0001", "schema:color", "navy"))
    assert inverse.removed == {triple} and not inverse.added and inverse.summary.startswith("undo: ")


def test_set_value_replaces_all_values_and_reads_versions(kg: HttpSparqlClient) -> None:
    change = set_value(kg, "P0001", "schema:color", ["navy", "red"])
    assert change.removed == {(P1, SCHEMA.color, Literal("black"))}
    assert change.added == {(P1, SCHEMA.color, Literal("navy"))}  # red is already there
    assert change.expected == {"prod:P0001": document(kg, "P0001").version}
    change = set_value(kg, "P0001", "schema:price", "99")
    assert change.added == {(OFFER1, SCHEMA.price, Literal("99", datatype=XSD.decimal))}
    assert {t[0] for t in change.removed} == {OFFER1} and len(change.removed) == 1
    assert set_value(kg, "P0001", "schema:price", "129.00").is_empty()  # the same value
    assert set_value(kg, "P0001", "schema:color", []).added == frozenset()


def test_create_product_builds_product_and_offer() -> None:
    change = create_product({"id": "P0999", "name": "Test Trail Shoe", "brand": "Stridewell",
                             "category": "running-shoes", "price": "59.5", "stock": 4, "color": "red|blue",
                             "schema:gtin13": '"4006381333931"'}, currency="EUR")
    offer = PRODUCT["P0999-offer"]
    assert (PRODUCT.P0999, SCHEMA.brand, BRAND.stridewell) in change.added
    assert (PRODUCT.P0999, SCHEMA.offers, offer) in change.added
    assert (offer, SCHEMA.price, Literal("59.5", datatype=XSD.decimal)) in change.added
    assert (offer, SCHEMA.priceCurrency, Literal("EUR")) in change.added
    assert (PRODUCT.P0999, SCHEMA.gtin13, Literal("4006381333931")) in change.added
    assert {o for s, p, o in change.added if p == SCHEMA.color} == {Literal("red"), Literal("blue")}
    assert change.expected == {"prod:P0999": EMPTY_VERSION}
    with pytest.raises(ValueError, match="id like P0042"):
        create_product({"name": "no id"})
    with pytest.raises(ValueError, match="unknown product field 'wingspan'"):
        create_product({"id": "P0998", "wingspan": "3 m"})
    weighed = create_product({"id": "P0997", "name": "Kettlebell", "weight": "12000"})
    assert (PRODUCT.P0997, SHOP.weightGrams, Literal("12000", datatype=XSD.integer)) in weighed.added


# --- applying ----------------------------------------------------------------------------------------------

def test_apply_writes_one_audited_change(editor: Editor, fresh_kg: HttpSparqlClient, db: ShopDB) -> None:
    before = document(fresh_kg, "P0001")
    result = editor.apply(set_value(fresh_kg, "P0001", "schema:price", "99.00"), "alice")
    assert price(fresh_kg) == Decimal("99.00")
    record = result.record
    assert record.id == 1 and record.username == "alice" and record.reverts is None
    assert record.added == {(OFFER1, SCHEMA.price, Literal("99.00", datatype=XSD.decimal))}
    assert record.removed == {(OFFER1, SCHEMA.price, Literal("129", datatype=XSD.decimal))}
    assert set(record.subjects) == {P1, OFFER1}
    assert result.versions == {"prod:P0001": document(fresh_kg, "P0001").version} != {"prod:P0001": before.version}
    assert editor.get_change(1) == record
    assert audit_rows(db) == 1
    data = record.to_dict()
    assert data["added"] == ["prod:P0001-offer schema:price 99.00"] and data["created_at"].endswith("Z")


@pytest.mark.parametrize("make, problem", [
    (lambda kg: set_value(kg, "P0001", "schema:price", "cheap"),
     'prod:P0001-offer schema:price: "cheap" is not a decimal'),
    (lambda kg: remove("P0001", "schema:name", '"Trailblazer 2 GTX Running Shoe"'),
     "prod:P0001 schema:name: missing"),
    (lambda kg: set_value(kg, "P0001", "shop:stockLevel", "-3"),
     "prod:P0001 shop:stockLevel: -3 is less than 0"),
    (lambda kg: add("P0001", "schema:name", '"A second name"'),
     "prod:P0001 schema:name: has 2 values, at most 1 allowed"),
    (lambda kg: set_value(kg, "P0001", "schema:brand", "brand:no-such-brand"),
     "prod:P0001 schema:brand: brand:no-such-brand is not a known schema:Brand"),
    (lambda kg: set_value(kg, "P0001", "schema:priceCurrency", "dollars"),
     'prod:P0001-offer schema:priceCurrency: "dollars" does not match the pattern'),
    (lambda kg: remove("brand:stridewell", "a", "schema:Brand"),
     "prod:P0001 schema:brand: brand:stridewell is not a known schema:Brand"),
    (lambda kg: add("P0999", "schema:name", "Orphan"),
     "prod:P0999: not a product"),
    (lambda kg: set_value(kg, "P0999", "schema:price", "10"),
     "prod:P0999-offer: has no rdf:type"),
    (lambda kg: add("brand:stridwell", "schema:name", "Typo"),
     "brand:stridwell: has no rdf:type"),
])
def test_invalid_changes_are_refused_and_nothing_is_written(
    editor: Editor, fresh_kg: HttpSparqlClient, db: ShopDB, make, problem: str
) -> None:
    before = Snapshot.take(fresh_kg, db.engine)
    change = make(fresh_kg)
    with pytest.raises(ValidationFailed) as caught:
        editor.apply(change, "alice")
    assert any(p.startswith(problem) for p in caught.value.problems), caught.value.problems
    assert caught.value.change == change and "nothing" not in caught.value.problems[0]
    before.assert_unchanged(Snapshot.take(fresh_kg, db.engine), problem)  # every triple, every row


def test_noops_are_reported_and_empty_changes_refused(editor: Editor, fresh_kg: HttpSparqlClient) -> None:
    with pytest.raises(EmptyChange, match="adds and removes no triples"):
        editor.apply(Change(), "alice")
    with pytest.raises(EmptyChange, match="already as asked") as caught:
        editor.apply(add("P0001", "schema:color", "red"), "alice")
    assert caught.value.skipped_added == ((P1, SCHEMA.color, Literal("red")),)
    change = Change(added={(P1, SCHEMA.color, Literal("navy")), (P1, SCHEMA.color, Literal("red"))},
                    removed={(P1, SCHEMA.color, Literal("purple"))}, summary="mixed")
    result = editor.apply(change, "alice")
    assert result.record.added == {(P1, SCHEMA.color, Literal("navy"))} and not result.record.removed
    assert result.skipped_added == ((P1, SCHEMA.color, Literal("red")),)
    assert result.skipped_removed == ((P1, SCHEMA.color, Literal("purple")),)
    assert "= prod:P0001 schema:color \"red\" (already there)" in result.lines()


def test_only_active_editors_may_write(editor: Editor, fresh_kg: HttpSparqlClient, db: ShopDB) -> None:
    change = add("P0001", "schema:color", "navy")
    set_active(db, "alice", False)
    before = Snapshot.take(fresh_kg, db.engine)
    with pytest.raises(PermissionDenied, match="viewer"):
        editor.apply(change, "vera")
    with pytest.raises(PermissionDenied, match="no staff account"):
        editor.apply(change, "mallory")
    with pytest.raises(PermissionDenied, match="not active"):
        editor.apply(change, "alice")
    before.assert_unchanged(Snapshot.take(fresh_kg, db.engine), "refused editors")
    assert editor.apply(change, "bob").record.username == "bob"  # admins may write too
    assert audit_rows(db) == 1


def test_second_editor_gets_a_conflict_carrying_the_change(
    editor: Editor, fresh_kg: HttpSparqlClient, db: ShopDB
) -> None:
    seen = document(fresh_kg, "P0001").version
    first = set_value(fresh_kg, "P0001", "schema:price", "99.00")
    second = set_value(fresh_kg, "P0001", "schema:price", "89.00")
    editor.apply(first, "alice", expected={"P0001": seen})
    after_first = Snapshot.take(fresh_kg, db.engine)
    with pytest.raises(EditConflict) as caught:
        editor.apply(second, "bob", expected={"P0001": seen})
    conflict = caught.value
    assert conflict.change == second
    assert conflict.expected == {"prod:P0001": seen}
    assert conflict.current == {"prod:P0001": document(fresh_kg, "P0001").version} != conflict.expected
    assert "prod:P0001 changed" in str(conflict)
    assert price(fresh_kg) == Decimal("99.00")
    with pytest.raises(EditConflict):  # the version it was built on is checked too
        editor.apply(second, "bob", expected={})
    with pytest.raises(EditConflict):  # an offer stands for its product's document
        editor.apply(second, "bob", expected={"prod:P0001-offer": seen})
    # the rejected change is literal triples built on the old price: re-applied as it is, it would add a
    # second price, which validation refuses; the editor rebuilds it on the current graph instead
    with pytest.raises(ValidationFailed, match="has 2 values"):
        editor.apply(conflict.change, "bob", expected=conflict.current)
    after_first.assert_unchanged(Snapshot.take(fresh_kg, db.engine), "conflicts")  # four refusals wrote nothing
    editor.apply(set_value(fresh_kg, "P0001", "schema:price", "89.00"), "bob")
    assert price(fresh_kg) == Decimal("89.00")


def test_concurrent_writers_are_serialised(fresh_kg: HttpSparqlClient, db: ShopDB) -> None:
    seen = document(fresh_kg, "P0001").version
    changes = [set_value(fresh_kg, "P0001", "shop:stockLevel", n) for n in (5, 6, 7, 8)]
    outcomes: list[str] = []

    def write(change: Change) -> None:
        kg = HttpSparqlClient(fresh_kg.query_url, fresh_kg.update_url, timeout=30, auth=fresh_kg.auth)
        try:
            Editor(kg, db.engine).apply(change, "alice", expected={"P0001": seen})
            outcomes.append("written")
        except EditConflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=write, args=(change,)) for change in changes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["conflict", "conflict", "conflict", "written"]
    stock = get_product(fresh_kg, "P0001").stock
    assert stock in (5, 6, 7, 8)
    assert audit_rows(db) == 1


def test_failed_sparql_write_records_nothing(fresh_kg: HttpSparqlClient, db: ShopDB) -> None:
    class Broken:
        def select(self, query: str) -> Any:
            return fresh_kg.select(query)

        def ask(self, query: str) -> bool:
            return fresh_kg.ask(query)

        def update(self, update: str) -> None:
            raise KnowledgeGraphUnavailable("the update endpoint is down")

    before = Snapshot.take(fresh_kg, db.engine)
    with pytest.raises(KnowledgeGraphUnavailable):
        Editor(Broken(), db).apply(add("P0001", "schema:color", "navy"), "alice")
    before.assert_unchanged(Snapshot.take(fresh_kg, db.engine), "a failed write")


def test_hostile_text_is_stored_as_text(editor: Editor, fresh_kg: HttpSparqlClient) -> None:
    before = len(triples_of(fresh_kg))
    result = editor.apply(add("P0001", "schema:color", Literal(HOSTILE[:40])), "alice")
    assert fresh_kg.ask(render("ASK { $s schema:color $o }", s=P1, o=Literal(HOSTILE[:40])))
    assert len(triples_of(fresh_kg)) == before + 1
    editor.revert(result.record.id, "alice")
    assert len(triples_of(fresh_kg)) == before


# --- revert ------------------------------------------------------------------------------------------------

def test_revert_restores_the_graph_exactly(editor: Editor, fresh_kg: HttpSparqlClient) -> None:
    before = triples_of(fresh_kg)
    change = Change(
        added={(OFFER1, SCHEMA.price, Literal("99.00", datatype=XSD.decimal)), (P1, SCHEMA.color, Literal("navy")),
               (P1, SHOP.stockLevel, Literal(7))},
        removed={(OFFER1, SCHEMA.price, Literal("129.00", datatype=XSD.decimal)), (P1, SCHEMA.color, Literal("red")),
                 (P1, SHOP.stockLevel, Literal(42))},
        summary="several facts",
    )
    written = editor.apply(change, "alice")
    assert triples_of(fresh_kg) != before
    reverted = editor.revert(written.record.id, "bob")
    assert triples_of(fresh_kg) == before  # triple for triple
    assert reverted.record.reverts == written.record.id
    assert reverted.record.summary == "revert change 1: several facts"
    assert editor.get_change(written.record.id).reverted_by == reverted.record.id
    with pytest.raises(EditConflict, match="already reverted by change 2"):
        editor.revert(written.record.id, "alice")
    editor.revert(reverted.record.id, "alice")  # reverting the revert redoes the change
    assert price(fresh_kg) == Decimal("99.00")


def test_revert_is_refused_after_a_later_edit(editor: Editor, fresh_kg: HttpSparqlClient, db: ShopDB) -> None:
    first = editor.apply(set_value(fresh_kg, "P0001", "schema:price", "99.00"), "alice")
    later = editor.apply(set_value(fresh_kg, "P0001", "schema:price", "79.00"), "bob")
    before = Snapshot.take(fresh_kg, db.engine)
    with pytest.raises(EditConflict) as caught:
        editor.revert(first.record.id, "alice")
    message = str(caught.value)
    assert f"cannot revert change {first.record.id}" in message and f"changes since: {later.record.id}" in message
    assert "prod:P0001-offer schema:price 99.00 is no longer in the graph" in message
    assert caught.value.change.added == first.record.removed
    before.assert_unchanged(Snapshot.take(fresh_kg, db.engine), "a refused revert")
    editor.revert(later.record.id, "alice")  # the latest one can be reverted, then the first
    editor.revert(first.record.id, "alice")
    assert price(fresh_kg) == Decimal("129")
    with pytest.raises(ChangeNotFound):
        editor.revert(999, "alice")


# --- products, imports, history, export ----------------------------------------------------------------------

def test_create_and_delete_product(editor: Editor, fresh_kg: HttpSparqlClient) -> None:
    before = triples_of(fresh_kg)
    from knowledge.editing import next_product_id

    new_id = next_product_id(fresh_kg)
    created = editor.apply(create_product({"id": new_id, "name": "Test Trail Shoe", "brand": "stridewell",
                                           "category": "running-shoes", "price": 59.5, "stock": 4,
                                           "color": ["red", "blue"]}), "alice")
    product = get_product(fresh_kg, new_id)
    assert product is not None and product.name == "Test Trail Shoe" and product.price == Decimal("59.5")
    assert product.brand == "Stridewell" and set(product.colors) == {"red", "blue"}
    with pytest.raises(EditConflict, match=f"prod:{new_id} already exists"):
        editor.apply(create_product({"id": new_id, "name": "Again", "brand": "stridewell",
                                     "category": "running-shoes", "price": 1, "stock": 1}), "alice")
    with pytest.raises(ValidationFailed, match="A product needs exactly one brand"):
        editor.apply(create_product({"id": "P0998", "name": "No brand", "category": "running-shoes",
                                     "price": 1, "stock": 1}), "alice")
    deleted = editor.apply(delete_product(fresh_kg, new_id), "alice")
    assert deleted.record.removed == created.record.added
    assert triples_of(fresh_kg) == before

    gone = editor.apply(delete_product(fresh_kg, "P0002"), "alice")
    assert get_product(fresh_kg, "P0002") is None
    assert {s for s, _, _ in gone.record.removed} == {PRODUCT.P0002, PRODUCT["P0002-offer"], PRODUCT["P0002-rating"]}
    editor.revert(gone.record.id, "bob")
    assert triples_of(fresh_kg) == before
    with pytest.raises(ValueError, match="no product prod:P0998"):
        delete_product(fresh_kg, "P0998")


def test_update_product_sets_and_clears_fields(editor: Editor, fresh_kg: HttpSparqlClient) -> None:
    change = update_product(fresh_kg, "P0001", {"price": "99.00", "colour": ["navy"], "material": "", "stock": 3})
    assert change.summary == "update product prod:P0001: schema:price, schema:color, shop:stockLevel, schema:material"
    editor.apply(change, "alice")
    product = get_product(fresh_kg, "P0001")
    assert (product.price, product.colors, product.material, product.stock) == (Decimal("99.00"), ("navy",), "", 3)
    with pytest.raises(ValidationFailed, match="prod:P0001 schema:name: missing"):
        editor.apply(update_product(fresh_kg, "P0001", {"name": ""}), "alice")
    with pytest.raises(ValueError, match="id cannot be changed"):
        update_product(fresh_kg, "P0001", {"id": "P0002"})
    with pytest.raises(ValueError, match="no product prod:P0999"):
        update_product(fresh_kg, "P0999", {"name": "New"})
    with pytest.raises(ValueError, match="unknown product field"):
        update_product(fresh_kg, "P0001", {"wingspan": "2 m"})


def test_delete_product_removes_links_pointing_at_it(editor: Editor, fresh_kg: HttpSparqlClient) -> None:
    editor.apply(add("P0003", "schema:isRelatedTo", "prod:P0002"), "alice")
    editor.apply(add("P0002", "schema:isRelatedTo", "prod:P0002"), "alice")  # a link to itself goes too
    change = delete_product(fresh_kg, "P0002")
    assert (PRODUCT.P0003, SCHEMA.isRelatedTo, PRODUCT.P0002) in change.removed
    assert set(change.expected) == {"prod:P0002", "prod:P0003"}
    editor.apply(change, "alice")
    assert not fresh_kg.ask("ASK { ?s ?p <https://shop.example/product/P0002> }")


def test_import_turtle_replaces_values(editor: Editor, fresh_kg: HttpSparqlClient) -> None:
    text = """
        prod:P0001 schema:color "navy", "red" ; shop:stockLevel 12 .
        prod:P0001-offer schema:price 119.00 .
        brand:newbrand a schema:Brand ; schema:name "New Brand" .
    """
    change = import_turtle(fresh_kg, text)
    assert (P1, SCHEMA.color, Literal("black")) in change.removed
    assert (P1, SCHEMA.color, Literal("red")) not in change.added | change.removed
    result = editor.apply(change, "alice")
    product = get_product(fresh_kg, "P0001")
    assert set(product.colors) == {"navy", "red"} and product.stock == 12 and product.price == Decimal("119")
    assert (BRAND.newbrand, SCHEMA.name, Literal("New Brand")) in result.record.added
    with pytest.raises(ValueError, match="not valid Turtle"):
        import_turtle(fresh_kg, "prod:P0001 schema:color")
    with pytest.raises(ValueError, match="blank nodes"):
        import_turtle(fresh_kg, 'prod:P0001 schema:isRelatedTo [ schema:name "x" ] .')
    with pytest.raises(ValidationFailed, match="is not a decimal"):
        editor.apply(import_turtle(fresh_kg, 'prod:P0001-offer schema:price "lots" .'), "alice")


def test_import_csv_updates_and_creates(editor: Editor, fresh_kg: HttpSparqlClient) -> None:
    text = ("id,name,price,currency,stock,brand,category,color,size\n"
            "P0001,,111.50,,7,,,black|navy,\n"
            "P0990,Import Runner,45,USD,3,Stridewell,Running Shoes,green,9|10\n")
    change = import_csv(fresh_kg, text)
    assert change.summary == "import 2 products (CSV: 1 new, 1 updated)"
    editor.apply(change, "alice")
    first, new = get_product(fresh_kg, "P0001"), get_product(fresh_kg, "P0990")
    assert first.price == Decimal("111.50") and first.stock == 7 and set(first.colors) == {"black", "navy"}
    assert first.name == "Trailblazer 2 GTX Running Shoe"  # empty cells leave values alone
    assert new.name == "Import Runner" and new.category == "Running Shoes" and set(new.sizes) == {"9", "10"}
    with pytest.raises(ValidationFailed, match="-1 is less than 0"):
        editor.apply(import_csv(fresh_kg, "id,stock\nP0001,-1\n"), "alice")
    with pytest.raises(ValueError, match="needs an id column"):
        import_csv(fresh_kg, "name\nx\n")
    with pytest.raises(ValueError, match="unknown product field 'wingspan'"):
        import_csv(fresh_kg, "id,wingspan\nP0001,3\n")
    with pytest.raises(ValueError, match="line 2: a product needs an id"):
        import_csv(fresh_kg, "id,name\nX1,foo\n")


def test_history_newest_first_and_by_subject(editor: Editor, fresh_kg: HttpSparqlClient) -> None:
    editor.apply(set_value(fresh_kg, "P0001", "schema:price", "99.00"), "alice")
    editor.apply(add("P0002", "schema:color", "navy"), "bob")
    editor.apply(add("brand:stridewell", "schema:description", "Running gear"), "alice")
    assert [r.id for r in editor.history()] == [3, 2, 1]
    assert [r.id for r in editor.history(limit=1, offset=1)] == [2]
    assert [r.id for r in editor.history(subject="P0001")] == [1]
    assert [r.id for r in editor.history(subject="prod:P0001-offer")] == [1]
    assert [r.id for r in editor.history(subject="brand:stridewell")] == [3]
    assert editor.history(subject="P0009") == []


def test_export_is_turtle_of_the_whole_graph(editor: Editor, fresh_kg: HttpSparqlClient) -> None:
    text = editor.export_turtle()
    assert "@prefix prod: <https://shop.example/product/> ." in text and "prod:P0001 a schema:Product" in text
    store = pyoxigraph.Store()  # the same engine as the server: literals come out in the same canonical form
    store.load(text, format=pyoxigraph.RdfFormat.TURTLE)
    exported = store.dump(format=pyoxigraph.RdfFormat.N_TRIPLES, from_graph=pyoxigraph.DefaultGraph()).decode()
    assert {line for line in exported.splitlines() if line.strip()} == triples_of(fresh_kg)
