"""The vocabularies of the product graph: schema.org plus a small shop namespace."""

from __future__ import annotations

import re

from rdflib import Namespace, URIRef
from rdflib.namespace import RDF, RDFS, XSD

SCHEMA = Namespace("https://schema.org/")
SHOP = Namespace("https://shop.example/ns#")
PRODUCT = Namespace("https://shop.example/product/")
BRAND = Namespace("https://shop.example/brand/")
CATEGORY = Namespace("https://shop.example/category/")
POLICY = Namespace("https://shop.example/policy/")
CAMPAIGN = Namespace("https://shop.example/campaign/")

PREFIXES = {
    "rdf": RDF,
    "rdfs": RDFS,
    "xsd": XSD,
    "schema": SCHEMA,
    "shop": SHOP,
    "prod": PRODUCT,
    "brand": BRAND,
    "cat": CATEGORY,
    "policy": POLICY,
    "campaign": CAMPAIGN,
}

PRODUCT_ID = re.compile(r"P\d{4,7}")


def sparql_prefixes() -> str:
    """The PREFIX header every query of the project starts with."""
    return "".join(f"PREFIX {name}: <{ns}>\n" for name, ns in PREFIXES.items())


def is_product_id(text: str) -> bool:
    """Whether a text is a whole product id such as ``P0042``."""
    return PRODUCT_ID.fullmatch(text) is not None


def product_iri(product_id: str) -> URIRef:
    """The IRI of a product, from its id such as ``P0042``."""
    if not is_product_id(product_id):
        raise ValueError(f"not a product id: {product_id!r}")
    return PRODUCT[product_id]


def product_id_of(iri: object) -> str:
    """The product id at the end of a product IRI."""
    return str(iri).rsplit("/", 1)[-1]
