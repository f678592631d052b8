"""Changes to the knowledge graph: triples to add and remove, and the builders staff edits go through.

A :class:`Change` is plain data: build it here, write it with :meth:`knowledge.editing.Editor.apply`.
Builders that read the graph (``set_value``, ``delete_product``, ``import_turtle``, ``import_csv``)
record the versions of the documents they read in ``Change.based_on``; ``apply`` refuses the change with
:class:`~knowledge.editing.errors.EditConflict` if any of them changed in between.

Friendly handling of prices: ``schema:price`` and ``schema:priceCurrency`` live on a product's offer node
(``prod:P0001-offer``). Given with a product as subject, ``add``, ``remove`` and ``set_value`` move them
to the product's offer (``set_value`` asks the graph for the offer; ``add``/``remove`` use the
``prod:Pxxxx-offer`` naming of the catalog). Objects are typed as the shapes expect where that is lossless:
``set_value(kg, "P0001", "schema:price", "99")`` writes ``"99"^^xsd:decimal``, a size ``10`` is the text
``"10"``; a value that does not fit (a price ``"cheap"``) is kept as text and refused by validation.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Iterable, Mapping, Optional, Sequence, Union

from rdflib import Literal, URIRef
from rdflib.namespace import RDF, XSD

from knowledge.editing.checks import datatype_for
from knowledge.editing.documents import (
    OFFER_PREDICATES,
    OWNING_PREDICATES,
    SubjectLike,
    as_subject,
    doc_key,
    documents,
    is_product_iri,
    offer_iri,
    roots_of,
)
from knowledge.editing.terms import (
    EMPTY_VERSION,
    Term,
    Triple,
    check_triple,
    compact,
    format_triple,
    from_ntriples,
    parse_object,
    parse_predicate,
    same_term,
    to_ntriples,
)
from knowledge.namespaces import BRAND, CATEGORY, PREFIXES, PRODUCT, SCHEMA, SHOP, is_product_id
from knowledge.sparql import SparqlEndpoint

ObjectLike = Union[str, Term, int, float, Decimal, bool]


@dataclass(frozen=True)
class Change:
    """Triples to add and to remove, a one-line summary, and the document versions it was built on.

    ``based_on`` holds ``(document key, version)`` pairs such as ``("prod:P0001", "3f2a9c01b7de")``;
    a triple in both ``added`` and ``removed`` cancels out.
    """

    added: frozenset[Triple] = frozenset()
    removed: frozenset[Triple] = frozenset()
    summary: str = ""
    based_on: tuple[tuple[str, str], ...] = field(default=())

    def __post_init__(self) -> None:
        added = frozenset(check_triple(t) for t in self.added)
        removed = frozenset(check_triple(t) for t in self.removed)
        both = added & removed
        object.__setattr__(self, "added", added - both)
        object.__setattr__(self, "removed", removed - both)
        based_on = self.based_on.items() if isinstance(self.based_on, Mapping) else self.based_on
        object.__setattr__(self, "based_on", tuple(sorted((str(k), str(v)) for k, v in based_on)))
        object.__setattr__(self, "summary", " ".join(str(self.summary).split())[:500])

    @property
    def expected(self) -> dict[str, str]:
        """The versions the change was built on, as a dict (document key -> version)."""
        return dict(self.based_on)

    @property
    def subjects(self) -> frozenset[URIRef]:
        """Every subject the change adds or removes a triple of."""
        return frozenset(t[0] for t in self.added | self.removed)

    def is_empty(self) -> bool:
        """Whether the change adds and removes nothing."""
        return not self.added and not self.removed

    def lines(self) -> list[str]:
        """The change as ``- triple`` / ``+ triple`` lines, removals first, for people."""
        return ([f"- {format_triple(t)}" for t in sorted(self.removed, key=format_triple)]
                + [f"+ {format_triple(t)}" for t in sorted(self.added, key=format_triple)])

    def to_dict(self) -> dict[str, Any]:
        """The change as JSON-ready data (triples as N-Triples text); :meth:`from_dict` reads it back."""
        return {"summary": self.summary, "added": to_ntriples(self.added), "removed": to_ntriples(self.removed),
                "based_on": dict(self.based_on)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Change":
        """A change from :meth:`to_dict`'s data."""
        return cls(from_ntriples(data.get("added", "")), from_ntriples(data.get("removed", "")),
                   data.get("summary", ""), tuple(dict(data.get("based_on") or {}).items()))


