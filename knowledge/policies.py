"""Store policies as the graph states them: returns, shipping, payment, warranty and contact."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Optional

from knowledge.sparql import SparqlEndpoint, py, render


@dataclass(frozen=True)
class ReturnPolicy:
    """How long and on what terms items can be returned."""

    window_days: int
    refund_days: int
    refund_method: str
    condition: str
    free_returns: bool


@dataclass(frozen=True)
class ShippingOption:
    """One way of delivering an order, with its cost and delivery time."""

    name: str
    cost: Decimal
    min_days: int
    max_days: int
    free_over: Optional[Decimal]


@dataclass(frozen=True)
class StoreContact:
    """How and when shoppers can reach people at the store."""

    name: str
    email: str
    hours: str
    warranty_years: int
    warranty_terms: str


def return_policy(kg: SparqlEndpoint) -> Optional[ReturnPolicy]:
    """The store's return policy, or None when the graph states none."""
    rows = kg.select(render("""SELECT * WHERE {
      shop:store shop:returnPolicy ?p . ?p shop:returnWindowDays ?window ; shop:refundDays ?refund .
      OPTIONAL { ?p shop:refundMethod ?method } OPTIONAL { ?p shop:condition ?condition }
      OPTIONAL { ?p shop:freeReturns ?free } } LIMIT 1"""))
    if not rows:
        return None
    row = rows[0]
    return ReturnPolicy(
        window_days=int(py(row["window"])),
        refund_days=int(py(row["refund"])),
        refund_method=str(row.get("method", "the original payment method")),
        condition=str(row.get("condition", "")),
        free_returns=bool(py(row.get("free"))),
    )


def shipping_options(kg: SparqlEndpoint) -> list[ShippingOption]:
    """The store's shipping options, cheapest first."""
    rows = kg.select(render("""SELECT * WHERE {
      shop:store shop:shippingOption ?o . ?o schema:name ?name ; shop:cost ?cost ;
         shop:minDays ?min ; shop:maxDays ?max . OPTIONAL { ?o shop:freeOver ?free } }
      ORDER BY ?cost ?name"""))
    return [
        ShippingOption(
            name=str(row["name"]),
            cost=Decimal(str(py(row["cost"]))),
            min_days=int(py(row["min"])),
            max_days=int(py(row["max"])),
            free_over=Decimal(str(py(row["free"]))) if "free" in row else None,
        )
        for row in rows
    ]


def payment_methods(kg: SparqlEndpoint) -> list[str]:
    """The payment methods the store accepts."""
    rows = kg.select(render("SELECT ?name WHERE { shop:store shop:paymentMethod/schema:name ?name } ORDER BY ?name"))
    return [str(row["name"]) for row in rows]


def store_contact(kg: SparqlEndpoint) -> Optional[StoreContact]:
    """The store's name, contact e-mail and hours, and warranty terms."""
    rows = kg.select(render("""SELECT * WHERE {
      shop:store schema:name ?name . OPTIONAL { shop:store schema:email ?email }
      OPTIONAL { shop:store shop:contactHours ?hours }
      OPTIONAL { shop:store shop:warrantyPolicy ?w . ?w shop:warrantyYears ?years . OPTIONAL { ?w rdfs:comment ?terms } }
    } LIMIT 1"""))
    if not rows:
        return None
    row = rows[0]
    return StoreContact(
        name=str(row["name"]),
        email=str(row.get("email", "")),
        hours=str(row.get("hours", "")),
        warranty_years=int(py(row["years"])) if "years" in row else 0,
        warranty_terms=str(row.get("terms", "")),
    )
