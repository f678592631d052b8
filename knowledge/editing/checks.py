"""Checking edited documents against the SHACL shapes (``knowledge/shapes.ttl``) with readable messages.

A problem reads like ``prod:P0001-offer schema:price: "cheap" is not a decimal (An offer needs exactly
one price, a decimal number of at least 0.)``: the node, the property, what is wrong, and the shape's
own message.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Iterable, Optional

from rdflib import Graph, URIRef
from rdflib.namespace import RDF, SH, XSD

from knowledge.editing.documents import is_product_iri
from knowledge.editing.terms import Triple, compact
from knowledge.validation import shapes

_DATATYPE_NAMES = {
    XSD.decimal: "a decimal",
    XSD.integer: "an integer",
    XSD.string: "text (xsd:string)",
    XSD.anyURI: "a URL (xsd:anyURI)",
    XSD.boolean: "true or false",
    XSD.double: "a number (xsd:double)",
}
_VALUE_COMPONENTS = {
    SH.MinInclusiveConstraintComponent, SH.MaxInclusiveConstraintComponent, SH.MinExclusiveConstraintComponent,
    SH.MaxExclusiveConstraintComponent, SH.PatternConstraintComponent, SH.MinLengthConstraintComponent,
    SH.MaxLengthConstraintComponent,
}


@lru_cache(maxsize=1)
def _property_rules() -> dict[URIRef, dict[URIRef, set]]:
    rules: dict[URIRef, dict[URIRef, set]] = {}
    graph = shapes()
    for prop in graph.objects(None, SH.property):
        path = graph.value(prop, SH.path)
        if not isinstance(path, URIRef):
            continue
        for key in (SH.datatype, SH["class"]):
            for value in graph.objects(prop, key):
                rules.setdefault(path, {}).setdefault(key, set()).add(value)
    return rules


def datatype_for(predicate: URIRef) -> Optional[URIRef]:
    """The one datatype the shapes require for a predicate's values (``schema:price`` -> ``xsd:decimal``), if any."""
    found = _property_rules().get(predicate, {}).get(SH.datatype, set())
    return next(iter(found)) if len(found) == 1 else None


def class_for(predicate: URIRef) -> Optional[URIRef]:
    """The one class the shapes require for a predicate's values (``schema:brand`` -> ``schema:Brand``), if any."""
    found = _property_rules().get(predicate, {}).get(SH["class"], set())
    return next(iter(found)) if len(found) == 1 else None


def _detail(component: URIRef, value, shape, data: Graph, focus, path) -> str:  # noqa: ANN001 - pyshacl's report nodes: rdflib terms or None
    rules = shapes()

    def param(name: str):  # noqa: ANN202 - an rdflib term or None
        return rules.value(shape, SH[name]) if shape is not None else None

    shown = compact(value) if value is not None else ""
    if component == SH.DatatypeConstraintComponent:
        datatype = param("datatype")
        return f"{shown} is not {_DATATYPE_NAMES.get(datatype, compact(datatype) if datatype else 'the right type')}"
    if component == SH.MinCountConstraintComponent:
        count = len(list(data.objects(focus, path))) if path is not None else 0
        return "missing" if count == 0 else f"has {count} values, needs at least {param('minCount')}"
    if component == SH.MaxCountConstraintComponent:
        count = len(list(data.objects(focus, path))) if path is not None else 0
        return f"has {count} values, at most {param('maxCount')} allowed"
    if component == SH.MinInclusiveConstraintComponent:
        return f"{shown} is less than {param('minInclusive')}"
    if component == SH.MaxInclusiveConstraintComponent:
        return f"{shown} is more than {param('maxInclusive')}"
    if component == SH.PatternConstraintComponent:
        return f"{shown} does not match the pattern {param('pattern')}"
    if component == SH.MinLengthConstraintComponent:
        return f"{shown} is shorter than {param('minLength')} characters"
    if component == SH.MaxLengthConstraintComponent:
        return f"{shown} is longer than {param('maxLength')} characters"
    if component == SH.ClassConstraintComponent:
        wanted = param("class")
        return f"{shown} is not a known {compact(wanted) if wanted is not None else 'node of the right class'}"
    name = str(component).rsplit("#", 1)[-1].replace("ConstraintComponent", "")
    return f"{shown} breaks the {name} rule".strip()


def shape_problems(data: Graph, focus_nodes: Iterable[URIRef]) -> list[str]:
    """What is wrong with ``focus_nodes`` in ``data`` according to the shapes (empty if nothing)."""
    from pyshacl import validate as shacl_validate

    wanted = set(focus_nodes)
    conforms, report, _ = shacl_validate(data, shacl_graph=shapes(), inference="none", advanced=False)
    if conforms:
        return []
    results = []
    for result in report.subjects(RDF.type, SH.ValidationResult):
        focus = report.value(result, SH.focusNode)
        if focus not in wanted:
            continue
        results.append((
            focus, report.value(result, SH.resultPath), report.value(result, SH.value),
            report.value(result, SH.sourceConstraintComponent), report.value(result, SH.sourceShape),
            report.value(result, SH.resultMessage),
        ))
    bad_type = {(f, p, v) for f, p, v, c, _, _ in results if c == SH.DatatypeConstraintComponent}
    problems = set()
    for focus, path, value, component, shape, message in results:
        if component in _VALUE_COMPONENTS and (focus, path, value) in bad_type:
            continue  # "cheap" is not a decimal: saying it is also less than 0 adds nothing
        where = compact(focus) + (f" {compact(path)}" if isinstance(path, URIRef) else "")
        detail = _detail(component, value, shape, data, focus, path)
        problems.add(f"{where}: {detail}" + (f" ({message})" if message else ""))
    return sorted(problems)


def untyped_nodes(data: Graph, subjects: Iterable[URIRef]) -> list[str]:
    """Subjects that hold triples but no rdf:type: the shapes would not see them (a typo, or a half-made node)."""
    problems = []
    for subject in sorted(set(subjects), key=str):
        if (subject, None, None) not in data or (subject, RDF.type, None) in data:
            continue
        if is_product_iri(subject):
            problems.append(f"{compact(subject)}: not a product (no rdf:type schema:Product); "
                            "create products whole, e.g. with create_product or an import")
        else:
            problems.append(f"{compact(subject)}: has no rdf:type (a typo in the subject? a new node needs a type, "
                            "e.g. schema:Brand, and an offer belongs to a product through schema:offers)")
    return problems


def check_documents(documents: dict[URIRef, Iterable[Triple]], context: Iterable[Triple] = ()) -> list[str]:
    """Problems of the documents (root -> triples after the edit); ``context`` adds the referenced nodes' types."""
    data = Graph(bind_namespaces="none")
    nodes: set[URIRef] = set()
    for triples in documents.values():
        for triple in triples:
            data.add(triple)
            nodes.add(triple[0])
    for triple in context:
        data.add(triple)
    if not nodes:
        return []
    return untyped_nodes(data, nodes) + shape_problems(data, nodes)