# --- values -------------------------------------------------------------------------------------------

_LEXICAL = {
    XSD.decimal: re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)"),
    XSD.integer: re.compile(r"[+-]?\d+"),
    XSD.boolean: re.compile(r"true|false|1|0"),
    XSD.anyURI: re.compile(r"[^\s]*"),
}
_NUMERIC = (XSD.integer, XSD.decimal, XSD.double, XSD.float, XSD.boolean)


def _fits(text: str, datatype: URIRef) -> bool:
    pattern = _LEXICAL.get(datatype)
    if pattern is not None:
        return pattern.fullmatch(text) is not None
    return False


def coerce(predicate: URIRef, term: Term) -> Term:
    """The object typed as the shapes expect for the predicate, when that loses nothing (else unchanged)."""
    datatype = datatype_for(predicate)
    if datatype is None or not isinstance(term, Literal) or term.language or term.datatype == datatype:
        return term
    if datatype == XSD.string:
        return Literal(str(term)) if term.datatype in _NUMERIC else term
    plain = term.datatype in (None, XSD.string)
    widening = datatype == XSD.decimal and term.datatype == XSD.integer
    if (plain or widening) and _fits(str(term).strip(), datatype):
        return Literal(str(term).strip(), datatype=datatype)
    return term


def to_term(value: ObjectLike) -> Term:
    """An object from text (see :func:`knowledge.editing.terms.parse_object`) or a Python value."""
    if isinstance(value, (URIRef, Literal)):
        return value
    if isinstance(value, bool):
        return Literal(value)
    if isinstance(value, (int, Decimal)):
        return Literal(str(value), datatype=XSD.integer if isinstance(value, int) else XSD.decimal)
    if isinstance(value, float):
        return Literal(format(Decimal(repr(value)), "f"), datatype=XSD.decimal)
    if isinstance(value, str):
        return parse_object(value)
    raise TypeError(f"not a value for a triple: {value!r}")


def _predicate(value: Union[str, URIRef]) -> URIRef:
    return value if isinstance(value, URIRef) else parse_predicate(value)


def _triple(subject: SubjectLike, predicate: Union[str, URIRef], obj: ObjectLike) -> Triple:
    s, p = as_subject(subject), _predicate(predicate)
    if is_product_iri(s) and p in OFFER_PREDICATES:
        s = offer_iri(s)
    return check_triple((s, p, coerce(p, to_term(obj))))


def _text(value: Any) -> Literal:
    return Literal(str(value).strip())


def _typed(predicate: URIRef, value: Any) -> Term:
    """A field value for a predicate: typed as the shapes say if it fits, else plain text (validation objects)."""
    if isinstance(value, (URIRef, Literal)):
        return coerce(predicate, value)
    if isinstance(value, (int, Decimal, float)) and not isinstance(value, bool):
        return coerce(predicate, to_term(value))
    return coerce(predicate, _text(value))


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.strip().lower()).strip("-")


def _node(value: Any, namespace: Any) -> URIRef:
    """A brand or category: a prefixed name, an ``<iri>``, or a name/slug in the namespace (``Stridewell``)."""
    if isinstance(value, URIRef):
        return value
    text = str(value).strip()
    if text.startswith("<") or re.fullmatch(r"[A-Za-z][\w.-]*:\S+", text):
        return as_subject(text)
    slug = _slug(text)
    if not slug:
        raise ValueError(f"not a name: {value!r}")
    return namespace[slug]


def _many(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split("|") if part.strip()]
    if isinstance(value, (list, tuple, set, frozenset)):
        return [item for item in value if str(item).strip()]
    return [value]


# --- builders that need no graph ------------------------------------------------------------------------

def add(subject: SubjectLike, predicate: Union[str, URIRef], obj: ObjectLike, summary: str = "") -> Change:
    """A change adding one triple (terms as text or rdflib terms)."""
    triple = _triple(subject, predicate, obj)
    return Change(added=frozenset([triple]), summary=summary or f"add {format_triple(triple)}")


def remove(subject: SubjectLike, predicate: Union[str, URIRef], obj: ObjectLike, summary: str = "") -> Change:
    """A change removing one triple (terms as text or rdflib terms)."""
    triple = _triple(subject, predicate, obj)
    return Change(removed=frozenset([triple]), summary=summary or f"remove {format_triple(triple)}")


def invert(change: Change, summary: str = "") -> Change:
    """The change that undoes ``change``: its added triples removed, its removed ones added back."""
    return Change(added=change.removed, removed=change.added, summary=summary or f"undo: {change.summary}")


PRODUCT_FIELDS = {
    "id": None, "name": SCHEMA.name, "brand": SCHEMA.brand, "category": SCHEMA.category, "price": SCHEMA.price,
    "currency": SCHEMA.priceCurrency, "stock": SHOP.stockLevel, "color": SCHEMA.color, "size": SCHEMA.size,
    "material": SCHEMA.material, "description": SCHEMA.description, "alternate_name": SCHEMA.alternateName,
    "image": SCHEMA.image, "weight": SHOP.weightGrams,
}
_FIELD_ALIASES = {
    "colour": "color", "colors": "color", "colours": "color", "sizes": "size", "materials": "material",
    "alternate_names": "alternate_name", "alternatename": "alternate_name", "alt_names": "alternate_name",
    "stocklevel": "stock", "stock_level": "stock", "pricecurrency": "currency", "productid": "id",
    "product_id": "id", "weight_grams": "weight", "weightgrams": "weight",
}
_MULTI_FIELDS = {"color", "size", "material", "alternate_name"}


def _field_name(name: str) -> str:
    key = name.strip().lower().replace(" ", "_").replace("-", "_")
    key = _FIELD_ALIASES.get(key, key)
    if key not in PRODUCT_FIELDS:
        raise ValueError(f"unknown product field {name!r} (known: {', '.join(PRODUCT_FIELDS)}; "
                         "or a prefixed predicate such as schema:gtin13)")
    return key


def _field_values(fields: Mapping[str, Any], offer: URIRef, product: URIRef) -> dict[tuple[URIRef, URIRef], list[Term]]:
    """(subject, predicate) -> values for the filled-in fields of one product (empty values are left out)."""
    values: dict[tuple[URIRef, URIRef], list[Term]] = {}
    for name, raw in fields.items():
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            continue
        if ":" in name:  # a predicate column such as schema:gtin13
            predicate = parse_predicate(name)
            values[(product, predicate)] = [coerce(predicate, to_term(v)) for v in _many(raw)]
            continue
        key = _field_name(name)
        if key == "id":
            continue
        predicate = PRODUCT_FIELDS[key]
        subject = offer if predicate in OFFER_PREDICATES else product
        if key == "brand":
            terms: list[Term] = [_node(raw, BRAND)]
        elif key == "category":
            terms = [_node(raw, CATEGORY)]
        elif key in _MULTI_FIELDS:
            terms = [_typed(predicate, v) for v in _many(raw)]
        else:
            terms = [_typed(predicate, raw)]
        values[(subject, predicate)] = terms
    return values


def _product_id(fields: Mapping[str, Any]) -> str:
    ids = [v for k, v in fields.items() if ":" not in k and _field_name(k) == "id"]
    product_id = str(ids[0]).strip() if ids else ""
    if not is_product_id(product_id):
        raise ValueError(f"a product needs an id like P0042, got {product_id!r}")
    return product_id


def _skeleton(product: URIRef, product_id: str, offer: URIRef, currency: str) -> list[Triple]:
    return [
        (product, RDF.type, SCHEMA.Product), (product, SCHEMA.productID, Literal(product_id)),
        (product, SCHEMA.offers, offer), (offer, RDF.type, SCHEMA.Offer),
        (offer, SCHEMA.priceCurrency, Literal(currency)),
    ]


def create_product(fields: Mapping[str, Any], currency: Optional[str] = None) -> Change:
    """A change creating a product and its offer (no rating) from fields.

    Fields: ``id`` (required, like ``P0042``; see ``documents.next_product_id``), ``name``, ``brand`` and
    ``category`` (a name or slug such as ``stridewell``, or ``brand:stridewell``), ``price``, ``currency``
    (default: ``SHOPBOT_CURRENCY``), ``stock``, ``color``, ``size``, ``material``, ``alternate_name``
    (each a list or ``"a|b"``), ``description``, ``image``, or any prefixed predicate (``schema:gtin13``).
    The change is based on the product not existing: ``apply`` refuses it if it does by then.
    """
    product_id = _product_id(fields)
    product = PRODUCT[product_id]
    offer = offer_iri(product)
    if currency is None:
        from knowledge.settings import get_settings

        currency = get_settings().currency
    triples = _skeleton(product, product_id, offer, currency)
    for (subject, predicate), terms in _field_values(fields, offer, product).items():
        triples = [t for t in triples if (t[0], t[1]) != (subject, predicate)]
        triples += [(subject, predicate, term) for term in terms]
    name = next((str(o) for s, p, o in triples if p == SCHEMA.name and s == product), "")
    return Change(added=frozenset(triples), summary=f"create product {product_id} {name}".strip(),
                  based_on=((doc_key(product), EMPTY_VERSION),))


# --- builders that read the graph ------------------------------------------------------------------------

def _replace(
    kg: SparqlEndpoint,
    values: Mapping[tuple[URIRef, URIRef], Sequence[Term]],
    summary: str,
    extra: Iterable[Triple] = (),
) -> Change:
    """A change giving each (subject, predicate) exactly the values listed (values already there stay as they are)."""
    extra = list(extra)
    planned = [(s, p, o) for (s, p), terms in values.items() for o in terms] + extra
    subjects = {s for s, _ in values} | {t[0] for t in extra}
    roots = roots_of(kg, subjects, planned)
    docs = documents(kg, {root for found in roots.values() for root in found})
    current: dict[tuple[URIRef, URIRef], list[Term]] = {}
    for doc in docs.values():
        for s, p, o in doc.triples:
            current.setdefault((s, p), []).append(o)
    added: set[Triple] = set()
    removed: set[Triple] = set()
    for (s, p), terms in values.items():
        now = list(dict.fromkeys(current.get((s, p), [])))
        removed.update((s, p, o) for o in now if not any(same_term(o, new) for new in terms))
        added.update((s, p, new) for new in terms if not any(same_term(new, o) for o in now))
    for s, p, o in extra:
        if not any(same_term(o, old) for old in current.get((s, p), [])):
            added.add((s, p, o))
    based_on = tuple((doc_key(root), doc.version) for root, doc in docs.items())
    return Change(frozenset(added), frozenset(removed), summary, based_on)


def set_value(
    kg: SparqlEndpoint,
    subject: SubjectLike,
    predicate: Union[str, URIRef],
    obj: Union[ObjectLike, Sequence[ObjectLike]],
    summary: str = "",
) -> Change:
    """A change replacing every current value of (subject, predicate) with ``obj`` (a value or a list; [] clears).

    ``schema:price`` / ``schema:priceCurrency`` given for a product are set on its offer node.
    """
    from knowledge.editing.documents import offer_of

    s, p = as_subject(subject), _predicate(predicate)
    if is_product_iri(s) and p in OFFER_PREDICATES:
        s = offer_of(kg, s)
    objects = list(obj) if isinstance(obj, (list, tuple)) else [obj]
    terms = [coerce(p, to_term(o)) for o in objects]
    for term in terms:
        check_triple((s, p, term))
    shown = ", ".join(compact(t) for t in terms) or "nothing"
    return _replace(kg, {(s, p): terms}, summary or f"set {compact(s)} {compact(p)} to {shown}")


def update_product(kg: SparqlEndpoint, product: SubjectLike, fields: Mapping[str, Any], summary: str = "") -> Change:
    """A change setting fields of an existing product (names as in :func:`create_product`); an empty value clears one.

    ``{"price": "99.00", "color": ["navy", "red"], "material": ""}`` replaces the price (on the offer) and
    the colours and removes the material. The id cannot be changed.
    """
    root = as_subject(product)
    if not is_product_iri(root):
        raise ValueError(f"not a product: {compact(root)} (give an id such as P0001)")
    if not fields:
        raise ValueError("no fields to set")
    doc = documents(kg, [root])[root]
    if not doc.triples:
        raise ValueError(f"no product {compact(root)} in the graph")
    offer = next((o for s, p, o in doc.triples if s == root and p == SCHEMA.offers and isinstance(o, URIRef)),
                 offer_iri(root))
    filled, cleared = {}, []
    for name, value in fields.items():
        if ":" not in name and _field_name(name) == "id":
            raise ValueError("a product's id cannot be changed (create a new product and delete this one)")
        empty = value is None or (isinstance(value, str) and not value.strip()) or (
            isinstance(value, (list, tuple, set, frozenset)) and not _many(value))
        if empty:
            predicate = parse_predicate(name) if ":" in name else PRODUCT_FIELDS[_field_name(name)]
            cleared.append((offer if predicate in OFFER_PREDICATES else root, predicate))
        else:
            filled[name] = value
    values = _field_values(filled, offer, root)
    for key in cleared:
        values[key] = []
    names = ", ".join(compact(p) for _, p in values)
    return _replace(kg, values, summary or f"update product {compact(root)}: {names}")


def delete_product(kg: SparqlEndpoint, product: SubjectLike, summary: str = "") -> Change:
    """A change deleting a product's whole document (product, offer, rating) and every triple pointing at it."""
    from knowledge.editing.documents import referrers

    root = as_subject(product)
    if not is_product_iri(root):
        raise ValueError(f"not a product: {compact(root)} (give an id such as P0001)")
    doc = documents(kg, [root])[root]
    if not doc.triples:
        raise ValueError(f"no product {compact(root)} in the graph")
    owned = {o for s, p, o in doc.triples if s == root and p in OWNING_PREDICATES and isinstance(o, URIRef)}
    pointing = referrers(kg, {root} | owned) - {root}
    other_docs = documents(kg, {r for found in roots_of(kg, pointing).values() for r in found} - {root})
    removed = set(doc.triples)
    for other in other_docs.values():
        removed.update(t for t in other.triples if t[2] in {root} | owned)
    name = next((str(o) for s, p, o in doc.triples if s == root and p == SCHEMA.name), "")
    based_on = [(doc_key(root), doc.version)] + [(doc_key(r), d.version) for r, d in other_docs.items()]
    return Change(removed=frozenset(removed), summary=summary or f"delete product {compact(root)} {name}".strip(),
                  based_on=tuple(based_on))


def _rdflib_term(term: Any) -> Term:
    """An rdflib term from a pyoxigraph one."""
    import pyoxigraph

    if isinstance(term, pyoxigraph.NamedNode):
        return URIRef(term.value)
    if isinstance(term, pyoxigraph.Literal):
        if term.language:
            return Literal(term.value, lang=term.language)
        datatype = term.datatype.value
        return Literal(term.value, datatype=None if datatype == str(XSD.string) else URIRef(datatype))
    raise ValueError("blank nodes are not supported, give every node an IRI")


def parse_turtle(text: str) -> set[Triple]:
    """The triples of a Turtle text (pyoxigraph parses: fast); the project's prefixes need no declaring."""
    import pyoxigraph

    header = " ".join(f"@prefix {name}: <{ns}> ." for name, ns in PREFIXES.items())
    try:
        quads = list(pyoxigraph.parse(input=(header + " " + text).encode("utf-8"), format=pyoxigraph.RdfFormat.TURTLE))
    except SyntaxError as error:
        shift = len(header) + 1  # the prefixes sit in front of the first line

        def column(found: "re.Match[str]") -> str:
            return str(max(1, int(found.group(0)) - shift))

        message = str(error)
        if re.search(r"\bat line 1\b", message):
            message = re.sub(r"(?<=column )\d+|(?<=columns )\d+|(?<=and )\d+", column, message)
        raise ValueError(f"not valid Turtle: {message}") from None
    triples = {check_triple((_rdflib_term(q.subject), _rdflib_term(q.predicate), _rdflib_term(q.object)))
               for q in quads}
    if not triples:
        raise ValueError("the Turtle holds no triples")
    return triples


def import_turtle(kg: SparqlEndpoint, text: str, summary: str = "") -> Change:
    """A change giving each subject and predicate of the Turtle exactly its values there (replacing the current ones).

    The project's prefixes (``schema:``, ``prod:``, ...) may be used without declaring them.
    """
    triples = parse_turtle(text)
    values: dict[tuple[URIRef, URIRef], list[Term]] = {}
    for s, p, o in sorted(triples, key=lambda t: (str(t[0]), str(t[1]), str(t[2]))):
        values.setdefault((s, p), []).append(o)
    count = len(triples)
    return _replace(kg, values, summary or f"import {count} triple{'s' if count != 1 else ''} "
                                            f"about {len({s for s, _ in values})} subjects (Turtle)")


def import_csv(kg: SparqlEndpoint, text: str, summary: str = "", currency: Optional[str] = None) -> Change:
    """A change from a CSV of products, one row each: the filled-in cells replace the current values.

    Columns: ``id`` (required) and any of ``name, price, currency, stock, brand, category, color, size,
    material, description, alternate_name, image`` or a prefixed predicate (``schema:gtin13``). Several
    values in one cell are separated by ``|`` (``black|red``). An empty cell leaves the values alone. A row
    whose product does not exist creates it (with its offer; currency default ``SHOPBOT_CURRENCY``).
    """
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    if not reader.fieldnames:
        raise ValueError("the CSV has no header row")
    headers = [h for h in reader.fieldnames if h is not None]
    for header in headers:
        if ":" in header:
            parse_predicate(header)
        else:
            _field_name(header)
    if not any(":" not in h and _field_name(h) == "id" for h in headers):
        raise ValueError("the CSV needs an id column")
    rows = list(reader)
    if not rows:
        raise ValueError("the CSV has no rows")
    products = []
    for number, row in enumerate(rows, start=2):
        if None in row:
            raise ValueError(f"line {number}: more cells than columns")
        try:
            products.append((_product_id(row), row))
        except ValueError as error:
            raise ValueError(f"line {number}: {error}") from None
    seen: set[str] = set()
    for product_id, _ in products:
        if product_id in seen:
            raise ValueError(f"product {product_id} appears twice")
        seen.add(product_id)
    roots = [PRODUCT[pid] for pid, _ in products]
    docs = documents(kg, roots)
    if currency is None:
        from knowledge.settings import get_settings

        currency = get_settings().currency
    values: dict[tuple[URIRef, URIRef], list[Term]] = {}
    extra: list[Triple] = []
    created = 0
    for product_id, row in products:
        product = PRODUCT[product_id]
        doc = docs[product]
        offer = next((o for s, p, o in doc.triples if s == product and p == SCHEMA.offers and isinstance(o, URIRef)),
                     None)
        if not doc.triples:
            created += 1
            offer = offer_iri(product)
            skeleton = _skeleton(product, product_id, offer, currency)
            fields = _field_values(row, offer, product)
            extra += [t for t in skeleton if (t[0], t[1]) not in fields]
        values.update(_field_values(row, offer or offer_iri(product), product))
    updated = len(products) - created
    text_summary = f"import {len(products)} product{'s' if len(products) != 1 else ''} (CSV"
    text_summary += f": {created} new, {updated} updated)" if created else ")"
    return _replace(kg, values, summary or text_summary, extra)
